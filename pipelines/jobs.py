"""Jobs and schedules."""

from __future__ import annotations

from typing import Any

import dagster as dg

from assets.crawl import SOURCES, crawl_seeds, search_index, web_pages
from assets.datasets import rl_dataset, scored_trajectories, sft_dataset
from assets.qa import crawlqa_pairs, e2hqa_pairs, qa_pool
from assets.training import agent_eval, rl_model, sft_model
from assets.trajectories import atomic_prompts, trajectories
from pipelines.profiles import REFRESH_CONFIGS, active_profile, refresh_run_config

# Run every source partition in one run (web_pages has a single-run backfill policy),
# so `dagster job execute` and the schedule crawl all three sources, then index.
ALL_SOURCES_TAGS = {
    "dagster/asset_partition_range_start": SOURCES[0],
    "dagster/asset_partition_range_end": SOURCES[-1],
}

crawl_job = dg.define_asset_job(
    "crawl_job",
    selection=dg.AssetSelection.assets(crawl_seeds, web_pages, search_index),
    tags=ALL_SOURCES_TAGS,
    description="Crawl arXiv, GitHub and Wikipedia from the seeds, then build the search index.",
)

qa_job = dg.define_asset_job(
    "qa_job",
    selection=dg.AssetSelection.assets(crawlqa_pairs, e2hqa_pairs, qa_pool),
    description="Synthesize QA from the current corpus (CRAWLQA, E2HQA) into qa_pool.",
)

agent_job = dg.define_asset_job(
    "agent_job",
    selection=dg.AssetSelection.assets(atomic_prompts, *trajectories),
    description="Expand the atomic-thought prompts and roll out the agent in all three styles over qa_pool.",
)

datasets_job = dg.define_asset_job(
    "datasets_job",
    selection=dg.AssetSelection.assets(scored_trajectories, sft_dataset, rl_dataset),
    description="Score and filter the rollouts (funnel), then build the SFT and RL datasets.",
)

train_job = dg.define_asset_job(
    "train_job",
    selection=dg.AssetSelection.assets(sft_model, rl_model, agent_eval),
    description="Train on the current datasets: SFT, then RL (GRPO with tool rollouts) from the SFT checkpoint, "
                "then evaluate base, SFT and RL checkpoints as agents on held-out questions.",
)

# Data: crawl -> index -> QA -> trajectories -> filters -> datasets (the nightly refresh).
refresh_job = dg.define_asset_job(
    "refresh_job",
    selection=dg.AssetSelection.assets(crawl_seeds, web_pages, search_index, crawlqa_pairs, e2hqa_pairs, qa_pool,
                                       atomic_prompts, *trajectories, scored_trajectories, sft_dataset, rl_dataset),
    tags=ALL_SOURCES_TAGS,
    description="Crawl all sources, rebuild the search index, synthesize QA into qa_pool, roll out the agent "
                "(short, long, atomic), score and filter the rollouts, build the SFT and RL datasets. Cached LLM "
                "answers and tool results make unchanged work free.",
)

# The main job (README command (a)): the data, then training and evaluation on it.
full_job = dg.define_asset_job(
    "full_job",
    selection=dg.AssetSelection.assets(crawl_seeds, web_pages, search_index, crawlqa_pairs, e2hqa_pairs, qa_pool,
                                       atomic_prompts, *trajectories, scored_trajectories, sft_dataset, rl_dataset,
                                       sft_model, rl_model, agent_eval),
    tags=ALL_SOURCES_TAGS,
    description="Everything: refresh_job's data, then train_job's SFT, RL and agent evaluation.",
)

NIGHTLY_CRON = "0 2 * * *"


def nightly_refresh_schedule(profile: str | None = None) -> dg.ScheduleDefinition:
    """``refresh_job`` at 02:00 UTC with the active profile's run config.

    Production: ``production.yaml``, RUNNING as soon as the code location loads (a daemon
    runs it; stop it with ``dagster schedule stop nightly_refresh``). Embedded: the demo
    config, STOPPED (start it with ``dagster schedule start nightly_refresh``). The YAML is
    read at each tick, so an edited config takes effect on the next night."""
    name = active_profile(profile)

    def run_config(context: dg.ScheduleEvaluationContext) -> dict[str, Any]:
        return refresh_run_config(name)

    return dg.ScheduleDefinition(
        name="nightly_refresh",
        job=refresh_job,
        cron_schedule=NIGHTLY_CRON,
        execution_timezone="UTC",
        run_config_fn=run_config,
        tags={"seekforge/profile": name},
        description=f"Re-crawl and rebuild the datasets every night at 02:00 UTC with the {name} profile's run config "
                    f"({', '.join(REFRESH_CONFIGS[name])}).",
        default_status=dg.DefaultScheduleStatus.RUNNING if name == "production" else dg.DefaultScheduleStatus.STOPPED,
    )
