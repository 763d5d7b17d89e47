"""What a tool is to the ReAct loop, and the cache every tool shares.

A tool takes the parsed ``arguments`` object of a ``<tool_call>`` and returns the
observation text. Bad arguments raise :class:`ToolArgumentError` with a sentence the
model can act on (the loop turns it into a corrective observation); anything that
goes wrong outside the model's control (a dead page, a search backend down) is still
an observation, so a rollout never crashes on the web.

An observation alone would hide an outage: "Search ... failed: HTTP 403" reads like data
to every later stage. So each result also says what happened, as one of the closed set
:data:`TOOL_OUTCOMES` per part of the call (a query, a page), and the rollout records it
per step; the filters drop answers that rest on failed calls only and the rollout step
fails when a tool's calls mostly fail (:func:`call_outcome`, :data:`FAILED_OUTCOMES`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from distill.llm.cache import RequestCache

# What one part of a tool call (a search query, a visited page) came to; declared once here.
OK = "ok"
EMPTY_RESULT = "empty_result"  # the tool worked and found nothing ("No results found for ...")
BAD_ARGUMENTS = "bad_arguments"  # the model's arguments did not fit the schema (no tool ran)
BACKEND_ERROR = "backend_error"  # the engine refused or broke (HTTP 4xx/5xx, garbled answer)
TIMEOUT = "timeout"  # no answer in time (search engine, or the page fetch)
FETCH_FAILED = "fetch_failed"  # the page could not be fetched or held no readable text
SUMMARY_FAILED = "summary_failed"  # the page was read but the summarizer gave no usable summary
TOOL_ERROR = "tool_error"  # the tool itself crashed (a bug): the loop recorded it
TOOL_OUTCOMES: tuple[str, ...] = (OK, EMPTY_RESULT, BAD_ARGUMENTS, BACKEND_ERROR, TIMEOUT, FETCH_FAILED,
                                  SUMMARY_FAILED, TOOL_ERROR)
# Outcomes that gave the model nothing from the web because something broke. An empty result
# is not one (the engine answered; rephrasing after it is worth learning), nor are bad
# arguments (a format error, dropped by the validity rule on its own).
FAILED_OUTCOMES: frozenset[str] = frozenset({BACKEND_ERROR, TIMEOUT, FETCH_FAILED, SUMMARY_FAILED, TOOL_ERROR})


def ran_and_failed(outcomes: Iterable[str]) -> tuple[int, int]:
    """(calls the tool ran, calls among them that failed) over whole-call outcomes
    (:func:`call_outcome`). Refused arguments are the model's error: no tool ran. Both the
    ``tool_failures`` rule and the rollout step's failure threshold count with this."""
    ran = failed = 0
    for outcome in outcomes:
        if outcome and outcome != BAD_ARGUMENTS:
            ran += 1
            failed += outcome in FAILED_OUTCOMES
    return ran, failed


def call_outcome(parts: list[str]) -> str:
    """The outcome of a whole call from its parts' outcomes: ``ok`` when any part brought
    content (a batched search with one good query informed the model), else the first
    failure, else ``empty_result``; ``""`` for a call with no recorded parts."""
    if not parts:
        return ""
    if OK in parts:
        return OK
    return next((p for p in parts if p in FAILED_OUTCOMES), EMPTY_RESULT if EMPTY_RESULT in parts else parts[0])


class ToolArgumentError(ValueError):
    """The model called a tool with arguments that do not fit its schema."""


@dataclass(slots=True)
class ToolResult:
    text: str
    cached: bool = False
    # Counts for metadata: e.g. {"pages": 2, "pages_failed": 1} or {"queries": 3}
    stats: dict[str, int] = field(default_factory=dict)
    # One of TOOL_OUTCOMES per part of the call (query, page), in the order asked.
    outcomes: list[str] = field(default_factory=list)
    # The first failed part: its HTTP status when a server gave one (0: none) and its reason.
    http_status: int = 0
    error: str = ""

    @property
    def outcome(self) -> str:
        return call_outcome(self.outcomes)


class Tool(Protocol):
    name: str

    @property
    def schema(self) -> dict[str, Any]:
        """OpenAI function schema: ``{"name", "description", "parameters"}``."""
        ...

    async def __call__(self, arguments: Mapping[str, Any]) -> ToolResult: ...


class ToolCache:
    """Tool results by (tool, backend, arguments), in the LLM request cache's sqlite file.

    Rollouts are replayed from cache on a rerun only if every observation is the same
    as the first time, so tools are cached too, not only model calls.
    """

    def __init__(self, cache: RequestCache | None) -> None:
        self.cache = cache
        self.hits = 0
        self.misses = 0

    @staticmethod
    def key(tool: str, backend: str, arguments: Mapping[str, Any]) -> str:
        blob = json.dumps({"tool": tool, "backend": backend, "arguments": arguments}, sort_keys=True,
                          ensure_ascii=False, separators=(",", ":"))
        return "tool:" + hashlib.sha256(blob.encode("utf-8")).hexdigest()

    def get(self, key: str) -> str | None:
        if self.cache is None:
            return None
        hit = self.cache.get(key)
        if hit is None:
            self.misses += 1
            return None
        self.hits += 1
        return str(hit.get("text", ""))

    def put(self, key: str, tool: str, backend: str, text: str) -> None:
        if self.cache is not None:
            self.cache.put(key, f"tool:{tool}", backend, {"text": text})
