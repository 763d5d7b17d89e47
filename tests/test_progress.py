"""Progress reporting: results keep their order, the log gets counts, rate and ETA at a steady cadence."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

from assets.progress import StepProgress
from distill.progress import gather_with_progress


def test_gather_with_progress_keeps_order_and_reports_every_completion() -> None:
    seen: list[tuple[int, int]] = []

    async def job(i: int) -> int:
        await asyncio.sleep(0.01 * (5 - i))  # finish in reverse order
        return i

    out = asyncio.run(gather_with_progress([job(i) for i in range(5)], lambda d, t, e: seen.append((d, t))))
    assert out == [0, 1, 2, 3, 4]
    assert seen == [(0, 5), (1, 5), (2, 5), (3, 5), (4, 5), (5, 5)]
    assert asyncio.run(gather_with_progress([job(1)])) == [1]


def test_step_progress_logs_at_a_cadence_and_always_at_the_end() -> None:
    lines: list[str] = []
    ctx = SimpleNamespace(log=SimpleNamespace(info=lines.append))
    p = StepProgress(ctx, "crawlqa_pairs", "samples", every_s=10.0)
    p(0, 100, 0.0)
    p(10, 100, 5.0)  # within the cadence: silent
    p(20, 100, 10.0)
    p(99, 100, 12.0)  # silent
    p(100, 100, 13.0)  # the end is always reported
    assert lines[0].startswith("crawlqa_pairs: 0/100 samples") and lines[0].endswith("ETA ?")
    assert lines[1] == "crawlqa_pairs: 20/100 samples, 120.0/min, ETA 40s"
    assert lines[2].startswith("crawlqa_pairs: 100/100 samples") and len(lines) == 3
