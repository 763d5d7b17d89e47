"""Config declared once: run config fields come from the domain settings dataclasses, and a
partial run config keeps the profile's other values."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import dagster as dg
import pytest

from assets.recipe import RECIPE_RL_FIELDS, RECIPE_ROLLOUT_FIELDS, RecipeResource
from assets.resources import CrawlerResource
from assets.settings_fields import config_base, settings_fields, settings_from, with_defaults
from assets.training import RLModelConfig
from crawl.crawler import CrawlSettings
from crawl.fetcher import FetchSettings
from crawl.frontier import FrontierSettings
from crawl.session import SourceSettings
from pipelines.resources import resources_for
from train.rl_rollout import RolloutConfig
from train.rl_runner import RLSettings


def _defaults(dc: type, exclude: tuple[str, ...] = ()) -> dict[str, Any]:
    out = {}
    for f in dataclasses.fields(dc):
        if f.name in exclude:
            continue
        value = f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[misc]
        out[f.name] = list(value) if isinstance(value, tuple) else value
    return out


@pytest.mark.parametrize("resource, settings, exclude", [
    (CrawlerResource, FetchSettings, ()),
    (CrawlerResource, SourceSettings, ()),
    (CrawlerResource, CrawlSettings, ("frontier", "parse_workers", "progress_every_s")),
    (RLModelConfig, RLSettings, ("rollout", "device", *RECIPE_RL_FIELDS)),
    (RLModelConfig, RolloutConfig, ("scaffold", *RECIPE_ROLLOUT_FIELDS)),
    (RecipeResource, RLSettings, tuple(f.name for f in dataclasses.fields(RLSettings) if f.name not in RECIPE_RL_FIELDS)),
    (RecipeResource, RolloutConfig, tuple(f.name for f in dataclasses.fields(RolloutConfig)
                                          if f.name not in RECIPE_ROLLOUT_FIELDS)),
])
def test_every_domain_field_is_run_config_with_the_domain_default(resource: type, settings: type,
                                                                  exclude: tuple[str, ...]) -> None:
    fields = resource.model_fields  # type: ignore[attr-defined]
    for name, default in _defaults(settings, exclude).items():
        assert name in fields, f"{settings.__name__}.{name} is not in {resource.__name__}'s run config"
        assert fields[name].get_default(call_default_factory=True) == default, name


def test_settings_round_trip_through_the_resource() -> None:
    crawler = CrawlerResource(max_retries=7, allowed_content_types=["text/html"], browser_patterns=["x"])
    fetch = crawler.fetch_settings()
    assert fetch.max_retries == 7 and fetch.allowed_content_types == ("text/html",)
    assert fetch.max_crawl_delay_s == FetchSettings().max_crawl_delay_s  # a field the old resource never exposed
    assert crawler.crawl_settings(FrontierSettings()).browser_patterns == ("x",)
    rl = RLModelConfig(max_steps=5, scaffold=["search", "answer"]).settings(
        RecipeResource(max_turns=3, entropy_max=0.02), "cpu")
    assert rl.rollout.max_turns == 3 and rl.rollout.scaffold == ("search", "answer")
    assert rl.entropy_max == 0.02 and rl.device == "cpu" and rl.max_steps == 5
    assert RLModelConfig().settings() == RLSettings()  # the config's defaults are the domain's


def test_recipe_and_run_size_split_the_rl_settings_without_overlap() -> None:
    """Every RL setting is either the recipe's or the run's, never both and never neither."""
    run = set(RLModelConfig.model_fields)
    recipe = set(RecipeResource.model_fields)
    for dc, own in ((RLSettings, ("rollout", "device")), (RolloutConfig, ("scaffold",))):
        for f in dataclasses.fields(dc):
            if f.name not in own:
                assert (f.name in run) != (f.name in recipe), f.name


def test_a_field_added_to_the_domain_appears_in_run_config() -> None:
    @dataclass(frozen=True)
    class Knobs:
        old: int = 1
        new: tuple[str, ...] = field(default=("a",), metadata={"help": "Added later."})

    class KnobsResource(config_base("KnobsFields", dg.ConfigurableResource, Knobs)):
        pass

    assert KnobsResource.model_fields["new"].description == "Added later."
    assert settings_from(Knobs, KnobsResource(new=["b", "c"])) == Knobs(old=1, new=("b", "c"))
    assert set(settings_fields(Knobs)) == {"old", "new"}


def test_a_partial_run_config_keeps_the_profiles_other_values() -> None:
    """Setting one crawler field in run config leaves the embedded profile's other values in place."""
    seen: dict[str, Any] = {}

    @dg.asset
    def reads_the_crawler(crawler: CrawlerResource) -> None:
        seen.update(crawler.model_dump())

    job = dg.define_asset_job("read", selection=[reads_the_crawler])
    defs = dg.Definitions(assets=[reads_the_crawler], jobs=[job], resources={"crawler": resources_for("embedded")["crawler"]})
    result = defs.resolve_job_def("read").execute_in_process(
        run_config={"resources": {"crawler": {"config": {"max_retries": 3}}}})
    assert result.success
    assert seen["max_retries"] == 3  # the run config's value
    assert seen["mode"] == "replay" and seen["per_host_concurrency"] == 8 and seen["per_host_delay_s"] == 0.0  # profile's
    assert seen["total_timeout_s"] == 30.0


def test_with_defaults_keeps_help_and_refuses_unknown_fields() -> None:
    Fast = with_defaults(CrawlerResource, "FastCrawler", "test", per_host_delay_s=0.0)
    assert Fast().per_host_delay_s == 0.0 and Fast().per_host_concurrency == CrawlerResource().per_host_concurrency
    assert Fast.model_fields["per_host_delay_s"].description == CrawlerResource.model_fields["per_host_delay_s"].description
    with pytest.raises(KeyError):
        with_defaults(CrawlerResource, "Bad", "test", per_hots_delay_s=0.0)
