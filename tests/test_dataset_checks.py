"""The blocking dataset checks re-read the files on disk: each fails on a corrupted copy.

Starts from the datasets a real scripted ``refresh_job`` wrote (the session's
``scripted_pipeline``), copies them, corrupts one file the way a bug or a hand edit would,
and runs the checks through Dagster on the copy. The same checks pass on the uncorrupted
copy, so a failure is the corruption's doing.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import dagster as dg
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from assets.checks import (
    ASSET_CHECKS,
    DISJOINT_FROM_SFT,
    EVERY_ROLLOUT_ACCOUNTED_FOR,
    NO_BENCHMARK_OVERLAP,
    NO_BENCHMARK_QUESTION_KEPT,
    RL_TRAIN,
    SCORED,
    SFT_CONVERSATIONAL,
)
from assets.resources import BenchmarksResource, StorageResource

BENCHMARK_QUESTION = "Which nineteenth-century engineer designed the first iron bridge over the river Velde at Orsund?"


@pytest.fixture
def data(scripted_pipeline, tmp_path: Path) -> Path:  # type: ignore[no-untyped-def]
    root = tmp_path / "data"
    for part in ("trajectories", "filters", "datasets"):
        shutil.copytree(scripted_pipeline.data / part, root / part)
    return root


@pytest.fixture
def bench(tmp_path: Path) -> Path:
    path = tmp_path / "bench.jsonl"
    rows = [{"id": "b1", "question": BENCHMARK_QUESTION, "golden_answers": ["Nobody"]},
            {"id": "b2", "question": "How many moons does the planet in this unrelated question have?",
             "golden_answers": ["2"]}]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def run_checks(data: Path, bench: Path) -> dict[tuple[str, str], bool]:
    """Every dataset check through Dagster (a job of the checks alone) on ``data``."""
    job = dg.define_asset_job("dataset_checks", selection=dg.AssetSelection.checks(*ASSET_CHECKS))
    defs = dg.Definitions(asset_checks=ASSET_CHECKS, jobs=[job],
                          resources={"storage": StorageResource(data_dir=str(data)),
                                     "benchmarks": BenchmarksResource(decontamination="on", files=[str(bench)])})
    result = defs.resolve_job_def("dataset_checks").execute_in_process(raise_on_error=False)
    return {(e.asset_key.to_user_string(), e.check_name): e.passed for e in result.get_asset_check_evaluations()}


def _rewrite(path: Path, change: Callable[[pl.DataFrame], pl.DataFrame]) -> None:
    df = change(pl.read_parquet(path))
    df.write_parquet(path)


def _plant_in_sft(data: Path) -> None:
    # The SFT Parquet is written by `datasets` (JSON extension columns): edit it with pyarrow.
    path = data.joinpath(*SFT_CONVERSATIONAL)
    table = pq.read_table(path)
    questions = table.column("question").to_pylist()
    assert questions, "the scripted run keeps at least one SFT record"
    questions[0] = BENCHMARK_QUESTION
    i = table.schema.get_field_index("question")
    pq.write_table(table.set_column(i, table.schema.field(i), pa.array(questions, pa.string())), path)


def _plant_in_scored(data: Path) -> None:
    def plant(df: pl.DataFrame) -> pl.DataFrame:
        kept = df["keep"].arg_true()
        assert kept.len() >= 1
        first = int(kept[0])
        return df.with_columns(pl.when(pl.int_range(pl.len()) == first).then(pl.lit(BENCHMARK_QUESTION))
                               .otherwise(pl.col("question")).alias("question"))

    _rewrite(data.joinpath(*SCORED), plant)


def _copy_sft_question_into_rl(data: Path) -> None:
    sft = pq.read_table(data.joinpath(*SFT_CONVERSATIONAL), columns=["question"])
    path = data.joinpath(*RL_TRAIN)
    table = pq.read_table(path)
    row = pa.Table.from_pylist([{"question_id": "rl-copy-under-a-new-id", "question": sft["question"][0].as_py()}],
                               schema=table.schema)
    pq.write_table(pa.concat_tables([table, row]), path)


def _delete_a_trajectory(data: Path) -> None:
    for style in ("short", "long", "atomic"):
        path = data / "trajectories" / f"{style}.parquet"
        if pl.read_parquet(path).height:
            _rewrite(path, lambda df: df.slice(1))
            return
    raise AssertionError("no trajectories to delete from")


def _drop_without_reason(data: Path) -> None:
    def strip(df: pl.DataFrame) -> pl.DataFrame:
        assert (~df["keep"]).any(), "the scripted run drops at least one rollout"
        return df.with_columns(pl.when(~pl.col("keep")).then(pl.lit([], dtype=pl.List(pl.String)))
                               .otherwise(pl.col("reasons")).alias("reasons"))

    _rewrite(data.joinpath(*SCORED), strip)


CORRUPTIONS = {
    "benchmark question planted in sft_dataset": (_plant_in_sft, ("sft_dataset", NO_BENCHMARK_OVERLAP)),
    "benchmark question planted in a kept rollout": (_plant_in_scored,
                                                     ("scored_trajectories", NO_BENCHMARK_QUESTION_KEPT)),
    "SFT question copied into rl_dataset": (_copy_sft_question_into_rl, ("rl_dataset", DISJOINT_FROM_SFT)),
    "trajectory deleted from a trajectories file": (_delete_a_trajectory,
                                                    ("scored_trajectories", EVERY_ROLLOUT_ACCOUNTED_FOR)),
    "dropped rollout without a reason": (_drop_without_reason, ("scored_trajectories", EVERY_ROLLOUT_ACCOUNTED_FOR)),
}


@pytest.mark.e2e
@pytest.mark.timeout(1500)  # the first user of the session's scripted_pipeline pays for it
def test_checks_pass_on_the_written_datasets(data: Path, bench: Path) -> None:
    verdicts = run_checks(data, bench)
    assert len(verdicts) == len(ASSET_CHECKS)
    assert all(verdicts.values()), verdicts


@pytest.mark.e2e
@pytest.mark.timeout(1500)
@pytest.mark.parametrize("name", list(CORRUPTIONS))
def test_each_corruption_fails_its_blocking_check(data: Path, bench: Path, name: str) -> None:
    corrupt, check = CORRUPTIONS[name]
    corrupt(data)
    verdicts = run_checks(data, bench)
    assert verdicts[check] is False, (name, verdicts)
    assert sum(not ok for ok in verdicts.values()) == 1, verdicts  # only the check that guards this file


def test_benchmark_checks_are_blocking_in_the_definitions() -> None:
    from pipelines.definitions import defs

    specs = {(s.asset_key.to_user_string(), s.name): s.blocking for c in ASSET_CHECKS for s in c.check_specs}
    assert specs == {("scored_trajectories", EVERY_ROLLOUT_ACCOUNTED_FOR): True,
                     ("scored_trajectories", NO_BENCHMARK_QUESTION_KEPT): True,
                     ("sft_dataset", NO_BENCHMARK_OVERLAP): True, ("rl_dataset", NO_BENCHMARK_OVERLAP): True,
                     ("rl_dataset", DISJOINT_FROM_SFT): True}
    in_refresh = defs.resolve_job_def("refresh_job").asset_layer.asset_graph.asset_check_keys
    assert {(k.asset_key.to_user_string(), k.name) for k in in_refresh} >= set(specs)
