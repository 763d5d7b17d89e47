"""The training recipe as a resource: what a paper's method decides, apart from how big a run is.

A recipe (``pipelines/configs/recipes/*.yaml``) names the rollout styles SFT trains on, the
style of the RL policy's prompt, the reward and its graders, and the RL algorithm's settings
(GRPO / DAPO, group size, learning rate, clipping, entropy regulation, turns). Three assets
read it: ``sft_dataset`` (styles), ``rl_dataset`` (prompt style) and ``rl_model`` (the rest).

Why a resource and not op config: ``refresh_job`` builds the datasets and ``train_job`` trains,
and a run config may only name ops of its own job, so a recipe written as op config could not
be passed to both. Resource config is valid in every job, so one recipe file goes with
``refresh_job``, ``train_job`` and ``full_job`` alike. What only sizes a run (steps, token
budgets, the DEMO-ONLY scaffold) stays in ``rl_model``'s op config.

The RL fields are :class:`train.rl_runner.RLSettings`' and :class:`train.rl_rollout.RolloutConfig`'s,
declared there once (:data:`RECIPE_RL_FIELDS`, :data:`RECIPE_ROLLOUT_FIELDS` pick which).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Final

import dagster as dg
from pydantic import Field

from assets.settings_fields import config_base
from assets.trajectories import RolloutStyle
from train.rl_rollout import RolloutConfig
from train.rl_runner import RLSettings

#: RLSettings fields a recipe decides (the rest size the run: max_steps, prompts_per_step, seed).
RECIPE_RL_FIELDS: Final = (
    "reward", "alpha0", "atr_aggregation", "f1_metric", "correct_f1", "entity_reward_alpha", "learning_rate",
    "num_generations", "beta", "epsilon", "epsilon_high", "loss_type", "temperature", "mask_zero_variance_groups",
    "max_refill_rounds", "refill_oversample", "entropy_base", "entropy_target", "entropy_window", "entropy_step",
    "entropy_max",
)
#: RolloutConfig fields a recipe decides (token budgets size the run).
RECIPE_ROLLOUT_FIELDS: Final = ("max_turns",)


def _not_in_recipe() -> tuple[str, ...]:
    rl = {f.name for f in dataclasses.fields(RLSettings)} - set(RECIPE_RL_FIELDS)
    rollout = {f.name for f in dataclasses.fields(RolloutConfig)} - set(RECIPE_ROLLOUT_FIELDS)
    return tuple(sorted(rl | rollout))


_RecipeFields: Any = config_base("RecipeFields", dg.ConfigurableResource, RLSettings, RolloutConfig,
                                 exclude=_not_in_recipe())


class RecipeResource(_RecipeFields):
    """A named training recipe. The class defaults are no paper's recipe ("custom": every style
    for SFT, the short-CoT prompt for RL); the recipe files set every field they decide."""

    name: str = Field(default="custom", description="The recipe's name, shown in metadata (atom_searcher, "
                                                    "webdancer, ...).")
    sft_styles: list[RolloutStyle] = Field(default_factory=lambda: list(RolloutStyle), description="Rollout styles "
                                           "sft_dataset keeps (Atom-Searcher fine-tunes on atomic thoughts; WebDancer "
                                           "finds short- and long-CoT patterns transfer poorly across model types); "
                                           "kept rollouts of other styles are counted as style_not_in_recipe.")
    rl_prompt_style: RolloutStyle = Field(default=RolloutStyle.short, description="The style whose system prompt the "
                                          "RL policy gets (atomic: the policy is asked for atomic thoughts and the RRM "
                                          "grades atomic units).")
    rrm: bool = Field(default=True, description="atom_searcher reward: grade thoughts with the rrm role; off = F1 only "
                                                "(written explicitly: a dead rrm endpoint fails the step instead).")
    judge: bool = Field(default=True, description="webdancer reward: correctness by the judge role (WebDancer's LLM "
                                                  "judge); off = outcome F1 >= correct_f1 (written explicitly).")

    def style_names(self) -> list[str]:
        """``sft_styles`` as plain names in the order of the pipeline's styles, each once."""
        names = [s.value for s in RolloutStyle if s in self.sft_styles]
        if not names:
            raise ValueError(f"recipe {self.name!r}: sft_styles is empty; name at least one of "
                             + ", ".join(s.value for s in RolloutStyle))
        return names

    def rl_values(self) -> dict[str, Any]:
        """The recipe's RLSettings fields, for ``settings_from(RLSettings, op_config, **...)``."""
        return {k: getattr(self, k) for k in RECIPE_RL_FIELDS}

    def rollout_values(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in RECIPE_ROLLOUT_FIELDS}

    def summary(self) -> dict[str, Any]:
        """What a person checks in the UI: the recipe's every decision, as plain values."""
        return {"name": self.name, "sft_styles": self.style_names(), "rl_prompt_style": self.rl_prompt_style.value,
                "rrm": self.rrm, "judge": self.judge, **self.rl_values(), **self.rollout_values()}


class ProductionRecipeResource(RecipeResource):
    """Production names its recipe: without one the run fails at launch instead of training on
    the class defaults' style mix."""

    name: str = Field(description="The recipe's name; pass a recipe file (pipelines/configs/recipes/*.yaml).")
