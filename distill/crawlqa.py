"""CRAWLQA: multi-hop QA written by the teacher from chains of linked pages, kept only
if rule checks and a strict judge accept it (WebDancer §3.1).

Every generated sample ends as a record or as a drop with a reason; counts of both go
to the asset's metadata. Constrained decoding (a JSON schema) keeps small models'
output parseable; what still fails to parse is the drop ``malformed_json``. Drop reasons
are the constants of :mod:`crawl.drop_reasons`; what varies (the LLM error code, the
judge's words) is in other fields of the drop (``error``, ``detail``, ``judge_reason``).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Container, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import yaml
from rapidfuzz import fuzz

from crawl.drop_reasons import (
    COPIED_EXAMPLE,
    JUDGE_LLM_ERROR,
    JUDGE_MALFORMED_VERDICT,
    JUDGE_REJECT,
    LLM_ERROR,
    MALFORMED_JSON,
    MISSING_FIELDS,
    QUESTION_OFF_TOPIC,
    TRUNCATED_OUTPUT,
)
from distill.chains import Chain, Doc
from distill.jsonparse import extract_json_object
from distill.llm.client import ChatResult, LLMClient
from distill.progress import ProgressFn, gather_with_progress
from distill.prompt import PROMPT_DIR, load_prompt
from distill.qa_rules import answer_kind, lint_qa

QTYPES: dict[str, str] = {
    "count": "the answer is a number obtained by counting facts found across the documents",
    "multi_hop": "an entity is identified through one document and the asked fact is in another",
    "intersection": "the answer is the one entity that meets conditions stated in different documents",
    "comparison": "the answer names which of two entities is larger, earlier, longer, ...",
    "temporal": "the answer is a date, a year, or a number of years between events",
}

# A question is a sentence starting with a question word and ending in "?", with no
# quotes or backslashes that a small model would leave unescaped.
QUESTION_PATTERN = r'^(What|Which|Who|When|Where|How many|How much|How long|In which|In what) [^?"\\\n]{10,200}[?]$'


def qa_schema(qtype: str, answer_candidates: Sequence[str] | None = None) -> dict[str, Any]:
    """JSON schema for one QA pair. With ``answer_candidates`` the answer must be one of
    them (spans of the evidence): the extractive mode the embedded demo model needs.
    The answer comes first so the question is written for it."""
    answer: dict[str, Any] = {"type": "string", "minLength": 1, "maxLength": 80}
    if answer_candidates:
        answer = {"type": "string", "enum": list(answer_candidates)}
    return {
        "type": "object",
        "properties": {
            "answer": answer,
            "question": {"type": "string", "pattern": QUESTION_PATTERN},
            "aliases": {"type": "array", "items": {"type": "string", "maxLength": 60}, "maxItems": 3},
            "type": {"type": "string", "enum": [qtype]},
            "reasoning": {"type": "string", "maxLength": 200},
        },
        "required": ["answer", "question", "aliases", "type", "reasoning"],
    }


QA_SCHEMA = qa_schema("multi_hop")
_SPAN = re.compile(r"\b(?:[A-Z][\w'’\-]+(?:\s+(?:of|the|and|de|for)\s+|\s+)?)+|\b\d[\d,.]*\b")


def evidence_spans(texts: Sequence[str], limit: int = 48) -> list[str]:
    """Names, numbers and dates that occur in the evidence, most frequent first."""
    counts: dict[str, int] = {}
    for text in texts:
        for m in _SPAN.finditer(text):
            span = m.group(0).strip(" ,.")
            if len(span) >= 3 and not span.isupper():
                counts[span] = counts.get(span, 0) + 1
    return [s for s, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]]


def copies_example(question: str, qtype: str) -> bool:
    """The question repeats the few-shot example (small models parrot it)."""
    example = type_examples()[qtype].split("Answer:")[0].replace("Question:", "").strip()
    return fuzz.token_set_ratio(question.lower(), example.lower()) >= 80


def off_topic(question: str, docs: Sequence[Doc]) -> bool:
    """The question names nothing of the evidence: no title word, name or number from it."""
    evidence = " ".join(f"{d.title} {d.text}" for d in docs).lower()
    words = [w for w in re.findall(r"[A-Za-z][\w'’\-]{3,}|\d{2,}", question) if w[0].isupper() or w[0].isdigit()]
    words = [w for w in words if w not in ("What", "Which", "When", "Where", "How")]
    return not any(w.lower() in evidence for w in words)
VERDICT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"verdict": {"type": "string", "enum": ["accept", "reject"]}, "reason": {"type": "string", "maxLength": 200}},
    "required": ["verdict", "reason"],
}


@cache
def type_examples() -> dict[str, str]:
    return yaml.safe_load((PROMPT_DIR / "crawlqa_examples.yaml").read_text())


@dataclass(frozen=True)
class CrawlQASettings:
    samples_per_chain: int = 2
    qtypes: tuple[str, ...] = tuple(QTYPES)
    max_chars_per_doc: int = 1500
    judge: str = "enforce"  # "enforce": a reject drops the pair; "record": keep the verdict only (demo)
    answer_space: str = "free"  # "free" | "evidence_spans": the answer is constrained to spans of the evidence (demo)
    max_tokens: int = 400
    seed: int = 0
    temperature: float = 0.8


@dataclass
class Outcome:
    records: list[dict[str, Any]] = field(default_factory=list)
    drops: list[dict[str, Any]] = field(default_factory=list)


def _seed(*parts: object) -> int:
    return int.from_bytes(hashlib.sha256("\x00".join(map(str, parts)).encode()).digest()[:4], "big")


def _docs_for_prompt(chain: Chain, max_chars: int) -> list[dict[str, str]]:
    return [{"title": d.title, "text": d.text[:max_chars]} for d in chain.docs]


def judge_messages(docs: Sequence[dict[str, str]], question: str, answer: str) -> list[dict[str, str]]:
    return load_prompt("qa_judge").messages(docs=docs, question=question, answer=answer)


def parse_verdict(result: ChatResult) -> tuple[str, str]:
    """``("accept"|"reject"|"error", reason)`` from a judge reply."""
    if not result.ok:
        return "error", f"llm_error:{result.error}"
    data = extract_json_object(result.text)
    verdict = str((data or {}).get("verdict", "")).strip().lower()
    if verdict not in ("accept", "reject"):
        return "error", "malformed_verdict"
    return verdict, str(data.get("reason", ""))[:200]  # type: ignore[union-attr]


def judge_drop_reason(verdict: str, why: str) -> str:
    """The drop reason of a verdict that is not ``accept`` (``why`` as :func:`parse_verdict` gave it)."""
    if verdict == "reject":
        return JUDGE_REJECT
    return JUDGE_LLM_ERROR if why.startswith("llm_error:") else JUDGE_MALFORMED_VERDICT


async def generate_one(client: LLMClient, chain: Chain, k: int, s: CrawlQASettings,
                       known_urls: Container[str]) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """One sample for one chain -> (record, None) or (None, drop)."""
    qtype = s.qtypes[(_seed(chain.id) + k) % len(s.qtypes)]
    prompt = load_prompt("crawlqa_generate")
    docs = _docs_for_prompt(chain, s.max_chars_per_doc)
    messages = prompt.messages(n_docs=len(docs), qtype=qtype, type_help=QTYPES[qtype],
                               example=type_examples()[qtype].strip(), docs=docs)
    seed = _seed(s.seed, chain.id, k)
    base = {"chain_id": chain.id, "sample_index": k, "type": qtype, "hops": chain.hops,
            "difficulty": chain.difficulty, "evidence_urls": chain.urls, "depths": [d.depth for d in chain.docs],
            "prompt_id": prompt.id, "prompt_version": prompt.version, "seed": seed}

    def drop(stage: str, reason: str, **extra: Any) -> tuple[None, dict[str, Any]]:
        return None, {**base, "stage": stage, "reason": reason, **extra}

    candidates = evidence_spans([d["text"] for d in docs]) if s.answer_space == "evidence_spans" else None
    result = await client.chat("teacher", messages, seed=seed, sample_index=k, json_schema=qa_schema(qtype, candidates),
                               temperature=s.temperature, max_tokens=s.max_tokens)
    if not result.ok:
        return drop("generate", LLM_ERROR, error=result.error, detail=result.detail)
    data = extract_json_object(result.text)
    if data is None:
        reason = TRUNCATED_OUTPUT if result.finish_reason == "length" else MALFORMED_JSON
        return drop("parse", reason, raw=result.text[:500])
    question = data.get("question")
    answer = data.get("answer")
    if not isinstance(question, str) or not isinstance(answer, str):
        return drop("parse", MISSING_FIELDS, raw=result.text[:500])
    aliases = [a for a in data.get("aliases") or [] if isinstance(a, str) and a.strip() and a != answer]
    evidence_text = "\n\n".join(d.text for d in chain.docs)
    reasons = lint_qa(question, answer, evidence_text=evidence_text, evidence_urls=chain.urls, known_urls=known_urls)
    if copies_example(question, qtype):
        reasons.insert(0, COPIED_EXAMPLE)
    if off_topic(question, chain.docs):
        reasons.insert(0, QUESTION_OFF_TOPIC)
    if reasons:
        return drop("rules", reasons[0], all_reasons=reasons, question=question, answer=answer)
    verdict_result = await client.chat("judge", judge_messages(docs, question, answer), seed=seed, sample_index=k,
                                       json_schema=VERDICT_SCHEMA, temperature=0.0)
    verdict, why = parse_verdict(verdict_result)
    if s.judge == "enforce" and verdict != "accept":
        return drop("judge", judge_drop_reason(verdict, why), question=question, answer=answer, judge_reason=why)
    record = {
        **base,
        "id": hashlib.sha256(f"{chain.id}\x00{k}\x00{question}".encode()).hexdigest()[:16],
        "question": question.strip(),
        "answer": answer.strip(),
        "aliases": aliases,
        "answer_kind": answer_kind(answer),
        "judge_verdict": verdict,
        "judge_reason": why,
        "generator_model": result.model,
        "reasoning": str(data.get("reasoning", ""))[:400],
    }
    return record, None


async def generate_crawlqa(client: LLMClient, chains: Sequence[Chain], settings: CrawlQASettings,
                           known_urls: Container[str], progress: ProgressFn | None = None) -> Outcome:
    tasks = [generate_one(client, chain, k, settings, known_urls)
             for chain in chains for k in range(settings.samples_per_chain)]
    out = Outcome()
    for record, dropped in await gather_with_progress(tasks, progress):
        if record is not None:
            out.records.append(record)
        elif dropped is not None:
            out.drops.append(dropped)
    return out
