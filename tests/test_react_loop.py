"""The ReAct loop against a scripted OpenAI-compatible server (real HTTP on 127.0.0.1).

Tools here are tiny in-test implementations of the Tool protocol: these tests are
about the loop's control flow; the real search/visit tools have their own tests.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from distill.agent.loop import QAItem, RolloutSettings, run_rollouts
from distill.agent.styles import atomic_style, long_style, short_style
from distill.agent.tools import ToolArgumentError, ToolResult
from distill.llm.cache import RequestCache
from distill.llm.client import LLMClient
from distill.llm.roles import ROLES, RoleConfig
from fake_llm_server import FakeLLMServer, reply, status

ITEM = QAItem(id="q1", question="Which river flows through Arvenport?", answer="Varn", aliases=["River Varn"])


class Search:
    name = "search"
    schema = {"name": "search", "description": "web search", "parameters": {
        "type": "object", "properties": {"query": {"type": "array", "items": {"type": "string"}}}, "required": ["query"]}}

    def __init__(self, text: str = "") -> None:
        self.calls: list[Any] = []
        self.text = text

    async def __call__(self, arguments: Mapping[str, Any]) -> ToolResult:
        if not arguments.get("query"):
            raise ToolArgumentError("'query' must be a non-empty list of strings")
        self.calls.append(arguments)
        q = arguments["query"][0]
        return ToolResult(self.text or f"A Google search for '{q}' found 1 results:\n\n## Web Results\n"
                                        f"1. [Arvenport](https://wiki.test/Arvenport)\n\nArvenport lies on the Varn.\n")


class Visit:
    name = "visit"
    schema = {"name": "visit", "description": "read pages", "parameters": {
        "type": "object", "properties": {"url": {"type": "array", "items": {"type": "string"}},
                                         "goal": {"type": "string"}}, "required": ["url", "goal"]}}

    async def __call__(self, arguments: Mapping[str, Any]) -> ToolResult:
        return ToolResult(f"The useful information in {arguments['url'][0]} for user goal {arguments['goal']} as "
                          "follows: \n\nEvidence in page: \nThe Varn flows through Arvenport.\n\nSummary: \nVarn.\n\n")


def call(name: str, **arguments: Any) -> str:
    return "<tool_call>\n" + json.dumps({"name": name, "arguments": arguments}) + "\n</tool_call>"


def turn(think: str, action: str) -> str:
    return f"<think>\n{think}\n</think>\n{action}"


def client_for(fake: FakeLLMServer, tmp_path: Path, **role_kw: Any) -> LLMClient:
    roles = {r: RoleConfig(name=r, base_url=fake.base_url, model="scripted", **role_kw) for r in ROLES}
    return LLMClient(roles, cache=RequestCache(tmp_path / "cache.sqlite"), max_retries=0, backoff_base_s=0.01)


def rollout(fake: FakeLLMServer, tmp_path: Path, style: str = "short", settings: RolloutSettings | None = None,
            tools: dict[str, Any] | None = None, atomic: list[Any] | None = None, **role_kw: Any):
    tools = tools if tools is not None else {"search": Search(), "visit": Visit()}
    schemas = [t.schema for t in tools.values()]
    st = {"short": lambda: short_style(schemas, "2026-11-22"), "long": lambda: long_style(schemas, "2026-11-22"),
          "atomic": lambda: atomic_style(schemas, "2026-11-22", atomic or [])}[style]()

    async def go():
        async with client_for(fake, tmp_path, **role_kw) as client:
            return await run_rollouts(client, st, [ITEM], tools, settings or RolloutSettings(), k=1, seed=7)

    return asyncio.run(go())[0]


def test_correct_multi_step_trajectory(fake_llm: FakeLLMServer, tmp_path: Path) -> None:
    fake_llm.script(
        reply(turn("I should search first.", call("search", query=["Arvenport river"])), usage=(100, 20)),
        reply(turn("The wiki page will say.", call("visit", url=["https://wiki.test/Arvenport"], goal="river")),
              usage=(200, 25)),
        reply(turn("The evidence names the Varn.", "<answer>The Varn</answer>"), usage=(300, 10)),
    )
    t = rollout(fake_llm, tmp_path)
    assert t.finish_reason == "answer" and t.final_answer == "The Varn"
    assert [s.action for s in t.steps] == ["search", "visit", "answer"]
    assert t.tool_call_counts() == {"search": 1, "visit": 1}
    assert [m["role"] for m in t.messages] == ["system", "user", "assistant", "tool", "assistant", "tool", "assistant"]
    assert "Current date: 2026-11-22" in t.messages[0]["content"] and '"name": "search"' in t.messages[0]["content"]
    assert t.messages[1]["content"] == ITEM.question
    assert json.loads(t.steps[0].arguments) == {"query": ["Arvenport river"]}
    assert "Arvenport lies on the Varn" in t.steps[0].observation
    # The model saw observations as <tool_response> user turns, with its own earlier thoughts.
    third = fake_llm.requests[2].json["messages"]
    assert third[3]["role"] == "user" and third[3]["content"].startswith("<tool_response>\n")
    assert "<think>" in third[2]["content"]
    row = t.to_row()
    assert (row["tool_calls"], row["prompt_tokens"], row["completion_tokens"]) == (2, 600, 55)


def test_malformed_tool_json_gets_a_corrective_observation(fake_llm: FakeLLMServer, tmp_path: Path) -> None:
    fake_llm.script(
        reply(turn("search", '<tool_call>\n{"name": "search", "arguments": {"query": ["x"]}\n</tool_call>')),
        reply(turn("fixed", "<answer>Varn</answer>")),
    )
    t = rollout(fake_llm, tmp_path)
    assert [s.action for s in t.steps] == ["invalid", "answer"]
    assert t.steps[0].invalid_reason == "bad_json"
    assert t.finish_reason == "answer"
    fed_back = fake_llm.requests[1].json["messages"][-1]["content"]
    assert "Invalid action: the tool call is not valid JSON" in fed_back


def test_unknown_tool_is_named(fake_llm: FakeLLMServer, tmp_path: Path) -> None:
    fake_llm.script(reply(turn("browse", call("browse", url="x"))), reply(turn("ok", "<answer>Varn</answer>")))
    t = rollout(fake_llm, tmp_path)
    assert t.steps[0].invalid_reason == "unknown_tool"
    assert "there is no tool named 'browse'; available: search, visit" in t.steps[0].observation


def test_missing_tags_three_times_ends_invalid(fake_llm: FakeLLMServer, tmp_path: Path) -> None:
    fake_llm.set_default(reply("I think the answer is Varn."))
    t = rollout(fake_llm, tmp_path, settings=RolloutSettings(max_invalid=3))
    assert t.finish_reason == "invalid" and fake_llm.count() == 3
    assert {s.invalid_reason for s in t.steps} == {"no_action"}


def test_no_answer_within_turn_budget(fake_llm: FakeLLMServer, tmp_path: Path) -> None:
    fake_llm.set_default(lambda req: reply(turn("more", call("search", query=[f"q{len(req.json['messages'])}"]))))
    t = rollout(fake_llm, tmp_path, settings=RolloutSettings(max_turns=4))
    assert t.finish_reason == "max_turns" and len(t.steps) == 4 and t.final_answer == ""


def test_token_budget(fake_llm: FakeLLMServer, tmp_path: Path) -> None:
    fake_llm.set_default(lambda req: reply(turn("x", call("search", query=[f"q{len(req.json['messages'])}"])),
                                           usage=(10, 400)))
    t = rollout(fake_llm, tmp_path, settings=RolloutSettings(max_total_tokens=1000))
    assert t.finish_reason == "max_tokens" and len(t.steps) == 3
    assert fake_llm.requests[2].json["max_tokens"] == 200  # what was left of the budget


def test_same_call_forever_is_stopped(fake_llm: FakeLLMServer, tmp_path: Path) -> None:
    search = Search()
    fake_llm.set_default(reply(turn("again", call("search", query=["Arvenport"]))))
    t = rollout(fake_llm, tmp_path, settings=RolloutSettings(max_turns=50, max_repeats=2),
                tools={"search": search, "visit": Visit()})
    assert t.finish_reason == "invalid" and t.error == "repeated_call"
    assert len(search.calls) == 1  # repeats are answered from memory, never re-run
    assert fake_llm.count() == 4  # the call, then three repeats: the third one past max_repeats stops it
    assert "You already made this exact call at step 1" in t.steps[1].observation


def test_observation_over_budget_is_truncated(fake_llm: FakeLLMServer, tmp_path: Path) -> None:
    fake_llm.script(reply(turn("s", call("search", query=["x"]))), reply(turn("a", "<answer>Varn</answer>")))
    t = rollout(fake_llm, tmp_path, settings=RolloutSettings(max_observation_chars=500),
                tools={"search": Search(text="word " * 2000), "visit": Visit()})
    step = t.steps[0]
    assert step.observation_truncated and len(step.observation) < 600
    assert step.observation.endswith("[... observation truncated: 9500 more characters]")
    sent = fake_llm.requests[1].json["messages"][-1]["content"]
    assert len(sent) < 650


def test_old_observations_shortened_to_fit_context(fake_llm: FakeLLMServer, tmp_path: Path) -> None:
    fake_llm.set_default(lambda req: reply(turn("x", call("search", query=[f"q{len(req.json['messages'])}"]))))
    settings = RolloutSettings(max_turns=5, max_context_chars=6000, keep_recent_observations=1,
                               stale_observation_chars=100, max_observation_chars=5000)
    t = rollout(fake_llm, tmp_path, settings=settings, tools={"search": Search(text="w " * 2000), "visit": Visit()})
    last = fake_llm.requests[-1].json["messages"]
    sizes = [len(m["content"]) for m in last if m["content"].startswith("<tool_response>")]
    assert sizes[-1] > 3900 and max(sizes[:-1]) < 200
    assert len(t.steps[0].observation) == 4000  # the record keeps what the tool returned


def test_reasoner_reasoning_content_is_the_thought(fake_llm: FakeLLMServer, tmp_path: Path) -> None:
    fake_llm.script(
        reply(call("search", query=["Arvenport river"]), reasoning_content="Long reasoning about rivers."),
        reply("<answer>Varn</answer>", reasoning_content="The search says Varn."),
    )
    t = rollout(fake_llm, tmp_path, style="long")
    assert t.style == "long" and t.role == "reasoner" and t.finish_reason == "answer"
    assert [s.think.strip() for s in t.steps] == ["Long reasoning about rivers.", "The search says Varn."]
    assert t.messages[2]["content"].startswith("<think>\nLong reasoning about rivers.\n</think>\n<tool_call>")
    # Long CoT: the reasoner sees the question and past actions/observations, not past thoughts.
    second = fake_llm.requests[1].json["messages"]
    assert second[2]["role"] == "assistant" and "<think>" not in second[2]["content"]
    assert second[2]["content"].startswith("<tool_call>")


def test_think_block_of_a_reasoner_without_reasoning_channel(fake_llm: FakeLLMServer, tmp_path: Path) -> None:
    fake_llm.script(reply(turn("plain think block", "<answer>Varn</answer>")))
    t = rollout(fake_llm, tmp_path, style="long")
    assert t.steps[0].think.strip() == "plain think block"


def test_atomic_units_parsed_from_nested_tags(fake_llm: FakeLLMServer, tmp_path: Path) -> None:
    from distill.agent.atomic import AtomicPrompt

    ap = AtomicPrompt(id="p1", seed_id="s1", units=["PLAN", "REFLECTION", "VERIFICATION"],
                      text="Think in units: <PLAN>, <REFLECTION>, <VERIFICATION>.", source="expanded")
    think = ("<PLAN>Search the river.</PLAN>\n<REFLECTION>The source may be old."
             "<VERIFICATION>Check a second page.</VERIFICATION></REFLECTION>")
    fake_llm.script(reply(turn(think, "<answer>Varn</answer>")))
    t = rollout(fake_llm, tmp_path, style="atomic", atomic=[ap])
    units = [(u.tag, u.depth, u.parent) for u in t.steps[0].units]
    assert units == [("PLAN", 0, ""), ("REFLECTION", 0, ""), ("VERIFICATION", 1, "REFLECTION")]
    assert t.messages[0]["content"].startswith("Think in units")
    assert t.system_prompt_id and t.style == "atomic"


def test_endpoint_error_ends_with_error(fake_llm: FakeLLMServer, tmp_path: Path) -> None:
    fake_llm.script(reply(turn("s", call("search", query=["x"]))), status(400))
    t = rollout(fake_llm, tmp_path)
    assert t.finish_reason == "error" and t.error.startswith("bad_request")
    assert len(t.steps) == 1


def test_constrained_turns_send_a_grammar_with_seen_urls(fake_llm: FakeLLMServer, tmp_path: Path) -> None:
    fake_llm.script(reply(turn("s", call("search", query=["x"]))), reply(turn("a", "<answer>Varn</answer>")))
    rollout(fake_llm, tmp_path, settings=RolloutSettings(constrain=True, require_tool_first=True),
            structured="llamacpp")
    first, second = (r.json["grammar"] for r in fake_llm.requests)
    assert "answer ::=" not in first and "visit ::=" not in first  # no answer before a tool, no URL seen yet
    assert '\\"https://wiki.test/Arvenport\\"' in second and "answer ::=" in second


def test_no_grammar_for_openai_endpoints(fake_llm: FakeLLMServer, tmp_path: Path) -> None:
    fake_llm.script(reply(turn("a", "<answer>Varn</answer>")))
    rollout(fake_llm, tmp_path, settings=RolloutSettings(constrain=True), structured="openai")
    assert "grammar" not in fake_llm.requests[0].json


def test_rerun_is_served_from_cache(fake_llm: FakeLLMServer, tmp_path: Path) -> None:
    script = [reply(turn("s", call("search", query=["x"]))), reply(turn("a", "<answer>Varn</answer>"))]
    fake_llm.script(*script)
    first = rollout(fake_llm, tmp_path)
    n = fake_llm.count()
    second = rollout(fake_llm, tmp_path)
    assert fake_llm.count() == n
    assert second.messages == first.messages and all(s.cached for s in second.steps)


@pytest.mark.parametrize("k", [3])
def test_k_samples_have_distinct_seeds(fake_llm: FakeLLMServer, tmp_path: Path, k: int) -> None:
    fake_llm.set_default(reply(turn("a", "<answer>Varn</answer>")))
    schemas = [Search.schema]

    async def go():
        async with client_for(fake_llm, tmp_path) as client:
            return await run_rollouts(client, short_style(schemas, "2026-11-22"), [ITEM, QAItem("q2", "Other?")],
                                      {"search": Search()}, RolloutSettings(), k=k, seed=10)

    trajs = asyncio.run(go())
    assert [(t.question_id, t.seed, t.sample_index) for t in trajs] == [
        ("q1", 10, 0), ("q1", 11, 1), ("q1", 12, 2), ("q2", 10, 0), ("q2", 11, 1), ("q2", 12, 2)]
    assert len({t.id for t in trajs}) == 6
    assert sorted(r.json["seed"] for r in fake_llm.requests) == [10, 10, 11, 11, 12, 12]


def test_demo_action_schedule_and_observed_answers(fake_llm: FakeLLMServer, tmp_path: Path) -> None:
    fake_llm.script(reply(turn("s", call("search", query=["x"]))),
                    reply(turn("v", call("visit", url=["https://wiki.test/Arvenport"], goal="river"))),
                    reply(turn("a", "<answer>Varn</answer>")))
    rollout(fake_llm, tmp_path, structured="llamacpp",
            settings=RolloutSettings(constrain=True, action_schedule=("search", "visit", "answer"),
                                     answer_space="observed"))
    grammars = [r.json["grammar"] for r in fake_llm.requests]
    assert [g.split("action ::= ")[1].split("\n")[0] for g in grammars] == ["search", "visit", "answer"]
    assert '"\\"Arvenport\\"' not in grammars[2]  # spans are literals inside <answer>, not JSON strings
    assert 'span ::= ' in grammars[2] and '"Varn"' in grammars[2] and '"Arvenport"' in grammars[2]
