"""The agent's async tools and RRM, callable from the trainer's synchronous rollout code.

TRL calls ``rollout_func`` and reward functions synchronously, while the search/visit tools
and the LLM client are asyncio objects with open connections (a page reader, a replay
server, an HTTP pool). They live on one event loop in a background thread for the whole
training run, and the trainer submits coroutines to it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack
from typing import Any, TypeVar

from crawl.loop_thread import LoopThread
from distill.agent.tools import Tool, ToolArgumentError
from distill.agent.trajectory import AtomicUnit

T = TypeVar("T")


class BackgroundLoop(LoopThread):
    """An event loop in a daemon thread (:class:`crawl.loop_thread.LoopThread`); async context
    managers entered on it close with it, and their errors on closing are raised."""

    def __init__(self) -> None:
        super().__init__("seekforge-env-loop")
        self._stack = AsyncExitStack()

    def __enter__(self) -> BackgroundLoop:
        self.start()
        return self

    def enter(self, cm: AbstractAsyncContextManager[T]) -> T:
        return self.run(self._stack.enter_async_context(cm))

    def __exit__(self, *exc: object) -> None:
        try:
            self.run(self._stack.aclose(), timeout=60)
        finally:
            self.stop()


def tool_caller(bg: BackgroundLoop, tools: Mapping[str, Tool]):
    """A ``(name, arguments) -> observation`` function; bad arguments become the same
    corrective sentence the ReAct loop gives."""

    def call(name: str, arguments: dict[str, Any]) -> str:
        try:
            return bg.run(tools[name](arguments)).text
        except ToolArgumentError as exc:
            return f"Invalid arguments for {name}: {exc}"

    return call


def thought_scorer(bg: BackgroundLoop, client: Any, role: str = "rrm"):
    """The RRM as a batch function: every rollout of a reward batch graded concurrently (the
    client bounds how many requests are in flight). Never raises: a failed call grades nothing."""
    from distill.rrm import score_thoughts

    def score(items: Sequence[tuple[str, Sequence[AtomicUnit], str]]) -> list[list[float | None]]:
        async def all_of() -> list[list[float | None]]:
            results = await asyncio.gather(*(score_thoughts(client, q, units, ctx, role=role) for q, units, ctx in items))
            return [r.scores for r in results]

        return bg.run(all_of())

    return score


def answer_judge(bg: BackgroundLoop, client: Any, role: str = "judge"):
    """The judge as a batch function for WebDancer's reward: every answer of a reward batch
    judged concurrently (identical answers share one request). Never raises: a failed call is
    a ``None`` verdict, which the reward counts."""
    from distill.answer_judge import JudgeItem, judge_answers

    def judge(items: Sequence[tuple[str, str, Sequence[str], str]]) -> list[bool | None]:
        batch = [JudgeItem(id=str(i), question=q, reference=ref, aliases=tuple(aliases), answer=ans)
                 for i, (q, ref, aliases, ans) in enumerate(items)]
        return [v.correct for v in bg.run(judge_answers(client, batch, role=role))]

    return judge
