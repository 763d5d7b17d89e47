"""The recipe resource: what each paper's recipe decides, and the graders it names failing
loudly when they give too little back (a dead rrm or judge must not become an F1-only run)."""

from __future__ import annotations

from types import SimpleNamespace

import dagster as dg
import pytest

from assets.recipe import RecipeResource
from assets.training import RLModelConfig, _fail_if_graders_uncovered
from pipelines.profiles import load_run_config


def _recipe(name: str) -> RecipeResource:
    return RecipeResource(**load_run_config(f"recipes/{name}.yaml")["resources"]["recipe"]["config"])


def _report(**kw: int) -> SimpleNamespace:
    return SimpleNamespace(**{"atr_asked": 0, "atr_graded": 0, "judge_asked": 0, "judge_graded": 0, **kw})


def test_each_recipe_states_its_papers_choices() -> None:
    atom, dancer = _recipe("atom_searcher"), _recipe("webdancer")
    assert atom.style_names() == ["atomic"] and atom.rl_prompt_style.value == "atomic"
    assert (atom.reward, atom.rrm, atom.alpha0, atom.loss_type) == ("atom_searcher", True, 0.5, "grpo")
    assert dancer.style_names() == ["short"] and dancer.rl_prompt_style.value == "short"
    assert (dancer.reward, dancer.judge, dancer.loss_type, dancer.epsilon_high) == ("webdancer", True, "dapo", 0.28)
    for r in (atom, dancer):
        assert (r.num_generations, r.learning_rate, r.temperature, r.max_turns) == (16, 1e-6, 1.0, 10)
        assert r.max_refill_rounds > 0 and r.mask_zero_variance_groups
    settings = RLModelConfig(max_steps=7).settings(dancer, "cpu")
    assert (settings.reward, settings.loss_type, settings.max_steps, settings.rollout.max_turns) == \
        ("webdancer", "dapo", 7, 10)
    with pytest.raises(ValueError, match="sft_styles is empty"):
        RecipeResource(name="x", sft_styles=[]).style_names()


@pytest.mark.parametrize("recipe, report, message", [
    ("atom_searcher", _report(atr_asked=10, atr_graded=4), "the rrm role graded 4 of 10 rollouts (40% < "
                                                           "min_atr_coverage 50%)"),
    ("webdancer", _report(judge_asked=8, judge_graded=1), "the judge role gave a verdict on 1 of 8 answers (12% < "
                                                          "min_judge_coverage 50%)"),
])
def test_a_grader_that_gave_too_little_back_fails_the_step(recipe: str, report: SimpleNamespace, message: str) -> None:
    with pytest.raises(dg.Failure, match=message.replace("(", r"\(").replace(")", r"\)")):
        _fail_if_graders_uncovered(report, RLModelConfig(), _recipe(recipe))


def test_graders_are_checked_only_where_the_recipe_uses_them() -> None:
    config = RLModelConfig()
    atom, dancer = _recipe("atom_searcher"), _recipe("webdancer")
    _fail_if_graders_uncovered(_report(atr_asked=10, atr_graded=5), config, atom)  # at the bound: passes
    _fail_if_graders_uncovered(_report(judge_asked=10, judge_graded=0), config, atom)  # no judge in this recipe
    _fail_if_graders_uncovered(_report(atr_asked=10, atr_graded=0), config, dancer)  # no RRM in this recipe
    _fail_if_graders_uncovered(_report(judge_asked=10, judge_graded=0), config,
                               dancer.model_copy(update={"judge": False}))  # turned off explicitly


def test_training_refuses_a_dataset_built_under_another_recipe(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import polars as pl

    from assets.training import _fail_unless_recipe_styles

    atom = _recipe("atom_searcher")
    path = tmp_path / "sft.parquet"
    pl.DataFrame({"style": ["short", "long"]}).write_parquet(path)
    with pytest.raises(dg.Failure, match="holds long, short rollouts, but the recipe 'atom_searcher' trains on atomic"):
        _fail_unless_recipe_styles(path, "sft_dataset", set(atom.style_names()), atom)
    pl.DataFrame({"style": ["atomic"]}).write_parquet(path)
    _fail_unless_recipe_styles(path, "sft_dataset", set(atom.style_names()), atom)
