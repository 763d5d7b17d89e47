"""The production profile fails closed: what it lacks is a launch error naming it, never demo behaviour.

Covers: production.yaml / production_train.yaml fit their jobs under the production
resources; a missing key, a role left out, no decision on decontamination, or a typo in a
mode name stop the run at launch, before any step; the embedded base model and the
embedded LLM fallback are refused in production; the nightly schedule launches the active
profile's run config.
"""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
import yaml

from assets.resources import (
    BenchmarksResource,
    EmbeddedFallbackRefused,
    LLMResource,
    ProductionBenchmarksResource,
    ProductionEndpoints,
    ProductionLLMResource,
    ProductionModelsResource,
    StorageResource,
)
from distill.llm.roles import ROLES
from pipelines.definitions import build_definitions
from pipelines.profiles import load_run_config, refresh_run_config, train_run_config

REPO = Path(__file__).resolve().parents[1]
PRODUCTION = REPO / "pipelines" / "configs" / "production.yaml"
PRODUCTION_TRAIN = REPO / "pipelines" / "configs" / "production_train.yaml"
DAGSTER = str(Path(sys.executable).parent / "dagster")


def _role_env() -> dict[str, str]:
    env = {}
    for role in ROLES:
        env[f"SEEKFORGE_{role.upper()}_BASE_URL"] = "https://llm.invalid/v1"
        env[f"SEEKFORGE_{role.upper()}_MODEL"] = f"{role}-model"
    env["SEEKFORGE_BASE_MODEL"] = "/models/not-here"
    return env


@pytest.fixture
def production_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for k, v in {**_role_env(), "OPENAI_API_KEY": "sk-test-not-a-real-key"}.items():
        monkeypatch.setenv(k, v)


@pytest.fixture(scope="module")
def prod_defs() -> dg.Definitions:
    return build_definitions("production")


def _invalid(job: dg.JobDefinition, cfg: dict[str, Any]) -> str:
    with pytest.raises(dg.DagsterInvalidConfigError) as info:
        dg.validate_run_config(job, cfg)
    return str(info.value) + "".join(str(e) for e in info.value.errors)


def test_production_configs_fit_their_jobs(production_env: None, prod_defs: dg.Definitions) -> None:
    data, train = refresh_run_config("production"), train_run_config("production")
    assert dg.validate_run_config(prod_defs.resolve_job_def("refresh_job"), data)
    assert dg.validate_run_config(prod_defs.resolve_job_def("train_job"), train)
    both = load_run_config("production.yaml", "recipes/atom_searcher.yaml", "production_train.yaml")
    assert dg.validate_run_config(prod_defs.resolve_job_def("full_job"), both)
    # Without a recipe production does not launch (no fallback to the class defaults' style mix).
    no_recipe = yaml.safe_load(PRODUCTION.read_text())
    assert 'Missing required config entry "recipe"' in _invalid(prod_defs.resolve_job_def("refresh_job"), no_recipe)
    for text in (PRODUCTION.read_text(), PRODUCTION_TRAIN.read_text()):
        assert "sk-" not in text and "{env: OPENAI_API_KEY}" in text  # keys only by variable name


def test_production_endpoints_name_every_role_and_keep_keys_out_of_repr(production_env: None) -> None:
    assert set(ProductionEndpoints.model_fields) == set(ROLES)
    cfg = yaml.safe_load(PRODUCTION.read_text())["resources"]["llm"]["config"]
    endpoints = {r: {**e, "api_key": os.environ["OPENAI_API_KEY"], "base_url": os.environ[e["base_url"]["env"]],
                     "model": os.environ[e["model"]["env"]]} for r, e in cfg["endpoints"].items()}
    llm = ProductionLLMResource(**{**cfg, "endpoints": endpoints})
    roles = llm.role_configs()
    assert roles["judge"].base_url == "https://llm.invalid/v1" and roles["judge"].model == "judge-model"
    assert roles["judge"].temperature == 0.0 and roles["teacher"].api_key() == "sk-test-not-a-real-key"
    assert "sk-test" not in repr(roles["teacher"])


@pytest.mark.parametrize("path, value", [
    (("ops", "crawlqa_pairs", "config", "judge"), "enforced"),
    (("ops", "e2hqa_pairs", "config", "judge"), "Enforce"),
    (("ops", "scored_trajectories", "config", "correctness"), "enforced"),
    (("ops", "scored_trajectories", "config", "judge"), "yes"),
    (("ops", "web_pages", "config", "strategy"), "random-walk"),
    (("resources", "agent_tools", "config", "search_backend"), "google"),
    (("resources", "crawler", "config", "mode"), "live"),
    (("resources", "benchmarks", "config", "decontamination"), "of"),
])
def test_a_typo_in_a_mode_name_is_a_launch_error(production_env: None, prod_defs: dg.Definitions,
                                                 path: tuple[str, ...], value: str) -> None:
    cfg = refresh_run_config("production")
    node = cfg
    for key in path[:-1]:
        node = node.setdefault(key, {})
    node[path[-1]] = value
    message = _invalid(prod_defs.resolve_job_def("refresh_job"), cfg)
    assert value in message and path[-1] in message


def test_rl_reward_typo_is_a_launch_error(production_env: None, prod_defs: dg.Definitions) -> None:
    cfg = train_run_config("production")
    cfg["resources"]["recipe"]["config"]["reward"] = "atom-searcher"
    assert "atom-searcher" in _invalid(prod_defs.resolve_job_def("train_job"), cfg)


@pytest.mark.parametrize("role", ROLES)
def test_a_role_left_out_is_a_launch_error_naming_it(production_env: None, prod_defs: dg.Definitions,
                                                    role: str) -> None:
    cfg = refresh_run_config("production")
    del cfg["resources"]["llm"]["config"]["endpoints"][role]
    message = _invalid(prod_defs.resolve_job_def("refresh_job"), cfg)
    assert f'Missing required config entry "{role}"' in message


def test_no_decision_on_decontamination_is_a_launch_error(production_env: None, prod_defs: dg.Definitions) -> None:
    cfg = refresh_run_config("production")
    del cfg["resources"]["benchmarks"]
    assert "benchmarks" in _invalid(prod_defs.resolve_job_def("refresh_job"), cfg)
    cfg["resources"]["benchmarks"] = {"config": {"files": []}}
    assert 'Missing required config entry "decontamination"' in _invalid(prod_defs.resolve_job_def("refresh_job"), cfg)
    cfg["resources"]["benchmarks"] = {"config": {"decontamination": "off"}}
    assert dg.validate_run_config(prod_defs.resolve_job_def("refresh_job"), cfg)


def test_decontamination_on_without_files_is_an_error_not_a_pass() -> None:
    with pytest.raises(ValueError, match="no benchmark files"):
        ProductionBenchmarksResource(decontamination="on").active_files()
    assert ProductionBenchmarksResource(decontamination="off", files=["x.jsonl"]).active_files() == []
    assert BenchmarksResource(files=["a.jsonl"]).active_files() == ["a.jsonl"]


def test_production_refuses_the_embedded_model_and_fallback(tmp_path: Path) -> None:
    storage = StorageResource(data_dir=str(tmp_path))
    with pytest.raises(ValueError, match="demo"):
        ProductionModelsResource(base_model="embedded").base_model_path(storage)
    assert ProductionModelsResource(base_model="/m").device == "cuda"
    partial = {r: {"base_url": "https://llm.invalid/v1", "model": "m"} for r in ROLES}
    llm = ProductionLLMResource(endpoints=partial)
    assert not llm.embedded_fallback
    # The same refusal guards any resource with the fallback off, whatever supplied the roles.
    with pytest.raises(EmbeddedFallbackRefused, match="'rrm'"):
        LLMResource(embedded_fallback=False, endpoints={r: partial[r] for r in ROLES if r != "rrm"}).role_configs()


def _subprocess_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEEKFORGE_") and k != "OPENAI_API_KEY"}
    env.update({"SEEKFORGE_DATA_DIR": str(tmp_path / "data"), "DAGSTER_HOME": str(tmp_path / "home"),
                "SEEKFORGE_PROFILE": "production", **extra})
    (tmp_path / "home").mkdir(exist_ok=True)
    return env


def _execute(tmp_path: Path, cfg: dict[str, Any], env: dict[str, str]) -> str:
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(cfg))
    proc = subprocess.run([DAGSTER, "job", "execute", "-m", "pipelines.definitions", "-j", "refresh_job", "-c",
                           str(path)], cwd=REPO, env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode != 0
    out = proc.stdout + proc.stderr
    assert "STEP_START" not in out and not any((tmp_path / "data").rglob("*.parquet"))
    return out


@pytest.mark.timeout(300)
def test_missing_key_or_role_fails_at_launch_before_any_step(tmp_path: Path) -> None:
    cfg = refresh_run_config("production")
    out = _execute(tmp_path, cfg, _subprocess_env(tmp_path, **_role_env()))
    assert 'You have attempted to fetch the environment variable "OPENAI_API_KEY" which is not set' in out
    assert "SEEKFORGE_TEACHER_BASE_URL" not in out  # only what is missing is named
    no_rrm = copy.deepcopy(cfg)
    del no_rrm["resources"]["llm"]["config"]["endpoints"]["rrm"]
    out = _execute(tmp_path, no_rrm, _subprocess_env(tmp_path, **_role_env(), OPENAI_API_KEY="sk-test-not-real"))
    assert 'Missing required config entry "rrm"' in out


# ------------------------------------------------------------------------------ the schedule


def _tick(defs: dg.Definitions) -> dg.RunRequest:
    schedule = defs.resolve_schedule_def("nightly_refresh")
    with dg.build_schedule_context(scheduled_execution_time=None) as context:
        data = schedule.evaluate_tick(context)
    assert data.run_requests and len(data.run_requests) == 1
    return data.run_requests[0]


def test_nightly_schedule_runs_the_production_profile(production_env: None, prod_defs: dg.Definitions) -> None:
    schedule = prod_defs.resolve_schedule_def("nightly_refresh")
    assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING
    assert schedule.cron_schedule == "0 2 * * *" and schedule.job_name == "refresh_job"
    request = _tick(prod_defs)
    assert request.run_config == refresh_run_config("production") == load_run_config("production.yaml", "recipes/atom_searcher.yaml")
    assert request.tags["seekforge/profile"] == "production"
    assert dg.validate_run_config(prod_defs.resolve_job_def("refresh_job"), request.run_config)
    seeds = request.run_config["ops"]["crawl_seeds"]["config"]["seeds"]
    assert all(u.startswith("https://") and "127.0.0.1" not in u for urls in seeds.values() for u in urls)


def test_nightly_schedule_of_the_embedded_profile_is_stopped_and_valid() -> None:
    defs = build_definitions("embedded")
    assert defs.resolve_schedule_def("nightly_refresh").default_status == dg.DefaultScheduleStatus.STOPPED
    request = _tick(defs)
    assert request.run_config == load_run_config("demo.yaml", "recipes/atom_searcher.yaml")
    assert dg.validate_run_config(defs.resolve_job_def("refresh_job"), request.run_config)


def test_profile_typo_is_an_error() -> None:
    with pytest.raises(ValueError, match="not a profile"):
        build_definitions("prod")


@pytest.mark.e2e
@pytest.mark.timeout(900)
def test_the_embedded_schedule_run_executes(tmp_path: Path) -> None:
    """What the embedded nightly tick would launch runs to the end (every role on the scripted teacher)."""
    import polars as pl

    from fake_llm_server import FakeLLMServer
    from pipeline_runs import pipeline_env, run_job, tail
    from scripted_teacher import reliable_teacher

    request = _tick(build_definitions("embedded"))
    config = tmp_path / "tick.yaml"
    config.write_text(yaml.safe_dump(request.run_config))
    with FakeLLMServer(default=reliable_teacher) as llm:
        proc = run_job(pipeline_env(tmp_path, llm.base_url), config, timeout=800)
    assert proc.returncode == 0, tail(proc)
    assert "RUN_SUCCESS" in proc.stdout + proc.stderr
    assert pl.read_parquet(tmp_path / "data" / "filters" / "scored_trajectories.parquet").height > 0
