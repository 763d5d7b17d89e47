"""RL data: pass rates over rollouts, DAPO dynamic-sampling drops, disjointness from SFT,
the saved dataset and its card. Rollouts are real WebDancer trajectories, repeated with
distinct sample indices (as several samples of one question are)."""

from __future__ import annotations

import dataclasses
import random
from collections import Counter
from pathlib import Path

import pytest
import yaml

from distill.agent.formats import read_jsonl
from distill.agent.trajectory import Trajectory
from train.dataset_card import CardInfo, render_card
from train.rl_data import RL_LAYOUT, rl_records, save_rl_dataset
from webdata import shared_path


@pytest.fixture(scope="module")
def questions() -> list[Trajectory]:
    """One trajectory per distinct question (the file repeats one question)."""
    seen: dict[str, Trajectory] = {}
    for t in read_jsonl(shared_path("webdancer", "sample_traj_20.jsonl"), "webdancer"):
        seen.setdefault(t.question_id, t)
    return list(seen.values())


def rollouts(base: Trajectory, k: int, *, start: int = 0, **changes: object) -> list[Trajectory]:
    return [dataclasses.replace(base, sample_index=start + i, **changes) for i in range(k)]


def verdicts(trajs: list[Trajectory], pattern: list[bool | None]) -> dict[str, bool | None]:
    assert len(trajs) == len(pattern)
    return {t.id: v for t, v in zip(trajs, pattern, strict=True)}


def test_pass_rates_and_drops(questions: list[Trajectory]) -> None:
    q = questions
    mixed = rollouts(q[0], 4)
    easy, hard, sft, lonely = rollouts(q[1], 3), rollouts(q[2], 3), rollouts(q[3], 4), rollouts(q[4], 1)
    unjudged = rollouts(q[5], 3)  # None = no answer to judge: wrong
    errored = rollouts(q[6], 2) + rollouts(q[6], 2, start=2, finish_reason="error")
    correct = {**verdicts(mixed, [True, False, False, False]), **verdicts(easy, [True] * 3),
               **verdicts(hard, [False] * 3), **verdicts(sft, [True, False, True, False]),
               **verdicts(lonely, [True]), **verdicts(unjudged, [True, None, None])}
    correct.update(verdicts(errored[:2], [True, False]))  # errored rollouts need no verdict: not counted
    records, drops = rl_records(mixed + easy + hard + sft + lonely + unjudged + errored, correct,
                                {q[3].question_id, "some-other-question"})
    assert drops == Counter(all_correct=1, all_wrong=1, in_sft=1, too_few_rollouts=1)
    by_q = {r["question_id"]: r for r in records}
    assert set(by_q) == {q[0].question_id, q[5].question_id, q[6].question_id}
    assert [r["question_id"] for r in records] == sorted(by_q)
    r = by_q[q[0].question_id]
    assert (r["k"], r["n_correct"], r["pass_rate"]) == (4, 1, 0.25)
    assert (by_q[q[5].question_id]["k"], by_q[q[5].question_id]["n_correct"]) == (3, 1)
    assert (by_q[q[6].question_id]["k"], by_q[q[6].question_id]["pass_rate"]) == (2, 0.5)
    # Without the difficulty filter (DEMO ONLY) the extremes stay, with their pass rates.
    unfiltered, drops = rl_records(mixed + easy + hard + sft + lonely + unjudged + errored, correct,
                                   {q[3].question_id}, difficulty_filter=False)
    assert drops == Counter(in_sft=1, too_few_rollouts=1)
    rates = {r["question_id"]: r["pass_rate"] for r in unfiltered}
    assert rates[q[1].question_id] == 1.0 and rates[q[2].question_id] == 0.0
    assert r["question"] == q[0].question and r["answer"] == q[0].reference and r["aliases"] == q[0].aliases
    # the prompt is what the agent saw before its first turn: WebDancer's system + tools-and-question user turn
    assert r["prompt"] == q[0].messages[:2] and [m["role"] for m in r["prompt"]] == ["system", "user"]
    assert "<tools>" in r["prompt"][1]["content"] and r["question"] in r["prompt"][1]["content"]
    assert (r["style"], r["prompt_id"], r["source_format"]) == ("short", "webdancer", "webdancer")


def test_min_rollouts_is_configurable(questions: list[Trajectory]) -> None:
    trajs = rollouts(questions[0], 3)
    correct = verdicts(trajs, [True, False, True])
    assert rl_records(trajs, correct, set(), min_rollouts=4)[1] == Counter(too_few_rollouts=1)
    assert len(rl_records(trajs, correct, set(), min_rollouts=3)[0]) == 1
    with pytest.raises(ValueError, match="min_rollouts"):
        rl_records(trajs, correct, set(), min_rollouts=0)


def test_missing_verdict_is_an_error(questions: list[Trajectory]) -> None:
    trajs = rollouts(questions[0], 2)
    with pytest.raises(ValueError, match=trajs[1].id):
        rl_records(trajs, {trajs[0].id: True}, set())


def test_records_are_disjoint_from_sft_and_independent_of_input_order(questions: list[Trajectory]) -> None:
    rng = random.Random(7)
    trajs: list[Trajectory] = []
    correct: dict[str, bool | None] = {}
    for i, base in enumerate(questions):
        group = rollouts(base, 4)
        trajs += group
        correct.update(verdicts(group, [True, False, i % 2 == 0, False]))  # every question mixed
    for _ in range(5):
        sft = {t.question_id for t in questions if rng.random() < 0.5}
        shuffled = trajs[:]
        rng.shuffle(shuffled)
        records, drops = rl_records(shuffled, correct, sft)
        got = {r["question_id"] for r in records}
        assert not got & sft
        assert got == {t.question_id for t in questions} - sft and drops["in_sft"] == len(sft)
        assert records == rl_records(trajs, correct, sft)[0]  # same prompt rollout whatever the order


def test_prompt_comes_from_the_preferred_style(questions: list[Trajectory]) -> None:
    base = questions[0]
    long_ = rollouts(base, 2, style="long")
    short = [dataclasses.replace(base, style="short", sample_index=5,
                                 messages=[{"role": "user", "content": "short-style question"}, *base.messages[2:]])]
    correct = verdicts(long_ + short, [True, False, False])
    (rec,), _ = rl_records(long_ + short, correct, set())
    assert rec["style"] == "short" and rec["prompt"] == [{"role": "user", "content": "short-style question"}]
    assert rec["k"] == 3  # every style's rollouts count towards the pass rate


def _rl_card(rows: int) -> str:
    return render_card(CardInfo(name="seekforge-rl", kind="rl", rows=rows, sources={"webdancer": 76},
                                styles={"short": 76}, models=["teacher"],
                                funnel_markdown="| stage | in | out |\n| --- | --- | --- |\n| rl_questions | 19 | 2 |"))


def test_save_and_load(tmp_path: Path, questions: list[Trajectory]) -> None:
    import datasets
    import pyarrow.parquet as pq
    from trl.data_utils import is_conversational

    trajs = rollouts(questions[0], 4) + rollouts(questions[1], 4)
    correct = verdicts(trajs, [True, False, False, False, True, True, True, False])
    records, _ = rl_records(trajs, correct, set())
    assert len(records) == 2
    card = _rl_card(len(records))
    paths = save_rl_dataset(records, tmp_path / "rl", card)
    ds = datasets.load_from_disk(str(paths["dataset"]))
    assert [dict(r) for r in ds] == records
    assert is_conversational(ds[0])  # TRL reads `prompt` as a conversational prompt
    assert pq.read_table(paths["parquet"]).to_pylist() == records
    text = paths["card"].read_text(encoding="utf-8")
    assert text == card
    meta = yaml.safe_load(text.split("---\n")[1])
    assert meta["license"] == "other" and "reinforcement-learning" in meta["tags"]
    assert [spec["path"] for c in meta["configs"] for spec in c["data_files"]] == [RL_LAYOUT["parquet"]]
    assert (tmp_path / "rl" / RL_LAYOUT["parquet"]).is_file()
    for needle in ("CC BY-SA 4.0", "CC0", "GitHub Terms of Service", "pass rate", "load_from_disk",
                   "| rl_questions | 19 | 2 |", "## Limitations"):
        assert needle in text, needle
    # an empty dataset (everything dropped) still saves and loads with its schema
    save_rl_dataset([], tmp_path / "rl", _rl_card(0))
    empty = datasets.load_from_disk(str(paths["dataset"]))
    assert empty.num_rows == 0 and empty.features == ds.features
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rl"]


def test_card_rejects_an_unknown_kind() -> None:
    with pytest.raises(ValueError, match="kind"):
        render_card(CardInfo(name="x", kind="dpo", rows=0))  # type: ignore[arg-type]


def test_question_split_keeps_one_question_text_on_one_side() -> None:
    from assets.datasets import question_split

    ids = [f"q{i}" for i in range(40)]
    texts = {q: f"Which year is question {int(q[1:]) % 10} about?" for q in ids}  # 4 ids per text
    split = question_split(ids, 0.5, "salt", texts=texts)
    by_text: dict[str, set[str]] = {}
    for q, side in split.items():
        by_text.setdefault(texts[q], set()).add(side)
    assert all(len(sides) == 1 for sides in by_text.values())
    assert set(split.values()) == {"sft", "rl"}


def test_question_split_is_stable_and_honours_a_minimum_rl_share() -> None:
    from assets.datasets import question_split

    ids = [f"q{i}" for i in range(6)]
    plain = question_split(ids, 0.0, "salt")
    assert set(plain.values()) == {"sft"}
    one = question_split(ids, 0.0, "salt", min_rl=1)
    assert sorted(one.values()).count("rl") == 1
    assert question_split(list(reversed(ids)) + ["q0"], 0.0, "salt", min_rl=1) == one  # order and repeats do not matter
    assert list(question_split(["only"], 0.0, "salt", min_rl=1).values()) == ["sft"]  # never every question
    # The minimum only lowers the threshold: it never moves questions the hash already holds out.
    assert question_split(ids, 0.5, "salt", min_rl=1) == question_split(ids, 0.5, "salt")


def test_prompt_style_takes_the_prompt_from_that_style(questions: list[Trajectory]) -> None:
    """Atom-Searcher's recipe: the RL prompt is the atomic rollout's system prompt (so the policy is
    asked for atomic thoughts), not the short one that sorts first; pass rates count every style."""
    from distill.agent.atomic import AtomicPrompt
    from distill.agent.styles import atomic_style, short_style

    tools = [{"type": "function", "function": {"name": "search", "parameters": {}}}]
    ap = AtomicPrompt(id="p1", seed_id="s1", text="Think in <PLAN> and <VERIFY> units.", units=["PLAN", "VERIFY"])
    atomic_system = atomic_style(tools, "2026-01-01", [ap]).prompts[0].text
    short_system = short_style(tools, "2026-01-01").prompts[0].text
    assert atomic_system != short_system

    def styled(base: Trajectory, style: str, system: str, start: int) -> list[Trajectory]:
        msgs = [{"role": "system", "content": system}] + [m for m in base.messages if m["role"] != "system"]
        return rollouts(base, 2, start=start, style=style, messages=msgs)  # the id hashes style and index

    both = styled(questions[0], "short", short_system, 0) + styled(questions[0], "atomic", atomic_system, 2)
    only_short = styled(questions[1], "short", short_system, 0)
    trajs = both + only_short
    correct = {t.id: i % 2 == 0 for i, t in enumerate(trajs)}
    records, drops = rl_records(trajs, correct, set(), prompt_style="atomic")
    assert drops == Counter(no_rollout_in_prompt_style=1)
    (r,) = records
    assert r["style"] == "atomic" and r["prompt"][0] == {"role": "system", "content": atomic_system}
    assert r["k"] == 4  # the pass rate is over both styles' rollouts
    # Without a style the first style in order gives the prompt (short), as before.
    default, _ = rl_records(trajs, correct, set())
    assert default[0]["prompt"][0]["content"] == short_system
    with pytest.raises(ValueError, match="unknown prompt style"):
        rl_records(trajs, correct, set(), prompt_style="atomc")
