"""No output of a real run holds the API key the run used: WARC, logs, Dagster's event log,
Parquet tables, datasets, checkpoints. The key is planted in the run's environment and
really sent (the scripted endpoint saw it), so a leak anywhere would be found."""

from __future__ import annotations

import gzip
from pathlib import Path

import polars as pl
import pytest

from conftest import PLANTED_KEY


def _holds(path: Path, needle: str) -> bool:
    if path.suffix == ".parquet":  # compressed pages: search the decoded rows, nested columns included
        return needle in pl.read_parquet(path).write_ndjson()
    data = path.read_bytes()
    if path.suffixes[-2:] == [".warc", ".gz"] or path.suffix == ".gz":
        try:
            data = gzip.decompress(data)
        except OSError:
            pass
    return needle.encode() in data


@pytest.mark.e2e
@pytest.mark.timeout(1500)
def test_the_planted_key_is_in_no_output(scripted_pipeline) -> None:  # type: ignore[no-untyped-def]
    sent = [r for r in scripted_pipeline.llm.requests if r.headers.get("authorization") == f"Bearer {PLANTED_KEY}"]
    assert sent, "the run never used the planted key; the search below would prove nothing"
    files = [p for root in (scripted_pipeline.data, scripted_pipeline.home) for p in root.rglob("*") if p.is_file()]
    assert any(p.name.endswith(".warc.gz") for p in files) and any(p.suffix == ".parquet" for p in files)
    leaks = [str(p) for p in files if _holds(p, PLANTED_KEY)]
    assert leaks == []
