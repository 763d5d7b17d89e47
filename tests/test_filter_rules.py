"""Every rule filter on crafted trajectories (WebDancer §3.3 rules, REFERENCE §6)."""

from __future__ import annotations

from filters.rules import (
    ANSWER_NOT_MATCHED,
    JUDGE_REJECTED,
    RuleSettings,
    check_bounds,
    check_correctness,
    check_repetition,
    check_validity,
    max_ngram_count,
    tag_problem,
)
from trajectory_factory import answer, call, good, traj

TEN = "alpha beta gamma delta epsilon zeta eta theta iota kappa"


def test_good_trajectory_passes_every_rule() -> None:
    t = good()
    assert check_validity(t) == [] and check_repetition(t) == [] and check_bounds(t) == []
    c = check_correctness(t)
    assert (c.reasons, c.f1, c.em, c.rule_correct) == ([], 1.0, 1.0, True)


def _ngram_traj(repeats: int):  # type: ignore[no-untyped-def]
    # The phrase is spread over separate thoughts with distinct filler, so only the 10-gram repeats.
    turns = [call(f"step {i} {TEN} filler{i}", query=[f"q{i}"]) for i in range(repeats)]
    return traj(*turns, answer("done", "Ada Brun"))


def test_ten_gram_at_exactly_four_repeats_is_kept_and_five_dropped() -> None:
    assert max_ngram_count(" ".join([TEN] * 1), 10) == 1
    four, five = _ngram_traj(4), _ngram_traj(5)
    assert "repeated_ngram" not in check_repetition(four)
    assert "repeated_ngram" in check_repetition(five)
    # observations may repeat a phrase: only model-written text counts
    t = traj(call("look"), answer("done", "Ada Brun"), observation=" ".join([TEN] * 9))
    assert "repeated_ngram" not in check_repetition(t)
    assert "repeated_ngram" in check_repetition(five, RuleSettings(max_ngram_repeats=4))
    assert "repeated_ngram" not in check_repetition(five, RuleSettings(max_ngram_repeats=5))


def test_repeated_tool_call_and_redundant_thoughts() -> None:
    same = traj(call("first look", query=["skerry founder"]), call("second look", query=["skerry founder"]),
                answer("ok", "Ada Brun"))
    assert check_repetition(same) == ["repeated_tool_call"]
    thought = "I should look for the founder of the Skerry Institute on the official history page."
    redundant = traj(call(thought, query=["a"]), call(thought + "!", query=["b"]), answer("ok", "Ada Brun"))
    assert check_repetition(redundant) == ["redundant_thought"]
    short = traj(call("Search.", query=["a"]), call("Search!", query=["b"]), answer("ok", "Ada Brun"))
    assert check_repetition(short) == []  # short thoughts may look alike


def test_validity_reasons() -> None:
    # Reasons are constants; the detail is in the record (finish_reason, the steps, tag_problem).
    unfinished = traj(call("look"))
    assert check_validity(unfinished) == ["not_finished"] and unfinished.finish_reason == "max_turns"
    misordered = traj("<answer>Ada</answer><think>hm</think>")
    assert "bad_tags" in check_validity(misordered)
    assert tag_problem(misordered.messages[-1]["content"]) == "think_after_action"
    unbalanced = traj(call("look"), "<think>ok\n<answer>Ada Brun</answer>")
    assert "bad_tags" in check_validity(unbalanced)
    assert tag_problem(unbalanced.messages[-1]["content"]) == "nested_answer"
    bad_json = traj('<think>x</think>\n<tool_call>{"name": search}</tool_call>', answer("ok", "Ada Brun"))
    assert "invalid_action" in check_validity(bad_json) and bad_json.steps[0].invalid_reason == "bad_json"
    unknown = traj(call("x", name="shell", cmd="ls"), answer("ok", "Ada Brun"))
    assert "invalid_action" in check_validity(unknown)
    selfobs = traj(call("x") + "\n<tool_response>I made this up</tool_response>", answer("ok", "Ada Brun"))
    assert "self_observation" in check_validity(selfobs)
    assert tag_problem("<think>a</think><tool_call>{}</tool_call>") == ""
    assert tag_problem("<think>a</think></think>") == "unbalanced_think"
    assert tag_problem("<think>a</think><think>b</think><answer>x</answer>") == "multiple_think"


def test_bounds() -> None:
    no_tools = traj(answer("I know this", "Ada Brun"))
    assert check_bounds(no_tools) == ["too_few_tool_calls"]
    assert check_bounds(no_tools, RuleSettings(min_tool_calls=0)) == []
    many = traj(*[call(f"look {i}", query=[f"q{i}"]) for i in range(4)], answer("ok", "Ada Brun"))
    assert check_bounds(many, RuleSettings(max_tool_calls=3)) == ["too_many_tool_calls"]
    assert check_bounds(many, RuleSettings(max_steps=4)) == ["too_many_steps"]


def test_correctness_with_aliases_and_judge() -> None:
    t = good(final="Brun")
    c = check_correctness(t)
    assert c.reasons == [ANSWER_NOT_MATCHED] and abs(c.f1 - 2 / 3) < 1e-9 and c.em == 0.0
    assert c.rule_correct is False and c.judge is None
    aliased = traj(call("look"), answer("ok", "A. Brun"), aliases=("A. Brun",))
    assert check_correctness(aliased).reasons == []
    # a sentence answer: F1 is low (recorded), the span carries the verdict
    sentence = good(final="The institute was founded in 1901 by **Ada Brun**, a geologist from Oslo.")
    c = check_correctness(sentence)
    assert c.reasons == [] and c.f1 < 0.5 and c.rule is not None and c.rule.how == "bold"
    # the judge decides when it answered; the rule verdict is still returned beside it
    rejected = check_correctness(good(), verdict=False)
    assert rejected.reasons == [JUDGE_REJECTED] and rejected.rule_correct is True and rejected.judge is False
    overruled = check_correctness(t, verdict=True)
    assert overruled.reasons == [] and overruled.rule_correct is False and overruled.judge is True
    assert check_correctness(good(), verdict=None).reasons == []  # no verdict is not a rejection
    no_ref = traj(call("look"), answer("ok", "whatever"), reference="")
    c = check_correctness(no_ref)
    assert (c.reasons, c.f1, c.em, c.rule) == ([], None, None, None)
    assert check_correctness(no_ref, verdict=False).reasons == [JUDGE_REJECTED]
    # F1 >= f1_threshold stays a sufficient condition; 0 keeps every answer
    assert check_correctness(t, RuleSettings(f1_threshold=0.6)).rule.how == "f1"  # type: ignore[union-attr]
