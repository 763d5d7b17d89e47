"""The ``judge`` role's verdict on a rollout's final answer (WebDancer §3.3 correctness).

Why a judge besides F1: token F1 punishes correct answers phrased differently from the
reference ("Barack Obama" vs "Obama, the 44th president"), and the paper's correctness
filter is an LLM judge (HLE / BrowseComp style: same meaning as the reference, yes/no).
The verdict is data: a failed call or an unparseable reply gives ``None`` (no verdict),
never an exception, and the filters decide what a missing verdict means.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from distill.jsonparse import extract_json_object
from distill.llm.client import ChatResult, LLMClient
from distill.prompt import load_prompt

JUDGE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"correct": {"type": "string", "enum": ["yes", "no"]},
                   "reason": {"type": "string", "maxLength": 200}},
    "required": ["correct", "reason"],
}


@dataclass(frozen=True, slots=True)
class JudgeItem:
    id: str  # the trajectory id the verdict belongs to
    question: str
    reference: str
    aliases: tuple[str, ...]
    answer: str


@dataclass(frozen=True, slots=True)
class JudgeVerdict:
    id: str
    correct: bool | None  # None: no verdict (LLM error or malformed reply); see ``reason``
    reason: str


def judge_messages(item: JudgeItem, prompt: str = "answer_judge") -> list[dict[str, str]]:
    """The judge request for one item; ``prompt``: any template taking question, reference,
    aliases and answer (``eval_judge`` is the benchmark evaluation's, :mod:`train.eval_judge`)."""
    return load_prompt(prompt).messages(question=item.question, reference=item.reference,
                                                aliases=list(item.aliases), answer=item.answer)


def parse_judgement(result: ChatResult) -> tuple[bool | None, str]:
    if not result.ok:
        return None, f"llm_error:{result.error}"
    data = extract_json_object(result.text)
    grade = str((data or {}).get("correct", "")).strip().lower()
    if grade not in ("yes", "no"):
        return None, "malformed_verdict"
    return grade == "yes", str(data.get("reason", ""))[:200]  # type: ignore[union-attr]


def _seed(item: JudgeItem) -> int:
    # Keyed on what is judged, not on the trajectory: the same (question, answer) is asked once.
    blob = "\x00".join([item.question, item.reference, *item.aliases, item.answer])
    return int.from_bytes(hashlib.sha256(blob.encode("utf-8")).digest()[:4], "big")


async def judge_answers(client: LLMClient, items: Sequence[JudgeItem], *, role: str = "judge",
                        max_tokens: int = 120, prompt: str = "answer_judge") -> list[JudgeVerdict]:
    """One verdict per item, in order. Identical (question, reference, answer) triples share one
    cached request, so K rollouts that agree cost one call."""

    def triple(item: JudgeItem) -> tuple[str, ...]:
        return (item.question, item.reference, *item.aliases, "\x00", item.answer)

    async def one(item: JudgeItem) -> tuple[bool | None, str]:
        if not item.answer.strip():
            return False, "empty_answer"
        result = await client.chat(role, judge_messages(item, prompt), seed=_seed(item), json_schema=JUDGE_SCHEMA,
                                   temperature=0.0, max_tokens=max_tokens)
        return parse_judgement(result)

    unique: dict[tuple[str, ...], JudgeItem] = {}
    for item in items:
        unique.setdefault(triple(item), item)
    answers = dict(zip(unique, await asyncio.gather(*(one(i) for i in unique.values())), strict=True))
    return [JudgeVerdict(i.id, *answers[triple(i)]) for i in items]
