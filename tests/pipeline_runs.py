"""Running the real ``refresh_job`` (``dagster job execute``) against test servers, and
reading what it wrote: shared by the fault-injection and crash-resume suites.

Runs use demo.yaml with the in-process executor (one process: ~25 s a run with a
scripted teacher, against ~2 min when every step starts its own process), every LLM
role on a :class:`FakeLLMServer`, and optionally the crawler behind a
:class:`fault_web.FaultyReplayServer`.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import threading
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl
import yaml

from distill.llm.roles import ROLES
from fake_llm_server import (
    Behaviour,
    RecordedRequest,
    drop,
    empty_choices,
    hang,
    malformed_json,
    status,
    truncated_json,
)
from pipelines.resources import resources_for
from scripted_teacher import reliable_teacher

REPO = Path(__file__).resolve().parent.parent
DAGSTER = str(Path(sys.executable).parent / "dagster")

# Outputs that must come out identical whatever happened on the way, and the columns that
# legitimately differ between runs (timings, attempt counts, fetch times).
DATASETS = ("qa/qa_pool.parquet", "agent/atomic_prompts.parquet", "trajectories/short.parquet",
            "trajectories/long.parquet", "trajectories/atomic.parquet", "filters/scored_trajectories.parquet",
            "filters/funnel.parquet", "datasets/question_split.parquet", "datasets/sft/parquet/conversational.parquet",
            "datasets/sft/parquet/tokenized.parquet", "datasets/rl/parquet/train.parquet")
VOLATILE = {"fetched_at", "elapsed_s", "attempts", "seconds", "latency_s", "created_at", "generated_at",
            "cached"}  # a step's "served from cache" flag: provenance of this run, not data


def _fields(resource: Any) -> dict[str, Any]:
    return {k: getattr(resource, k) for k in type(resource).model_fields}


def write_config(root: Path, *, replay_url: str = "", **ops: dict[str, Any]) -> Path:
    """demo.yaml, run in one process; ``ops`` override op configs; ``replay_url`` points the crawler
    (and the agent's ``visit``) at an already running replay server."""
    cfg = yaml.safe_load((REPO / "pipelines" / "configs" / "demo.yaml").read_text())
    cfg["execution"] = {"config": {"in_process": {}}}
    for name, values in ops.items():
        cfg["ops"].setdefault(name, {"config": {}})["config"].update(values)
    # The embedded profile's values are its resource classes' defaults, so a partial run config
    # would keep them; the test harness still states them all, so a run's config says everything.
    profile = resources_for("embedded")
    resources = cfg.setdefault("resources", {})
    resources["llm"] = {"config": {**_fields(profile["llm"]), "backoff_base_s": 0.01}}  # waits are not under test
    if replay_url:
        resources["crawler"] = {"config": {**_fields(profile["crawler"]), "replay_url": replay_url}}
    root.mkdir(parents=True, exist_ok=True)
    path = root / "refresh.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


def pipeline_env(root: Path, llm_url: str, *, timeout_s: float | None = None) -> dict[str, str]:
    env = {**os.environ, "SEEKFORGE_DATA_DIR": str(root / "data"), "DAGSTER_HOME": str(root / "home")}
    for role in ROLES:
        env[f"SEEKFORGE_{role.upper()}_BASE_URL"] = llm_url
        env[f"SEEKFORGE_{role.upper()}_STRUCTURED"] = "llamacpp"
        if timeout_s is not None:
            env[f"SEEKFORGE_{role.upper()}_TIMEOUT_S"] = str(timeout_s)
    env["SEEKFORGE_REASONER_MODEL"] = "scripted-reasoner"
    (root / "home").mkdir(parents=True, exist_ok=True)
    return env


def command(config: Path, job: str = "refresh_job") -> list[str]:
    return [DAGSTER, "job", "execute", "-m", "pipelines.definitions", "-j", job, "-c", str(config)]


def run_job(env: dict[str, str], config: Path, job: str = "refresh_job", timeout: float = 400) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command(config, job), cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)


def tail(proc: subprocess.CompletedProcess[str], n: int = 4000) -> str:
    return (proc.stdout + proc.stderr)[-n:]


def _stable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _stable(v) for k, v in value.items() if k not in VOLATILE}
    if isinstance(value, list):
        return [_stable(v) for v in value]
    return value


def _row_key(row: dict[str, Any]) -> str:
    return json.dumps(_stable(row), sort_keys=True, default=str)


def snapshot(data: Path) -> dict[str, list[str]]:
    """Every final table's rows (volatile columns removed), canonical and sorted."""
    out = {}
    for rel in DATASETS:
        path = data / rel
        if not path.exists():
            out[rel] = ["<missing>"]
            continue
        df = pl.read_parquet(path)
        out[rel] = sorted(_row_key(r) for r in df.to_dicts())
    return out


def funnel_problems(data: Path) -> list[str]:
    """Where the record counts of the files on disk do not add up (empty list: they do).

    Every crawled URL is a row (valid, or invalid with a reason); every QA candidate is a
    pair or a drop with a reason; every pool input is in the pool or in its drops; every
    question rolled out has one rollout per style; every rollout is scored, kept or with
    its reasons; every kept rollout of an SFT question is an SFT record; and the stored
    funnel says the same numbers."""
    problems: list[str] = []
    funnel = pl.read_parquet(data / "filters" / "funnel.parquet")
    stage = {s: (d["n_in"][0], dict(zip(d["reason"].to_list(), d["count"].to_list(), strict=True)))
             for (s,), d in funnel.group_by("stage", maintain_order=True)}

    def expect(what: str, got: int, want: int) -> None:
        if got != want:
            problems.append(f"{what}: {got} != {want}")

    pages = pl.concat([pl.read_parquet(p) for p in sorted((data / "web_pages").glob("*.parquet"))])
    expect("pages stage n_in vs web_pages rows", stage["pages"][0], pages.height)
    expect("pages kept vs valid rows", stage["pages"][1]["(kept)"], pages.filter(pl.col("valid")).height)
    unexplained = pages.filter(~pl.col("valid") & pl.col("invalid_reason").fill_null("").eq(""))
    expect("invalid pages without a reason", unexplained.height, 0)

    pairs = {o: pl.read_parquet(data / "qa" / f"{o}_pairs.parquet") for o in ("crawlqa", "e2hqa")}
    drops = {o: pl.read_parquet(data / "qa" / f"{o}_drops.parquet") for o in ("crawlqa", "e2hqa")}
    expect("qa_candidates n_in", stage["qa_candidates"][0], sum(pairs[o].height + drops[o].height for o in pairs))
    for o in drops:
        expect(f"{o} drops without a reason", drops[o].filter(pl.col("reason").fill_null("") == "").height, 0)
    pool, pool_drops = pl.read_parquet(data / "qa" / "qa_pool.parquet"), pl.read_parquet(data / "qa" / "qa_pool_drops.parquet")
    expect("qa_pool inputs", pool.height + pool_drops.height, sum(p.height for p in pairs.values()))

    rollouts = pl.concat([pl.read_parquet(data / "trajectories" / f"{s}.parquet") for s in ("short", "long", "atomic")])
    per_style = rollouts.group_by("question_id").agg(pl.col("style").n_unique().alias("styles"))
    expect("questions missing a style", per_style.filter(pl.col("styles") != 3).height, 0)
    expect("rolled-out questions not in qa_pool", len(set(rollouts["question_id"]) - set(pool["id"])), 0)
    scored = pl.read_parquet(data / "filters" / "scored_trajectories.parquet")
    expect("scored rows vs rollouts", scored.height, rollouts.height)
    expect("scored ids vs rollout ids", len(set(scored["id"]) ^ set(rollouts["id"])), 0)
    expect("dropped rollouts without a reason", scored.filter(~pl.col("keep") & (pl.col("reasons").list.len() == 0)).height, 0)
    expect("rollouts stage n_in", stage["rollouts"][0], rollouts.height)
    last = funnel["stage"].to_list()[-1]
    expect("funnel kept vs scored keep", stage[last][1]["(kept)"], scored.filter(pl.col("keep")).height)

    split = pl.read_parquet(data / "datasets" / "question_split.parquet")
    sft_q = set(split.filter(pl.col("split") == "sft")["question_id"])
    sft = pl.read_parquet(data / "datasets" / "sft" / "parquet" / "conversational.parquet")
    kept_sft = scored.filter(pl.col("keep") & pl.col("question_id").is_in(list(sft_q)))
    expect("SFT records vs kept rollouts of SFT questions", sft.height, kept_sft.height)
    return problems


# ---------------------------------------------------------------------------
# LLM faults
# ---------------------------------------------------------------------------
def body_key(request: RecordedRequest) -> str:
    return hashlib.sha256(request.body).hexdigest()


TRANSIENT: dict[str, Callable[[int], Behaviour]] = {
    # kind -> the behaviour of the n-th (1-based) attempt while it misbehaves
    "5xx_burst": lambda n: status(503 if n % 2 else 500),
    "429_storm": lambda n: status(429, retry_after="0"),
    "hang": lambda n: hang(),
    "truncated_body": lambda n: truncated_json(),
    "connection_drop": lambda n: drop(),
    "malformed_json": lambda n: malformed_json(body=b"<html>502 bad gateway</html>"),
    "empty_choices": lambda n: empty_choices(),
}
ATTEMPTS = {"5xx_burst": 3, "429_storm": 3, "hang": 1, "truncated_body": 1, "connection_drop": 2,
            "malformed_json": 1, "empty_choices": 1}


class FaultyTeacher:
    """The reliable scripted teacher behind an endpoint that misbehaves.

    ``transient``: one request in ``every`` (by a hash of its body) gets a fault kind, chosen
    by the same hash, for its first ``ATTEMPTS[kind]`` attempts (fewer than the client's
    retries), then the right answer. ``persistent(request) -> bool``: requests that always
    get a 500. ``answered`` holds the bodies that received a real answer."""

    def __init__(self, *, transient: bool = False, every: int = 3,
                 persistent: Callable[[RecordedRequest], bool] | None = None,
                 rewrite: Callable[[RecordedRequest, Behaviour], Behaviour] | None = None) -> None:
        self.transient, self.every, self.persistent, self.rewrite = transient, every, persistent, rewrite
        self.attempts: Counter[str] = Counter()
        self.injected: Counter[str] = Counter()
        self.answered: set[str] = set()
        self.by_kind: dict[str, set[str]] = defaultdict(set)
        self._lock = threading.Lock()

    def __call__(self, request: RecordedRequest) -> Behaviour:
        key = body_key(request)
        with self._lock:
            self.attempts[key] += 1
            n = self.attempts[key]
        if self.persistent is not None and self.persistent(request):
            self.injected["persistent_500"] += 1
            return status(500, body=b'{"error": {"message": "injected: always failing"}}')
        if self.transient:
            h = int(key[:8], 16)
            if h % self.every == 0:
                kinds = sorted(TRANSIENT)
                kind = kinds[(h // self.every) % len(kinds)]
                if n <= ATTEMPTS[kind]:
                    with self._lock:
                        self.injected[kind] += 1
                        self.by_kind[kind].add(key)
                    return TRANSIENT[kind](n)
        behaviour = reliable_teacher(request)
        if self.rewrite is not None:
            behaviour = self.rewrite(request, behaviour)
        with self._lock:
            self.answered.add(key)
        return behaviour


def repeated_bodies(requests: list[RecordedRequest]) -> int:
    """Requests whose exact body had already been sent (retries of failed attempts included)."""
    counts = Counter(body_key(r) for r in requests)
    return sum(n - 1 for n in counts.values() if n > 1)
