"""The optional entity-coverage reward term (E-GRPO): path entities of QA pairs, the coverage
and its blend into both rewards, the RL dataset carrying the entities, and alpha 0 changing nothing."""

from __future__ import annotations

import itertools
from pathlib import Path
from types import SimpleNamespace

import dagster as dg
import polars as pl
import pytest

from assets.datasets import rl_dataset
from assets.recipe import RECIPE_RL_FIELDS, RecipeResource
from assets.resources import StorageResource
from distill.records import qa_frame
from train.rewards import (
    WEBDANCER_FORMAT_WEIGHT,
    atom_searcher_reward,
    entity_coverage,
    entity_credit,
    rollout_coverages,
    webdancer_reward,
)
from train.rl_data import PATH_ENTITIES, path_entities, rl_records, save_rl_dataset
from train.rl_runner import RLSettings, RolloutReward, load_rl_prompts
from trajectory_factory import answer, call, scored_table, traj

TOOLS = frozenset({"search", "visit"})
PATH = ["Orsund", "Kaldberg"]
SEARCH_ORSUND = call("The town is Orsund; next its founder.", query=["Orsund founder"])
SEARCH_VAGUE = call("Search the question.", query=["iron bridge town"])


def rollout(*turns: str) -> list[str]:
    return list(turns)


# ---------------------------------------------------------------------------
# the term
# ---------------------------------------------------------------------------

def test_coverage_counts_whole_entities_in_what_the_model_wrote() -> None:
    assert entity_coverage([SEARCH_ORSUND, answer("so", "Bo Lind")], PATH) == 0.5
    assert entity_coverage(["<think>KALDBERG and orsund.</think>"], PATH) == 1.0
    assert entity_coverage(["Orsundberg, Kald berg"], PATH) == 0.0  # whole tokens only
    assert entity_coverage(["Orsund"], []) is None and entity_coverage(["Orsund"], None) is None
    assert entity_coverage(["Velde"], ["Velde (river)"]) == 0.0  # entities arrive cleaned (page_entity)
    # coverage reads the turns given: observations are not passed, so a dumped search result earns nothing
    assert rollout_coverages([[SEARCH_VAGUE, answer("x", "Bo")]], [PATH], [True], 0.3) == [0.0]
    assert rollout_coverages([[SEARCH_ORSUND]], [PATH], [False], 0.3) == [None]  # broken format: no credit
    assert rollout_coverages([[SEARCH_ORSUND]], None, [True], 0.0) == [None]  # off: the column is not needed
    with pytest.raises(ValueError, match="path_entities column"):
        rollout_coverages([[SEARCH_ORSUND]], None, [True], 0.3)


def test_credit_fills_part_of_the_gap_and_never_reaches_a_correct_answer() -> None:
    assert entity_credit(0.0, 0.5, 0.3) == pytest.approx(0.15)
    assert entity_credit(0.5, 1.0, 0.3) == pytest.approx(0.65)
    assert entity_credit(1.0, 1.0, 0.3) == 1.0 and entity_credit(0.2, None, 0.3) == 0.2
    for outcome, coverage, alpha in itertools.product([0.0, 0.3, 0.9, 0.999], [0.0, 0.5, 1.0], [0.0, 0.3, 0.99]):
        credited = entity_credit(outcome, coverage, alpha)
        assert outcome <= credited < 1.0
        assert credited == pytest.approx(outcome + alpha * coverage * (1 - outcome))
    for bad in (1.0, -0.1, 1.5):
        with pytest.raises(ValueError, match=r"\[0, 1\)"):
            entity_credit(0.0, 1.0, bad)
        with pytest.raises(ValueError, match=r"\[0, 1\)"):
            RolloutReward(RLSettings(entity_reward_alpha=bad), ["search"], None)


def test_blend_into_each_reward() -> None:
    turns = [rollout(SEARCH_ORSUND, answer("Found it.", "Ada Rinn")),  # correct
             rollout(SEARCH_ORSUND, answer("A guess.", "Bo Lind")),  # wrong, named Orsund: coverage 1/2
             rollout(SEARCH_VAGUE, answer("A guess.", "Bo Lind")),  # wrong, named nothing
             rollout(answer("Orsund Kaldberg", "Bo Lind"), SEARCH_ORSUND)]  # broken format (answer first)
    kw = dict(answer=["Ada Rinn"] * 4, turns=turns, path_entities=[PATH] * 4, tool_names=TOOLS)
    completions = [None] * 4
    atom = atom_searcher_reward(completions, entity_alpha=0.3, **kw)
    assert atom == [1.0, pytest.approx(0.15), 0.0, -1.0]
    dancer = webdancer_reward(completions, entity_alpha=0.3, **kw)
    assert dancer == [pytest.approx(1.0), pytest.approx(0.1 + 0.9 * 0.15), pytest.approx(0.1), 0.0]
    # the best a wrong webdancer answer can get stays below a correct one's
    everything = rollout(call("Orsund and Kaldberg", query=["Orsund Kaldberg"]), answer("guess", "Bo"))
    best_wrong = webdancer_reward([None], answer=["Ada Rinn"], turns=[everything], path_entities=[PATH],
                                  entity_alpha=0.99, tool_names=TOOLS)[0]
    assert best_wrong == pytest.approx(WEBDANCER_FORMAT_WEIGHT + 0.9 * 0.99) and best_wrong < 1.0
    # with an RRM, the credited outcome replaces F1 in alpha_T * ATR + (1 - alpha_T) * outcome
    half = atom_searcher_reward(completions[:2], entity_alpha=0.3, question=["q"] * 2,
                                thoughts=[["t"], ["t"]], scorer=lambda items: [[0.5] for _ in items],
                                trainer_state=SimpleNamespace(global_step=0, max_steps=10),
                                **{k: v[:2] if isinstance(v, list) else v for k, v in kw.items()})
    assert half == [pytest.approx(0.5 * 0.5 + 0.5 * 1.0), pytest.approx(0.5 * 0.5 + 0.5 * 0.15)]
    metrics: dict[str, float] = {}
    webdancer_reward(completions, entity_alpha=0.3, log_metric=metrics.__setitem__, **kw)
    assert metrics["reward/entity_coverage"] == pytest.approx((0.5 + 0.5 + 0.0) / 3)  # the valid rollouts


def test_alpha_zero_leaves_every_reward_unchanged() -> None:
    turns = [rollout(SEARCH_ORSUND, answer("so", "Ada Rinn")), rollout(SEARCH_ORSUND, answer("so", "Ada")),
             rollout(SEARCH_VAGUE, answer("so", "Bo")), rollout(answer("x", "Ada Rinn"), SEARCH_ORSUND)]
    base = dict(answer=["Ada Rinn"] * 4, turns=turns)
    for reward in (atom_searcher_reward, webdancer_reward):
        plain = reward([None] * 4, tool_names=TOOLS, **base)
        assert reward([None] * 4, tool_names=TOOLS, path_entities=[PATH] * 4, entity_alpha=0.0, **base) == plain
        assert reward([None] * 4, tool_names=TOOLS, path_entities=[PATH] * 4, **base) == plain  # the default is off
        assert reward([None] * 4, tool_names=TOOLS, path_entities=[PATH] * 4, entity_alpha=0.3, **base) != plain
    assert RLSettings().entity_reward_alpha == 0.0 and "entity_reward_alpha" in RECIPE_RL_FIELDS
    for name in ("atom_searcher", "webdancer"):
        bound = RolloutReward(RLSettings(reward=name), ["search", "visit"], None)  # type: ignore[arg-type]
        with_column = bound([None] * 4, [None] * 4, tool_calls=[1] * 4, path_entities=[PATH] * 4, **base)
        reward = atom_searcher_reward if name == "atom_searcher" else webdancer_reward
        assert with_column == reward([None] * 4, tool_names=TOOLS, **base)
        on = RolloutReward(RLSettings(reward=name, entity_reward_alpha=0.3),  # type: ignore[arg-type]
                           ["search", "visit"], None)
        credited = on([None] * 4, [None] * 4, tool_calls=[1] * 4, path_entities=[PATH] * 4, **base)
        assert credited[1] > with_column[1]  # wrong, named Orsund: credit
        assert (credited[0], credited[2], credited[3]) == (with_column[0], with_column[2], with_column[3])


# ---------------------------------------------------------------------------
# path entities of QA pairs
# ---------------------------------------------------------------------------

U = "https://en.wikipedia.org/wiki/"
TITLES = {U + "Vardel_Systems": "Vardel Systems", U + "Orsund": "Orsund", U + "Velde_(river)": "Velde (river)",
          U + "Sorvik_Institute": "Sorvik Institute", U + "Tessholm": "Tessholm", U + "Kaldberg": "Kaldberg"}
QA = [
    {"id": "c1", "origin": "crawlqa", "round": 0, "hops": 3, "answer": "Velde", "aliases": ["Velde river"],
     "question": "Which river flows past the town where Vardel Systems was founded?",
     "evidence_urls": [U + "Vardel_Systems", U + "Orsund", U + "Velde_(river)"]},
    {"id": "s1", "origin": "crawlqa", "round": 0, "hops": 1, "question": "Who founded the Sorvik Institute?",
     "answer": "Edda Varnholt", "evidence_urls": [U + "Sorvik_Institute"]},
    {"id": "e1", "origin": "e2hqa", "round": 1, "root_id": "s1", "parent_id": "s1", "answer": "Edda Varnholt",
     "entity_replaced": "Sorvik Institute", "question": "Who founded the research institute in Tessholm?",
     "evidence_urls": [U + "Sorvik_Institute", U + "Kaldberg"]},  # E2HQA's evidence adds search hits: not the path
    {"id": "e2", "origin": "e2hqa", "round": 2, "root_id": "s1", "parent_id": "e1", "answer": "Edda Varnholt",
     "entity_replaced": "Tessholm",
     "question": "Who founded the research institute in the capital of Arvenland?",
     "evidence_urls": [U + "Sorvik_Institute", U + "Kaldberg", U + "Tessholm"]},
]


def test_path_entities_of_crawlqa_chains_and_e2hqa_rounds() -> None:
    records = {r["id"]: r for r in QA}
    # Vardel Systems is named in the question, Velde is the answer: the town in between is the path
    assert path_entities("c1", records, TITLES) == ["Orsund"]
    assert path_entities("s1", records, TITLES) == []  # its one page is named in the question
    assert path_entities("e1", records, TITLES) == ["Sorvik Institute"]  # Tessholm is still named
    assert path_entities("e2", records, TITLES) == ["Sorvik Institute", "Tessholm"]  # round order, deduplicated
    assert path_entities("unknown", records, TITLES) == []
    # an E2HQA pair whose seed is not a QA record (a seed file) keeps its hidden entities
    assert path_entities("e2", {k: v for k, v in records.items() if k != "s1"}, TITLES) == [
        "Sorvik Institute", "Tessholm"]
    looped = {"a": {**records["e2"], "id": "a", "parent_id": "b"}, "b": {**records["e1"], "id": "b", "parent_id": "a"}}
    assert path_entities("a", looped, TITLES) == ["Sorvik Institute", "Tessholm"]  # a parent cycle ends


# ---------------------------------------------------------------------------
# the RL dataset carries them
# ---------------------------------------------------------------------------

def _rollouts(qid: str, question: str, ref: str) -> list:  # type: ignore[type-arg]
    right = traj(SEARCH_VAGUE, answer("so", ref), qid=qid, question=question, reference=ref, seed=0)
    wrong = traj(SEARCH_VAGUE, answer("so", "Nobody"), qid=qid, question=question, reference=ref, seed=1)
    return [(right, True, True), (wrong, True, False)]


def test_rl_dataset_carries_the_path_entities_to_the_reward(tmp_path: Path) -> None:
    data = tmp_path / "data"
    for part in ("qa", "web_pages", "filters", "datasets"):
        (data / part).mkdir(parents=True)
    crawlqa, e2hqa = [r for r in QA if r["origin"] == "crawlqa"], [r for r in QA if r["origin"] == "e2hqa"]
    qa_frame(crawlqa).write_parquet(data / "qa" / "crawlqa_pairs.parquet")
    qa_frame(e2hqa).write_parquet(data / "qa" / "e2hqa_pairs.parquet")
    pl.DataFrame({"canonical_url": list(TITLES), "title": list(TITLES.values())}).write_parquet(
        data / "web_pages" / "part-0.parquet")
    by_id = {r["id"]: r for r in QA}
    rows = [*_rollouts("c1", by_id["c1"]["question"], "Velde"),
            *_rollouts("e2", by_id["e2"]["question"], "Edda Varnholt"),
            *_rollouts("imported", "Who wrote Dune?", "Frank Herbert")]
    scored_table(rows).write_parquet(data / "filters" / "scored_trajectories.parquet")
    pl.DataFrame({"question_id": ["c1", "e2", "imported"], "split": ["rl"] * 3}).write_parquet(
        data / "datasets" / "question_split.parquet")
    result = dg.materialize([rl_dataset], resources={"storage": StorageResource(data_dir=str(data)),
                                                     "recipe": RecipeResource(entity_reward_alpha=0.3)})
    assert result.success
    meta = result.asset_materializations_for_node("rl_dataset")[0].metadata
    assert meta["prompts_with_path_entities"].value == 2 and meta["entity_reward_alpha"].value == 0.3
    ds = load_rl_prompts(data / "datasets" / "rl" / "dataset", entities=True)
    assert set(ds.column_names) == {"prompt", "question", "answer", "aliases", PATH_ENTITIES}
    entities = {q: e for q, e in zip(pl.read_parquet(data / "datasets" / "rl" / "parquet" / "train.parquet")[
        "question_id"].to_list(), ds[PATH_ENTITIES], strict=True)}
    assert entities == {"c1": ["Orsund"], "e2": ["Sorvik Institute", "Tessholm"], "imported": []}
    assert "`path_entities`" in (data / "datasets" / "rl" / "README.md").read_text()

    # TRL hands the rows' columns to the reward as keyword lists: the term reads path_entities from them
    batch = [ds[i] for i in range(len(ds)) for _ in range(2)]
    columns = {k: [row[k] for row in batch] for k in ("answer", "aliases", "question", PATH_ENTITIES)}
    named = [rollout(call(f"{' and '.join(row[PATH_ENTITIES]) or 'nothing'}", query=["q"]), answer("so", "Nobody"))
             for row in batch]
    reward = RolloutReward(RLSettings(reward="webdancer", entity_reward_alpha=0.3), ["search", "visit"], None)
    got = reward([None] * len(batch), [None] * len(batch), tool_calls=[1] * len(batch), turns=named, **columns)
    expected = [0.1 + 0.9 * 0.3 if row[PATH_ENTITIES] else 0.1 for row in batch]  # full coverage, or none to cover
    assert got == pytest.approx(expected)


def test_load_refuses_the_term_without_entities(tmp_path: Path) -> None:
    trajs = [t for t, _, _ in _rollouts("imported", "Who wrote Dune?", "Frank Herbert")]
    records, _ = rl_records(trajs, {trajs[0].id: True, trajs[1].id: False}, set())
    assert records[0][PATH_ENTITIES] == []
    save_rl_dataset(records, tmp_path / "rl", "card")
    assert PATH_ENTITIES in load_rl_prompts(tmp_path / "rl" / "dataset").column_names
    with pytest.raises(ValueError, match="every list is empty"):
        load_rl_prompts(tmp_path / "rl" / "dataset", entities=True)
    old = load_rl_prompts(tmp_path / "rl" / "dataset").remove_columns([PATH_ENTITIES])
    old.save_to_disk(str(tmp_path / "old"))  # an RL dataset written before the column existed
    assert PATH_ENTITIES not in load_rl_prompts(tmp_path / "old").column_names
    with pytest.raises(ValueError, match="no such column"):
        load_rl_prompts(tmp_path / "old", entities=True)
    with_entities, _ = rl_records(trajs, {trajs[0].id: True, trajs[1].id: False}, set(),
                                  entities={"imported": ["Frank Herbert"]})
    assert with_entities[0][PATH_ENTITIES] == ["Frank Herbert"]
