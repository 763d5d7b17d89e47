"""Atomic thoughts: unit parsing, the seed templates, and teacher expansion of system prompts
against the scripted fake LLM server (real HTTP)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from distill.agent import atomic
from distill.agent.atomic import (
    RESERVED_TAGS,
    SEEDS_PATH,
    TAG_PATTERN,
    AtomicPrompt,
    SeedError,
    expand_prompts,
    load_seeds,
    parse_units,
    prompt_id,
    render,
)
from distill.llm.client import LLMClient
from distill.llm.roles import RoleConfig
from fake_llm_server import RecordedRequest, reply, status


def _tags(think: str) -> list[tuple[str, int, str]]:
    return [(u.tag, u.depth, u.parent) for u in parse_units(think)]


# ---------------------------------------------------------------------------
# parse_units
# ---------------------------------------------------------------------------
def test_parse_flat_units_in_order_and_stripped() -> None:
    units = parse_units("<PLAN>\n  search first \n</PLAN> glue <OBSERVATION>found X</OBSERVATION>")
    assert [(u.tag, u.text, u.depth, u.parent) for u in units] == [
        ("PLAN", "search first", 0, ""), ("OBSERVATION", "found X", 0, "")]


def test_parse_three_levels_of_nesting() -> None:
    think = ("<REFLECTION>outer <VERIFICATION>mid <SOURCE_CHECK_2>inner</SOURCE_CHECK_2> tail</VERIFICATION>"
             "</REFLECTION><ACTION>go</ACTION>")
    units = parse_units(think)
    assert _tags(think) == [("REFLECTION", 0, ""), ("VERIFICATION", 1, "REFLECTION"),
                            ("SOURCE_CHECK_2", 2, "VERIFICATION"), ("ACTION", 0, "")]
    assert units[2].text == "inner"
    # A parent keeps its children's markup: the verbatim span it was written as.
    assert units[1].text == "mid <SOURCE_CHECK_2>inner</SOURCE_CHECK_2> tail"
    assert units[0].text.startswith("outer <VERIFICATION>") and units[0].text.endswith("</VERIFICATION>")


def test_parse_unclosed_unit_runs_to_end() -> None:
    units = parse_units("<PLAN>one</PLAN><HYPOTHESIS>it is 1869 <RISK>maybe not")
    assert [(u.tag, u.text, u.depth) for u in units] == [
        ("PLAN", "one", 0), ("HYPOTHESIS", "it is 1869 <RISK>maybe not", 0), ("RISK", "maybe not", 1)]


def test_parse_stray_closers_and_implicit_close() -> None:
    units = parse_units("</PLAN> x <GOAL>g</VERIFICATION></GOAL></GOAL> <A1><B2>b</A1> rest")
    assert [(u.tag, u.text, u.depth, u.parent) for u in units] == [
        ("GOAL", "g</VERIFICATION>", 0, ""), ("A1", "<B2>b", 0, ""), ("B2", "b", 1, "A1")]


def test_parse_ignores_lower_and_mixed_case_tags() -> None:
    text = ("<think><PLAN>p</PLAN><Plan>no</Plan><note>n</note></think>\n"
            '<tool_call>{"name": "search"}</tool_call><X>single letter</X>')
    assert _tags(text) == [("PLAN", 0, ""), ("X", 0, "")]
    assert parse_units("") == [] and parse_units("no tags <b>here</b>") == []


# ---------------------------------------------------------------------------
# Seeds
# ---------------------------------------------------------------------------
def test_load_seeds_gives_ten_valid_distinct_seeds() -> None:
    seeds = load_seeds()
    assert len(seeds) == 10 and len({s.id for s in seeds}) == 10
    assert len({frozenset(s.tags) for s in seeds}) == 10
    for s in seeds:
        assert 3 <= len(s.units) <= 5, s.id
        assert len(s.examples) == 2, s.id
        found = [parse_units(ex) for ex in s.examples]
        assert all(len(units) >= 2 for units in found), s.id
        assert any(u.depth > 0 for units in found for u in units), f"{s.id}: no nested unit in its examples"
        assert all(ex.startswith("<think>") and ex.endswith("</think>") for ex in s.examples), s.id
        assert s.persona and "{units}" not in s.persona


def _write_seeds(tmp_path: Path, mutate: Callable[[list[dict[str, Any]]], None]) -> Path:
    data = yaml.safe_load(SEEDS_PATH.read_text())
    mutate(data)
    path = tmp_path / "seeds.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@pytest.mark.parametrize(("mutate", "message"), [
    (lambda d: d[2].pop("template"), "missing field 'template'"),
    (lambda d: d[3]["examples"].pop(), "exactly 2 examples"),
    (lambda d: d[4]["units"].append({"plan_b": "lower case"}), "not upper case"),
    (lambda d: d[5].__setitem__("template", d[5]["template"].replace("{examples}", "")), "{examples}"),
    (lambda d: d[6]["examples"].__setitem__(0, "<think><PLAN>only one</PLAN></think>"), "at least 2"),
])
def test_load_seeds_names_the_broken_seed(tmp_path: Path, mutate: Callable[[list[dict[str, Any]]], None],
                                          message: str) -> None:
    ids = [s["id"] for s in yaml.safe_load(SEEDS_PATH.read_text())]
    path = _write_seeds(tmp_path, mutate)
    with pytest.raises(SeedError) as err:
        load_seeds(path)
    assert message in str(err.value)
    assert any(repr(i) in str(err.value) for i in ids)


def test_rendered_seed_prompts_name_their_tags() -> None:
    for s in load_seeds():
        text = render(s, s.units)
        named = [tag for tag in s.tags if f"<{tag}>" in text]
        assert len(named) >= 2 and named == s.tags, s.id
        assert "{units}" not in text and "{examples}" not in text
        assert s.examples[0] in text and s.examples[1] in text
    assert "- <A_B>: desc {examples} {x}" in render(s, [("A_B", "desc {examples} {x}")])  # inserted text is not re-filled


# ---------------------------------------------------------------------------
# expand_prompts against the fake server
# ---------------------------------------------------------------------------
def _units_json(*tags: str, desc: str = "does one thing") -> str:
    return json.dumps({"units": [{"tag": t, "description": f"{desc} ({t.lower()})"} for t in tags]})


def _client(fake: Any) -> LLMClient:
    return LLMClient({"teacher": RoleConfig(name="teacher", base_url=fake.base_url, model="scripted")},
                     max_retries=0, max_concurrency=4)


def test_expand_prompts_validates_dedups_and_accounts(fake_llm) -> None:  # type: ignore[no-untyped-def]
    seeds = load_seeds()[:3]  # skeptic, planner, hypothesis_tester
    assert [s.id for s in seeds] == ["skeptic", "planner", "hypothesis_tester"]
    valid_a = ("SOURCE_AUDIT", "CLAIM_TRACE", "VERIFICATION")
    valid_c = ("GOAL", "SUBGOALS", "QUERY_PLAN", "EVIDENCE_LOG", "PROGRESS_CHECK", "ACTION")
    script: dict[tuple[str, int], Any] = {
        ("skeptic", 0): reply(_units_json(*valid_a)),
        ("skeptic", 1): reply("units: SOURCE_AUDIT, then CLAIM_TRACE"),  # not JSON at all
        ("skeptic", 2): reply(_units_json("CLAIM_TRACE", " VERIFICATION ", "SOURCE_AUDIT", desc="other words")),
        ("skeptic", 3): reply(_units_json("ANSWER", "VERIFICATION")),
        ("planner", 0): reply(_units_json("plan", "PROGRESS_CHECK")),
        # The same set as another seed's defaults: defaults win even from a later seed.
        ("planner", 1): reply(_units_json("REVISION", "HYPOTHESIS", "PREDICTION", "HYPOTHESIS_TESTING")),
        ("planner", 2): reply(_units_json("GOAL")),
        ("planner", 3): reply(_units_json(*valid_c)),
        ("hypothesis_tester", 0): reply("Sure!\n```json\n" + _units_json("CONJECTURE", "REFUTATION_SEARCH") + "\n```"),
        ("hypothesis_tester", 1): status(400),
        ("hypothesis_tester", 2): reply(_units_json("CONJECTURE", "CONJECTURE", "TEST")),
        ("hypothesis_tester", 3): reply(json.dumps({"units": [{"tag": "CONJECTURE", "description": "guess"},
                                                              {"tag": "TEST", "description": "   "}]})),
    }
    by_seed = {atomic._derive_seed(0, s.id, k): behaviour for (sid, k), behaviour in script.items()
               for s in seeds if s.id == sid}
    assert len(by_seed) == len(script), "request seeds must be distinct"

    def answer(request: RecordedRequest) -> Any:
        return by_seed.get(int(request.json["seed"]), status(500))

    fake_llm.set_default(answer)

    async def go() -> tuple[list[AtomicPrompt], list[dict[str, Any]]]:
        async with _client(fake_llm) as client:
            return await expand_prompts(client, seeds, per_seed=4)

    prompts, drops = asyncio.run(go())

    assert fake_llm.count() == 12
    assert [(p.seed_id, p.source, p.units) for p in prompts] == [
        ("skeptic", "seed", seeds[0].tags),
        ("planner", "seed", seeds[1].tags),
        ("hypothesis_tester", "seed", seeds[2].tags),
        ("skeptic", "expanded", list(valid_a)),
        ("planner", "expanded", list(valid_c)),
        ("hypothesis_tester", "expanded", ["CONJECTURE", "REFUTATION_SEARCH"]),
    ]
    assert [(d["seed_id"], d["sample_index"], d["reason"]) for d in drops] == [
        ("skeptic", 1, "malformed_json"),
        ("skeptic", 2, "duplicate_combination"),
        ("skeptic", 3, "reserved_tag"),
        ("planner", 0, "bad_tag"),
        ("planner", 1, "duplicate_combination"),
        ("planner", 2, "too_few_units"),
        ("hypothesis_tester", 1, "llm_error"),
        ("hypothesis_tester", 2, "duplicate_tag"),
        ("hypothesis_tester", 3, "empty_description"),
    ]
    assert all(set(d) == {"reason", "seed_id", "sample_index", "detail"} for d in drops)
    assert drops[6]["detail"].startswith("bad_request")
    assert prompts[2].id in drops[4]["detail"]  # names the prompt that already has the combination

    by_id = {p.id: p for p in prompts}
    assert len(by_id) == len(prompts)
    for p in prompts:
        seed = next(s for s in seeds if s.id == p.seed_id)
        assert p.id == prompt_id(p.text)
        assert seed.persona in p.text and all(ex in p.text for ex in seed.examples)
        assert sum(f"<{tag}>" in p.text for tag in p.units) >= 2
    assert "- <CLAIM_TRACE>: does one thing (claim_trace)" in prompts[3].text

    # Every request asked for the schema, with the tag pattern and unit bounds.
    for request in fake_llm.requests:
        fmt = request.json["response_format"]
        assert fmt["type"] == "json_schema"
        schema = fmt["json_schema"]["schema"]["properties"]["units"]
        assert (schema["minItems"], schema["maxItems"]) == (2, 6)
        assert schema["items"]["properties"]["tag"]["pattern"] == TAG_PATTERN
        user = request.last_user_message
        assert "Do not use " + ", ".join(RESERVED_TAGS) in user
        assert any(s.persona in user for s in seeds)

    # Same inputs, same output: order and ids do not depend on which reply arrived first.
    again, again_drops = asyncio.run(go())
    assert again == prompts and again_drops == drops


def test_expand_prompts_with_all_seeds_keeps_ten_seed_prompts(fake_llm) -> None:  # type: ignore[no-untyped-def]
    seeds = load_seeds()
    fake_llm.set_default(lambda request: reply(_units_json("OBSERVATION", "PLAN", "ACTION")))

    async def go() -> tuple[list[AtomicPrompt], list[dict[str, Any]]]:
        async with _client(fake_llm) as client:
            return await expand_prompts(client, seeds, per_seed=1, seed=7)

    prompts, drops = asyncio.run(go())
    assert [p.source for p in prompts] == ["seed"] * 10 + ["expanded"]
    assert prompts[-1].seed_id == seeds[0].id  # the first seed in order gets the one new combination
    assert [d["reason"] for d in drops] == ["duplicate_combination"] * 9
    assert len({int(r.json["seed"]) for r in fake_llm.requests}) == 10
