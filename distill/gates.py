"""Hardness and uniqueness gates: a question earns its place by needing research, and by having
one answer.

Majority voting and the judge check that an answer is right; they say nothing about whether
the question needs a search agent. The strongest open pipelines since WebDancer gate on a
solver (DeepDive keeps a question only when a strong model fails it; ASearcher checks that
wrong answers really are wrong). Three passes, each its own funnel stage:

1. ``closed_book``: the ``teacher`` answers from memory, ``samples`` times. More than
   ``max_closed_book_correct`` right answers: ``too_easy``.
2. ``with_evidence``: the ``teacher`` answers from the question's evidence pages. Not right:
   ``not_answerable_from_evidence`` (the chain does not support the answer it claims).
3. ``uniqueness``: every distinct wrong answer of the two passes goes to the ``judge`` with the
   evidence: does it name something else that also satisfies the question? Yes: ``ambiguous``.

Right means the reference or an alias occurs in the answer as whole tokens (cover-EM). Each
gate is ``enforce`` (drop), ``record`` (verdict stored only: DEMO ONLY for weak models) or
``off``. Every verdict is stored on the record (``gates`` JSON); the closed-book failure rate
is the measured difficulty. A gate whose LLM calls all fail is a ``gate_llm_error`` drop, never
a pass.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

from crawl.drop_reasons import AMBIGUOUS, GATE_LLM_ERROR, NOT_ANSWERABLE_FROM_EVIDENCE, TOO_EASY
from distill.jsonparse import extract_json_object
from distill.llm.client import LLMClient
from distill.progress import ProgressFn, gather_with_progress
from distill.prompt import load_prompt
from filters.metrics import cover_em, normalize_answer

GateMode = Literal["enforce", "record", "off"]
#: The gates in the order they run (and appear in the funnel).
GATES: Final = ("closed_book", "with_evidence", "uniqueness")
UNIQUENESS_SCHEMA: Final[dict[str, Any]] = {
    "type": "object",
    "properties": {"verdict": {"type": "string", "enum": ["same", "other_valid", "wrong"]},
                   "reason": {"type": "string", "maxLength": 200}},
    "required": ["verdict", "reason"],
}

#: A record's evidence as (title, text) pairs, looked up by the caller from the crawled pages.
EvidenceFn = Callable[[Mapping[str, Any]], Sequence[tuple[str, str]]]


@dataclass(frozen=True, slots=True)
class GateSettings:
    closed_book: GateMode = "enforce"
    with_evidence: GateMode = "enforce"
    uniqueness: GateMode = "enforce"
    samples: int = 3  # closed-book answers per question (temperature below)
    max_closed_book_correct: int = 0  # more right closed-book answers than this: too_easy
    temperature: float = 0.7
    max_tokens: int = 48
    max_evidence_chars: int = 1500  # per document given to the with-evidence pass and the judge
    role: str = "teacher"
    judge_role: str = "judge"

    def __post_init__(self) -> None:
        if self.samples < 1:
            raise ValueError(f"gate samples must be >= 1, got {self.samples}")
        if self.max_closed_book_correct < 0:
            raise ValueError("max_closed_book_correct must be >= 0")

    @property
    def active(self) -> bool:
        return any(getattr(self, g) != "off" for g in GATES)


@dataclass(slots=True)
class GateOutcome:
    record: dict[str, Any]
    verdicts: dict[str, Any]
    drop: str | None = None  # the reason of the first enforced gate that failed
    stage: str = ""  # that gate's name


def right(answer: str, golds: Sequence[str]) -> bool:
    """The reference or an alias occurs in ``answer`` as whole tokens (cover-EM).

    >>> right("It was Ada Rinn.", ["Ada Rinn"]), right("Adam", ["Ada"]), right("", ["x"])
    (True, False, False)
    """
    return bool(answer.strip()) and any(cover_em(answer, g) for g in golds if g)


def _seed(*parts: object) -> int:
    return int.from_bytes(hashlib.sha256("\x00".join(map(str, parts)).encode()).digest()[:4], "big")


def _docs(evidence: Sequence[tuple[str, str]], max_chars: int) -> list[dict[str, str]]:
    return [{"title": t, "text": x[:max_chars]} for t, x in evidence]


async def _closed_book(client: LLMClient, rec: Mapping[str, Any], s: GateSettings) -> list[str | None]:
    msgs = load_prompt("gate_closed_book").messages(question=rec["question"])
    results = await asyncio.gather(*(client.chat(s.role, msgs, seed=_seed("closed", rec["id"], i), sample_index=i,
                                                 temperature=s.temperature, max_tokens=s.max_tokens)
                                     for i in range(s.samples)))
    return [r.text.strip() if r.ok else None for r in results]


async def _with_evidence(client: LLMClient, rec: Mapping[str, Any], docs: list[dict[str, str]],
                         s: GateSettings) -> str | None:
    msgs = load_prompt("gate_with_evidence").messages(question=rec["question"], docs=docs)
    r = await client.chat(s.role, msgs, seed=_seed("evidence", rec["id"]), temperature=0.0, max_tokens=s.max_tokens)
    return r.text.strip() if r.ok else None


async def _uniqueness(client: LLMClient, rec: Mapping[str, Any], docs: list[dict[str, str]], candidate: str,
                      s: GateSettings) -> str | None:
    msgs = load_prompt("gate_uniqueness").messages(question=rec["question"], docs=docs, reference=rec["answer"],
                                                   candidate=candidate)
    r = await client.chat(s.judge_role, msgs, seed=_seed("unique", rec["id"], candidate), temperature=0.0,
                          max_tokens=120, json_schema=UNIQUENESS_SCHEMA)
    if not r.ok:
        return None
    verdict = str((extract_json_object(r.text) or {}).get("verdict", "")).strip().lower()
    return verdict if verdict in ("same", "other_valid", "wrong") else None


async def gate_one(client: LLMClient, rec: Mapping[str, Any], evidence: Sequence[tuple[str, str]],
                   s: GateSettings) -> GateOutcome:
    """The three passes on one record; later gates still run after a recorded failure, so every
    verdict is stored, but stop after an enforced one (its question is gone)."""
    golds = [rec["answer"], *(rec.get("aliases") or [])]
    docs = _docs(evidence, s.max_evidence_chars)
    out = GateOutcome(dict(rec), {})
    wrong: list[str] = []

    def fail(gate: str, reason: str) -> bool:
        if getattr(s, gate) == "enforce" and out.drop is None:
            out.drop, out.stage = reason, f"gate_{gate}"
        return out.drop is not None

    if s.closed_book != "off":
        answers = await _closed_book(client, rec, s)
        ok = [a for a in answers if a is not None]
        n_right = sum(right(a, golds) for a in ok)
        out.verdicts["closed_book"] = {"answers": answers, "right": n_right, "asked": len(answers),
                                       "difficulty": round(1 - n_right / len(ok), 3) if ok else None}
        wrong += [a for a in ok if a and not right(a, golds)]
        if not ok and fail("closed_book", GATE_LLM_ERROR):
            return out
        if n_right > s.max_closed_book_correct and fail("closed_book", TOO_EASY):
            return out
    if s.with_evidence != "off":
        answer = await _with_evidence(client, rec, docs, s)
        correct = answer is not None and right(answer, golds)
        out.verdicts["with_evidence"] = {"answer": answer, "right": correct if answer is not None else None}
        if answer is None and fail("with_evidence", GATE_LLM_ERROR):
            return out
        if answer is not None and not correct:
            if normalize_answer(answer) not in ("", "unknown"):
                wrong.append(answer)
            if fail("with_evidence", NOT_ANSWERABLE_FROM_EVIDENCE):
                return out
    if s.uniqueness != "off":
        by_norm: dict[str, str] = {}  # one judge call per distinct normalised answer, first wording kept
        for a in wrong:
            if normalize_answer(a):
                by_norm.setdefault(normalize_answer(a), a)
        judged = await asyncio.gather(*(_uniqueness(client, rec, docs, a, s) for a in by_norm.values()))
        out.verdicts["uniqueness"] = {"judged": [{"answer": a, "verdict": v}
                                                 for a, v in zip(by_norm.values(), judged, strict=True)]}
        if by_norm and all(v is None for v in judged) and fail("uniqueness", GATE_LLM_ERROR):
            return out
        if any(v == "other_valid" for v in judged) and fail("uniqueness", AMBIGUOUS):
            return out
    return out


async def run_gates(client: LLMClient, records: Sequence[Mapping[str, Any]], evidence: EvidenceFn,
                    settings: Mapping[str, GateSettings], *,
                    progress: ProgressFn | None = None) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Kept records (each with its ``gates`` JSON) and drops (``stage`` = the gate, ``reason``),
    in input order. ``settings`` by record origin; an origin without settings is not gated."""
    todo = [(i, r) for i, r in enumerate(records) if settings.get(r["origin"]) and settings[r["origin"]].active]

    async def one(rec: Mapping[str, Any]) -> GateOutcome:
        return await gate_one(client, rec, evidence(rec), settings[rec["origin"]])

    outcomes = dict(zip((i for i, _ in todo), await gather_with_progress([one(r) for _, r in todo], progress),
                        strict=True))
    kept: list[dict[str, Any]] = []
    drops: list[dict[str, Any]] = []
    for i, rec in enumerate(records):
        o = outcomes.get(i)
        if o is None:
            kept.append({**rec, "gates": None})
            continue
        row = {**o.record, "gates": json.dumps(o.verdicts, ensure_ascii=False)}
        if o.drop is None:
            kept.append(row)
        else:
            drops.append({**row, "stage": o.stage, "reason": o.drop})
    return kept, drops
