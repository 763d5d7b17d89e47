"""All trajectory filters in order, with one verdict per record and the funnel.

Order: contamination (per question), validity, repetition, bounds, correctness (per
record), then majority voting (per question and style) and near-duplicates (across
records). A rollout of a benchmark question is dropped at ``contamination`` and goes no
further: no rule, score, judge verdict or vote is computed for it, so nothing about a
benchmark question reaches the data. Every per-record rule runs on every remaining record,
so ``reasons`` lists all of a record's problems; ``stage_dropped`` names the first stage that
dropped it, which is where the funnel counts it. Voting counts only the rollouts that passed
the stages before it (a malformed rollout has no say), and dedup runs last over the
survivors, so the first good copy of a trajectory is the one kept.

Every reason is a constant of :mod:`crawl.drop_reasons`; :func:`run_filters` checks each
one a stage gives, so an undeclared reason raises instead of reaching the tables.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import polars as pl

from crawl.drop_reasons import NEAR_DUPLICATE, check
from distill.agent.trajectory import Trajectory
from filters.contamination import Match
from filters.dedup import DedupSettings, near_duplicates
from filters.funnel import Funnel
from filters.rules import (
    Correctness,
    RuleSettings,
    check_bounds,
    check_correctness,
    check_leak,
    check_repetition,
    check_tool_failures,
    check_validity,
    model_text,
)
from filters.voting import VoteSettings, majority_vote

STAGES: tuple[str, ...] = ("contamination", "validity", "repetition", "bounds", "correctness", "voting", "dedup")

#: A question -> the benchmark question it copies, or None (``BenchmarkIndex.match``).
BenchmarkMatch = Callable[[str], Match | None]
#: Judge verdicts by trajectory id, or a function giving them for the rollouts that passed
#: contamination (so benchmark questions are never sent to the judge).
JudgeVerdicts = Mapping[str, bool] | Callable[[list[Trajectory]], Mapping[str, bool]]


@dataclass(frozen=True, slots=True)
class FilterSettings:
    rules: RuleSettings = field(default_factory=RuleSettings)
    voting: VoteSettings = field(default_factory=VoteSettings)
    dedup: DedupSettings = field(default_factory=DedupSettings)
    stages: tuple[str, ...] = STAGES  # drop "correctness" to record scores without enforcing them


@dataclass(slots=True)
class Decision:
    id: str
    keep: bool
    reasons: list[str]
    stage_dropped: str  # "" when kept
    vote_share: float | None = None
    f1: float | None = None  # the whole answer's F1 / EM (recorded; None without a reference)
    em: float | None = None
    rule_correct: bool | None = None  # the rule verdict (cover-EM on answer spans), beside any judge's
    answer_span: str | None = None  # the span the rule matched, or what the answer seems to assert


@dataclass(slots=True)
class FilterResult:
    kept: list[Trajectory]
    decisions: list[Decision]  # one per input, in input order
    funnel: Funnel
    matches: dict[str, Match] = field(default_factory=dict)  # question text -> the benchmark question it copies


# mypy joins dtype classes (pl.String) and instances (pl.List(...)) to object.
DECISION_SCHEMA = pl.Schema({  # type: ignore[arg-type]
    "id": pl.String, "keep": pl.Boolean, "reasons": pl.List(pl.String), "stage_dropped": pl.String,
    "vote_share": pl.Float64, "f1": pl.Float64, "em": pl.Float64, "rule_correct": pl.Boolean, "answer_span": pl.String,
})


def _validity(t: Trajectory, rules: RuleSettings) -> list[str]:
    """Format, plus a leaked system prompt (a format breach of a different kind: what the
    model must never write), plus an answer resting on failed tool calls (the run was not
    valid: the environment broke under it)."""
    return check_validity(t, rules) + check_leak(t, rules) + check_tool_failures(t, rules)


def benchmark_matches(trajs: Sequence[Trajectory], benchmark: BenchmarkMatch) -> dict[str, Match]:
    """Question text -> match, for the questions of ``trajs`` that copy a benchmark question
    (each distinct question is matched once)."""
    out: dict[str, Match] = {}
    for q in dict.fromkeys(t.question for t in trajs):
        m = benchmark(q)
        if m is not None:
            out[q] = m
    return out


def run_filters(trajs: Sequence[Trajectory], settings: FilterSettings | None = None, *,
                judge: JudgeVerdicts | None = None, benchmark: BenchmarkMatch | None = None) -> FilterResult:
    """Run the stages of ``settings.stages`` (in :data:`STAGES` order) over ``trajs``.

    ``benchmark``: the contamination stage's matcher (``BenchmarkIndex.match``); without it
    the stage matches nothing, and is still in the funnel with no drops when it is in
    ``settings.stages``. ``judge``: verdicts by trajectory id (see :data:`JudgeVerdicts`);
    a verdict decides correctness (:func:`filters.rules.check_correctness`)."""
    s = settings or FilterSettings()
    unknown = set(s.stages) - set(STAGES)
    if unknown:
        raise ValueError(f"unknown filter stages {sorted(unknown)}; known: {', '.join(STAGES)}")
    matches = benchmark_matches(trajs, benchmark) if benchmark is not None and "contamination" in s.stages else {}
    clean = [t for t in trajs if t.question not in matches]
    verdicts = (judge(clean) if callable(judge) else judge) or {}
    per_record: dict[str, Callable[[Trajectory, RuleSettings], list[str]]] = {
        "validity": _validity, "repetition": check_repetition, "bounds": check_bounds}
    reasons: list[dict[str, list[str]]] = []
    scores: list[Correctness | None] = []
    for t in trajs:
        m = matches.get(t.question)
        if m is not None:  # a benchmark question: dropped here, nothing else is computed for it
            reasons.append({"contamination": [m.reason]})
            scores.append(None)
            continue
        found = {name: fn(t, s.rules) for name, fn in per_record.items() if name in s.stages}
        verdict = check_correctness(t, s.rules, verdicts.get(t.id))
        if "correctness" in s.stages:
            found["correctness"] = verdict.reasons
        reasons.append(found)
        scores.append(verdict)

    def first_failure(found: dict[str, list[str]]) -> str:
        return next((stage for stage in STAGES if found.get(stage)), "")

    alive = [first_failure(r) == "" for r in reasons]
    # The vote share is recorded even when voting does not decide.
    votes = majority_vote([t for t, ok in zip(trajs, alive, strict=True) if ok], s.voting)
    shares = {i: v.share for i, v in votes.items()}
    if "voting" in s.stages:
        for t, found, ok in zip(trajs, reasons, alive, strict=True):
            if ok:
                found["voting"] = votes[t.id].reasons(s.voting)
    alive = [first_failure(r) == "" for r in reasons]
    if "dedup" in s.stages:
        idx = [i for i, ok in enumerate(alive) if ok]
        dups = near_duplicates([trajs[i].question + "\n" + model_text(trajs[i]) for i in idx], s.dedup)
        for i, dup in zip(idx, dups, strict=True):
            if dup is not None:
                reasons[i]["dedup"] = [NEAR_DUPLICATE]

    decisions: list[Decision] = []
    kept: list[Trajectory] = []
    drops: dict[str, Counter[str]] = {stage: Counter() for stage in s.stages}
    for t, found, c in zip(trajs, reasons, scores, strict=True):
        stage = first_failure(found)
        flat = [r for st in STAGES for r in found.get(st, [])]
        for r in flat:
            check(r)  # an undeclared reason fails here, naming itself
        if c is None:
            decisions.append(Decision(t.id, False, flat, stage))
        else:
            decisions.append(Decision(t.id, stage == "", flat, stage, shares.get(t.id), c.f1, c.em, c.rule_correct,
                                      c.rule.span if c.rule is not None else None))
        if stage:
            drops[stage][found[stage][0]] += 1
        else:
            kept.append(t)
    funnel = Funnel()
    remaining = len(trajs)
    for stage in (st for st in STAGES if st in s.stages):
        funnel.add_stage(stage, remaining, drops[stage])
        remaining -= sum(drops[stage].values())
    return FilterResult(kept, decisions, funnel, matches)


def decisions_frame(decisions: Sequence[Decision]) -> pl.DataFrame:
    rows = [{"id": d.id, "keep": d.keep, "reasons": d.reasons, "stage_dropped": d.stage_dropped,
             "vote_share": d.vote_share, "f1": d.f1, "em": d.em, "rule_correct": d.rule_correct,
             "answer_span": d.answer_span} for d in decisions]
    return pl.DataFrame(rows, schema=DECISION_SCHEMA) if rows else DECISION_SCHEMA.to_frame()
