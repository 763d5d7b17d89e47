"""``seekforge filter``: the rule-based trajectory filters over a JSONL file, one verdict per line.

Streams the file (a million trajectories need not fit in memory), so only the rules that
look at one record at a time run here, plus exact duplicate questions (a set of normalised
questions seen so far). Majority voting and near-duplicate detection need the whole set and
run in the ``scored_trajectories`` asset.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import click

STAGES = ("parse", "validity", "repetition", "bounds", "correctness", "duplicates")


@click.command("filter")
@click.argument("trajectory_file", type=click.Path(dir_okay=False, allow_dash=True, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["seekforge", "webdancer"]), default="seekforge", show_default=True,
              help="seekforge: Trajectory rows (seekforge convert --to seekforge); webdancer: WebDancer's JSONL.")
@click.option("--min-tool-calls", default=1, show_default=True, type=click.IntRange(min=0))
@click.option("--max-tool-calls", default=50, show_default=True, type=click.IntRange(min=0))
@click.option("--max-ngram-repeats", default=4, show_default=True, type=click.IntRange(min=1),
              help="Any 10-word sequence may occur at most this often in what the model wrote.")
@click.option("--f1-threshold", default=0.8, show_default=True, type=click.FloatRange(0, 1),
              help="Correctness (only for records with a reference answer): an answer is right when the "
                   "reference is contained in the span stating it (cover-EM), or when the whole answer's F1 "
                   "reaches this (0 keeps every answer).")
@click.option("--max-failed-tool-share", default=0.5, show_default=True, type=click.FloatRange(0, 1),
              help="Validity: drop a rollout whose failed tool calls exceed this share, or none of whose calls "
                   "brought content (only records that carry tool outcomes).")
def filter_command(trajectory_file: Path, fmt: str, min_tool_calls: int, max_tool_calls: int, max_ngram_repeats: int,
                   f1_threshold: float, max_failed_tool_share: float) -> None:
    """Run validity, repetition, bounds, duplicate-question and (with references) correctness rules.

    Correctness without a judge: the reference (or an alias) contained, as whole words, in the
    span of the final answer that states it (bold, quoted or after "is"), else in a short
    whole answer; a miss is "answer_not_matched" (filters/answer_span.py).

    Output: one JSON line per non-blank input line, {"index", "keep", "reasons"}, then a
    summary line {"funnel": {stage: {"in", "kept", "drops"}}, "kept", "total"}. A line that
    is not a trajectory is {"keep": false, "reasons": ["malformed_record"]}; reading goes on.
    """
    from crawl.drop_reasons import DUPLICATE_QUESTION, MALFORMED_RECORD
    from distill.agent.formats import FormatError, from_webdancer
    from distill.agent.trajectory import Trajectory
    from filters.funnel import Funnel
    from filters.metrics import normalize_answer
    from filters.rules import (
        RuleSettings,
        check_bounds,
        check_correctness,
        check_repetition,
        check_tool_failures,
        check_validity,
    )
    from pipelines.verdicts import Verdict, stream_verdicts

    rules = RuleSettings(min_tool_calls=min_tool_calls, max_tool_calls=max_tool_calls,
                         max_ngram_repeats=max_ngram_repeats, f1_threshold=f1_threshold,
                         max_failed_tool_share=max_failed_tool_share)
    drops: dict[str, Counter[str]] = {s: Counter() for s in STAGES}
    questions: set[str] = set()

    def judge(lineno: int, raw: bytes) -> Verdict:
        found: dict[str, list[str]] = {}
        try:
            obj = json.loads(raw.decode("utf-8"))
            if fmt == "webdancer":
                traj = from_webdancer(obj, line=lineno)
            elif isinstance(obj, dict):
                traj = Trajectory.from_row(obj)
            else:
                raise FormatError("not an object")
        except (UnicodeDecodeError, ValueError, TypeError, KeyError, AttributeError):
            traj = None
            found["parse"] = [MALFORMED_RECORD]
        if traj is not None:
            found["validity"] = check_validity(traj, rules) + check_tool_failures(traj, rules)
            found["repetition"] = check_repetition(traj, rules)
            found["bounds"] = check_bounds(traj, rules)
            found["correctness"] = check_correctness(traj, rules).reasons
            if normalize_answer(traj.question) in questions:
                found["duplicates"] = [DUPLICATE_QUESTION]
        stage = next((s for s in STAGES if found.get(s)), "")
        if stage:
            drops[stage][found[stage][0]] += 1
        else:
            questions.add(normalize_answer(traj.question))  # type: ignore[union-attr]
        return Verdict([r for s in STAGES for r in found.get(s, [])])

    def summary(kept: int, total: int) -> dict[str, object]:
        funnel = Funnel()
        remaining = total
        for s in STAGES:
            funnel.add_stage(s, remaining, drops[s])
            remaining -= sum(drops[s].values())
        return {"funnel": funnel.to_dict(), "kept": kept, "total": total}

    stream_verdicts(trajectory_file, judge, summary=summary)
