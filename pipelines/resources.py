"""Resource instances per profile (``SEEKFORGE_PROFILE``: embedded | production).

The embedded profile runs on a fresh machine with no network: the crawler replays the
mini-web shipped in the package through a loopback server, and every LLM role is the
embedded SmolLM2 server. Production crawls the live web politely, and what it cannot
do without (an endpoint per role, the base model, a decision on decontamination) is
required run config: leaving it out is a launch error naming it, never a demo fallback.
"""

from __future__ import annotations

import os

import dagster as dg

from assets.recipe import ProductionRecipeResource, RecipeResource
from assets.resources import (
    AgentToolsResource,
    BenchmarksResource,
    CrawlerResource,
    LLMResource,
    ModelsResource,
    ProductionBenchmarksResource,
    ProductionLLMResource,
    ProductionModelsResource,
    StorageResource,
)
from assets.settings_fields import with_defaults
from pipelines.profiles import active_profile

# The embedded profile's values, as class defaults: a run config that sets one field of these
# resources keeps the others (Dagster fills omitted fields from class defaults, not instances).
EmbeddedCrawlerResource = with_defaults(
    CrawlerResource, "EmbeddedCrawlerResource",
    "The crawler of the embedded profile: the mini-web replayed on loopback, no politeness delay.",
    mode="replay", per_host_concurrency=8, per_host_delay_s=0.0, total_concurrency=16, max_retries=1,
    total_timeout_s=30.0)
# The embedded llama.cpp server has one slot and reuses the KV cache of the previous
# request's prefix; two requests in flight interleave and evict each other's prefix
# (measured: a cold 850-token prompt costs ~6.5 s on 2 cores, a prefix hit ~0.1 s).
EmbeddedLLMResource = with_defaults(LLMResource, "EmbeddedLLMResource",
                                    "The embedded profile's LLM resource: one request in flight.", max_concurrency=1)


def _storage() -> StorageResource:
    if os.environ.get("SEEKFORGE_DATA_DIR"):
        return StorageResource(data_dir=dg.EnvVar("SEEKFORGE_DATA_DIR"))
    return StorageResource(data_dir="./data")


def resources_for(profile: str | None = None) -> dict[str, object]:
    profile = active_profile(profile)
    if profile == "production":
        return {
            "storage": _storage(),
            "crawler": CrawlerResource(),  # the domain defaults are the live web's polite ones
            "llm": ProductionLLMResource.configure_at_launch(),
            "agent_tools": AgentToolsResource(),
            "models": ProductionModelsResource.configure_at_launch(),
            "benchmarks": ProductionBenchmarksResource.configure_at_launch(),
            "recipe": ProductionRecipeResource.configure_at_launch(),
        }
    crawler = EmbeddedCrawlerResource()
    llm = EmbeddedLLMResource()
    # The embedded profile ships no benchmark files (nothing from ../shared at run time):
    # decontamination is off here, said so in scored_trajectories' metadata.
    benchmarks = BenchmarksResource(decontamination="off")
    return {"storage": _storage(), "crawler": crawler, "llm": llm, "agent_tools": AgentToolsResource(),
            "models": _models(), "benchmarks": benchmarks, "recipe": RecipeResource()}


def _models() -> ModelsResource:
    if os.environ.get("SEEKFORGE_MODEL_CACHE"):
        return ModelsResource(cache_dir=dg.EnvVar("SEEKFORGE_MODEL_CACHE"))
    return ModelsResource()
