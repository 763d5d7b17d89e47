"""Reward arithmetic (Atom-Searcher curriculum blend, format penalty), the TRL-shaped reward
functions, and RRM output parsing."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from distill.rrm import parse_scores
from train.rewards import (
    aggregate_atr,
    atom_searcher_blend,
    atom_searcher_reward,
    check_format,
    curriculum_alpha,
    outcome_f1,
    webdancer_blend,
    webdancer_reward,
)

TOOLS = frozenset({"search", "visit"})
CALL = '<think>look it up</think>\n<tool_call>{"name": "search", "arguments": {"query": ["x"]}}</tool_call>'
ANSWER = "<think>found it</think>\n<answer>Paris</answer>"


def test_alpha_decays_linearly_to_zero() -> None:
    assert curriculum_alpha(0, 100) == 0.5
    assert curriculum_alpha(50, 100) == pytest.approx(0.25)
    assert curriculum_alpha(100, 100) == 0.0
    assert curriculum_alpha(150, 100) == 0.0 and curriculum_alpha(0, 10, alpha0=0.8) == 0.8
    with pytest.raises(ValueError):
        curriculum_alpha(0, 0)


def test_blend_and_format_penalty() -> None:
    assert atom_searcher_blend(False, 1.0, 1.0, 0.5) == -1.0
    assert atom_searcher_blend(True, 0.4, 0.8, 0.5) == pytest.approx(0.6)
    assert atom_searcher_blend(True, 0.4, 0.8, 0.0) == pytest.approx(0.4)
    assert atom_searcher_blend(True, 0.4, None, 0.5) == pytest.approx(0.4)  # no usable RRM grade: outcome only
    assert webdancer_blend(True, True) == pytest.approx(1.0) and webdancer_blend(True, False) == pytest.approx(0.1)
    assert webdancer_blend(False, False) == 0.0


def test_trl_shaped_rewards_read_columns_and_the_trainer_state() -> None:
    """Called as GRPOTrainer calls a reward function: completions plus keyword columns."""
    conversation = [{"role": "assistant", "content": CALL}, {"role": "user", "content": "<tool_response>x"},
                    {"role": "assistant", "content": ANSWER}]
    graded: list[str] = []

    def rrm(items):  # type: ignore[no-untyped-def]
        graded.extend(q for q, _, _ in items)
        return [[1.0] * len(units) for _, units, _ in items]

    metrics: dict[str, float] = {}
    stats: dict[str, int] = {}
    out = atom_searcher_reward([conversation, "no tags"], prompts=["p", "p"], answer=["Lutetia", "Paris"],
                               aliases=[["Paris"], None], question=["q0", "q1"],
                               thoughts=[["look it up", "found it"], ["x"]], observations=[["obs"], []],
                               trainer_state=SimpleNamespace(global_step=3, max_steps=4), scorer=rrm, stats=stats,
                               tool_names=TOOLS, log_metric=metrics.__setitem__)
    assert out == [pytest.approx(0.125 * 1.0 + 0.875 * 1.0), -1.0]
    assert graded == ["q0"] and stats == {"atr_asked": 1, "atr_graded": 1}  # broken rollouts are not graded
    assert metrics["reward/alpha"] == pytest.approx(0.125) and metrics["reward/valid"] == 0.5
    assert atom_searcher_reward(["<think>a</think><answer>Paris</answer>"], answer=["Paris"], max_steps=10) == [1.0]
    with pytest.raises(ValueError, match="question and thoughts"):
        atom_searcher_reward(["x"], answer=["y"], scorer=rrm)
    assert webdancer_reward([conversation, conversation], answer=["Paris", "Rome"], tool_names=TOOLS) == [
        pytest.approx(1.0), pytest.approx(0.1)]


def test_format_validity() -> None:
    assert check_format([CALL, ANSWER], TOOLS).valid and check_format([CALL, ANSWER], TOOLS).answer == "Paris"
    assert check_format([ANSWER], TOOLS).valid
    bad = {
        "no_answer": [CALL],
        "turn0:answer_before_end": [ANSWER, ANSWER],
        "turn0:think_after_action": ["<answer>Paris</answer><think>hm</think>"],
        "turn0:nested_answer": ["<think>hm\n<answer>Paris</answer>"],
        "turn0:unclosed_answer": ["<think>hm</think>\n<answer>Paris"],
        "turn0:unknown_tool": ['<think>a</think><tool_call>{"name": "shell", "arguments": {}}</tool_call>', ANSWER],
        "turn0:bad_json": ['<think>a</think><tool_call>{"name": search}</tool_call>', ANSWER],
        "turn0:self_observation": [CALL + "<tool_response>made up</tool_response>", ANSWER],
        "no_turns": [],
    }
    for reason, turns in bad.items():
        verdict = check_format(turns, TOOLS)
        assert not verdict.valid and verdict.reason == reason, (reason, verdict)


def test_outcome_f1_uses_aliases() -> None:
    assert outcome_f1("the city of Paris", "Paris") == pytest.approx(2 * 1 / (4 + 1))
    assert outcome_f1("Lutetia", "Paris", ["Lutetia"]) == 1.0
    assert outcome_f1("", "Paris") == 0.0


def test_atr_aggregation_skips_ungraded() -> None:
    assert aggregate_atr([0.2, None, 0.8]) == pytest.approx(0.5)
    assert aggregate_atr([None, None]) is None
    assert aggregate_atr([0.2, 0.8], "min") == 0.2
    assert aggregate_atr([0.0, 1.0], "late_weighted") == pytest.approx(2 / 3)
    with pytest.raises(ValueError):
        aggregate_atr([0.5], "max")  # type: ignore[arg-type]


def test_rrm_parsing_is_robust() -> None:
    ok = parse_scores(json.dumps({"scores": [{"index": 2, "score": 0.9, "rationale": "good"},
                                             {"index": 1, "score": 1.7, "rationale": "x"}]}), 3)
    assert ok.scores == [1.0, 0.9, None] and ok.error == "partial" and ok.rationales[1] == "good"
    assert parse_scores('{"scores": [0.1, 0.3]}', 2).scores == [0.1, 0.3]
    lines = parse_scores("[1] 0.5 sensible\n[2]: 0.25 weak", 2)
    assert lines.scores == [0.5, 0.25] and lines.error == ""
    for junk in (None, "", "I think they are all fine", '{"scores": "high"}', '{"scores": [{"score": "NaN?"}]}'):
        parsed = parse_scores(junk, 2)
        assert parsed.scores == [None, None] and parsed.error == "malformed", junk
    truncated = parse_scores('{"scores": [{"index": 1, "score": 0.7, "rationale": "fi', 2)
    assert truncated.scores[1] is None
    assert aggregate_atr(parse_scores("nonsense", 3).scores) is None


def test_rrm_schema_asks_for_one_score_per_thought() -> None:
    from distill.rrm import RRM_SCHEMA, rrm_schema

    schema = rrm_schema(3)
    assert schema["properties"]["scores"]["minItems"] == 3 == schema["properties"]["scores"]["maxItems"]
    assert "minItems" not in RRM_SCHEMA["properties"]["scores"]  # the shared constant is not modified
    assert schema["required"] == ["scores"]
