"""A WARC that cannot be written fails the crawl step (the archive is a promise), after the
pages are saved, and the domain package's log lines reach the run's event log."""

from __future__ import annotations

import errno
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from crawl.warc import WarcWriter
from distill.llm.roles import ROLES
from fake_llm_server import FakeLLMServer
from pipelines.definitions import build_definitions
from pipelines.profiles import refresh_run_config
from scripted_teacher import reliable_teacher


def _disk_full(self: WarcWriter, url: str, **_: object) -> None:
    raise OSError(errno.ENOSPC, "No space left on device")


@pytest.mark.e2e
@pytest.mark.timeout(300)
def test_warc_write_error_fails_web_pages_in_refresh_job(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                         fake_llm: FakeLLMServer) -> None:
    monkeypatch.setenv("SEEKFORGE_DATA_DIR", str(tmp_path / "data"))
    fake_llm.set_default(reliable_teacher)  # atomic_prompts does not wait for the crawl
    for role in ROLES:
        monkeypatch.setenv(f"SEEKFORGE_{role.upper()}_BASE_URL", fake_llm.base_url)
        monkeypatch.setenv(f"SEEKFORGE_{role.upper()}_STRUCTURED", "llamacpp")
    monkeypatch.setattr(WarcWriter, "write_exchange", _disk_full)  # the OS error a full disk gives
    cfg = refresh_run_config("embedded")
    cfg["execution"] = {"config": {"in_process": {}}}
    cfg["resources"] = {**cfg.get("resources", {}), "crawler": {"config": {"mode": "replay", "parse_workers": 0,
                                                                            "per_host_delay_s": 0.0}}}
    job = build_definitions("embedded").resolve_job_def("refresh_job")
    with dg.DagsterInstance.ephemeral() as instance:
        result = job.execute_in_process(run_config=cfg, instance=instance, raise_on_error=False)
        assert not result.success
        failures = [e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE]
        assert [e.step_key for e in failures] == ["web_pages"]
        message = failures[0].step_failure_data.error.message
        assert "WARC records could not be written" in message and "No space left on device" in message
        assert "would not replay this crawl exactly" in message
        # Nothing downstream of the crawl ran on an archive that does not replay it.
        started = {e.step_key for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_START}
        assert started <= {"crawl_seeds", "web_pages", "atomic_prompts"} and "web_pages" in started
        # The pages themselves were kept (the failure is the archive's, not the crawl's).
        pages = pl.read_parquet(tmp_path / "data" / "web_pages" / "wikipedia.parquet")
        assert pages.filter(pl.col("valid")).height > 0
        # crawl.fetcher's own log line is in the event log, not only on stderr.
        logs = [r.dagster_event or r for r in instance.all_logs(result.run_id)]
        texts = [getattr(r, "user_message", "") or "" for r in logs]
        assert any("crawl.fetcher: could not write WARC record" in t for t in texts)
