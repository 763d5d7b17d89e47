"""Pin what the Dagster definitions contain: assets, groups, jobs, schedule, checks."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from pipelines.definitions import defs

REPO = Path(__file__).resolve().parents[1]


def test_assets_groups_and_partitions() -> None:
    graph = defs.resolve_asset_graph()
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    assert {"crawl_seeds", "web_pages", "search_index"} <= keys
    for key in ("crawl_seeds", "web_pages", "search_index"):
        node = graph.get(dg.AssetKey(key))
        assert node.group_name == "crawl"
        assert node.description, key
    pages = graph.get(dg.AssetKey("web_pages"))
    assert pages.partitions_def.get_partition_keys() == ["arxiv", "github", "wikipedia"]
    assert dg.AssetKey("web_pages") in graph.get(dg.AssetKey("search_index")).parent_keys
    for key in ("crawlqa_pairs", "e2hqa_pairs", "qa_pool"):
        node = graph.get(dg.AssetKey(key))
        assert node.group_name == "qa" and node.description, key
    assert graph.get(dg.AssetKey("qa_pool")).parent_keys == {dg.AssetKey("crawlqa_pairs"), dg.AssetKey("e2hqa_pairs")}
    assert dg.AssetKey("search_index") in graph.get(dg.AssetKey("e2hqa_pairs")).parent_keys
    for key in ("scored_trajectories", "sft_dataset", "rl_dataset"):
        node = graph.get(dg.AssetKey(key))
        assert node.group_name == "datasets" and node.description, key
    assert {dg.AssetKey(["trajectories", s]) for s in ("short", "long", "atomic")} <= \
        graph.get(dg.AssetKey("scored_trajectories")).parent_keys
    assert dg.AssetKey("sft_dataset") in graph.get(dg.AssetKey("rl_dataset")).parent_keys  # it reads the split
    for key in ("sft_model", "rl_model", "agent_eval"):
        node = graph.get(dg.AssetKey(key))
        assert node.group_name == "train" and node.description, key
    assert dg.AssetKey("sft_dataset") in graph.get(dg.AssetKey("sft_model")).parent_keys
    assert graph.get(dg.AssetKey("rl_model")).parent_keys == {dg.AssetKey("sft_model"), dg.AssetKey("rl_dataset")}
    assert dg.AssetKey("rl_model") in graph.get(dg.AssetKey("agent_eval")).parent_keys


def test_every_asset_is_described_grouped_kinded_and_owned() -> None:
    graph = defs.resolve_asset_graph()
    groups = {"crawl", "qa", "agent", "datasets", "train"}
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        name = key.to_user_string()
        assert node.description and len(node.description) > 40, name
        assert node.group_name in groups, name
        assert node.kinds and "python" in node.kinds, name
        assert node.owners == ["team:seekforge-data"], name


def test_jobs_schedule_and_checks() -> None:
    job = defs.resolve_job_def("crawl_job")
    assert job.tags["dagster/asset_partition_range_end"] == "wikipedia"
    refresh = defs.resolve_job_def("refresh_job")
    assert {"web_pages", "search_index", "crawlqa_pairs", "e2hqa_pairs", "qa_pool"} <= {
        k.to_user_string() for k in refresh.asset_layer.executable_asset_keys}
    assert {"scored_trajectories", "sft_dataset", "rl_dataset"} <= {
        k.to_user_string() for k in refresh.asset_layer.executable_asset_keys}
    assert {k.to_user_string() for k in defs.resolve_job_def("datasets_job").asset_layer.executable_asset_keys} == {
        "scored_trajectories", "sft_dataset", "rl_dataset"}
    def keys(job: str) -> set[str]:
        return {k.to_user_string() for k in defs.resolve_job_def(job).asset_layer.executable_asset_keys}

    assert keys("train_job") == {"sft_model", "rl_model", "agent_eval"}
    assert not keys("train_job") & keys("refresh_job")
    assert keys("full_job") == keys("refresh_job") | keys("train_job")
    schedule = defs.resolve_schedule_def("nightly_refresh")
    assert schedule.cron_schedule == "0 2 * * *"
    assert schedule.job_name == "refresh_job"
    check_names = {k.name for k in defs.resolve_asset_graph().asset_check_keys}
    assert {"non_empty", "unique_canonical_urls", "no_invalid_among_valid", "self_retrieval",
            "answer_not_in_question", "unique_ids", "evidence_urls_exist", "every_rollout_accounted_for",
            "no_benchmark_question_kept", "masks_cover_observations", "no_benchmark_overlap", "enough_rows",
            "disjoint_from_sft", "loss_is_finite", "rollouts_call_tools"} <= check_names
    blocking = {k.asset_key.to_user_string(): spec.blocking for k, spec in
                ((s.key, s) for a in defs.resolve_asset_graph().assets_defs for s in a.check_specs)
                if k.name == "masks_cover_observations"}
    assert blocking == {"sft_dataset": True}


def test_demo_configs_fit_their_jobs() -> None:
    """demo.yaml + the recipe drive refresh_job, the recipe + demo_train.yaml train_job, all three
    merged full_job (as `make demo` does): the recipe is resource config, valid in every job."""
    from pipelines.profiles import load_run_config, refresh_run_config, train_run_config

    data, train = refresh_run_config("embedded"), train_run_config("embedded")
    full = load_run_config("demo.yaml", "recipes/atom_searcher.yaml", "demo_train.yaml")
    for job, cfg in (("refresh_job", data), ("train_job", train), ("full_job", full)):
        assert dg.validate_run_config(defs.resolve_job_def(job), cfg), job
    assert ("-j full_job -c pipelines/configs/demo.yaml \\\n\t\t-c pipelines/configs/recipes/atom_searcher.yaml "
            "-c pipelines/configs/demo_train.yaml") in (REPO / "Makefile").read_text()
    # The demo keeps the recipe's decisions and only shrinks the run.
    recipe = full["resources"]["recipe"]["config"]
    assert recipe["name"] == "atom_searcher" and recipe["sft_styles"] == ["atomic"]
    assert recipe["rl_prompt_style"] == "atomic" and recipe["num_generations"] == 2


@pytest.mark.parametrize("recipe", ["atom_searcher", "webdancer"])
def test_recipes_validate_against_every_job(recipe: str) -> None:
    from pipelines.profiles import load_run_config

    for job, files in (("refresh_job", ("demo.yaml",)), ("train_job", ("demo_train.yaml",)),
                       ("full_job", ("demo.yaml", "demo_train.yaml"))):
        cfg = load_run_config(files[0], f"recipes/{recipe}.yaml", *files[1:])
        assert dg.validate_run_config(defs.resolve_job_def(job), cfg), (recipe, job)
    alone = load_run_config(f"recipes/{recipe}.yaml")
    assert set(alone) == {"resources"}, "a recipe is resource config only, or refresh_job would reject it"


def test_recipe_typo_is_a_launch_error() -> None:
    from pipelines.profiles import load_run_config

    cfg = load_run_config("demo.yaml", "recipes/atom_searcher.yaml")
    cfg["resources"]["recipe"]["config"]["sft_styles"] = ["atomics"]
    with pytest.raises(dg.DagsterInvalidConfigError, match="atomics"):
        dg.validate_run_config(defs.resolve_job_def("refresh_job"), cfg)


def test_dagster_definitions_validate_cli(tmp_path: Path) -> None:
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path)}
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "dagster"), "definitions", "validate", "-m", "pipelines.definitions"],
        cwd=REPO, capture_output=True, text=True, timeout=180, env=env,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_domain_packages_do_not_import_dagster() -> None:
    for pkg in ("crawl", "distill", "filters", "train"):
        for path in (REPO / pkg).rglob("*.py"):
            text = path.read_text()
            assert "import dagster" not in text and "from dagster" not in text, path
