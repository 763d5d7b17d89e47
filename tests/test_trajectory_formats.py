"""WebDancer / OpenAI / seekforge trajectory formats: exact round trips on real data, and clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from distill.agent.formats import (
    FormatError,
    from_webdancer,
    read_jsonl,
    to_openai,
    to_webdancer,
    write_jsonl,
)
from distill.agent.protocol import corrective_message, parse_turn, render_turn
from distill.agent.trajectory import Step, Trajectory, read_trajectories, trajectories_frame
from webdata import shared_path

TOOLS = [
    {"name": "search", "description": "Web search.", "parameters": {
        "type": "object", "properties": {"query": {"type": "array", "items": {"type": "string"}}},
        "required": ["query"]}},
    {"name": "visit", "description": "Read pages.", "parameters": {
        "type": "object", "properties": {"url": {"type": "array", "items": {"type": "string"}},
                                         "goal": {"type": "string"}}, "required": ["url", "goal"]}},
]


@pytest.fixture(scope="module")
def sample() -> Path:
    return shared_path("webdancer", "sample_traj_20.jsonl")


@pytest.fixture(scope="module")
def lines(sample: Path) -> list[str]:
    out = [ln for ln in sample.read_text(encoding="utf-8").split("\n") if ln]
    assert len(out) == 20
    return out


def _parsed_fields(steps: list[Step]) -> list[tuple]:
    return [(s.index, s.think, s.action, s.tool_call, s.arguments, s.answer, s.observation, s.invalid_reason)
            for s in steps]


# ---------------------------------------------------------------------------
# WebDancer import/export on the real sample
# ---------------------------------------------------------------------------

def test_webdancer_roundtrip_is_byte_exact(lines: list[str]) -> None:
    for n, line in enumerate(lines, start=1):
        traj = from_webdancer(json.loads(line), line=n)
        assert json.dumps(to_webdancer(traj), ensure_ascii=False) == line, f"line {n} changed"


def test_webdancer_fields_and_steps(lines: list[str]) -> None:
    first = from_webdancer(json.loads(lines[0]))
    assert first.source_format == "webdancer" and first.style == "short"
    assert first.question.startswith("In a prestigious British equestrian event")
    assert "<tools>" not in first.question and not first.question.startswith("User:")
    assert first.reference == "English horse race Derby" and first.aliases == []
    assert [m["role"] for m in first.messages] == ["system", "user", "assistant", "tool", "assistant"]
    assert first.messages[3]["content"].startswith("\nA Google search") and first.messages[3]["content"].endswith("\n\n")
    assert [s.action for s in first.steps] == ["search", "answer"]
    search = first.steps[0]
    args = json.loads(search.arguments)
    assert list(args) == ["query"] and args["query"][0] == "1964 British horse race Christmas associated winner"
    assert json.loads(search.tool_call) == {"name": "search", "arguments": args}
    assert f"\n{search.observation}\n" == first.messages[3]["content"] and search.invalid_reason == ""
    assert first.steps[1].answer.startswith("\nThe notable race")
    assert first.final_answer == first.steps[1].answer.strip() and first.finish_reason == "answer"
    assert first.steps[1].observation == ""
    tools = json.loads(first.tools_json)
    assert [t["name"] for t in tools] == ["search", "visit"]
    assert set(tools[0]) == {"name", "description", "parameters"}

    last = from_webdancer(json.loads(lines[19]), style="long")
    assert last.style == "long"
    assert [s.action for s in last.steps] == ["search", "visit", "answer"]
    visit = json.loads(last.steps[1].arguments)
    assert set(visit) == {"url", "goal"} and visit["url"][0].startswith("https://www.eekwi.org/")
    assert last.steps[1].observation.startswith("The useful inf")
    assert last.reference == "ballast water discharge"
    assert all(s.index == i for i, s in enumerate(last.steps))


def test_read_write_jsonl_webdancer(sample: Path, lines: list[str], tmp_path: Path) -> None:
    trajs = read_jsonl(sample)
    assert len(trajs) == 20
    # Records 4 and 5 sample the same question: one question_id, distinct trajectory ids.
    assert trajs[3].question_id == trajs[4].question_id
    assert len({t.id for t in trajs}) == 20
    out = tmp_path / "out.jsonl"
    assert write_jsonl(trajs, out) == 20
    assert out.read_text(encoding="utf-8") == sample.read_text(encoding="utf-8")


def test_parquet_roundtrip_keeps_webdancer_exact(lines: list[str], tmp_path: Path) -> None:
    trajs = [from_webdancer(json.loads(ln), line=i) for i, ln in enumerate(lines, start=1)]
    path = tmp_path / "t.parquet"
    trajectories_frame(trajs).write_parquet(path)
    back = read_trajectories(pl.read_parquet(path))
    assert len(back) == 20
    for line, t, b in zip(lines, trajs, back, strict=True):
        assert json.dumps(to_webdancer(b), ensure_ascii=False) == line
        assert _parsed_fields(b.steps) == _parsed_fields(t.steps)


def test_seekforge_jsonl_roundtrip(sample: Path, lines: list[str], tmp_path: Path) -> None:
    trajs = read_jsonl(sample)
    path = tmp_path / "sf.jsonl"
    write_jsonl(trajs, path, fmt="seekforge")
    back = read_jsonl(path, fmt="seekforge")
    assert [t.id for t in back] == [t.id for t in trajs]
    assert [json.dumps(to_webdancer(b), ensure_ascii=False) for b in back] == lines


def test_to_openai_tool_calls(lines: list[str]) -> None:
    traj = from_webdancer(json.loads(lines[19]))
    for mode in ("json", "dict"):
        chat = to_openai(traj, arguments=mode)  # type: ignore[arg-type]
        assert [t["function"]["name"] for t in chat["tools"]] == ["search", "visit"]
        assert all(t["type"] == "function" for t in chat["tools"])
        msgs = chat["messages"]
        assert [m["role"] for m in msgs] == ["system", "user", "assistant", "tool", "assistant", "tool", "assistant"]
        calls = [m for m in msgs if m.get("tool_calls")]
        results = [m for m in msgs if m["role"] == "tool"]
        assert len(calls) == len(results) == 2
        for k, (call_msg, result, step) in enumerate(zip(calls, results, traj.steps, strict=False)):
            (call,) = call_msg["tool_calls"]
            assert call["id"] == f"call_{k}_0" == result["tool_call_id"]
            assert call["type"] == "function" and call["function"]["name"] == step.action == result["name"]
            fn_args = call["function"]["arguments"]
            parsed = json.loads(fn_args) if mode == "json" else fn_args
            assert isinstance(parsed, dict) and parsed == json.loads(step.arguments)
            assert call_msg["content"] == f"<think>{step.think}</think>"
            assert result["content"] == step.observation.strip()
        assert msgs[-1] == traj.messages[-1]  # the answer turn stays text
        assert msgs[1] == traj.messages[1]


# ---------------------------------------------------------------------------
# malformed input
# ---------------------------------------------------------------------------

def _good() -> dict:
    return {"type": "chatml", "messages": [
        {"role": "system", "content": "sys"},
        {"role": "user", "content": "preamble\n\nUser: Who?"},
        {"role": "assistant", "content": render_turn("t", tool_call='{"name": "search", "arguments": {"query": ["q"]}}')},
        {"role": "user", "content": "<tool_response>\nobs\n</tool_response>"},
        {"role": "assistant", "content": render_turn("t2", answer="Him")},
    ], "functions": [{"name_for_human": "search", "name_for_model": "search", "description_for_model": "d",
                      "parameters": {"type": "object"}}], "tool_calls": [], "answer": [["Him", "He"]], "tag": "x"}


def test_small_record_parses() -> None:
    t = from_webdancer(_good())
    assert t.question == "Who?" and t.reference == "Him" and t.aliases == ["He"]
    assert t.messages[3] == {"role": "tool", "content": "\nobs\n"}
    assert [s.action for s in t.steps] == ["search", "answer"] and t.final_answer == "Him"
    assert json.dumps(to_webdancer(t)) == json.dumps(_good())


@pytest.mark.parametrize("mutate, needle", [
    (lambda r: r.pop("messages"), "messages"),
    (lambda r: r["messages"][3].update(content="plain text"), "tool_response"),
    (lambda r: r["messages"][3].update(role="tool"), "role 'tool'"),
    (lambda r: r["messages"].insert(3, {"role": "assistant", "content": "x"}), "expected 'user'"),
    (lambda r: r["messages"][1].update(role="assistant"), "question"),
    (lambda r: r["messages"][2].update(extra=1), "exactly 'role' and 'content'"),
    (lambda r: r.pop("functions"), "functions"),
    (lambda r: r["messages"].__delitem__(slice(2, None)), "no assistant"),
])
def test_malformed_raises_with_line(mutate, needle: str) -> None:
    rec = _good()
    mutate(rec)
    with pytest.raises(FormatError, match="line 7") as info:
        from_webdancer(rec, line=7)
    assert needle in str(info.value)


def test_read_jsonl_names_file_and_line(tmp_path: Path) -> None:
    bad = dict(_good())
    bad["messages"] = [*bad["messages"][:3], {"role": "user", "content": "no wrapper"}]
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps(_good()) + "\n\n" + json.dumps(bad) + "\n", encoding="utf-8")
    with pytest.raises(FormatError) as info:
        read_jsonl(path)
    assert str(path) in str(info.value) and "line 3" in str(info.value)
    path.write_text(json.dumps(_good()) + "\n{not json\n", encoding="utf-8")
    with pytest.raises(FormatError, match=r"line 2: not valid JSON"):
        read_jsonl(path)
    with pytest.raises(FormatError, match=r"line 1: not a trajectory row"):
        read_jsonl(path, fmt="seekforge")


# ---------------------------------------------------------------------------
# our own rollouts
# ---------------------------------------------------------------------------

def _seekforge_traj() -> Trajectory:
    names = frozenset(t["name"] for t in TOOLS)
    turns = [
        (render_turn("Find it. Ünïcode ok.", tool_call='\n{"name": "search", "arguments": {"query": ["épée origin"]}}\n'),
         "1. result"),
        (render_turn("Oops.", tool_call='{"name": "search", "arguments": '), None),  # bad JSON -> corrective
        (render_turn("Read.", tool_call='{"name": "visit", "arguments": {"url": ["https://a.example/"], "goal": "g"}}'),
         "page text"),
        (render_turn("Done.", answer=" France "), None),
    ]
    messages = [{"role": "system", "content": "You search. Current date: 2025-01-01"},
                {"role": "user", "content": "Where does the épée come from?"}]
    steps: list[Step] = []
    for i, (content, obs) in enumerate(turns):
        turn = parse_turn(content, names)
        if turn.invalid_reason:
            obs = corrective_message(turn, names)
        messages.append({"role": "assistant", "content": content})
        if obs is not None:
            messages.append({"role": "tool", "content": f"\n{obs}\n"})  # as the rollout loop writes it
        steps.append(Step(index=i, think=turn.think, action=turn.action, tool_call=turn.tool_call,
                          arguments=json.dumps(turn.arguments, ensure_ascii=False) if turn.arguments is not None
                          and not turn.invalid_reason else "",
                          answer=turn.answer, observation=obs or "", invalid_reason=turn.invalid_reason,
                          prompt_tokens=10, completion_tokens=5))
    return Trajectory(question_id="q1", question="Where does the épée come from?", reference="France",
                      aliases=["FR"], style="long", model="teacher-x", messages=messages, steps=steps,
                      final_answer="France", finish_reason="answer", tools_json=json.dumps(TOOLS))


def test_seekforge_exports_and_reimports() -> None:
    traj = _seekforge_traj()
    assert [s.action for s in traj.steps] == ["search", "invalid", "visit", "answer"]
    rec = to_webdancer(traj)
    assert list(rec) == ["type", "task", "messages", "functions", "tool_calls", "answer", "tag"]
    assert rec["answer"] == [["France", "FR"]] and rec["tag"] == "long" and rec["tool_calls"] == []
    assert rec["functions"][1] == {"name_for_human": "visit", "name_for_model": "visit",
                                   "description_for_model": "Read pages.", "parameters": TOOLS[1]["parameters"]}
    assert rec["messages"][:2] == traj.messages[:2]
    assert rec["messages"][3] == {"role": "user", "content": "<tool_response>\n1. result\n</tool_response>"}

    back = from_webdancer(json.loads(json.dumps(rec, ensure_ascii=False)))
    assert back.question == traj.question and back.reference == "France" and back.aliases == ["FR"]
    assert back.style == "long" and back.final_answer == "France" and back.finish_reason == "answer"
    assert back.messages == traj.messages
    assert _parsed_fields(back.steps) == _parsed_fields(traj.steps)
    assert json.loads(back.tools_json) == TOOLS
    # Re-imported, it now round-trips exactly as a WebDancer record.
    assert json.dumps(to_webdancer(back), ensure_ascii=False) == json.dumps(rec, ensure_ascii=False)

    chat = to_openai(traj, arguments="dict")
    roles = [m["role"] for m in chat["messages"]]
    assert roles == ["system", "user", "assistant", "tool", "assistant", "user", "assistant", "tool", "assistant"]
    invalid, corrective = chat["messages"][4], chat["messages"][5]
    assert invalid == {"role": "assistant", "content": traj.messages[4]["content"]}
    assert corrective["content"] == traj.steps[1].observation.strip()
    visit_call = chat["messages"][6]["tool_calls"][0]
    assert visit_call["id"] == "call_2_0" == chat["messages"][7]["tool_call_id"]
    assert visit_call["function"]["arguments"] == {"url": ["https://a.example/"], "goal": "g"}
    assert chat["messages"][2]["tool_calls"][0]["function"]["arguments"] == {"query": ["épée origin"]}


def test_openai_rejects_unknown_arguments_mode() -> None:
    with pytest.raises(ValueError):
        to_openai(_seekforge_traj(), arguments="yaml")  # type: ignore[arg-type]


def test_atomic_units_are_parsed_on_import() -> None:
    import distill.agent.atomic  # noqa: F401  (the atomic-thought parser registers on import)
    rec = _good()
    rec["messages"][2]["content"] = render_turn("<PLAN>search first</PLAN> then read",
                                                tool_call='{"name": "search", "arguments": {"query": ["q"]}}')
    t = from_webdancer(rec)
    assert [(u.tag, u.text) for u in t.steps[0].units] == [("PLAN", "search first")]
    assert t.steps[1].units == []
    assert json.dumps(to_webdancer(t)) == json.dumps(rec)


def test_an_overlong_integer_in_a_tool_call_is_bad_json_not_a_crash() -> None:
    """json.loads raises a plain ValueError (not a JSONDecodeError, which has .msg/.pos) for an
    integer literal over Python's 4300-digit limit: a malformed call like any other."""
    names = frozenset(t["name"] for t in TOOLS)
    content = render_turn("Big.", tool_call='{"name": "search", "arguments": {"query": [' + "9" * 5000 + "]}}")
    turn = parse_turn(content, names)
    assert turn.invalid_reason == "bad_json"
    assert "not valid JSON (Exceeds the limit" in corrective_message(turn, names)
