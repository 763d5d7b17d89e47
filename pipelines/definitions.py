"""Dagster entry point: ``dagster dev`` / ``dagster job execute -m pipelines.definitions``."""

from __future__ import annotations

import dagster as dg

from assets.checks import ASSET_CHECKS
from assets.crawl import crawl_seeds, search_index, web_pages
from assets.datasets import rl_dataset, scored_trajectories, sft_dataset
from assets.qa import crawlqa_pairs, e2hqa_pairs, qa_pool
from assets.training import agent_eval, rl_model, sft_model
from assets.trajectories import atomic_prompts, trajectories
from pipelines.jobs import (
    agent_job,
    crawl_job,
    datasets_job,
    full_job,
    nightly_refresh_schedule,
    qa_job,
    refresh_job,
    train_job,
)
from pipelines.profiles import active_profile
from pipelines.resources import resources_for


def build_definitions(profile: str | None = None) -> dg.Definitions:
    """The whole graph with one profile's resources and schedule (``SEEKFORGE_PROFILE`` by default)."""
    name = active_profile(profile)
    return dg.Definitions(
        assets=[crawl_seeds, web_pages, search_index, crawlqa_pairs, e2hqa_pairs, qa_pool, atomic_prompts,
                *trajectories, scored_trajectories, sft_dataset, rl_dataset, sft_model, rl_model, agent_eval],
        asset_checks=ASSET_CHECKS,
        jobs=[crawl_job, qa_job, agent_job, datasets_job, train_job, refresh_job, full_job],
        schedules=[nightly_refresh_schedule(name)],
        resources=resources_for(name),
    )


defs = build_definitions()
