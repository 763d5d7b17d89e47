"""Tool outcomes: what each search / visit call came to is recorded per step and counted.

A failed tool call used to be only an observation ("Search for ... failed: HTTP 403") that
no later stage could tell from data. These tests pin the closed set of outcomes, how the
search engines and the page reader report theirs (HTTP status kept apart), how the
ReAct loop records them per step, how they survive Parquet, the ``tool_failures``
rule, and the rollout step's one-sentence failure.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx
import polars as pl
import pytest

from distill.agent.loop import QAItem, RolloutSettings, run_rollouts
from distill.agent.search import SearchBackendError, SearchTool, SearxngBackend, SerperBackend
from distill.agent.styles import short_style
from distill.agent.tools import (
    BACKEND_ERROR,
    BAD_ARGUMENTS,
    EMPTY_RESULT,
    FAILED_OUTCOMES,
    FETCH_FAILED,
    OK,
    SUMMARY_FAILED,
    TIMEOUT,
    TOOL_ERROR,
    TOOL_OUTCOMES,
    ToolArgumentError,
    ToolCache,
    ToolResult,
    call_outcome,
)
from distill.agent.trajectory import Step, Trajectory, read_trajectories, trajectories_frame
from distill.agent.visit import PageText, VisitTool
from distill.llm.cache import RequestCache
from distill.llm.client import LLMClient
from distill.llm.roles import ROLES, RoleConfig
from fake_llm_server import FakeLLMServer, reply
from filters.pipeline import FilterSettings, run_filters
from filters.rules import RuleSettings, check_tool_failures


def run(coro: Any) -> Any:
    return asyncio.run(coro)


# --------------------------------------------------------------------------- the closed set
def test_outcomes_are_one_closed_set() -> None:
    assert len(set(TOOL_OUTCOMES)) == len(TOOL_OUTCOMES) == 8
    assert FAILED_OUTCOMES < set(TOOL_OUTCOMES)
    assert OK not in FAILED_OUTCOMES and EMPTY_RESULT not in FAILED_OUTCOMES and BAD_ARGUMENTS not in FAILED_OUTCOMES


@pytest.mark.parametrize("parts, outcome", [
    ([], ""),
    ([OK], OK),
    ([BACKEND_ERROR, OK], OK),  # one good query of a batch informed the model
    ([EMPTY_RESULT, TIMEOUT, BACKEND_ERROR], TIMEOUT),  # the first failure names the call
    ([EMPTY_RESULT, EMPTY_RESULT], EMPTY_RESULT),
    ([BAD_ARGUMENTS], BAD_ARGUMENTS),
])
def test_call_outcome(parts: list[str], outcome: str) -> None:
    assert call_outcome(parts) == outcome


# --------------------------------------------------------------------------- search engines
def _serper(handler: Any, monkeypatch: pytest.MonkeyPatch, **kw: Any) -> SerperBackend:
    monkeypatch.setenv("SERPER_API_KEY", "k")
    return SerperBackend("https://serper.test", transport=httpx.MockTransport(handler), backoff_s=0.001, **kw)


def test_http_engines_report_the_status(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []

    def forbidden(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(403, json={"message": "Unauthorized."})

    with pytest.raises(SearchBackendError) as err:
        run(_serper(forbidden, monkeypatch).search("q", 3))
    assert err.value.status == 403 and not err.value.timeout and "HTTP 403" in str(err.value)
    assert len(calls) == 1  # a refusal is not retried

    def unavailable(request: httpx.Request) -> httpx.Response:
        return httpx.Response(503, text="down")

    backend = SearxngBackend("https://searx.test", transport=httpx.MockTransport(unavailable), backoff_s=0.001,
                             max_retries=1)
    with pytest.raises(SearchBackendError) as err:
        run(backend.search("q", 3))
    assert err.value.status == 503  # kept through the retries

    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    with pytest.raises(SearchBackendError) as err:
        run(_serper(slow, monkeypatch, max_retries=0).search("q", 3))
    assert err.value.timeout and err.value.status is None

    def garbled(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, text="<html>")

    with pytest.raises(SearchBackendError) as err:
        run(_serper(garbled, monkeypatch).search("q", 3))
    assert err.value.status is None and not err.value.timeout and "non-JSON" in str(err.value)


class _Engine:
    """Answers by query: "fail" -> 403, "slow" -> timeout, "none" -> no hits, "crash" -> a bug."""

    name = "scripted-engine"

    async def search(self, query: str, k: int) -> list[Any]:
        from distill.agent.search import Hit

        if query == "fail":
            raise SearchBackendError("HTTP 403 from scripted-engine: Unauthorized", status=403)
        if query == "slow":
            raise SearchBackendError("no answer within 20s", timeout=True)
        if query == "crash":
            raise KeyError("organic")
        return [] if query == "none" else [Hit("Title", "https://x.test/a", "snippet")]

    async def aclose(self) -> None:
        return None


def test_search_tool_records_an_outcome_per_query(tmp_path: Path) -> None:
    cache = ToolCache(RequestCache(tmp_path / "c.sqlite"))
    tool = SearchTool(_Engine(), cache)
    res = run(tool({"query": ["good", "fail", "none", "slow", "crash"]}))
    assert res.outcomes == [OK, BACKEND_ERROR, EMPTY_RESULT, TIMEOUT, BACKEND_ERROR]
    assert res.outcome == OK and res.http_status == 403 and res.error.startswith("HTTP 403 from scripted-engine")
    assert res.stats["queries_failed"] == 3
    assert "Search for 'fail' failed: HTTP 403" in res.text  # the observation is unchanged
    dead = run(tool({"query": ["fail", "slow"]}))
    assert dead.outcome == BACKEND_ERROR and dead.http_status == 403
    # From cache: a stored block is ok, or empty_result when it says nothing was found.
    again = run(tool({"query": ["good", "none"]}))
    assert again.cached and again.outcomes == [OK, EMPTY_RESULT] and again.http_status == 0 and not again.error


# --------------------------------------------------------------------------- visit
class _Reader:
    def __init__(self, pages: Mapping[str, PageText]) -> None:
        self.pages = pages

    async def read(self, url: str) -> PageText:
        return self.pages[url]


def test_visit_records_fetch_failures_and_summary_failures(fake_llm: FakeLLMServer) -> None:
    pages = {
        "https://a.test/ok": PageText("https://a.test/ok", "https://a.test/ok", "A", "Ada was born in 1815.", "ok", 200),
        "https://a.test/gone": PageText("https://a.test/gone", outcome="ok", status=404, error="HTTP status 404"),
        "https://a.test/slow": PageText("https://a.test/slow", outcome="timeout", error="fetch outcome timeout"),
        "https://a.test/junk": PageText("https://a.test/junk", "https://a.test/junk", "J", "Some text.", "ok", 200),
    }
    fake_llm.script(reply('{"evidence": "born in 1815", "summary": "1815"}'), reply("no JSON here"))
    roles = {"summarizer": RoleConfig(name="summarizer", base_url=fake_llm.base_url, model="fake")}

    async def go() -> tuple[ToolResult, ToolResult]:
        async with LLMClient(roles, max_retries=0) as client:
            tool = VisitTool(_Reader(pages), client)  # type: ignore[arg-type]
            first = await tool({"url": ["https://a.test/ok", "https://a.test/gone", "https://a.test/slow"],
                                "goal": "birth year"})
            second = await tool({"url": ["https://a.test/junk"], "goal": "birth year"})
            return first, second

    first, second = run(go())
    assert first.outcomes == [OK, FETCH_FAILED, TIMEOUT] and first.outcome == OK
    assert first.http_status == 404 and first.error == "https://a.test/gone: HTTP status 404"
    assert first.stats == {"pages": 3, "pages_failed": 2, "fetch_failed": 2, "pages_cached": 0}
    assert second.outcomes == [SUMMARY_FAILED] and second.http_status == 0 and "not the expected JSON" in second.error


# --------------------------------------------------------------------------- the loop
class _Tool:
    def __init__(self, name: str, result: ToolResult | Exception) -> None:
        self.name, self.result = name, result
        self.schema = {"name": name, "description": name, "parameters": {"type": "object", "properties": {}}}

    async def __call__(self, arguments: Mapping[str, Any]) -> ToolResult:
        if isinstance(self.result, Exception):
            raise self.result
        return self.result


def _call(name: str, **arguments: Any) -> str:
    return "<think>\nnext\n</think>\n<tool_call>\n" + json.dumps({"name": name, "arguments": arguments}) + "\n</tool_call>"


def test_the_loop_records_outcomes_per_step(fake_llm: FakeLLMServer, tmp_path: Path) -> None:
    failed = ToolResult("Search for 'x' failed: HTTP 403 from serper", outcomes=[BACKEND_ERROR], http_status=403,
                        error="HTTP 403 from serper: Unauthorized")
    tools = {"search": _Tool("search", failed), "visit": _Tool("visit", ToolArgumentError("needs a url")),
             "browse": _Tool("browse", RuntimeError("bug"))}
    fake_llm.script(reply(_call("search", query=["x"])), reply(_call("visit", goal="g")), reply(_call("browse", u=1)),
                    reply("<think>\nfrom the error\n</think>\n<answer>Unauthorized</answer>"))
    roles = {r: RoleConfig(name=r, base_url=fake_llm.base_url, model="scripted") for r in ROLES}
    style = short_style([t.schema for t in tools.values()], "2026-11-22")

    async def go() -> Trajectory:
        async with LLMClient(roles, cache=RequestCache(tmp_path / "c.sqlite"), max_retries=0) as client:
            return (await run_rollouts(client, style, [QAItem("q", "Who?", "Ada")], tools, RolloutSettings()))[0]

    t = run(go())
    assert [(s.action, s.tool_outcomes, s.tool_status) for s in t.steps] == [
        ("search", [BACKEND_ERROR], 403), ("invalid", [BAD_ARGUMENTS], 0), ("browse", [TOOL_ERROR], 0),
        ("answer", [], 0)]
    assert t.steps[0].tool_error == "HTTP 403 from serper: Unauthorized" and t.steps[2].tool_error == "RuntimeError: bug"
    assert [s.tool_name for s in t.steps] == ["search", "visit", "browse", ""]
    assert t.failed_tool_calls() == 2
    assert t.tool_outcome_counts() == [
        {"tool": "search", "outcome": BACKEND_ERROR, "status": 403, "calls": 1},
        {"tool": "visit", "outcome": BAD_ARGUMENTS, "status": 0, "calls": 1},
        {"tool": "browse", "outcome": TOOL_ERROR, "status": 0, "calls": 1}]
    assert check_tool_failures(t) == ["tool_failures"]


# --------------------------------------------------------------------------- Parquet
def _traj(*outcomes: list[str], qid: str = "q", status: int = 0) -> Trajectory:
    steps = [Step(index=i, action="search", arguments=json.dumps({"query": [str(i)]}), tool_outcomes=list(o),
                  tool_status=status if call_outcome(list(o)) in FAILED_OUTCOMES else 0,
                  tool_error="HTTP 403" if call_outcome(list(o)) in FAILED_OUTCOMES else "")
             for i, o in enumerate(outcomes)]
    steps.append(Step(index=len(steps), action="answer", answer="Ada"))
    return Trajectory(question_id=qid, question=f"Who is {qid}?", reference="Ada", steps=steps, final_answer="Ada",
                      finish_reason="answer", messages=[{"role": "assistant", "content": "<answer>Ada</answer>"}])


def test_outcomes_round_trip_through_parquet_and_old_rows_still_read(tmp_path: Path) -> None:
    t = _traj([BACKEND_ERROR], [OK, EMPTY_RESULT], status=403)
    path = tmp_path / "t.parquet"
    trajectories_frame([t]).write_parquet(path)
    df = pl.read_parquet(path)
    assert df["failed_tool_calls"].to_list() == [1]
    assert df["tool_outcome_counts"].to_list() == [[
        {"tool": "search", "outcome": BACKEND_ERROR, "status": 403, "calls": 1},
        {"tool": "search", "outcome": OK, "status": 0, "calls": 1}]]
    back = read_trajectories(df)[0]
    assert back == t and back.steps[0].tool_status == 403 and back.steps[1].tool_outcomes == [OK, EMPTY_RESULT]
    # A table written before outcomes existed: no step fields, no totals; read with defaults.
    rows = df.drop("failed_tool_calls", "tool_outcome_counts").to_dicts()
    new = ("tool_outcomes", "tool_status", "tool_error")
    for r in rows:
        r["steps"] = [{k: v for k, v in st.items() if k not in new} for st in r["steps"]]
    old = pl.DataFrame(rows)
    assert "tool_outcomes" not in str(old.schema["steps"])
    legacy = read_trajectories(old)[0]
    assert [s.tool_outcomes for s in legacy.steps] == [[], [], []] and legacy.failed_tool_calls() == 0
    assert check_tool_failures(legacy) == []


# --------------------------------------------------------------------------- the rule
@pytest.mark.parametrize("calls, share, dropped", [
    ([[OK], [OK]], 0.5, False),
    ([[BACKEND_ERROR]], 0.5, True),  # the answer rests on one failed call
    ([[BACKEND_ERROR], [FETCH_FAILED]], 1.0, True),  # every call failed: dropped whatever the share
    ([[BACKEND_ERROR], [EMPTY_RESULT]], 0.9, True),  # nothing brought content, and something broke
    ([[EMPTY_RESULT]], 0.5, False),  # the engine answered "nothing found": not a failure
    ([[OK], [FETCH_FAILED]], 0.5, False),  # half failed: not more than the share
    ([[OK], [FETCH_FAILED], [TIMEOUT]], 0.5, True),
    ([[OK], [FETCH_FAILED], [TIMEOUT]], 0.7, False),
    ([[BACKEND_ERROR, OK]], 0.5, False),  # one query of the batch answered
    ([[OK], [BAD_ARGUMENTS], [BAD_ARGUMENTS]], 0.5, False),  # refused arguments are validity's business
    ([[], []], 0.5, False),  # imports: outcomes unknown
])
def test_tool_failures_rule(calls: list[list[str]], share: float, dropped: bool) -> None:
    reasons = check_tool_failures(_traj(*calls), RuleSettings(max_failed_tool_share=share))
    assert reasons == (["tool_failures"] if dropped else [])


def test_tool_failures_is_a_validity_drop_in_the_funnel() -> None:
    trajs = [_traj([OK], qid="a"), _traj([BACKEND_ERROR], qid="b"), _traj([OK], [TIMEOUT], [FETCH_FAILED], qid="c")]
    result = run_filters(trajs, FilterSettings(stages=("validity",)))
    assert [(d.keep, d.stage_dropped, d.reasons) for d in result.decisions] == [
        (True, "", []), (False, "validity", ["tool_failures"]), (False, "validity", ["tool_failures"])]
    validity = next(s for s in result.funnel.to_rows() if s["stage"] == "validity" and s["reason"] == "tool_failures")
    assert validity["count"] == 2


def test_cli_filter_drops_tool_failures(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from pipelines.cli_filter import filter_command

    path = tmp_path / "t.jsonl"
    rows = [trajectories_frame([t]).to_dicts()[0] for t in (_traj([OK], qid="a"), _traj([BACKEND_ERROR], qid="b"))]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = CliRunner().invoke(filter_command, [str(path), "--min-tool-calls", "1"])
    assert out.exit_code == 0, out.output
    lines = [json.loads(x) for x in out.output.splitlines()]
    assert [(x["keep"], x["reasons"]) for x in lines[:2]] == [(True, []), (False, ["tool_failures"])]
    assert lines[2]["funnel"]["validity"]["drops"] == {"tool_failures": 1}
    relaxed = CliRunner().invoke(filter_command, [str(path), "--max-failed-tool-share", "1"])
    assert json.loads(relaxed.output.splitlines()[1])["reasons"] == ["tool_failures"]  # every call failed


# --------------------------------------------------------------------------- the rollout step
def test_the_step_fails_in_one_sentence_when_a_tool_mostly_fails() -> None:
    from assets.trajectories import tool_failure_sentence, tool_outcomes_md, tool_tallies

    trajs = [_traj([BACKEND_ERROR], qid=str(i), status=403) for i in range(3)] + [_traj([OK], qid="ok")]
    tallies = tool_tallies(trajs)
    assert tallies["search"].ran == 4 and tallies["search"].failed == 3
    table = tool_outcomes_md(tallies)
    assert table.splitlines()[0] == "| tool | calls | ok | backend_error | failed_http_status |"
    assert table.splitlines()[2] == "| search | 4 | 1 | 3 | 403: 3 |"
    sentence = tool_failure_sentence("trajectories/short", tallies, 0.5, 4, len(trajs))
    assert sentence == ("trajectories/short: the search tool failed on 3 of 4 calls (backend_error=3; HTTP 403 x3), "
                        "more than the allowed share 0.5, last error: HTTP 403; the 4 rollouts are written with "
                        "their tool outcomes, so fix the tool's backend (its URL or key) and re-run.")
    assert sentence.count(".") == 2  # one sentence ("0.5" holds the other full stop)
    assert tool_failure_sentence("s", tallies, 0.75, 4, 4) is None  # 3 of 4 is not more than 0.75
    assert tool_failure_sentence("s", tallies, 0.5, 5, 4) is None  # too few calls to judge
    assert tool_failure_sentence("s", tool_tallies([_traj([OK])]), 0.5, 1, 1) is None
