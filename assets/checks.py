"""Blocking checks of the written datasets, computed again from the files on disk.

A check that re-read a number its own asset had just computed could never disagree with
it. These read what was written (the trajectories files, ``scored_trajectories``, the SFT
and RL Parquet files) and rebuild what they compare against (the benchmark index from the
benchmark files), so a bug in an asset, or a file changed after it was written, fails them.
Each check is a plain function of the storage (and benchmarks) that tests call on corrupted
copies; the ``@asset_check`` wrappers make them blocking in every job that builds the asset.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dagster as dg
import polars as pl

from assets.resources import BenchmarksResource, StorageResource
from distill.agent.trajectory import STYLES
from filters.contamination import match_key

# Check names, declared once (the asset decorators and tests refer to these).
EVERY_ROLLOUT_ACCOUNTED_FOR = "every_rollout_accounted_for"
NO_BENCHMARK_QUESTION_KEPT = "no_benchmark_question_kept"
NO_BENCHMARK_OVERLAP = "no_benchmark_overlap"
DISJOINT_FROM_SFT = "disjoint_from_sft"

SCORED = ("filters", "scored_trajectories.parquet")
SFT_CONVERSATIONAL = ("datasets", "sft", "parquet", "conversational.parquet")
RL_TRAIN = ("datasets", "rl", "parquet", "train.parquet")


def _read(path: Path, columns: list[str]) -> pl.DataFrame:
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: the asset did not write it")
    return pl.read_parquet(path, columns=columns)


def _examples(items: Any, n: int = 10) -> dg.MetadataValue:
    items = list(items)
    return dg.MetadataValue.md("\n".join(f"- {str(x)[:200]}" for x in items[:n]) or "none")


def benchmark_result(questions: list[str], benchmarks: BenchmarksResource, what: str) -> dg.AssetCheckResult:
    """Pass when no question matches a benchmark question of the benchmark files (read now)."""
    index = benchmarks.index()
    if index is None:
        return dg.AssetCheckResult(passed=True, metadata={"decontamination": "off (explicit)", "checked": 0})
    hits = [(q, m.question, m.reason) for q in dict.fromkeys(questions) if (m := index.match(q)) is not None]
    return dg.AssetCheckResult(
        passed=not hits,
        description=None if not hits else f"{len(hits)} {what} question(s) copy a benchmark question",
        metadata={"checked": len(set(questions)), "benchmark_questions": len(index), "matches": len(hits),
                  "examples": _examples(f"{q!r} ~ {b!r} ({r})" for q, b, r in hits)},
    )


def rollouts_accounted_for(storage: StorageResource) -> dg.AssetCheckResult:
    """Every rollout in the trajectories files is one scored row (same ids, no extra, no
    duplicate), and every dropped row says why."""
    rollout_ids: list[str] = []
    for style in STYLES:
        rollout_ids += _read(storage.path("trajectories", f"{style}.parquet"), ["id"])["id"].to_list()
    scored = _read(storage.path(*SCORED), ["id", "keep", "reasons"])
    scored_ids = scored["id"].to_list()
    missing = set(rollout_ids) - set(scored_ids)
    extra = set(scored_ids) - set(rollout_ids)
    duplicates = len(scored_ids) - len(set(scored_ids))
    unexplained = scored.filter(~pl.col("keep") & (pl.col("reasons").list.len().fill_null(0) == 0))["id"].to_list()
    ok = not missing and not extra and not duplicates and not unexplained and len(rollout_ids) == len(set(rollout_ids))
    return dg.AssetCheckResult(
        passed=ok,
        metadata={"rollouts_on_disk": len(rollout_ids), "scored_rows": len(scored_ids), "missing": len(missing),
                  "extra": len(extra), "duplicate_rows": duplicates, "dropped_without_reason": len(unexplained),
                  "examples": _examples(sorted(missing | extra) + unexplained)},
    )


def scored_benchmark_result(storage: StorageResource, benchmarks: BenchmarksResource) -> dg.AssetCheckResult:
    kept = _read(storage.path(*SCORED), ["question", "keep"]).filter(pl.col("keep"))
    return benchmark_result(kept["question"].to_list(), benchmarks, "kept rollout")


def sft_benchmark_result(storage: StorageResource, benchmarks: BenchmarksResource) -> dg.AssetCheckResult:
    sft = _read(storage.path(*SFT_CONVERSATIONAL), ["question"])
    return benchmark_result(sft["question"].to_list(), benchmarks, "SFT")


def rl_benchmark_result(storage: StorageResource, benchmarks: BenchmarksResource) -> dg.AssetCheckResult:
    rl = _read(storage.path(*RL_TRAIN), ["question"])
    return benchmark_result(rl["question"].to_list(), benchmarks, "RL")


def rl_disjoint_result(storage: StorageResource) -> dg.AssetCheckResult:
    """No RL prompt is an SFT question: by id, and by normalised question text (a copy
    under another id is still the same question)."""
    sft = _read(storage.path(*SFT_CONVERSATIONAL), ["question_id", "question"])
    rl = _read(storage.path(*RL_TRAIN), ["question_id", "question"])
    sft_ids, sft_keys = set(sft["question_id"].to_list()), {match_key(q or "") for q in sft["question"].to_list()}
    overlap = [q for qid, q in rl.select("question_id", "question").iter_rows()
               if qid in sft_ids or match_key(q or "") in sft_keys]
    return dg.AssetCheckResult(passed=not overlap,
                               metadata={"rl_prompts": rl.height, "sft_records": sft.height, "overlap": len(overlap),
                                         "examples": _examples(overlap)})


@dg.asset_check(asset="scored_trajectories", name=EVERY_ROLLOUT_ACCOUNTED_FOR, blocking=True,
                description="The trajectories files and scored_trajectories hold the same rollout ids, once each; "
                            "every dropped row has a reason.")
def every_rollout_accounted_for(storage: StorageResource) -> dg.AssetCheckResult:
    return rollouts_accounted_for(storage)


@dg.asset_check(asset="scored_trajectories", name=NO_BENCHMARK_QUESTION_KEPT, blocking=True,
                description="No kept rollout's question matches a question of the benchmark files (read again).")
def no_benchmark_question_kept(storage: StorageResource, benchmarks: BenchmarksResource) -> dg.AssetCheckResult:
    return scored_benchmark_result(storage, benchmarks)


@dg.asset_check(asset="sft_dataset", name=NO_BENCHMARK_OVERLAP, blocking=True,
                description="No SFT record's question matches a question of the benchmark files (read again).")
def sft_no_benchmark_overlap(storage: StorageResource, benchmarks: BenchmarksResource) -> dg.AssetCheckResult:
    return sft_benchmark_result(storage, benchmarks)


@dg.asset_check(asset="rl_dataset", name=NO_BENCHMARK_OVERLAP, blocking=True,
                description="No RL prompt matches a question of the benchmark files (read again).")
def rl_no_benchmark_overlap(storage: StorageResource, benchmarks: BenchmarksResource) -> dg.AssetCheckResult:
    return rl_benchmark_result(storage, benchmarks)


@dg.asset_check(asset="rl_dataset", name=DISJOINT_FROM_SFT, blocking=True,
                description="No RL prompt is an SFT record's question (by id or normalised text), from both files.")
def disjoint_from_sft(storage: StorageResource) -> dg.AssetCheckResult:
    return rl_disjoint_result(storage)


ASSET_CHECKS = [every_rollout_accounted_for, no_benchmark_question_kept, sft_no_benchmark_overlap,
                rl_no_benchmark_overlap, disjoint_from_sft]
