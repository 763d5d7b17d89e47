"""Dagster entry point: ``dagster dev`` / ``dagster job execute -m pipelines.definitions``."""

from __future__ import annotations

import dagster as dg

from assets.crawl import crawl_seeds, search_index, web_pages
from pipelines.jobs import crawl_job, nightly_refresh, refresh_job
from pipelines.resources import resources_for

defs = dg.Definitions(
    assets=[crawl_seeds, web_pages, search_index],
    jobs=[crawl_job, refresh_job],
    schedules=[nightly_refresh],
    resources=resources_for(),
)
