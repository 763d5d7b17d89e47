"""The trainer's synchronous side calling the async tools and the RRM on a background loop."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import pytest

from distill.agent.tools import ToolArgumentError, ToolResult
from distill.agent.trajectory import AtomicUnit
from distill.llm.client import LLMClient
from distill.llm.roles import RoleConfig
from fake_llm_server import reply
from train.env_bridge import BackgroundLoop, thought_scorer, tool_caller


class EchoTool:
    name = "search"
    schema: dict[str, Any] = {}

    async def __call__(self, arguments: Mapping[str, Any]) -> ToolResult:
        if "query" not in arguments:
            raise ToolArgumentError('search needs "query"')
        return ToolResult(text=f"results for {arguments['query']}")


def test_tool_caller_runs_on_the_loop_and_turns_bad_arguments_into_a_sentence() -> None:
    with BackgroundLoop() as bg:
        call = tool_caller(bg, {"search": EchoTool()})
        assert call("search", {"query": ["x"]}) == "results for ['x']"
        assert call("search", {}) == 'Invalid arguments for search: search needs "query"'


@pytest.mark.timeout(60)
def test_thought_scorer_grades_a_batch_concurrently(fake_llm) -> None:  # type: ignore[no-untyped-def]
    fake_llm.latency_s = 0.3
    fake_llm.set_default(lambda r: reply(json.dumps({"scores": [{"index": 1, "score": 0.75, "rationale": "ok"}]})))
    role = RoleConfig(name="rrm", base_url=fake_llm.base_url, model="rrm", structured="openai")
    with BackgroundLoop() as bg:
        client = bg.enter(LLMClient({"rrm": role}, max_concurrency=8))
        score = thought_scorer(bg, client)
        items = [(f"question {i}", [AtomicUnit(tag="PLAN", text=f"plan {i}")], "context") for i in range(4)]
        assert score(items) == [[0.75]] * 4
    assert fake_llm.count() == 4 and fake_llm.max_in_flight >= 2
