"""Progress of a long step: counts, rate and ETA in the run's log at a steady cadence.

Dagster's event log is where a person watching the UI looks, so every long step reports
there every ``every_s`` seconds (and at the end). When the step runs in a terminal
(``dagster job execute`` from a shell) a tqdm bar is drawn on stderr as well.
"""

import sys
import time
from typing import Any


class StepProgress:
    """A ``(done, total, elapsed_s)`` callback, the shape the domain packages report in."""

    def __init__(self, context: Any, label: str, unit: str, every_s: float = 15.0) -> None:
        self.context, self.label, self.unit, self.every_s = context, label, unit, every_s
        self._last = -every_s
        self._bar: Any = None
        self._started = time.monotonic()

    def __call__(self, done: int, total: int, elapsed: float | None = None) -> None:
        elapsed = time.monotonic() - self._started if elapsed is None else elapsed
        self._draw(done, total)
        if done < total and elapsed - self._last < self.every_s:
            return
        self._last = elapsed
        rate = done / elapsed if elapsed > 0 else 0.0
        eta = f"{(total - done) / rate:.0f}s" if rate > 0 else "?"
        self.context.log.info(f"{self.label}: {done}/{total} {self.unit}, {rate * 60:.1f}/min, ETA {eta}")

    def _draw(self, done: int, total: int) -> None:
        if not sys.stderr.isatty():
            return
        if self._bar is None:
            from tqdm import tqdm

            self._bar = tqdm(total=total, desc=self.label, unit=self.unit, file=sys.stderr, leave=False)
        self._bar.total = total
        self._bar.n = done
        self._bar.refresh()
        if done >= total:
            self._bar.close()
