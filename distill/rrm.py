"""The reasoning reward model (RRM): the ``rrm`` role grades each atomic thought of a rollout.

Atom-Searcher's process reward (ATR) comes from a prompted reasoning LLM that scores the
agent's atomic thoughts; the paper does not publish its prompt, so ``prompts/rrm_score``
is this project's. Scores are data from a model, so parsing is forgiving and never raises:
a JSON object with a ``scores`` list is preferred, ``[n] 0.7``-style lines are accepted, values
are clamped to [0, 1], and a thought the reply does not score gets ``None`` (the reward
aggregation skips it) rather than an invented number.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from distill.agent.trajectory import AtomicUnit
from distill.jsonparse import extract_json_object
from distill.llm.client import LLMClient
from distill.prompt import load_prompt

RRM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"scores": {"type": "array", "items": {
        "type": "object",
        "properties": {"index": {"type": "integer"}, "score": {"type": "number", "minimum": 0, "maximum": 1},
                       "rationale": {"type": "string", "maxLength": 160}},
        "required": ["index", "score", "rationale"]}}},
    "required": ["scores"],
}


def rrm_schema(n: int) -> dict[str, Any]:
    """:data:`RRM_SCHEMA` asking for exactly ``n`` scores: under constrained decoding a model
    cannot answer ``{"scores": []}`` (measured: the 135M demo model did, for every rollout)."""
    scores = {**RRM_SCHEMA["properties"]["scores"], "minItems": n, "maxItems": n}
    return {**RRM_SCHEMA, "properties": {"scores": scores}}


_LINE = re.compile(r"^\s*\[?(\d+)\]?\s*[:.)-]?\s*(?:score\s*[:=]\s*)?(-?\d+(?:\.\d+)?)", re.I | re.M)


@dataclass(slots=True)
class ThoughtScores:
    scores: list[float | None]  # one per thought, in order; None = not scored by the reply
    rationales: list[str] = field(default_factory=list)
    error: str = ""  # llm_error:<code> | malformed | partial | ""

    @property
    def scored(self) -> int:
        return sum(s is not None for s in self.scores)


def _clamp(x: float) -> float:
    return min(1.0, max(0.0, x))


def parse_scores(text: str | None, n: int) -> ThoughtScores:
    """Scores for ``n`` thoughts from an RRM reply (see the module docstring for what is accepted)."""
    scores: list[float | None] = [None] * n
    rationales = [""] * n
    data = extract_json_object(text)
    entries = data.get("scores") if isinstance(data, dict) else None
    if isinstance(entries, list):
        for pos, e in enumerate(entries):
            if isinstance(e, (int, float)) and not isinstance(e, bool):  # a bare list of numbers
                idx, value, why = pos, float(e), ""
            elif isinstance(e, dict):
                raw_idx = e.get("index", pos + 1)
                idx = raw_idx - 1 if isinstance(raw_idx, int) and not isinstance(raw_idx, bool) else pos
                value_raw = e.get("score")
                try:
                    value = float(value_raw)  # type: ignore[arg-type]
                except (TypeError, ValueError):
                    continue
                why = str(e.get("rationale", ""))[:160]
            else:
                continue
            if 0 <= idx < n and value == value:  # NaN never equals itself
                scores[idx], rationales[idx] = _clamp(value), why
    else:
        for m in _LINE.finditer(text or ""):
            idx = int(m.group(1)) - 1
            if 0 <= idx < n and scores[idx] is None:
                scores[idx] = _clamp(float(m.group(2)))
    got = sum(s is not None for s in scores)
    error = "" if got == n else ("malformed" if got == 0 else "partial")
    return ThoughtScores(scores, rationales, error)


async def score_thoughts(client: LLMClient, question: str, thoughts: Sequence[AtomicUnit], context: str, *,
                         role: str = "rrm", max_tokens: int = 600, max_thought_chars: int = 600) -> ThoughtScores:
    """One RRM call grading every thought of one rollout. Never raises."""
    if not thoughts:
        return ThoughtScores([], [], "")
    view = [{"tag": t.tag, "text": " ".join(t.text.split())[:max_thought_chars]} for t in thoughts]
    messages = load_prompt("rrm_score").messages(question=question, context=context, thoughts=view)
    seed = int.from_bytes(hashlib.sha256(repr((question, context, view)).encode()).digest()[:4], "big")
    result = await client.chat(role, messages, seed=seed, json_schema=rrm_schema(len(thoughts)), temperature=0.0,
                               max_tokens=max_tokens)
    if not result.ok:
        return ThoughtScores([None] * len(thoughts), [""] * len(thoughts), f"llm_error:{result.error}")
    return parse_scores(result.text, len(thoughts))
