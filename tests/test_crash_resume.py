"""kill -9 ``refresh_job`` at several points, re-run it each time, and get the datasets of a
run that was never interrupted, paying the LLM endpoint only once for each answer.

One data dir goes through four crashes: during the crawl, during QA synthesis, during the
rollouts and during the dataset build. Each re-run starts the same job again, as an
operator (or Dagster's run retries) would. ``pytest -m faults`` runs this with the fault suite.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from fake_llm_server import FakeLLMServer, RecordedRequest
from fault_web import FaultyReplayServer
from pipeline_runs import REPO, body_key, command, pipeline_env, run_job, snapshot, tail, write_config
from scripted_teacher import reliable_teacher

pytestmark = [pytest.mark.faults, pytest.mark.e2e, pytest.mark.timeout(600)]


class Run:
    """One ``dagster job execute`` in its own process group, its output read line by line."""

    def __init__(self, env: dict[str, str], config: Path) -> None:
        self.proc = subprocess.Popen(command(config), cwd=REPO, env=env, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True, start_new_session=True)
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)

    def started(self, step: str) -> bool:
        return any("STEP_START" in line and f'"{step}"' in line for line in list(self.lines))

    def kill_when(self, condition: Callable[[], bool], what: str, timeout: float = 240) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            assert self.proc.poll() is None, f"the run ended before {what}:\n" + "".join(self.lines)[-3000:]
            assert time.monotonic() < deadline, f"never saw {what}"
            time.sleep(0.02)
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(30)
        self._reader.join(10)


def _system(request: RecordedRequest) -> str:
    return next((str(m.get("content", "")) for m in request.messages if m.get("role") == "system"), "")


def test_kill_9_at_four_points_then_resume_equals_uninterrupted(clean_refresh, tmp_path: Path) -> None:
    with FaultyReplayServer() as web, FakeLLMServer(default=reliable_teacher, latency_s=0.05) as llm:
        env = pipeline_env(tmp_path, llm.base_url)
        config = write_config(tmp_path, replay_url=web.url)

        def since(n: int, pick: Callable[[RecordedRequest], bool]) -> int:
            return sum(1 for r in llm.requests[n:] if pick(r))

        crashes = []

        # 1. during the crawl: some pages fetched, the step still running
        run = Run(env, config)
        run.kill_when(lambda: web.total_hits() >= 15, "15 page fetches")
        crashes.append(("crawl", web.total_hits()))
        assert not (tmp_path / "data" / "qa" / "qa_pool.parquet").exists()

        # 2. during CRAWLQA synthesis
        n = llm.count()
        run = Run(env, config)
        run.kill_when(lambda: since(n, lambda r: "You write one question-answer pair" in _system(r)) >= 10,
                      "10 CRAWLQA requests")
        crashes.append(("qa", llm.count() - n))

        # 3. during the rollouts
        n = llm.count()
        run = Run(env, config)
        run.kill_when(lambda: since(n, lambda r: "<tools>" in _system(r)) >= 4, "4 agent requests")
        crashes.append(("rollouts", llm.count() - n))

        # 4. during the dataset build (tokenizing and writing the SFT set)
        n = llm.count()
        run = Run(env, config)
        seen_start: list[float] = []

        def inside_sft_dataset() -> bool:  # 1.5 s into the step (it takes ~7 s), not at its edge
            if not seen_start and run.started("sft_dataset"):
                seen_start.append(time.monotonic())
            return bool(seen_start) and time.monotonic() - seen_start[0] > 1.5

        run.kill_when(inside_sft_dataset, "1.5 s into sft_dataset")
        assert not any("RUN_SUCCESS" in line for line in run.lines)
        crashes.append(("datasets", llm.count() - n))

        final = run_job(env, config)
        assert final.returncode == 0, tail(final)
        requests = llm.requests

    assert snapshot(tmp_path / "data") == clean_refresh.snapshot, crashes
    # No answer was paid for twice, except at most the one request in flight at each crash
    # that came during LLM work (max_concurrency is 1 in the embedded profile).
    seen: set[str] = set()
    repeated = 0
    for r in requests:
        key = body_key(r)
        repeated += key in seen
        seen.add(key)
    assert repeated <= 2, f"{repeated} requests were sent again after the crashes {crashes}"
    # The work itself was the uninterrupted run's: the same distinct requests, no more.
    assert seen == {body_key(r) for r in clean_refresh.requests}
