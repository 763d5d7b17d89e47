"""A dead ``rrm`` endpoint fails rl_model instead of silently training on F1 alone.

Reuses the session's scripted run (its SFT checkpoint, RL dataset and search index) and
materializes rl_model again with every role on the scripted teacher except ``rrm``, which
answers 503 to everything.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import RECIPE
from fake_llm_server import FakeLLMServer, status

REPO = Path(__file__).resolve().parents[1]
RL_SMALL = {"resources": {"recipe": {"config": {"num_generations": 2, "max_turns": 2}}}, "ops": {"rl_model": {"config": {
    "max_steps": 1, "scaffold": ["search", "answer"], "max_thought_tokens": 8,
    "max_field_tokens": 6, "max_completion_tokens": 600, "max_observation_chars": 600}}}}


def _data_for_rl(src: Path, dst: Path) -> None:
    """What rl_model reads, without copying the checkpoints (linked: rl_model only reads them)."""
    for part in ("datasets", "search_index"):
        shutil.copytree(src / part, dst / part)
    (dst / "models").mkdir(parents=True)
    os.symlink(src / "models" / "sft", dst / "models" / "sft")


@pytest.mark.e2e
@pytest.mark.timeout(1500)
def test_scripted_run_graded_atomic_thoughts(scripted_pipeline) -> None:  # type: ignore[no-untyped-def]
    """The premise of the test below: the scripted RL run asks the RRM, and it answers."""
    report = json.loads((scripted_pipeline.data / "models" / "rl" / "train_report.json").read_text())
    assert report["atr_asked"] > 0 and report["atr_graded"] == report["atr_asked"], report


@pytest.mark.e2e
@pytest.mark.timeout(1500)
def test_dead_rrm_fails_rl_model(scripted_pipeline, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _data_for_rl(scripted_pipeline.data, tmp_path / "data")
    (tmp_path / "home").mkdir()
    config = tmp_path / "rl.yaml"
    config.write_text(yaml.safe_dump(RL_SMALL))
    with FakeLLMServer(default=status(503)) as dead:
        env = {**scripted_pipeline.env, "SEEKFORGE_DATA_DIR": str(tmp_path / "data"),
               "DAGSTER_HOME": str(tmp_path / "home"), "SEEKFORGE_RRM_BASE_URL": dead.base_url,
               "SEEKFORGE_RRM_TIMEOUT_S": "5"}
        proc = subprocess.run([str(Path(sys.executable).parent / "dagster"), "asset", "materialize", "-m",
                               "pipelines.definitions", "--select", "rl_model",
                               "-c", str(REPO / "pipelines" / "configs" / RECIPE),  # the recipe the data was built with
                               "-c", str(config)],
                              cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
        asked = dead.count()
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out[-3000:]
    assert asked > 0
    assert "rl_model: no LLM call succeeded, so the endpoint is unusable. role 'rrm'" in out, out[-3000:]
    assert not (tmp_path / "data" / "models" / "rl" / "seekforge_run.json").exists()  # not recorded as reusable
