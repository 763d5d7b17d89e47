"""README command (a)'s job, run the way CI and cron run it: `dagster job execute`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from crawl.search_index import SearchIndex

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.e2e
@pytest.mark.timeout(300)
def test_crawl_job_materializes_pages_and_index(tmp_path: Path) -> None:
    env = {**os.environ, "SEEKFORGE_DATA_DIR": str(tmp_path / "data"), "DAGSTER_HOME": str(tmp_path / "home"),
           "SEEKFORGE_PROFILE": "embedded"}
    (tmp_path / "home").mkdir()
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "dagster"), "job", "execute", "-m", "pipelines.definitions",
         "-j", "crawl_job"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=280,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    data = tmp_path / "data"
    frames = {p.stem: pl.read_parquet(p) for p in (data / "web_pages").glob("*.parquet")}
    assert set(frames) == {"arxiv", "github", "wikipedia"}
    for source, df in frames.items():
        assert df.filter(pl.col("valid")).height >= 3, source
        assert df["canonical_url"].is_unique().all()
    wiki = frames["wikipedia"]
    # The mini-web's bad pages are kept but never valid.
    assert wiki.filter(pl.col("status") == 404)["valid"].to_list() == [False]
    # The crawl went over HTTP through the replay server, and archived what it received.
    assert (wiki["fetch_mode"] == "replay").all()
    assert list((data / "warc" / "wikipedia").glob("*.warc.gz"))
    index = SearchIndex.load(data / "search_index" / "bm25")
    hits = index.search("Tidewell retrieval library", k=5)
    assert hits and "tidewell" in (hits[0].title + hits[0].url).lower(), hits

    # Dagster recorded the materializations with readable metadata and passing checks.
    instance = dg.DagsterInstance.from_config(str(tmp_path / "home"))
    for key in ("crawl_seeds", "web_pages", "search_index"):
        event = instance.get_latest_materialization_event(dg.AssetKey(key))
        assert event is not None, key
    meta = instance.get_latest_materialization_event(dg.AssetKey("web_pages")).asset_materialization.metadata
    assert meta["dagster/row_count"].value == sum(df.height for df in frames.values())
    assert "| source |" in meta["by_source"].value
    assert json.dumps(meta["preview"].value)
    checks = instance.event_log_storage.get_latest_asset_check_execution_by_key(
        [dg.AssetCheckKey(dg.AssetKey("web_pages"), n) for n in ("non_empty", "unique_canonical_urls", "no_invalid_among_valid")]
    )
    assert len(checks) == 3
    assert {rec.status.value for rec in checks.values()} == {"SUCCEEDED"}
