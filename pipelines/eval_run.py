"""``seekforge eval``'s run: an OpenAI-compatible agent, the chosen tools, the benchmark files.

The same pieces as the ``agent_eval`` asset (:func:`train.benchmark_eval.evaluate_agent`, the
agent tools resource, the request cache), assembled without Dagster, so a checkpoint served
anywhere (vLLM, a hosted API) is scored exactly as our own checkpoints are.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from train.benchmarks import BenchmarkRecord


@dataclass(frozen=True, slots=True, kw_only=True)
class EvalRequest:
    """One ``seekforge eval`` run; the defaults are the CLI options' (declared there once)."""

    benchmarks: Mapping[str, Sequence[BenchmarkRecord]]
    base_url: str
    model: str
    api_key_env: str
    style: str
    search_backend: str
    search_base_url: str
    search_api_key_env: str
    profile: str
    data_dir: Path | None
    samples: int
    pass_k: Sequence[int]
    metric: str
    criterion: str
    judge: bool
    max_turns: int
    max_tokens_per_turn: int
    temperature: float
    concurrency: int
    current_date: str
    seed: int
    out_dir: Path | None


def _roles(req: EvalRequest) -> dict[str, Any]:
    """The agent as role ``policy``; ``summarizer`` and ``judge`` from their env variables, the
    summarizer falling back to the agent's endpoint (said in the output), the judge never."""
    from dataclasses import replace

    from distill.llm.roles import RoleConfig, role_from_env

    policy = RoleConfig(name="policy", base_url=req.base_url, model=req.model, api_key_env=req.api_key_env or "OPENAI_API_KEY",
                        temperature=req.temperature, max_tokens=req.max_tokens_per_turn, structured="openai")
    summarizer = role_from_env("summarizer")
    if not summarizer.base_url:
        summarizer = replace(policy, name="summarizer", temperature=0.0)
    roles = {"policy": policy, "summarizer": summarizer}
    if req.judge:
        judge = role_from_env("judge")
        if not judge.base_url:
            raise ValueError("--judge needs the judge role's endpoint: set SEEKFORGE_JUDGE_BASE_URL and "
                             "SEEKFORGE_JUDGE_MODEL (and SEEKFORGE_JUDGE_API_KEY_ENV for a key)")
        roles["judge"] = judge
    for cfg in roles.values():
        cfg.api_key()  # a named but unset key variable fails here, before any request
    return roles


def run_eval(req: EvalRequest) -> dict[str, Any]:
    """Run and score; write CSV / PNG / rollouts under ``out_dir`` when given; return the JSON."""
    import warnings

    import polars as pl

    # The resources come from the Dagster asset modules, whose decorators warn about beta
    # parameters at import: noise on a CLI's stderr, which carries only its own errors.
    warnings.filterwarnings("ignore", message=r".*is currently in beta")

    from assets.resources import AgentToolsResource, StorageResource
    from distill.agent.loop import RolloutSettings
    from distill.agent.styles import long_style, short_style
    from distill.llm.cache import RequestCache
    from distill.llm.client import LLMClient
    from distill.records import write_table
    from pipelines.resources import resources_for
    from train.benchmark_eval import EvalSettings, evaluate_agent, plot, write_csv

    settings = EvalSettings(samples=req.samples, seed=req.seed, judge=req.judge, variant=req.metric,  # type: ignore[arg-type]
                            criterion=req.criterion, ks=tuple(req.pass_k))  # type: ignore[arg-type]
    roles = _roles(req)
    data_dir = req.data_dir or Path(os.environ.get("SEEKFORGE_DATA_DIR") or "./data")
    storage = StorageResource(data_dir=str(data_dir))
    crawler = resources_for(req.profile)["crawler"]
    tools_resource = AgentToolsResource(search_backend=req.search_backend,  # type: ignore[arg-type]
                                        search_base_url=req.search_base_url,
                                        search_api_key_env=req.search_api_key_env)
    if req.search_backend == "local" and not storage.path("search_index", "bm25").exists():
        raise ValueError(f"--search-backend local needs the search index at {storage.path('search_index', 'bm25')}: "
                         "materialize search_index there, pass --data-dir, or use searxng / serper")
    date = req.current_date or datetime.now(UTC).date().isoformat()
    rollout = RolloutSettings(max_turns=req.max_turns, max_tokens_per_turn=req.max_tokens_per_turn,
                              temperature=req.temperature)
    cache = RequestCache(storage.path("llm_cache.sqlite"))

    async def go() -> Any:
        async with LLMClient(roles, cache=cache, max_concurrency=req.concurrency) as client, \
                tools_resource.tools(storage, crawler, client, cache) as box:  # type: ignore[arg-type]
            schemas = [t.schema for t in box.tools.values()]
            style = short_style(schemas, date, role="policy") if req.style == "short" \
                else long_style(schemas, date, role="policy")
            return await evaluate_agent(req.model, client, style, req.benchmarks, box.tools, rollout, settings)

    try:
        result = asyncio.run(go())
    finally:
        cache.close()
    rows = result.rows()
    files: dict[str, str] = {}
    if req.out_dir is not None:
        files["csv"] = str(write_csv(rows, req.out_dir / "agent_eval.csv"))
        files["png"] = str(plot(rows, req.out_dir / "agent_eval.png"))
        path = req.out_dir / "rollouts.parquet"
        write_table(pl.DataFrame(result.rollout_rows()), path)
        files["rollouts"] = str(path)
    return {
        "agent": {"base_url": req.base_url, "model": req.model, "style": req.style},
        "summarizer": {"base_url": roles["summarizer"].base_url, "model": roles["summarizer"].model},
        "search_backend": req.search_backend,
        "scoring": {"metric": req.metric, "criterion": req.criterion, "pass_k": list(req.pass_k),
                    "judge_prompt": next((r["judge_prompt"] for r in result.table if r.get("judge_prompt")), None)},
        "table": result.table,
        "behaviour": result.behaviour,
        "files": files,
    }
