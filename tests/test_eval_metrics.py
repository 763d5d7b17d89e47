"""Benchmark metrics (train.eval_metrics) and the versioned evaluation judge (train.eval_judge).

The EM / F1 reference is the official HotpotQA scorer as ``filters.metrics.score_official``
reproduces it (tests/test_metrics.py checks that against the official formulas on the same
files); pass@k is checked against enumerating every k-subset of the samples."""

from __future__ import annotations

import asyncio
import json
from fractions import Fraction
from itertools import combinations
from pathlib import Path

import polars as pl
import pytest

from distill.agent.trajectory import Step, Trajectory
from distill.llm.cache import RequestCache
from distill.llm.client import LLMClient
from distill.llm.roles import RoleConfig
from fake_llm_server import FakeLLMServer, RecordedRequest, Reply, Status, reply, status
from filters.metrics import score_official
from train import eval_judge
from train.benchmarks import BenchmarkRecord, load_benchmark
from train.eval_metrics import (
    WORDS,
    QuestionResult,
    TokenCounter,
    aggregate,
    behaviour,
    best_cover_em,
    pass_at_k,
    run_predictions,
    score_predictions,
    score_run,
    score_trajectories,
    tokenizer_counter,
)
from webdata import shared_path


def _rec(rid: str, *answers: str) -> BenchmarkRecord:
    return BenchmarkRecord(rid, f"question {rid}?", answers)


# --------------------------------------------------------------------------- EM / F1 = the official scorer


@pytest.fixture(scope="module")
def official() -> tuple[list[BenchmarkRecord], list[dict], dict]:
    gold_file = shared_path("qa", "hotpotqa", "dev_gold_subset121.json")
    pred_file = shared_path("qa", "hotpotqa", "dev_pred_subset121.json")
    return load_benchmark(gold_file), json.loads(gold_file.read_text("utf-8")), json.loads(pred_file.read_text("utf-8"))


def _official_means(records: list[BenchmarkRecord], answers: dict[str, str], variant: str = "hotpotqa") -> dict:
    results = [score_predictions(r, [answers.get(r.id)], variant=variant) for r in records]  # type: ignore[arg-type]
    return aggregate({"hotpotqa": results})[0]


@pytest.mark.parametrize("variant", ["hotpotqa", "deepresearcher"])
def test_em_f1_means_equal_the_official_script(official: tuple[list[BenchmarkRecord], list[dict], dict],
                                               variant: str) -> None:
    records, gold, pred = official
    ref = score_official(gold, pred, variant=variant)  # type: ignore[arg-type]
    row = _official_means(records, pred["answer"], variant)
    assert row["questions"] == ref["n"] == 121
    assert row["em"] == pytest.approx(ref["em"], abs=1e-12) and row["f1"] == pytest.approx(ref["f1"], abs=1e-12)
    assert 0 < row["em"] < row["f1"] < 1  # the real file has partial answers: F1 exercised, not only 0 / 1


def test_perturbed_and_missing_predictions_equal_the_official_script(
        official: tuple[list[BenchmarkRecord], list[dict], dict]) -> None:
    """Near misses exercise partial F1; every fifth prediction missing must score 0 and still count."""
    records, gold, _ = official
    answers = {}
    for i, d in enumerate(gold):
        a = d["answer"]
        if i % 5 != 4:
            answers[d["_id"]] = [a.upper(), f"the {a} band", a.split()[0], f"{a}, {a}", "yes", "no answer"][i % 6]
    ref = score_official(gold, {"answer": answers})
    row = _official_means(records, answers)
    assert row["em"] == pytest.approx(ref["em"], abs=1e-12) and row["f1"] == pytest.approx(ref["f1"], abs=1e-12)
    assert row["answer_rate"] == pytest.approx(len(answers) / 121)


# --------------------------------------------------------------------------- cover-EM


@pytest.mark.parametrize(("prediction", "answers", "want"), [
    ("It is the Epsom Derby.", ["Epsom Derby"], 1.0),
    ("Derbyshire", ["derby"], 0.0),  # whole tokens only
    ("Pari", ["Paris"], 0.0),
    ("They called it the City of Light", ["Paris", "City of Light"], 1.0),  # any alias
    ("three editions were printed", ["3"], 1.0),  # number words
    ("Derby Epsom", ["Epsom Derby"], 0.0),  # a contiguous span, in order
    ("", ["x"], 0.0),
])
def test_cover_em(prediction: str, answers: list[str], want: float) -> None:
    assert best_cover_em(prediction, answers) == want


def test_cover_em_scores_sentences_that_em_misses() -> None:
    result = score_predictions(_rec("q", "Epsom Derby"), ["The race was the **Epsom Derby**."])
    assert (result.em, result.cover_em) == (0.0, 1.0) and 0 < result.f1 < 1
    with pytest.raises(TypeError):
        best_cover_em("x", "x")  # type: ignore[arg-type]


# --------------------------------------------------------------------------- pass@k


def _brute_pass_at_k(n: int, c: int, k: int) -> Fraction:
    samples = [True] * c + [False] * (n - c)
    subsets = list(combinations(range(n), k))
    return Fraction(sum(any(samples[i] for i in s) for s in subsets), len(subsets))


def test_pass_at_k_equals_enumerating_every_subset() -> None:
    for n in range(1, 9):
        for c in range(n + 1):
            for k in range(1, n + 1):
                assert pass_at_k(n, c, k) == pytest.approx(float(_brute_pass_at_k(n, c, k)), abs=1e-15), (n, c, k)
    for bad in [(3, 1, 4), (3, 1, 0), (3, 4, 1), (3, -1, 1)]:
        with pytest.raises(ValueError):
            pass_at_k(*bad)


def test_pass_at_k_of_questions_and_table() -> None:
    preds = ["Paris", "Lyon", "paris", "Nice", "Marseille"]
    q = score_predictions(_rec("q1", "Paris"), preds)
    assert (q.samples, q.correct, q.em) == (5, 2, pytest.approx(0.4))
    assert q.pass_at(1) == pytest.approx(0.4) and q.pass_at(3) == pytest.approx(1 - 1 / 10)
    q2 = score_predictions(_rec("q2", "Rome"), ["It is Rome", "Rome, Italy", "Milan", "", None], criterion="cover_em")
    assert q2.correct == 2 and q2.answered == pytest.approx(0.6)
    q1c = score_predictions(_rec("q1", "Paris"), preds, criterion="cover_em")
    row = aggregate({"a": [q1c, q2]}, ks=(1, 3))[0]
    assert row["pass@1"] == pytest.approx((0.4 + 0.4) / 2)
    assert row["pass@3"] == pytest.approx(float(_brute_pass_at_k(5, 2, 3)))
    with pytest.raises(ValueError, match="pass@6 needs at least 6 samples"):
        aggregate({"a": [q1c, q2]}, ks=(6,))
    with pytest.raises(ValueError, match="different criteria"):
        aggregate({"a": [q, q2]})


# --------------------------------------------------------------------------- the table


def test_overall_row_is_the_micro_average_over_questions() -> None:
    big = [score_predictions(_rec(f"b{i}", "yes"), [p]) for i, p in enumerate(["yes", "yes", "yes", "no"])]
    small = [score_predictions(_rec("s0", "Ada Lovelace"), ["Lovelace"])]
    rows = aggregate({"big": big, "small": small}, ks=(1,))
    assert [r["benchmark"] for r in rows] == ["big", "small", "overall"]
    assert len({tuple(r) for r in rows}) == 1  # one set of keys, in one order
    everything = big + small
    overall = rows[-1]
    for key, attr in [("em", "em"), ("f1", "f1"), ("cover_em", "cover_em"), ("answer_rate", "answered")]:
        assert overall[key] == pytest.approx(sum(getattr(q, attr) for q in everything) / 5), key
    assert overall["em"] == pytest.approx(3 / 5) and overall["em"] != pytest.approx((rows[0]["em"] + 0.0) / 2)
    assert overall["f1"] == pytest.approx((3 + 2 / 3) / 5)  # "Lovelace" vs "Ada Lovelace": P 1, R 1/2
    assert (overall["questions"], overall["samples"], overall["pass@1"]) == (5, 5, pytest.approx(3 / 5))
    assert overall["format_valid"] is None and overall["judge_acc"] is None and overall["judge_prompt"] is None
    frame = pl.DataFrame(rows)
    assert frame.height == 3 and frame["benchmark"].to_list()[-1] == "overall"
    empty = aggregate({"none": []})
    assert empty[0]["questions"] == 0 and empty[0]["em"] is None and empty[1]["em"] is None
    with pytest.raises(ValueError, match="micro-average row"):
        aggregate({"overall": big})


def test_judge_counts_keep_missing_verdicts_apart() -> None:
    prompt = "eval_judge@v1:test"
    q1 = score_predictions(_rec("q1", "A"), ["a", "b", "c"], verdicts=[True, False, None], judge_prompt=prompt)
    q2 = score_predictions(_rec("q2", "B"), ["b", None], verdicts=[True, False], judge_prompt=prompt)
    assert (q1.judge_yes, q1.judge_no, q1.judge_missing) == (1, 1, 1)
    row = aggregate({"x": [q1, q2]})[0]
    assert row["judge_acc"] == pytest.approx(2 / 4)  # the missing verdict is neither right nor wrong
    assert (row["judge_judged"], row["judge_missing"], row["judge_prompt"]) == (4, 1, prompt)

    j1 = score_predictions(_rec("q1", "A"), ["a", "b", "c"], verdicts=[True, False, None], judge_prompt=prompt,
                           criterion="judge")
    j2 = score_predictions(_rec("q2", "B"), ["b", None], verdicts=[True, False], judge_prompt=prompt,
                           criterion="judge")
    assert j1.correct is None and j1.pass_at(1) is None and j2.correct == 1
    row = aggregate({"x": [j1, j2]})[0]
    assert row["pass@1"] == pytest.approx(0.5) and row["pass_undefined"] == 1
    with pytest.raises(ValueError, match="judge_prompt"):
        score_predictions(_rec("q1", "A"), ["a"], verdicts=[True])
    with pytest.raises(ValueError, match="1 verdicts for 2 samples"):
        score_predictions(_rec("q1", "A"), ["a", "b"], verdicts=[True], judge_prompt=prompt)
    with pytest.raises(ValueError, match="different prompts or not at all"):
        aggregate({"x": [q1, score_predictions(_rec("q3", "C"), ["c"])]})


# --------------------------------------------------------------------------- trajectories and behaviour

CALL = '<think>look it up</think>\n<tool_call>{"name": "search", "arguments": {"query": ["x"]}}</tool_call>'


def _traj(qid: str, answer: str, finish: str, turns: list[tuple[str, str, int]]) -> Trajectory:
    """``turns``: (assistant text, action, completion tokens) per step."""
    msgs = [{"role": "system", "content": "s"}, {"role": "user", "content": "q"}]
    steps = []
    for i, (text, action, tokens) in enumerate(turns):
        msgs += [{"role": "assistant", "content": text}, {"role": "tool", "content": "obs"}]
        think = text.split("<think>", 1)[1].split("</think>", 1)[0] if "<think>" in text else ""
        steps.append(Step(index=i, action=action, think=think, completion_tokens=tokens))
    return Trajectory(question_id=qid, question="q", messages=msgs, steps=steps, final_answer=answer,
                      finish_reason=finish)


def test_score_trajectories() -> None:
    record = _rec("q", "Ada Rinn", "A. Rinn")
    good = _traj("q", "A. Rinn", "answer", [(CALL, "search", 30), ("<think>found it</think>\n<answer>A. Rinn</answer>",
                                                                    "answer", 12)])
    cut = _traj("q", "Ada Rinn", "max_turns", [(CALL, "search", 30)])  # an answer text without finishing: none
    broken = _traj("q", "", "invalid", [("searching...", "invalid", 5)])
    result = score_trajectories(record, [good, cut, broken])
    assert (result.samples, result.correct) == (3, 1)
    assert result.em == pytest.approx(1 / 3) and result.answered == pytest.approx(1 / 3)
    assert result.valid_format == pytest.approx(1 / 3)
    assert aggregate({"t": [result]})[0]["format_valid"] == pytest.approx(1 / 3)
    with pytest.raises(ValueError, match="other questions"):
        score_trajectories(_rec("other", "x"), [good])


def test_score_run_groups_by_question_in_sample_order(caplog: pytest.LogCaptureFixture) -> None:
    records = [_rec("q1", "Lima"), _rec("q2", "Titan"), _rec("q3", "Oslo")]
    answer = "<think>ok</think><answer>{}</answer>"
    trajs = []
    for qid, sample, text in [("q2", 1, "Titan"), ("q1", 0, "Lima"), ("q2", 0, "Rhea"), ("q1", 1, "Lima")]:
        t = _traj(qid, text, "answer", [(answer.format(text), "answer", 3)])
        t.sample_index = sample
        trajs.append(t)
    assert [(r.id, p) for r, p in run_predictions(records, trajs)] == [
        ("q1", ["Lima", "Lima"]), ("q2", ["Rhea", "Titan"]), ("q3", [None])]
    prompt = "eval_judge@v1:test"
    verdicts = {"q1": [True, True], "q2": [False, None], "q3": [False]}
    with caplog.at_level("WARNING", logger="train.eval_metrics"):
        results = score_run(records, trajs, verdicts=verdicts, judge_prompt=prompt)
    assert "1 of 3 questions have no rollout" in caplog.text
    assert [(q.id, q.samples, q.correct, q.em) for q in results] == [("q1", 2, 2, 1.0), ("q2", 2, 1, 0.5),
                                                                     ("q3", 1, 0, 0.0)]
    assert [q.valid_format for q in results] == [1.0, 1.0, 0.0]
    assert [(q.judge_yes, q.judge_no, q.judge_missing) for q in results] == [(2, 0, 0), (0, 1, 1), (0, 1, 0)]
    row = aggregate({"x": results}, ks=(1,))[0]
    assert row["em"] == pytest.approx(1.5 / 3) and row["format_valid"] == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match="not in the benchmark"):
        score_run(records[:1], trajs)
    with pytest.raises(ValueError, match="no judge verdicts"):
        score_run(records, trajs, verdicts={"q1": [True, True]}, judge_prompt=prompt)


def test_behaviour_units_and_distribution() -> None:
    a = _traj("q", "x", "answer", [(CALL, "search", 30), (CALL, "visit", 20),
                                   ("<think>one two three</think><answer>x</answer>", "answer", 10)])
    b = _traj("q", "y", "answer", [("<think>hm</think><answer>y</answer>", "answer", 4)])
    stats = behaviour([a, b])
    assert stats.response_unit == "usage" and stats.thinking_unit == "words"
    assert stats.response_tokens.values == (60.0, 4.0)
    assert stats.thinking_tokens.values == (3 + 3 + 3.0, 1.0)  # "look it up" twice, "one two three"
    assert stats.tool_calls.values == (2.0, 0.0) and stats.turns.values == (3.0, 1.0)
    summary = stats.response_tokens.summary()
    assert summary == {"mean": 32.0, "p50": 32.0, "p90": pytest.approx(4 + 0.9 * 56), "max": 60.0}
    row = stats.row()
    assert row["trajectories"] == 2 and row["tool_calls_mean"] == 1.0 and row["turns_max"] == 3.0
    assert row["response_unit"] == "usage"

    no_usage = _traj("q", "z", "answer", [("<think>a b</think><answer>z</answer>", "answer", 0)])
    words = behaviour([a, no_usage])  # one step without usage: the whole run in words
    assert words.response_unit == "words"
    assert words.response_tokens.values[1] == float(len("<think>a b</think><answer>z</answer>".split()))

    class CharTokenizer:
        name_or_path = "chars"

        def encode(self, text: str, add_special_tokens: bool = True) -> list[int]:
            assert add_special_tokens is False
            return [ord(c) for c in text]

    chars = behaviour([no_usage], tokenizer_counter(CharTokenizer()))
    assert chars.response_unit == chars.thinking_unit == "tokens:chars"
    assert chars.response_tokens.values == (float(len("<think>a b</think><answer>z</answer>")),)
    assert chars.thinking_tokens.values == (3.0,)
    assert behaviour([], TokenCounter("x", len)).response_tokens.summary()["mean"] is None
    assert WORDS.count(" a  b ") == 2


# --------------------------------------------------------------------------- the evaluation judge


def test_judge_prompt_is_pinned_to_its_version(monkeypatch: pytest.MonkeyPatch) -> None:
    assert eval_judge.judge_prompt_id() == f"eval_judge@{eval_judge.EVAL_JUDGE_VERSION}:{eval_judge.EVAL_JUDGE_SHA}"
    monkeypatch.setattr(eval_judge, "EVAL_JUDGE_SHA", "000000000000")
    with pytest.raises(RuntimeError, match="set a new EVAL_JUDGE_VERSION"):
        eval_judge.judge_prompt_id()


def _grader(request: RecordedRequest) -> Reply | Status:
    user = request.last_user_message
    prediction = user.split("Prediction: ", 1)[1].split("\n", 1)[0]
    if prediction == "boom":
        return status(500)
    gold = user.split("Gold answer: ", 1)[1].split("\n", 1)[0]
    return reply(json.dumps({"correct": "yes" if gold.lower() in prediction.lower() else "no", "reason": "r"}))


def test_judge_runs_against_a_server(fake_llm: FakeLLMServer, tmp_path: Path) -> None:
    fake_llm.set_default(_grader)
    roles = {"judge": RoleConfig(name="judge", base_url=fake_llm.base_url, model="j", timeout_s=2.0,
                                 api_key_env="SEEKFORGE_TEST_UNSET_KEY")}
    capital, moon = _rec("c", "Paris", "City of Light"), _rec("m", "Titan")

    async def go() -> list[list[bool | None]]:
        async with LLMClient(roles, cache=RequestCache(tmp_path / "c.sqlite"), max_retries=0) as client:
            return await eval_judge.judge_runs(client, [(capital, ["paris", "Lyon", None]), (moon, ["boom", "titan"])])

    verdicts = asyncio.run(go())
    assert verdicts == [[True, False, False], [None, True]]  # no answer: wrong without a request; 500: no verdict
    assert fake_llm.count() == 4
    prompts = [r.last_user_message for r in fake_llm.requests]
    assert any("Gold answer: Paris\nAlso accepted: City of Light\nPrediction: Lyon" in p for p in prompts)
    result = score_predictions(moon, ["boom", "titan"], verdicts=verdicts[1], judge_prompt=eval_judge.judge_prompt_id())
    row = aggregate({"m": [result]})[0]
    assert (row["judge_acc"], row["judge_missing"]) == (1.0, 1) and row["judge_prompt"].startswith("eval_judge@v1:")


def test_question_result_is_plain_data() -> None:
    q = score_predictions(_rec("q", "A"), ["A"])
    assert isinstance(q, QuestionResult) and q.valid_format is None and q.judge_prompt == ""
    with pytest.raises(ValueError, match="no samples"):
        score_predictions(_rec("q", "A"), [])
    with pytest.raises(TypeError):
        score_predictions(_rec("q", "A"), "A")
