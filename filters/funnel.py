"""The funnel: how many records entered each stage, how many it dropped and why.

One table from crawled pages to training records, so a person can see where the data
went. Stages count different things (pages, QA pairs, rollouts, records); each stage
says its own input count, and a record is counted once, at the first stage that drops it.

Every reason counted must be declared in :mod:`crawl.drop_reasons` (optionally behind a
display prefix such as ``crawlqa:``, :func:`crawl.drop_reasons.check_display`): an
undeclared one raises :class:`crawl.drop_reasons.UndeclaredReason` when it is counted, so
a misspelt or composed reason cannot quietly become a new row. :meth:`Funnel.from_rows`
reads a stored funnel back as it is, without checking.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from crawl.drop_reasons import check_display

#: The ``reason`` of the row that holds a stage's kept count in :meth:`Funnel.to_rows` (not a drop reason).
KEPT = "(kept)"


@dataclass(slots=True)
class Stage:
    name: str
    n_in: int
    drops: Counter[str] = field(default_factory=Counter)

    @property
    def dropped(self) -> int:
        return sum(self.drops.values())

    @property
    def kept(self) -> int:
        return self.n_in - self.dropped


@dataclass(slots=True)
class Funnel:
    stages: list[Stage] = field(default_factory=list)

    def add_stage(self, name: str, n_in: int, drops: Mapping[str, int] | Iterable[str] = ()) -> Stage:
        counts = Counter(drops) if not isinstance(drops, Mapping) else Counter({k: v for k, v in drops.items() if v})
        for reason in counts:
            check_display(reason)
        if sum(counts.values()) > n_in:
            raise ValueError(f"stage {name!r} drops {sum(counts.values())} of only {n_in}")
        stage = Stage(name, n_in, counts)
        self.stages.append(stage)
        return stage

    def stage(self, name: str) -> Stage:
        for s in self.stages:
            if s.name == name:
                return s
        raise KeyError(name)

    def record(self, stage: str, reason: str, n: int = 1) -> None:
        check_display(reason)
        self.stage(stage).drops[reason] += n

    def then(self, other: Funnel | None) -> Funnel:
        """This funnel followed by ``other``'s stages (a new funnel)."""
        return Funnel([*self.stages, *(other.stages if other is not None else [])])

    def merge(self, other: Funnel) -> Funnel:
        """Stage-wise sum of two funnels over the same stages (e.g. per-style funnels)."""
        if [s.name for s in self.stages] != [s.name for s in other.stages]:
            raise ValueError("funnels with different stages cannot be summed")
        return Funnel([Stage(a.name, a.n_in + b.n_in, a.drops + b.drops) for a, b in zip(self.stages, other.stages,
                                                                                          strict=True)])

    def to_rows(self) -> list[dict[str, Any]]:
        """One row per (stage, reason), plus a ``(kept)`` row per stage; parquet-friendly."""
        rows: list[dict[str, Any]] = []
        for s in self.stages:
            for reason, n in sorted(s.drops.items(), key=lambda kv: (-kv[1], kv[0])):
                rows.append({"stage": s.name, "n_in": s.n_in, "reason": reason, "count": n})
            rows.append({"stage": s.name, "n_in": s.n_in, "reason": KEPT, "count": s.kept})
        return rows

    @classmethod
    def from_rows(cls, rows: Iterable[Mapping[str, Any]]) -> Funnel:
        funnel = cls()
        for r in rows:
            if not funnel.stages or funnel.stages[-1].name != r["stage"]:
                funnel.stages.append(Stage(str(r["stage"]), int(r["n_in"])))
            if r["reason"] != KEPT:
                funnel.stages[-1].drops[str(r["reason"])] += int(r["count"])
        return funnel

    def to_markdown(self) -> str:
        if not self.stages:
            return "_(empty funnel)_"
        lines = ["| stage | in | dropped | kept | top reasons |", "|---|---:|---:|---:|---|"]
        for s in self.stages:
            top = ", ".join(f"{r} {n}" for r, n in sorted(s.drops.items(), key=lambda kv: (-kv[1], kv[0]))[:6])
            lines.append(f"| {s.name} | {s.n_in} | {s.dropped} | {s.kept} | {top or '-'} |")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {s.name: {"in": s.n_in, "kept": s.kept, "drops": dict(s.drops)} for s in self.stages}
