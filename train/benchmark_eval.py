"""An agent on standard benchmark files, scored the way the papers score: any OpenAI-compatible
endpoint (our checkpoints served by ``transformers serve``, a vLLM-served WebDancer or
Search-R1 model, a hosted API), the same ReAct loop and system prompt that made the training
data, and the search backend the caller built (local index, SearXNG, Serper).

Why here and not in the asset: ``seekforge eval`` (the CLI) and ``agent_eval`` (the asset)
run exactly this, so a number in the UI and a number on a terminal mean the same thing.
Reported numbers differ between papers mostly by prompt, tools and judge; every result
therefore names the metric variant, the pass@k criterion and the judge prompt's version.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from distill.agent.loop import QAItem, RolloutSettings, run_rollouts
from distill.agent.styles import Style
from distill.agent.tools import Tool
from distill.agent.trajectory import Trajectory
from filters.metrics import Metric
from train.benchmarks import BenchmarkRecord
from train.eval_judge import judge_prompt_id, judge_runs
from train.eval_metrics import (
    CRITERION,
    KS,
    OVERALL,
    VARIANT,
    Criterion,
    QuestionResult,
    TokenCounter,
    aggregate,
    behaviour,
    run_predictions,
    score_run,
)

ProgressFn = Callable[[int, int, float], None]


@dataclass(frozen=True, slots=True)
class EvalSettings:
    """How answers are sampled and scored (defaults declared once, in :mod:`train.eval_metrics`)."""

    samples: int = 1  # rollouts per question (pass@k needs k <= samples)
    seed: int = 0
    judge: bool = False  # LLM-judge accuracy by the ``judge`` role (train.eval_judge's versioned prompt)
    variant: Metric = VARIANT
    criterion: Criterion = CRITERION
    ks: tuple[int, ...] = KS

    def __post_init__(self) -> None:
        if self.samples < 1:
            raise ValueError(f"samples must be >= 1, got {self.samples}")
        too_big = [k for k in self.ks if not 1 <= k <= self.samples]
        if too_big:
            raise ValueError(f"pass@k needs 1 <= k <= samples ({self.samples}); got k = {too_big}")
        if self.criterion == "judge" and not self.judge:
            raise ValueError("criterion judge needs judge: true")


@dataclass(slots=True)
class AgentEval:
    """One agent's results: per benchmark the trajectories and per-question scores, the table
    (one row per benchmark and ``overall``) and the behaviour rows (same keys)."""

    agent: str
    trajectories: dict[str, list[Trajectory]] = field(default_factory=dict)
    results: dict[str, list[QuestionResult]] = field(default_factory=dict)
    table: list[dict[str, Any]] = field(default_factory=list)
    behaviour: list[dict[str, Any]] = field(default_factory=list)

    def rollout_rows(self) -> list[dict[str, Any]]:
        """One row per rollout (agent, benchmark, question, sample, answer, how it ended): the rollouts file."""
        return [{"agent": self.agent, "benchmark": b, "question_id": t.question_id, "sample": t.sample_index,
                 "answer": t.final_answer, "finish_reason": t.finish_reason, "turns": len(t.steps)}
                for b, ts in self.trajectories.items() for t in ts]

    def rows(self) -> list[dict[str, Any]]:
        """Table and behaviour joined per benchmark, with the agent's name first: the CSV rows."""
        by_bench = {b["benchmark"]: b for b in self.behaviour}
        return [{"agent": self.agent, **row, **{k: v for k, v in by_bench.get(row["benchmark"], {}).items()
                                                   if k != "benchmark"}} for row in self.table]


def qa_items(records: Sequence[BenchmarkRecord]) -> list[QAItem]:
    """Benchmark records as the ReAct loop's items: the first answer is the reference, the rest aliases."""
    return [QAItem(id=r.id, question=r.question, answer=r.answers[0], aliases=list(r.answers[1:])) for r in records]


async def evaluate_agent(agent: str, client: Any, style: Style, benchmarks: Mapping[str, Sequence[BenchmarkRecord]],
                         tools: Mapping[str, Tool], rollout: RolloutSettings, settings: EvalSettings | None = None, *,
                         counter: TokenCounter | None = None,
                         progress: Callable[[str], ProgressFn | None] | None = None) -> AgentEval:
    """Run ``style``'s role on every question of every benchmark (``settings.samples`` times each)
    and score it. ``client`` must have the style's role (and ``judge`` when judging);
    ``progress(benchmark)`` may return a progress callback for that benchmark's rollouts."""
    s = settings or EvalSettings()
    judge_prompt = judge_prompt_id() if s.judge else ""  # fails before any request if the prompt drifted
    out = AgentEval(agent)
    for name, records in benchmarks.items():
        trajs = await run_rollouts(client, style, qa_items(records), tools, rollout, k=s.samples, seed=s.seed,
                                   progress=progress(name) if progress else None)
        verdicts = None
        if s.judge:
            runs = run_predictions(records, trajs)
            verdicts = {r.id: v for (r, _), v in zip(runs, await judge_runs(client, runs), strict=True)}
        out.trajectories[name] = trajs
        out.results[name] = score_run(records, trajs, tool_names=tuple(tools), variant=s.variant,
                                      criterion=s.criterion, verdicts=verdicts, judge_prompt=judge_prompt)
    out.table = aggregate(out.results, ks=s.ks)
    everything = [t for ts in out.trajectories.values() for t in ts]
    out.behaviour = [{"benchmark": name, **behaviour(ts, counter).row()} for name, ts in out.trajectories.items()]
    out.behaviour.append({"benchmark": OVERALL, **behaviour(everything, counter).row()})
    return out


def write_csv(rows: Sequence[Mapping[str, Any]], path: str | Path) -> Path:
    """All rows under the union of their keys (first-seen order), written to a temp file and renamed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    columns = list(dict.fromkeys(k for r in rows for k in r))
    tmp = path.with_suffix(path.suffix + ".tmp")
    with open(tmp, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    tmp.replace(path)
    return path


def plot(rows: Sequence[Mapping[str, Any]], path: str | Path, *, metric: str = "f1") -> Path:
    """Grouped bars of ``metric`` per benchmark, one bar per agent (the PNG the asset shows); the
    ``overall`` rows are left out when there are per-benchmark ones."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for r in rows if r["benchmark"] != OVERALL] or rows
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    agents = list(dict.fromkeys(str(r["agent"]) for r in rows))
    benches = list(dict.fromkeys(str(r["benchmark"]) for r in rows))
    value = {(str(r["agent"]), str(r["benchmark"])): float(r.get(metric) or 0.0) for r in rows}
    width = 0.8 / max(1, len(agents))
    fig, ax = plt.subplots(figsize=(max(4.0, 1.6 * len(benches) + 1), 3.2), dpi=100)
    for i, agent in enumerate(agents):
        xs = [j + i * width for j in range(len(benches))]
        ax.bar(xs, [value.get((agent, b), 0.0) for b in benches], width, label=agent)
    ax.set_xticks([j + width * (len(agents) - 1) / 2 for j in range(len(benches))], benches)
    ax.set_ylim(0, 1)
    ax.set_ylabel(metric)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
