"""The production run config: fits refresh_job, and a missing key stops the run at launch."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest
import yaml

from distill.llm.roles import ROLES
from pipelines.definitions import defs

REPO = Path(__file__).resolve().parents[1]
PRODUCTION = REPO / "pipelines" / "configs" / "production.yaml"


def _role_env() -> dict[str, str]:
    env = {}
    for role in ROLES:
        env[f"SEEKFORGE_{role.upper()}_BASE_URL"] = "https://llm.invalid/v1"
        env[f"SEEKFORGE_{role.upper()}_MODEL"] = f"{role}-model"
    return env


def test_production_config_fits_refresh_job_and_takes_keys_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for k, v in {**_role_env(), "OPENAI_API_KEY": "sk-test-not-a-real-key"}.items():
        monkeypatch.setenv(k, v)
    cfg = yaml.safe_load(PRODUCTION.read_text())
    assert dg.validate_run_config(defs.resolve_job_def("refresh_job"), cfg)
    text = PRODUCTION.read_text()
    assert "sk-" not in text and "{env: OPENAI_API_KEY}" in text  # keys only by variable name
    from assets.resources import LLMResource

    llm = LLMResource(**cfg["resources"]["llm"]["config"] | {"endpoints": {
        r: {**e, "api_key": os.environ["OPENAI_API_KEY"], "base_url": os.environ[e["base_url"]["env"]],
            "model": os.environ[e["model"]["env"]]} for r, e in cfg["resources"]["llm"]["config"]["endpoints"].items()}})
    roles = llm.role_configs()
    assert roles["judge"].base_url == "https://llm.invalid/v1" and roles["judge"].model == "judge-model"
    assert roles["judge"].temperature == 0.0 and roles["teacher"].api_key() == "sk-test-not-a-real-key"
    assert "sk-test" not in repr(roles["teacher"])


@pytest.mark.timeout(300)
def test_missing_key_fails_at_launch_before_any_crawl(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "OPENAI_API_KEY" and not k.startswith("SEEKFORGE_")}
    env.update(_role_env())
    env.update({"SEEKFORGE_DATA_DIR": str(tmp_path / "data"), "DAGSTER_HOME": str(tmp_path / "home")})
    (tmp_path / "home").mkdir()
    proc = subprocess.run([str(Path(sys.executable).parent / "dagster"), "job", "execute", "-m", "pipelines.definitions",
                           "-j", "refresh_job", "-c", str(PRODUCTION)], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=240)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert 'You have attempted to fetch the environment variable "OPENAI_API_KEY" which is not set' in out
    assert "SEEKFORGE_TEACHER_BASE_URL" not in out  # only what is missing is named
    assert "STEP_START" not in out and not any((tmp_path / "data").rglob("*.parquet"))
