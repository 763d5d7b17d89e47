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
from pipeline_runs import FaultyTeacher, body_key, funnel_problems, pipeline_env, run_job, snapshot, tail, write_config

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
    web_faults = dict(zip(_page_keys(baseline.data, 4), ("503_once", "429_once", "reset_once", "truncated_once"),
                          strict=False))
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
    dead_pages = dict(zip(_page_keys(baseline.data, 2, offset=4), ("always_500", "garbage_always"), strict=False))
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
    server_errors = crawlqa_drops.filter((pl.col("reason") == "llm_error")
                                         & pl.col("record_json").str.contains('"error": "server_error"', literal=True))
    assert server_errors.height > 0
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
    assert drops.height > 0 and (drops["reason"] == "llm_error").all()
    assert drops["record_json"].str.contains('"error": "server_error"', literal=True).all()
    assert not (tmp_path / "data" / "qa" / "qa_pool.parquet").exists()


# ---------------------------------------------------------------------------
# search engine faults: a bad key, and a share of queries failing
# ---------------------------------------------------------------------------
def _with_search_engine(config: Path, backend: str, url: str) -> Path:
    """The run config with the agent's search on an HTTP engine (serper | searxng) at ``url``."""
    import yaml

    cfg = yaml.safe_load(config.read_text())
    tools = cfg.setdefault("resources", {}).setdefault("agent_tools", {"config": {}}).setdefault("config", {})
    tools.update(search_backend=backend, search_base_url=url)
    config.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return config


def test_search_engine_refusing_every_call_fails_the_rollout_step(tmp_path: Path) -> None:
    """A revoked Serper key (403 on every query): the rollout step fails with one sentence
    naming the tool, the counts and the last error, after writing its rollouts with the
    outcome of every call."""
    import re

    from fault_search import FaultySearchServer
    from scripted_teacher import reliable_teacher

    data = tmp_path / "data"
    with FakeLLMServer(default=reliable_teacher) as llm, \
            FaultySearchServer(data, api_key="the-current-key") as engine:
        env = {**pipeline_env(tmp_path, llm.base_url, timeout_s=2.0), "SERPER_API_KEY": "a-revoked-key"}
        proc = run_job(env, _with_search_engine(write_config(tmp_path), "serper", engine.url))
        statuses = engine.statuses()
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    sentence = re.search(r"trajectories/short: the search tool failed on (\d+) of \1 calls "
                         r"\(backend_error=\1; HTTP 403 x\1\), more than the allowed share 0\.5, "
                         r"last error: HTTP 403 from serper:http://127\.0\.0\.1:\d+: [^;]*Unauthorized[^;]*; "
                         r"the (\d+) rollouts are written with their tool outcomes, so fix", out)
    assert sentence, out[-4000:]
    assert set(statuses) == {403}, statuses
    short = pl.read_parquet(data / "trajectories" / "short.parquet")
    assert short.height == int(sentence.group(2)) and short["question_id"].n_unique() == short.height
    assert (short["failed_tool_calls"] == short["search_calls"]).all() and short["search_calls"].sum() == int(sentence.group(1))
    counts = short["tool_outcome_counts"].explode().struct.unnest()
    assert set(counts.select("tool", "outcome", "status").rows()) == {("search", "backend_error", 403)}
    assert not (data / "filters" / "scored_trajectories.parquet").exists()


def test_failing_search_calls_are_counted_and_dropped(tmp_path: Path) -> None:
    """The engine answers 503 for every query about one of the four questions rolled out (a
    quarter of the search calls): the step goes on, those rollouts carry the failure, and
    as their answers rest on failed calls only, the validity stage drops them as
    ``tool_failures`` in the funnel. The other rollouts read the engine's real results."""
    from fault_search import FaultySearchServer
    from scripted_teacher import reliable_teacher

    data = tmp_path / "data"
    failing: list[str] = []

    def fail(query: str) -> int | None:
        if not failing:  # the first question rolled out (qa_pool in id order), known once the pool exists
            # (the engine answers from several threads: assign, so a race writes the same value twice)
            failing[:] = [pl.read_parquet(data / "qa" / "qa_pool.parquet").sort("id")["question"][0][:80].strip()]
        return 503 if query == failing[0] else None

    with FakeLLMServer(default=reliable_teacher) as llm, FaultySearchServer(data, fail=fail) as engine:
        proc = run_job(pipeline_env(tmp_path, llm.base_url, timeout_s=2.0),
                       _with_search_engine(write_config(tmp_path), "searxng", engine.url))
        statuses = engine.statuses()
    assert proc.returncode == 0, tail(proc)
    assert statuses.get(503, 0) > 0 and statuses.get(200, 0) > 0, statuses
    assert funnel_problems(data) == []
    scored = pl.read_parquet(data / "filters" / "scored_trajectories.parquet")
    hit = scored.filter(pl.col("failed_tool_calls") > 0)
    assert hit.height == 3 and sorted(hit["style"].to_list()) == ["atomic", "long", "short"], hit.select("style", "question")
    assert hit["question"].str.slice(0, 80).str.strip_chars().unique().to_list() == failing
    for row in hit.iter_rows(named=True):
        search = [s for s in row["steps"] if s["action"] == "search"]
        assert [(s["tool_outcomes"], s["tool_status"]) for s in search] == [(["backend_error"], 503)], row["steps"]
        assert "HTTP 503" in search[0]["tool_error"] and "failed: HTTP 503" in search[0]["observation"]
        assert not row["keep"] and row["stage_dropped"] == "validity" and row["reasons"][0] == "tool_failures", row
    others = scored.filter(pl.col("failed_tool_calls") == 0)
    assert others.height == 9 and not others["reasons"].list.contains("tool_failures").any()
    assert (others["visit_calls"] > 0).all(), "the healthy queries returned results to visit"
    funnel = pl.read_parquet(data / "filters" / "funnel.parquet")
    validity = funnel.filter((pl.col("stage") == "validity") & (pl.col("reason") == "tool_failures"))
    assert validity["count"].to_list() == [3], funnel
