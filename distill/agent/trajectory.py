"""One rollout as data: the record every later stage (filters, datasets, rewards) reads.

A trajectory keeps two views of the same run. ``messages`` is the canonical chat in the
text-tag convention (assistant turns carry ``<think>``, ``<tool_call>`` / ``<answer>``;
``tool`` turns carry the observation text); ``steps`` is the parsed view, one entry per
assistant turn. Exports (OpenAI tool calls, WebDancer) are computed from ``messages``,
so both views always describe the same thing.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any

import polars as pl

from distill.agent.tools import FAILED_OUTCOMES, call_outcome

FINISH_REASONS = ("answer", "max_turns", "max_tokens", "invalid", "error")
STYLES = ("short", "long", "atomic")


@dataclass(slots=True)
class AtomicUnit:
    """A named functional piece of a thought (``<PLAN>...</PLAN>``); ``depth`` 0 is top level,
    ``parent`` the enclosing unit's tag for nested units."""

    tag: str
    text: str
    depth: int = 0
    parent: str = ""


@dataclass(slots=True)
class Step:
    """One assistant turn and what came back.

    ``action`` is ``search`` / ``visit`` / any tool name, ``answer``, or ``invalid``
    (then ``invalid_reason`` says why and ``observation`` holds the corrective message).
    ``tool_call`` is the raw text between the ``<tool_call>`` tags, kept verbatim so
    imports round-trip byte for byte; ``arguments`` its parsed JSON (``""`` when invalid).

    ``tool_outcomes``: what each part of the tool call (a query, a page) came to, one of
    :data:`distill.agent.tools.TOOL_OUTCOMES` each (``["bad_arguments"]`` when the tool
    refused the arguments); empty when no tool ran (answers, invalid turns, repeated
    calls answered from memory) or the record does not say (imports, older data).
    ``tool_status`` / ``tool_error``: the first failed part's HTTP status (0: none) and
    reason, so a dead engine is named in counts, not only in the observation text.
    """

    index: int
    think: str = ""
    units: list[AtomicUnit] = field(default_factory=list)
    action: str = ""
    tool_call: str = ""
    arguments: str = ""  # JSON text of the parsed arguments object
    answer: str = ""
    observation: str = ""
    invalid_reason: str = ""
    observation_truncated: bool = False
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached: bool = False
    tool_outcomes: list[str] = field(default_factory=list)
    tool_status: int = 0
    tool_error: str = ""

    @property
    def tool_name(self) -> str:
        """The tool this turn called (also for a call the tool refused), or ``""``."""
        if self.action not in ("", "answer", "invalid"):
            return self.action
        if self.invalid_reason == "bad_arguments":
            # A refused call became "invalid"; its name is in the (well-formed) call text.
            try:
                name = json.loads(self.tool_call).get("name")
            except (ValueError, AttributeError):
                return ""
            return name if isinstance(name, str) else ""
        return ""

    @property
    def tool_outcome(self) -> str:
        """The whole call's outcome (:func:`distill.agent.tools.call_outcome`), ``""`` when unknown."""
        return call_outcome(list(self.tool_outcomes))


@dataclass(slots=True)
class Trajectory:
    question_id: str
    question: str
    reference: str = ""  # the QA pair's answer (not the model's)
    aliases: list[str] = field(default_factory=list)
    style: str = "short"
    role: str = "teacher"
    model: str = ""
    prompt_id: str = ""  # template id@version of the system prompt family
    system_prompt_id: str = ""  # hash of the exact system prompt text (atomic variants differ)
    seed: int = 0
    sample_index: int = 0
    messages: list[dict[str, str]] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)
    final_answer: str = ""
    finish_reason: str = ""
    error: str = ""
    tools_json: str = "[]"  # JSON list of the OpenAI function schemas the model was offered
    source_format: str = "seekforge"  # seekforge | webdancer (imported)
    extra_json: str = ""  # fields of an imported record we do not model, kept for exact export

    @property
    def id(self) -> str:
        blob = "\x00".join([self.question_id, self.style, self.system_prompt_id, str(self.seed), str(self.sample_index),
                            self.source_format])
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]

    def tool_call_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for s in self.steps:
            if s.action not in ("", "answer", "invalid"):
                counts[s.action] = counts.get(s.action, 0) + 1
        return counts

    def tool_outcome_counts(self) -> list[dict[str, Any]]:
        """Calls per (tool, call outcome, HTTP status), in first-seen order: the rollout's totals."""
        counts: dict[tuple[str, str, int], int] = {}
        for s in self.steps:
            outcome = s.tool_outcome
            if outcome:
                key = (s.tool_name, outcome, s.tool_status)
                counts[key] = counts.get(key, 0) + 1
        return [{"tool": t, "outcome": o, "status": st, "calls": n} for (t, o, st), n in counts.items()]

    def failed_tool_calls(self) -> int:
        """Tool calls none of whose parts brought content because something broke
        (:data:`distill.agent.tools.FAILED_OUTCOMES`)."""
        return sum(1 for s in self.steps if s.tool_outcome in FAILED_OUTCOMES)

    def to_row(self) -> dict[str, Any]:
        counts = self.tool_call_counts()
        row = {k: v for k, v in asdict(self).items()}
        row.update(
            id=self.id,
            n_steps=len(self.steps),
            tool_calls=sum(counts.values()),
            search_calls=counts.get("search", 0),
            visit_calls=counts.get("visit", 0),
            invalid_actions=sum(1 for s in self.steps if s.action == "invalid"),
            prompt_tokens=sum(s.prompt_tokens for s in self.steps),
            completion_tokens=sum(s.completion_tokens for s in self.steps),
            failed_tool_calls=self.failed_tool_calls(),
            tool_outcome_counts=self.tool_outcome_counts(),
        )
        return row

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Trajectory:
        steps = [Step(**{**s, "units": [AtomicUnit(**u) for u in (s.get("units") or [])],
                         "tool_outcomes": list(s.get("tool_outcomes") or []), "tool_status": s.get("tool_status") or 0,
                         "tool_error": s.get("tool_error") or ""})
                 for s in row.get("steps") or []]
        names = {f for f in cls.__dataclass_fields__}
        kwargs = {k: v for k, v in row.items() if k in names and k != "steps"}
        kwargs["messages"] = [dict(m) for m in kwargs.get("messages") or []]
        kwargs["aliases"] = list(kwargs.get("aliases") or [])
        return cls(**kwargs, steps=steps)


_UNIT = pl.Struct({"tag": pl.String, "text": pl.String, "depth": pl.Int32, "parent": pl.String})
_STEP = pl.Struct({
    "index": pl.Int32, "think": pl.String, "units": pl.List(_UNIT), "action": pl.String, "tool_call": pl.String,
    "arguments": pl.String, "answer": pl.String, "observation": pl.String, "invalid_reason": pl.String,
    "observation_truncated": pl.Boolean, "prompt_tokens": pl.Int64, "completion_tokens": pl.Int64,
    "cached": pl.Boolean, "tool_outcomes": pl.List(pl.String), "tool_status": pl.Int32, "tool_error": pl.String,
})
_OUTCOME_COUNT = pl.Struct({"tool": pl.String, "outcome": pl.String, "status": pl.Int32, "calls": pl.Int32})
_MESSAGE = pl.Struct({"role": pl.String, "content": pl.String})

# mypy joins dtype classes (pl.String) and instances (pl.List(...)) to object.
TRAJECTORY_SCHEMA = pl.Schema({  # type: ignore[arg-type]
    "id": pl.String,
    "question_id": pl.String,
    "question": pl.String,
    "reference": pl.String,
    "aliases": pl.List(pl.String),
    "style": pl.String,
    "role": pl.String,
    "model": pl.String,
    "prompt_id": pl.String,
    "system_prompt_id": pl.String,
    "seed": pl.Int64,
    "sample_index": pl.Int32,
    "messages": pl.List(_MESSAGE),
    "steps": pl.List(_STEP),
    "final_answer": pl.String,
    "finish_reason": pl.String,
    "error": pl.String,
    "tools_json": pl.String,
    "source_format": pl.String,
    "extra_json": pl.String,
    "n_steps": pl.Int32,
    "tool_calls": pl.Int32,
    "search_calls": pl.Int32,
    "visit_calls": pl.Int32,
    "invalid_actions": pl.Int32,
    "prompt_tokens": pl.Int64,
    "completion_tokens": pl.Int64,
    "failed_tool_calls": pl.Int32,
    "tool_outcome_counts": pl.List(_OUTCOME_COUNT),
})


def trajectories_frame(trajectories: list[Trajectory]) -> pl.DataFrame:
    """The one way trajectories become a table (schema declared once, above)."""
    rows = [t.to_row() for t in trajectories]
    return pl.DataFrame(rows, schema=TRAJECTORY_SCHEMA) if rows else TRAJECTORY_SCHEMA.to_frame()


def read_trajectories(df: pl.DataFrame) -> list[Trajectory]:
    return [Trajectory.from_row(r) for r in df.to_dicts()]
