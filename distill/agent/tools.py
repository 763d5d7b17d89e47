"""What a tool is to the ReAct loop, and the cache every tool shares.

A tool takes the parsed ``arguments`` object of a ``<tool_call>`` and returns the
observation text. Bad arguments raise :class:`ToolArgumentError` with a sentence the
model can act on (the loop turns it into a corrective observation); anything that
goes wrong outside the model's control (a dead page, a search backend down) is still
an observation, so a rollout never crashes on the web.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from distill.llm.cache import RequestCache


class ToolArgumentError(ValueError):
    """The model called a tool with arguments that do not fit its schema."""


@dataclass(slots=True)
class ToolResult:
    text: str
    cached: bool = False
    # Counts for metadata: e.g. {"pages": 2, "pages_failed": 1} or {"queries": 3}
    stats: dict[str, int] = field(default_factory=dict)


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
