"""The agent's async tools and RRM, callable from the trainer's synchronous rollout code.

TRL calls ``rollout_func`` and reward functions synchronously, while the search/visit tools
and the LLM client are asyncio objects with open connections (a page reader, a replay
server, an HTTP pool). They live on one event loop in a background thread for the whole
training run, and the trainer submits coroutines to it.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack
from typing import Any, TypeVar

from distill.agent.tools import Tool, ToolArgumentError
from distill.agent.trajectory import AtomicUnit

T = TypeVar("T")


class BackgroundLoop:
    """An event loop in a daemon thread; async context managers entered on it close with it."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="seekforge-env-loop", daemon=True)
        self._stack = AsyncExitStack()

    def __enter__(self) -> BackgroundLoop:
        self._thread.start()
        return self

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def enter(self, cm: AbstractAsyncContextManager[T]) -> T:
        return self.run(self._stack.enter_async_context(cm))

    def __exit__(self, *exc: object) -> None:
        try:
            self.run(self._stack.aclose(), timeout=60)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(10)
            self.loop.close()


def tool_caller(bg: BackgroundLoop, tools: Mapping[str, Tool]):  # type: ignore[no-untyped-def]
    """A ``(name, arguments) -> observation`` function; bad arguments become the same
    corrective sentence the ReAct loop gives."""

    def call(name: str, arguments: dict[str, Any]) -> str:
        try:
            return bg.run(tools[name](arguments)).text
        except ToolArgumentError as exc:
            return f"Invalid arguments for {name}: {exc}"

    return call


def thought_scorer(bg: BackgroundLoop, client: Any, role: str = "rrm"):  # type: ignore[no-untyped-def]
    """The RRM as a batch function: every rollout of a reward batch graded concurrently (the
    client bounds how many requests are in flight). Never raises: a failed call grades nothing."""
    from distill.rrm import score_thoughts

    def score(items: Sequence[tuple[str, Sequence[AtomicUnit], str]]) -> list[list[float | None]]:
        async def all_of() -> list[list[float | None]]:
            results = await asyncio.gather(*(score_thoughts(client, q, units, ctx, role=role) for q, units, ctx in items))
            return [r.scores for r in results]

        return bg.run(all_of())

    return score
