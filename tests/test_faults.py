"""Fault injection through the whole ``refresh_job`` (``pytest -m faults`` runs this suite alone).

The real job runs (``dagster job execute``, one process) on the embedded mini-web, served
by the real replay app with web faults injected per URL, and every LLM role on a real
HTTP endpoint that misbehaves in every way a teacher endpoint does: 5xx bursts, 429
storms, hangs past the client timeout, truncated bodies, dropped connections, non-JSON
200s, empty choices, and malformed tool calls in the model's own text.

For each fault the run completes (or, when nothing can succeed, fails saying why), the
files on disk add up (every URL, QA candidate and rollout is kept or carries its drop
reason: :func:`pipeline_runs.funnel_problems`), and nothing is lost: transient faults
give exactly the datasets of a fault-free run, and a healthy re-run after persistent
faults recovers them while asking only for the work that had failed.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path
from urllib.parse import urlsplit

import polars as pl
import pytest

from fake_llm_server import FakeLLMServer, RecordedRequest, Reply
from fault_web import FaultyReplayServer
from pipeline_runs import (FaultyTeacher, body_key, funnel_problems, pipeline_env, run_job, snapshot, tail,
                           write_config)

pytestmark = [pytest.mark.faults, pytest.mark.e2e, pytest.mark.timeout(600)]


def _page_keys(data: Path, n: int, offset: int = 0) -> list[str]:
    """``host/path`` of valid non-root pages of a crawl, in a fixed order."""
    pages = pl.concat([pl.read_parquet(p) for p in sorted((data / "web_pages").glob("*.parquet"))])
    urls = sorted(pages.filter(pl.col("valid") & (pl.col("depth") >= 1))["url"].to_list())
    keys = [f"{urlsplit(u).hostname}{urlsplit(u).path}" for u in urls]  # as sent: percent-encoded
    return keys[offset:offset + n]


def _run(root: Path, teacher: FaultyTeacher, web: FaultyReplayServer, *, timeout_s: float = 2.0):  # type: ignore[no-untyped-def]
    with FakeLLMServer(default=teacher) as llm:
        proc = run_job(pipeline_env(root, llm.base_url, timeout_s=timeout_s), write_config(root, replay_url=web.url))
        return proc, llm.requests


@pytest.fixture(scope="module")
def baseline(clean_refresh):  # type: ignore[no-untyped-def]
    return clean_refresh


def test_transient_faults_lose_nothing(baseline, tmp_path: Path) -> None:
    """Every fault kind, on a third of the LLM requests and on four crawled pages, then
    success: the datasets are exactly those of the fault-free run."""
    teacher = FaultyTeacher(transient=True, every=3)
    web_faults = dict(zip(_page_keys(baseline.data, 4), ("503_once", "429_once", "reset_once", "truncated_once")))
    with FaultyReplayServer(web_faults) as web:
        proc, requests = _run(tmp_path, teacher, web)
        hits = {k: web.hits(k) for k in web_faults}
    assert proc.returncode == 0, tail(proc)
    for kind in ("5xx_burst", "429_storm", "hang", "truncated_body", "connection_drop", "malformed_json",
                 "empty_choices"):
        assert teacher.injected[kind] > 0, f"{kind} was never injected: {dict(teacher.injected)}"
    assert all(n >= 2 for n in hits.values()), f"each faulty page was fetched again: {hits}"
    assert funnel_problems(tmp_path / "data") == []
    assert snapshot(tmp_path / "data") == baseline.snapshot
    # Only failed attempts were repeated: every body answered once, and no more often.
    answered = [r for r in requests if body_key(r) in teacher.answered]
    assert len({body_key(r) for r in answered}) == len(teacher.answered)


def _persistent(request: RecordedRequest) -> bool:
    """Always 500 for some CRAWLQA samples, some prompt expansions and the long-CoT
    rollouts of some questions: they must become drops with reasons, not vanish."""
    system = next((str(m.get("content", "")) for m in request.messages if m.get("role") == "system"), "")
    seed = int((request.json or {}).get("seed") or 0)
    if "You write one question-answer pair" in system:
        return seed % 7 == 3
    if "organizes its private reasoning" in request.last_user_message:
        return seed % 5 == 0
    if "<tools>" in system and "reasoner" in str((request.json or {}).get("model", "")):
        question = str(request.messages[1].get("content", "")) if len(request.messages) > 1 else ""
        return hashlib.sha256(question.encode()).digest()[0] % 2 == 0
    return False


def test_persistent_faults_are_counted_then_recovered(baseline, tmp_path: Path) -> None:
    """Requests that always fail and pages that never load are drops with reasons; the funnel
    still adds up. A healthy re-run then gives the fault-free datasets, and asks the
    endpoint only for what had failed."""
    teacher = FaultyTeacher(persistent=_persistent)
    dead_pages = dict(zip(_page_keys(baseline.data, 2, offset=4), ("always_500", "garbage_always")))
    with FaultyReplayServer(dead_pages) as web:
        proc, _ = _run(tmp_path, teacher, web)
    assert proc.returncode == 0, tail(proc)
    assert teacher.injected["persistent_500"] > 0
    data = tmp_path / "data"
    assert funnel_problems(data) == []
    pages = pl.concat([pl.read_parquet(p) for p in sorted((data / "web_pages").glob("*.parquet"))])
    for key in dead_pages:
        row = pages.filter(pl.col("url").str.contains(key, literal=True)).row(0, named=True)
        assert not row["valid"] and row["invalid_reason"], row
    crawlqa_drops = pl.read_parquet(data / "qa" / "crawlqa_drops.parquet")
    assert crawlqa_drops.filter(pl.col("reason").str.contains("server_error")).height > 0
    scored = pl.read_parquet(data / "filters" / "scored_trajectories.parquet")
    failed = scored.filter(pl.col("error").fill_null("") != "")
    assert failed.height > 0 and not failed["keep"].any()
    assert snapshot(data) != baseline.snapshot

    healthy = FaultyTeacher()
    with FaultyReplayServer() as web:
        proc, requests = _run(tmp_path, healthy, web)
    assert proc.returncode == 0, tail(proc)
    assert snapshot(data) == baseline.snapshot
    redone = {body_key(r) for r in requests}
    assert redone and not redone & teacher.answered, "the re-run asked again for work that had been answered"


def _broken_first_tool_call(request: RecordedRequest, behaviour):  # type: ignore[no-untyped-def]
    """The agent's first turn on half the questions carries a tool call that is not JSON."""
    if not isinstance(behaviour, Reply) or "<tool_call>" not in behaviour.text:
        return behaviour
    if any(m.get("role") == "assistant" for m in request.messages):
        return behaviour
    question = str(request.messages[1].get("content", ""))
    if len(question) % 2:
        return behaviour
    return dataclasses.replace(behaviour, text=behaviour.text.split("<tool_call>")[0]
                               + '<tool_call>\n{"name": "search", "arguments": {"query": ["unclosed\n</tool_call>')


def test_malformed_tool_calls_are_handled_and_accounted(baseline, tmp_path: Path) -> None:
    teacher = FaultyTeacher(rewrite=_broken_first_tool_call)
    with FaultyReplayServer() as web:
        proc, _ = _run(tmp_path, teacher, web)
    assert proc.returncode == 0, tail(proc)
    data = tmp_path / "data"
    assert funnel_problems(data) == []
    scored = pl.read_parquet(data / "filters" / "scored_trajectories.parquet")
    hit = scored.filter(pl.col("invalid_actions") > 0)
    assert hit.height > 0, "no rollout met a malformed tool call"
    # The loop answered the broken call with a correction, and the rollout went on to the tools.
    for row in hit.iter_rows(named=True):
        messages = json.loads(row["messages"]) if isinstance(row["messages"], str) else row["messages"]
        assert any("<tool_response>" in str(m.get("content", "")) for m in messages), row["id"]
        assert row["keep"] or row["reasons"], row["id"]


def test_dead_endpoint_fails_the_run_clearly_and_keeps_the_record(baseline, tmp_path: Path) -> None:
    """Nothing can succeed: the first LLM step stops the run with one sentence naming the
    role and the error, after writing every sample it tried as a drop."""
    from fake_llm_server import status

    with FaultyReplayServer() as web, FakeLLMServer(default=lambda r: status(503)) as llm:
        proc = run_job(pipeline_env(tmp_path, llm.base_url, timeout_s=2.0), write_config(tmp_path, replay_url=web.url))
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "crawlqa_pairs: no LLM call succeeded" in out and "server_error" in out, out[-3000:]
    drops = pl.read_parquet(tmp_path / "data" / "qa" / "crawlqa_drops.parquet")
    assert drops.height > 0 and drops["reason"].str.contains("server_error").all()
    assert not (tmp_path / "data" / "qa" / "qa_pool.parquet").exists()
