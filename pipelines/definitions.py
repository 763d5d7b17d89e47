"""Dagster entry point: ``dagster dev`` / ``dagster job execute -m pipelines.definitions``."""

from __future__ import annotations

import dagster as dg

from assets.crawl import crawl_seeds, search_index, web_pages
from assets.datasets import rl_dataset, scored_trajectories, sft_dataset
from assets.qa import crawlqa_pairs, e2hqa_pairs, qa_pool
from assets.training import agent_eval, rl_model, sft_model
from assets.trajectories import atomic_prompts, trajectories
from pipelines.jobs import (agent_job, crawl_job, datasets_job, full_job, nightly_refresh, qa_job, refresh_job,
                           train_job)
from pipelines.resources import resources_for

defs = dg.Definitions(
    assets=[crawl_seeds, web_pages, search_index, crawlqa_pairs, e2hqa_pairs, qa_pool, atomic_prompts, *trajectories,
            scored_trajectories, sft_dataset, rl_dataset, sft_model, rl_model, agent_eval],
    jobs=[crawl_job, qa_job, agent_job, datasets_job, train_job, refresh_job, full_job],
    schedules=[nightly_refresh],
    resources=resources_for(),
)
