"""Progress reporting shared by the long LLM stages: ``(done, total, elapsed_s)`` callbacks."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

T = TypeVar("T")
ProgressFn = Callable[[int, int, float], None]


async def gather_with_progress(aws: Sequence[Awaitable[T]], progress: ProgressFn | None = None) -> list[T]:
    """``asyncio.gather`` (results in input order) that reports each completion."""
    if progress is None:
        return list(await asyncio.gather(*aws))
    started = time.monotonic()
    total = len(aws)
    done = 0
    progress(0, total, 0.0)

    async def one(aw: Awaitable[T]) -> T:
        nonlocal done
        result = await aw
        done += 1
        progress(done, total, time.monotonic() - started)
        return result

    return list(await asyncio.gather(*(one(a) for a in aws)))
