"""Smaller fail-closed paths of the production profile: benchmark files checked before any
crawl, and a training device that is not there."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from assets.crawl import crawl_seeds
from assets.resources import BenchmarksResource, StorageResource
from train.sft_runner import device_and_dtype


def _seed(tmp_path: Path, benchmarks: BenchmarksResource) -> dg.ExecuteInProcessResult:
    return dg.materialize([crawl_seeds], resources={"storage": StorageResource(data_dir=str(tmp_path)),
                                                    "benchmarks": benchmarks}, raise_on_error=False)


def _failure(result: dg.ExecuteInProcessResult) -> str:
    assert not result.success
    (event,) = [e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE]
    return event.step_failure_data.error.message


def test_crawl_seeds_fails_on_a_missing_benchmark_file_before_any_crawl(tmp_path: Path) -> None:
    missing = str(tmp_path / "benchmarks" / "nq" / "test.jsonl")
    message = _failure(_seed(tmp_path, BenchmarksResource(decontamination="on", files=[missing])))
    assert "crawl_seeds: benchmark file(s)" in message and missing in message and "do not exist" in message
    assert not (tmp_path / "crawl_seeds.parquet").exists()


def test_crawl_seeds_fails_when_decontamination_is_on_without_files(tmp_path: Path) -> None:
    message = _failure(_seed(tmp_path, BenchmarksResource(decontamination="on")))
    assert "no benchmark files are named" in message


def test_crawl_seeds_runs_with_existing_files_or_decontamination_off(tmp_path: Path) -> None:
    bench = tmp_path / "bench.jsonl"
    bench.write_text('{"question": "Who wrote it?"}\n')
    assert _seed(tmp_path, BenchmarksResource(decontamination="on", files=[str(bench)])).success
    assert _seed(tmp_path, BenchmarksResource(decontamination="off", files=["/not/read.jsonl"])).success


def test_device_cuda_without_cuda_is_an_error_not_a_cpu_run() -> None:
    import torch

    if torch.cuda.is_available():  # the GPU machines: the cuda request is honoured
        assert device_and_dtype("cuda")[0] == "cuda"
    else:
        with pytest.raises(RuntimeError, match="no CUDA device"):
            device_and_dtype("cuda")
    assert device_and_dtype("cpu")[0] == "cpu"
    with pytest.raises(ValueError, match="not one of"):
        device_and_dtype("gpu")
