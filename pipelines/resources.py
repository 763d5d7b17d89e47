"""Resource instances per profile (``SEEKFORGE_PROFILE``: embedded | production).

The embedded profile runs on a fresh machine with no network: the crawler replays the
mini-web shipped in the package through a loopback server. Production crawls the
live web politely. Everything here can still be overridden per run in run config.
"""

from __future__ import annotations

import os

import dagster as dg

from assets.resources import AgentToolsResource, CrawlerResource, LLMResource, ModelsResource, StorageResource

PROFILES = ("embedded", "production")


def _storage() -> StorageResource:
    if os.environ.get("SEEKFORGE_DATA_DIR"):
        return StorageResource(data_dir=dg.EnvVar("SEEKFORGE_DATA_DIR"))
    return StorageResource(data_dir="./data")


def resources_for(profile: str | None = None) -> dict[str, object]:
    profile = (profile or os.environ.get("SEEKFORGE_PROFILE") or "embedded").strip().lower()
    if profile not in PROFILES:
        raise ValueError(f"SEEKFORGE_PROFILE={profile!r} is not a profile; use one of {', '.join(PROFILES)}")
    if profile == "embedded":
        crawler = CrawlerResource(mode="replay", per_host_concurrency=8, per_host_delay_s=0.0, total_concurrency=16,
                                  max_retries=1, total_timeout_s=30.0)
    else:
        crawler = CrawlerResource(mode="http", per_host_concurrency=2, per_host_delay_s=1.0, total_concurrency=32)
    # The embedded llama.cpp server has one slot and reuses the KV cache of the previous
    # request's prefix; two requests in flight interleave and evict each other's prefix
    # (measured: a cold 850-token prompt costs ~6.5 s on 2 cores, a prefix hit ~0.1 s).
    llm = LLMResource(max_concurrency=1 if profile == "embedded" else 32)
    return {"storage": _storage(), "crawler": crawler, "llm": llm, "agent_tools": AgentToolsResource(),
            "models": _models()}


def _models() -> ModelsResource:
    if os.environ.get("SEEKFORGE_MODEL_CACHE"):
        return ModelsResource(cache_dir=dg.EnvVar("SEEKFORGE_MODEL_CACHE"))
    return ModelsResource()
