"""Which kept rollouts of a question reach SFT (``select``): the rule on crafted and real
WebDancer trajectories, then ``sft_dataset`` itself through Dagster on a scored table."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from assets.datasets import SFTDatasetConfig, sft_dataset
from assets.recipe import RecipeResource
from assets.resources import ModelsResource, StorageResource
from distill.agent.formats import read_jsonl
from distill.agent.trajectory import Trajectory
from filters.funnel import Funnel
from train.dataset_card import CardInfo, render_card
from train.sft_select import SELECTION_RULES, effort_stats, rank_key, select_rollouts, tool_calls
from trajectory_factory import answer, call, scored_table, traj
from webdata import shared_path

REPO = Path(__file__).resolve().parents[1]


def rollout(calls: int, *, seed: int, qid: str = "q1", tokens: int = 10, final: str = "Ada Brun",
            style: str = "short") -> Trajectory:
    """``calls`` distinct searches, then the answer; every turn wrote ``tokens`` completion tokens."""
    turns = [call(f"search number {i} for {qid}", query=[f"{qid} query {i}"]) for i in range(calls)]
    t = traj(*turns, answer("The page names the founder.", final), qid=qid, seed=seed, style=style)
    for s in t.steps:
        s.completion_tokens = tokens
        s.prompt_tokens = 100
    return t


def ids(trajs: list[Trajectory]) -> list[str]:
    return [t.id for t in trajs]


def test_fewest_tool_calls_keeps_the_correct_rollout_with_fewest_calls_per_question() -> None:
    three, one, two = rollout(3, seed=0), rollout(1, seed=1), rollout(2, seed=2)
    wrong = rollout(0, seed=3, final="Somebody Else")  # fewer calls, but not correct
    other = [rollout(4, seed=0, qid="q2"), rollout(2, seed=1, qid="q2", style="long")]
    trajs = [three, wrong, one, two, *other]
    assert [tool_calls(t) for t in trajs] == [3, 0, 1, 2, 4, 2]
    correct = {t.id: t is not wrong for t in trajs}
    assert ids(select_rollouts(trajs, "fewest_tool_calls", correct)) == [one.id, other[1].id]  # input order
    assert select_rollouts(trajs, "all", correct) == trajs
    # a question none of whose rollouts is correct (correctness only recorded) still gives its best one
    assert ids(select_rollouts([three, wrong], "fewest_tool_calls", {three.id: False, wrong.id: None})) == [wrong.id]
    # without verdicts every rollout counts as correct
    assert ids(select_rollouts([three, wrong, one], "fewest_tool_calls")) == [wrong.id]


def test_ties_are_broken_by_the_other_measure_then_the_id() -> None:
    cheap, costly = rollout(2, seed=0, tokens=5), rollout(2, seed=1, tokens=50)
    assert ids(select_rollouts([costly, cheap], "fewest_tool_calls")) == [cheap.id]
    wordy_few_calls, terse_many_calls = rollout(1, seed=2, tokens=400), rollout(3, seed=3, tokens=20)
    pool = [wordy_few_calls, terse_many_calls]
    assert ids(select_rollouts(pool, "fewest_tool_calls")) == [wordy_few_calls.id]
    assert ids(select_rollouts(pool, "shortest")) == [terse_many_calls.id]  # 4 turns x 20 < 2 x 400
    same_tokens = [rollout(1, seed=4, tokens=60), rollout(2, seed=5, tokens=40)]  # 120 tokens each
    assert ids(select_rollouts(same_tokens, "shortest")) == [same_tokens[0].id]  # then fewer calls
    twins = [rollout(1, seed=s) for s in (6, 7, 8)]
    winner = min(twins, key=lambda t: t.id)
    for order in (twins, twins[::-1]):
        assert ids(select_rollouts(order, "shortest")) == [winner.id]
        assert ids(select_rollouts(order, "fewest_tool_calls")) == [winner.id]
    with pytest.raises(ValueError, match="unknown selection"):
        select_rollouts(twins, "longest")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="does not rank"):
        rank_key(twins[0], "all")


def test_real_webdancer_rollouts_one_per_question() -> None:
    """Imported trajectories record no tokens: shortest comes down to fewer tool calls there."""
    webdancer = read_jsonl(shared_path("webdancer", "sample_traj_20.jsonl"), "webdancer")
    by_q: dict[str, list[Trajectory]] = {}
    for i, t in enumerate(webdancer):  # the file repeats questions: distinct sample indices, as K samples have
        by_q.setdefault(t.question_id, []).append(dataclasses.replace(t, sample_index=i))
    trajs = [t for ts in by_q.values() for t in ts]
    for select in ("fewest_tool_calls", "shortest"):
        kept = select_rollouts(trajs, select)  # type: ignore[arg-type]
        assert sorted(t.question_id for t in kept) == sorted(by_q)
        for t in kept:
            assert tool_calls(t) == min(tool_calls(o) for o in by_q[t.question_id])
    stats = effort_stats(trajs)
    assert stats.rollouts == len(trajs) and stats.questions == len(by_q) and stats.mean_completion_tokens == 0.0
    assert stats.mean_tool_calls == round(sum(tool_calls(t) for t in trajs) / len(trajs), 2) > 0


def test_card_states_the_rule_and_the_effort() -> None:
    rows = [effort_stats([rollout(3, seed=0), rollout(1, seed=1)]).row("kept"),
            effort_stats([rollout(1, seed=1)]).row("selected")]
    card = render_card(CardInfo(name="x", kind="sft", rows=1, selection="fewest_tool_calls", selection_effort=rows))
    assert "## Selection" in card and "Rule `fewest_tool_calls`: " + SELECTION_RULES["fewest_tool_calls"] in card
    assert "| kept | 2 | 1 | 2.0 | 30.0 | 300.0 |" in card and "| selected | 1 | 1 | 1.0 | 20.0 | 200.0 |" in card
    assert "Rule `all`" in render_card(CardInfo(name="x", kind="sft", rows=1))
    assert "## Selection" not in render_card(CardInfo(name="x", kind="rl", rows=1))


# ---------------------------------------------------------------------------
# sft_dataset through Dagster
# ---------------------------------------------------------------------------

def materialize_sft(data: Path, scored: pl.DataFrame, select: str) -> dg.ExecuteInProcessResult:
    (data / "filters").mkdir(parents=True)
    scored.write_parquet(data / "filters" / "scored_trajectories.parquet")
    cache = os.environ.get("SEEKFORGE_MODEL_CACHE") or str(REPO / "data" / "models" / "base")
    return dg.materialize(
        [sft_dataset],
        resources={"storage": StorageResource(data_dir=str(data)), "models": ModelsResource(cache_dir=cache),
                   "recipe": RecipeResource()},
        run_config={"ops": {"sft_dataset": {"config": {"select": select, "rl_fraction": 0.0}}}},
    )


def test_an_unknown_rule_is_a_config_error() -> None:
    assert SFTDatasetConfig().select == "all"  # the filters' decision alone unless a run asks for more
    assert SFTDatasetConfig(select="shortest").select == "shortest"
    with pytest.raises(Exception, match="fewest_tool_calls"):
        SFTDatasetConfig(select="fewest_calls")  # type: ignore[arg-type]


@pytest.mark.usefixtures("embedded_model")
def test_sft_dataset_with_fewest_tool_calls_keeps_one_rollout_per_question(tmp_path: Path) -> None:
    """The acceptance test: one rollout per question, the one with the fewest calls among the correct ones."""
    three, one, two = rollout(3, seed=0), rollout(1, seed=1, style="long"), rollout(2, seed=2)
    wrong_but_kept = rollout(0, seed=3, final="Somebody Else")  # correctness recorded, not enforced (DEMO ONLY)
    dropped = rollout(0, seed=4)  # correct, fewer calls, but the filters dropped it
    q2 = [rollout(4, seed=0, qid="q2"), rollout(2, seed=1, qid="q2"), rollout(2, seed=2, qid="q2", tokens=3)]
    rows = [(three, True, True), (wrong_but_kept, True, False), (one, True, True), (two, True, True),
            (dropped, False, True), *((t, True, True) for t in q2)]
    result = materialize_sft(tmp_path / "fewest", scored_table(rows), "fewest_tool_calls")
    assert result.success
    data = tmp_path / "fewest"
    sft = pl.read_parquet(data / "datasets" / "sft" / "parquet" / "conversational.parquet")
    assert sorted(sft["question_id"].to_list()) == ["q1", "q2"]
    assert set(sft["id"].to_list()) == {one.id, q2[2].id}
    tok = pl.read_parquet(data / "datasets" / "sft" / "parquet" / "tokenized.parquet")
    assert set(tok["id"].to_list()) == {one.id, q2[2].id}

    funnel = Funnel.from_rows(pl.read_parquet(data / "datasets" / "sft_funnel.parquet").to_dicts()).to_dict()
    assert funnel["sft_select"] == {"in": 7, "kept": 2, "drops": {"not_selected": 5}}
    assert list(funnel)[-2:] == ["sft_select", "sft_records"]
    selection = pl.read_parquet(data / "datasets" / "sft_selection.parquet")
    assert selection.height == 7 and dropped.id not in selection["id"].to_list()
    assert set(selection.filter(pl.col("selected"))["id"].to_list()) == {one.id, q2[2].id}
    assert dict(zip(selection["id"].to_list(), selection["tool_calls"].to_list(), strict=True))[three.id] == 3
    mat = result.asset_materializations_for_node("sft_dataset")[0]
    meta = mat.metadata
    assert meta["select"].value == "fewest_tool_calls"
    effort = meta["selection_effort"].value
    assert "| selected | 2 | 2 | 1.5 |" in effort and "| kept (in the recipe's styles) | 7 | 2 | 2.0 |" in effort
    card = (data / "datasets" / "sft" / "README.md").read_text()
    assert "Rule `fewest_tool_calls`" in card and "| sft_select | 7 | 5 | 2 | not_selected 5 |" in card

    everything = materialize_sft(tmp_path / "all", scored_table(rows), "all")
    assert everything.success
    sft_all = pl.read_parquet(tmp_path / "all" / "datasets" / "sft" / "parquet" / "conversational.parquet")
    assert sorted(sft_all["id"].to_list()) == sorted(t.id for t, keep, _ in rows if keep)
