"""E2HQA: make an easy question hard by replacing an entity in it with a description
found through search, round after round, while the answer stays the same (WebDancer §3.1;
the per-round validation follows ASearcher's stricter practice).

Round n: pick an entity of the question, search the offline index for it, ask the
teacher for a description that identifies it without naming it, substitute. A round
is kept only if the answer is still absent from the question, the entity's name is
gone, the question still reads as a question, and (when enforced) the judge finds it
answerable from the gathered evidence. A chain stops at its first failed round.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from crawl.drop_reasons import (
    DESCRIPTION_TOO_LONG,
    ENTITY_NAMED,
    LLM_ERROR,
    MALFORMED_JSON,
    NO_ENTITY,
    NO_SEARCH_RESULTS,
)
from distill.crawlqa import VERDICT_SCHEMA, judge_drop_reason, judge_messages, parse_verdict
from distill.jsonparse import extract_json_object
from distill.llm.client import LLMClient
from distill.progress import ProgressFn, gather_with_progress
from distill.prompt import load_prompt
from distill.qa_rules import lint_qa, normalize_answer

SearchFn = Callable[[str, int], Sequence[Any]]  # (query, k) -> hits with .url .title .snippet

DESCRIPTION_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"description": {"type": "string", "minLength": 5, "maxLength": 160}},
    "required": ["description"],
}
_QUESTION_WORDS = frozenset({"What", "Which", "Who", "Whom", "Whose", "When", "Where", "Why", "How", "In", "On", "At",
                             "Of", "For", "From", "By", "The", "A", "An", "Name", "Is", "Was", "Did", "Does", "Do"})
_ENTITY = re.compile(r"(?:[A-Z][\w'’.\-–]*(?:\s+(?:of|the|de|von|and|for|on|in)\s+|\s+))*[A-Z][\w'’.\-–]*|\b\d{4}\b")


@dataclass(frozen=True)
class E2HSettings:
    rounds: int = 2
    search_k: int = 3
    judge: str = "enforce"  # "enforce" | "record" (demo)
    seed: int = 0
    max_description_words: int = 20


@dataclass
class E2HOutcome:
    records: list[dict[str, Any]] = field(default_factory=list)
    drops: list[dict[str, Any]] = field(default_factory=list)


def candidate_entities(question: str, answer: str) -> list[str]:
    """Capitalised spans and years of the question, longest first, never the answer
    nor a span containing it, nor a leading question word."""
    norm_answer = normalize_answer(answer)
    spans = []
    for m in _ENTITY.finditer(question):
        span = m.group(0).strip(" .?,;:")
        words = span.split()
        while words and words[0] in _QUESTION_WORDS:
            words = words[1:]
        span = " ".join(words).strip(" .?,;:")
        if len(span) < 3 or not span:
            continue
        ns = normalize_answer(span)
        if not ns or (norm_answer and (norm_answer in ns or ns in norm_answer)):
            continue
        spans.append(span)
    return sorted(dict.fromkeys(spans), key=lambda s: (-len(s), s))


def _id(*parts: object) -> str:
    return hashlib.sha256("\x00".join(map(str, parts)).encode()).hexdigest()[:16]


async def evolve_one(client: LLMClient, search: SearchFn, seed_qa: dict[str, Any], s: E2HSettings,
                     evidence_docs: Sequence[dict[str, str]]) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """All kept rounds of one seed question, and the drop that ended the chain (if any)."""
    kept: list[dict[str, Any]] = []
    question, answer = seed_qa["question"], seed_qa["answer"]
    parent = seed_qa["id"]
    evidence = list(evidence_docs)
    urls = list(seed_qa.get("evidence_urls") or [])
    replaced: set[str] = set()
    prompt = load_prompt("e2hqa_describe")
    for rnd in range(1, s.rounds + 1):
        base = {"root_id": seed_qa["id"], "parent_id": parent, "round": rnd, "answer": answer,
                "prompt_id": prompt.id, "prompt_version": prompt.version}
        entities = [e for e in candidate_entities(question, answer) if e not in replaced]
        if not entities:
            return kept, {**base, "stage": "entity", "reason": NO_ENTITY, "question": question}
        entity = entities[0]
        hits = list(search(entity, s.search_k))[: s.search_k]
        if not hits:
            return kept, {**base, "stage": "search", "reason": NO_SEARCH_RESULTS, "entity": entity}
        seed = int(_id(s.seed, parent, rnd, entity)[:8], 16)
        result = await client.chat("teacher", prompt.messages(entity=entity, answer=answer, hits=hits), seed=seed,
                                   json_schema=DESCRIPTION_SCHEMA, temperature=0.7)
        if not result.ok:
            return kept, {**base, "stage": "describe", "reason": LLM_ERROR, "error": result.error,
                          "detail": result.detail, "entity": entity}
        data = extract_json_object(result.text)
        description = str((data or {}).get("description", "")).strip().strip(".")
        if not description:
            return kept, {**base, "stage": "describe", "reason": MALFORMED_JSON, "entity": entity,
                          "raw": result.text[:300]}
        if normalize_answer(entity) in normalize_answer(description):
            return kept, {**base, "stage": "describe", "reason": ENTITY_NAMED, "entity": entity,
                          "description": description}
        if len(description.split()) > s.max_description_words:
            return kept, {**base, "stage": "describe", "reason": DESCRIPTION_TOO_LONG, "entity": entity}
        new_question = question.replace(entity, description, 1)
        reasons = lint_qa(new_question, answer)
        if reasons:
            return kept, {**base, "stage": "rules", "reason": reasons[0], "question": new_question, "entity": entity}
        round_evidence = evidence + [{"title": h.title, "text": h.snippet} for h in hits]
        verdict, why = parse_verdict(await client.chat("judge", judge_messages(round_evidence, new_question, answer),
                                                       seed=seed, json_schema=VERDICT_SCHEMA, temperature=0.0))
        if s.judge == "enforce" and verdict != "accept":
            return kept, {**base, "stage": "judge", "reason": judge_drop_reason(verdict, why), "judge_reason": why,
                          "question": new_question, "entity": entity}
        urls = list(dict.fromkeys(urls + [h.url for h in hits]))
        record = {**base, "id": _id(parent, rnd, new_question), "question": new_question,
                  "aliases": list(seed_qa.get("aliases") or []), "entity_replaced": entity, "description": description,
                  "evidence_urls": urls, "judge_verdict": verdict, "judge_reason": why,
                  "generator_model": result.model, "seed": seed}
        kept.append(record)
        evidence, question, parent = round_evidence, new_question, record["id"]
        replaced.add(entity)
    return kept, None


async def generate_e2hqa(client: LLMClient, search: SearchFn, seeds: Sequence[dict[str, Any]], s: E2HSettings,
                         docs_for: Callable[[Sequence[str]], list[dict[str, str]]],
                         progress: ProgressFn | None = None) -> E2HOutcome:
    results = await gather_with_progress([evolve_one(client, search, q, s, docs_for(q.get("evidence_urls") or []))
                                          for q in seeds], progress)
    out = E2HOutcome()
    for kept, dropped in results:
        out.records.extend(kept)
        if dropped is not None:
            out.drops.append(dropped)
    return out
