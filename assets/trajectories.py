"""Agent stage assets: atomic_prompts, and trajectories/{short,long,atomic}.

Why three assets and not one asset partitioned by style: ``refresh_job`` runs crawl ->
datasets in one run, and a Dagster run targets one partitions definition; the crawl is
partitioned by source. Three assets under the ``trajectories/`` key prefix give the same
per-style materialization, lineage and metadata, in one run.
"""

import asyncio
import json
import logging
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import Enum
from typing import Any, Literal

import dagster as dg
import polars as pl
from pydantic import Field

from assets.crawl import search_index
from assets.metadata import counter_md, counts_md, fail_if_llm_unusable, llm_metadata, md_table, preview_md
from assets.progress import StepProgress
from assets.qa import qa_pool
from assets.resources import AgentToolsResource, CrawlerResource, LLMResource, StorageResource
from distill.agent.atomic import AtomicPrompt, expand_prompts, load_seeds
from distill.agent.loop import QAItem, RolloutSettings, run_rollouts
from distill.agent.render import trajectory_markdown
from distill.agent.styles import Style, atomic_style, long_style, short_style
from distill.agent.tools import FAILED_OUTCOMES, TOOL_OUTCOMES, ran_and_failed
from distill.agent.trajectory import FINISH_REASONS, STYLES, Trajectory, trajectories_frame
from distill.records import write_table

GROUP = "agent"
OWNERS = ["team:seekforge-data"]
log = logging.getLogger(__name__)

# mypy joins dtype classes (pl.String) and instances (pl.List(...)) to object.
ATOMIC_PROMPTS_SCHEMA = pl.Schema({  # type: ignore[arg-type]
    "id": pl.String, "seed_id": pl.String, "units": pl.List(pl.String), "text": pl.String, "source": pl.String,
})


class AtomicPromptsConfig(dg.Config):
    per_seed: int = Field(default=8, description="Teacher expansions asked per seed template (10 templates).")
    min_units: int = 2
    max_units: int = 6
    min_prompts: int = Field(default=20, description="Fewer distinct prompts than this fails the blocking check.")
    seed: int = 0


@dg.asset(
    group_name=GROUP, kinds={"python", "parquet", "llm"}, owners=OWNERS,
    check_specs=[dg.AssetCheckSpec("enough_distinct_prompts", asset="atomic_prompts", blocking=True),
                 dg.AssetCheckSpec("every_prompt_names_two_units", asset="atomic_prompts", blocking=True)],
    description="Atom-Searcher system prompts: 10 seed templates (each with 2 atomic-thought examples) expanded by the "
                "teacher into distinct combinations of atomic-thought units, deduplicated by the set of unit tags.",
)
def atomic_prompts(config: AtomicPromptsConfig, storage: StorageResource, llm: LLMResource) -> dg.MaterializeResult:
    started = time.monotonic()
    seeds = load_seeds()
    with llm.session(storage) as session:
        async def go() -> tuple[Any, Any, dict[str, Any]]:
            async with session.client() as client:
                prompts, drops = await expand_prompts(client, seeds, per_seed=config.per_seed, seed=config.seed,
                                                      min_units=config.min_units, max_units=config.max_units)
                return prompts, drops, client.stats_dict()

        prompts, drops, stats = asyncio.run(go())
    df = pl.DataFrame([{"id": p.id, "seed_id": p.seed_id, "units": list(p.units), "text": p.text, "source": p.source}
                       for p in prompts], schema=ATOMIC_PROMPTS_SCHEMA)
    write_table(df, storage.path("agent", "atomic_prompts.parquet"))
    fail_if_llm_unusable(stats, "atomic_prompts")
    reasons = Counter(d["reason"] for d in drops)
    few = df.filter(pl.col("units").list.len() < 2).height
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": df.height,
            "seeds": len(seeds),
            "asked": len(seeds) * config.per_seed,
            "by_source": counts_md(df, "source", "prompts"),
            "drop_reasons": counter_md(reasons),
            "unit_tags": counter_md(Counter(u for us in df["units"].to_list() for u in us), key="tag"),
            "preview": preview_md(df.with_columns(pl.col("units").list.join(" ")), ["source", "seed_id", "units"]),
            **llm_metadata(stats, time.monotonic() - started),
        },
        check_results=[
            dg.AssetCheckResult(check_name="enough_distinct_prompts", passed=df.height >= config.min_prompts,
                                metadata={"distinct": df.height, "required": config.min_prompts}),
            dg.AssetCheckResult(check_name="every_prompt_names_two_units", passed=few == 0, metadata={"fewer": few}),
        ],
    )


class AgentAction(str, Enum):
    """An action of the ReAct protocol, as run config names it (a typo is a launch error)."""

    search = "search"
    visit = "visit"
    answer = "answer"


class RolloutStyle(str, Enum):
    """A rollout style (:data:`distill.agent.trajectory.STYLES`) as run config names it: recipes
    pick the styles SFT trains on and the style of the RL prompt."""

    short = "short"
    long = "long"
    atomic = "atomic"


class TrajectoriesConfig(dg.Config):
    max_questions: int = Field(default=200, description="Questions of qa_pool to roll out (in id order).")
    samples_per_question: int = Field(default=4, description="K rollouts per question (seeds seed..seed+K-1).")
    seed: int = 0
    current_date: str = Field(default="", description="Date written in the system prompt (YYYY-MM-DD); empty = "
                                                      "today (UTC). Pin it to keep reruns on other days cache hits.")
    max_turns: int = 12
    max_total_tokens: int = 24_000
    max_tokens_per_turn: int = 1024
    max_context_chars: int = 60_000
    max_observation_chars: int = 6_000
    max_invalid: int = 3
    max_repeats: int = 2
    constrain: bool = Field(default=False, description="DEMO ONLY: GBNF-constrain turns to the action format "
                                                      "(llama.cpp servers), for models too small to follow it.")
    require_tool_first: bool = Field(default=False, description="DEMO ONLY (with constrain): no answer before a tool call.")
    max_thought_chars: int = 400
    action_schedule: list[AgentAction] = Field(default_factory=list, description="DEMO ONLY (with constrain): the action "
                                       "allowed at turn i, the last repeating, e.g. [search, visit, answer].")
    answer_space: Literal["free", "observed"] = Field(default="free", description="DEMO ONLY (with constrain): free | "
                                                      "observed (the answer "
                                                         "is a name, number or date seen in the observations).")
    max_tool_failure_share: float = Field(default=0.5, description="The step fails (after writing its rollouts) when "
                                          "more than this share of one tool's calls failed: a dead engine or a bad "
                                          "key, not data.")
    tool_failure_min_calls: int = Field(default=4, description="A tool needs at least this many calls before "
                                        "max_tool_failure_share applies.")

    def rollout_settings(self) -> RolloutSettings:
        return RolloutSettings(
            max_turns=self.max_turns, max_total_tokens=self.max_total_tokens,
            max_tokens_per_turn=self.max_tokens_per_turn, max_context_chars=self.max_context_chars,
            max_observation_chars=self.max_observation_chars, max_invalid=self.max_invalid,
            max_repeats=self.max_repeats, constrain=self.constrain, require_tool_first=self.require_tool_first,
            max_thought_chars=self.max_thought_chars, action_schedule=tuple(a.value for a in self.action_schedule),
            answer_space=self.answer_space,
        )


def _items(storage: StorageResource, limit: int) -> list[QAItem]:
    pool = pl.read_parquet(storage.path("qa", "qa_pool.parquet")).sort("id").head(limit)
    return [QAItem(id=r["id"], question=r["question"], answer=r["answer"], aliases=list(r["aliases"] or []))
            for r in pool.iter_rows(named=True)]


def _atomic_prompt_rows(storage: StorageResource) -> list[AtomicPrompt]:
    df = pl.read_parquet(storage.path("agent", "atomic_prompts.parquet"))
    return [AtomicPrompt(id=r["id"], seed_id=r["seed_id"], units=list(r["units"]), text=r["text"], source=r["source"])
            for r in df.iter_rows(named=True)]


def _metadata(df: pl.DataFrame, trajs: list[Trajectory]) -> dict[str, Any]:
    finish = Counter(t.finish_reason for t in trajs)
    invalid = Counter(s.invalid_reason for t in trajs for s in t.steps if s.invalid_reason)
    example = next((t for t in trajs if t.finish_reason == "answer" and t.tool_call_counts()), trajs[0] if trajs else None)
    calls = df["tool_calls"] if df.height else pl.Series([0])
    return {
        "dagster/row_count": df.height,
        "questions": df["question_id"].n_unique() if df.height else 0,
        "finish_reasons": dg.MetadataValue.md(md_table([{"finish_reason": r, "rollouts": finish.get(r, 0)}
                                                        for r in FINISH_REASONS])),
        "tool_calls_per_trajectory": dg.MetadataValue.md(md_table([{
            # polars types Series.mean() as any Python literal.
            "mean": round(float(calls.mean() or 0), 2),  # type: ignore[arg-type]
            "median": calls.median(), "max": calls.max(),
            "search": int(df["search_calls"].sum()) if df.height else 0,
            "visit": int(df["visit_calls"].sum()) if df.height else 0}])),
        "invalid_actions": counter_md(invalid),
        "completion_tokens": int(df["completion_tokens"].sum()) if df.height else 0,
        "prompt_tokens": int(df["prompt_tokens"].sum()) if df.height else 0,
        "preview": preview_md(df, ["question", "finish_reason", "tool_calls", "final_answer", "reference"], width=70),
        "example_trajectory": dg.MetadataValue.md(trajectory_markdown(example) if example else "_(none)_"),
    }


@dataclass(slots=True)
class ToolTally:
    """How one tool's calls went over a step's rollouts (call outcomes: ``call_outcome``)."""

    outcomes: Counter[str] = field(default_factory=Counter)
    statuses: Counter[int] = field(default_factory=Counter)  # HTTP status of failed calls
    last_error: str = ""

    @property
    def ran(self) -> int:
        """Calls the tool ran (refused arguments are the model's error, not the tool's)."""
        return ran_and_failed(self.outcomes.elements())[0]

    @property
    def failed(self) -> int:
        return ran_and_failed(self.outcomes.elements())[1]


def tool_tallies(trajs: list[Trajectory]) -> dict[str, ToolTally]:
    """Per tool, in first-call order: call outcomes, HTTP statuses of failures, the last error."""
    tallies: dict[str, ToolTally] = {}
    for t in trajs:
        for st in t.steps:
            outcome = st.tool_outcome
            if not outcome:
                continue
            tally = tallies.setdefault(st.tool_name or "(unknown)", ToolTally())
            tally.outcomes[outcome] += 1
            if outcome in FAILED_OUTCOMES:
                if st.tool_status:
                    tally.statuses[st.tool_status] += 1
                tally.last_error = st.tool_error or tally.last_error
    return tallies


def tool_outcomes_md(tallies: dict[str, ToolTally]) -> str:
    """One row per tool: calls, a column per outcome that occurred, HTTP statuses of failures."""
    seen = [o for o in TOOL_OUTCOMES if any(t.outcomes.get(o) for t in tallies.values())]
    rows = [{"tool": name, "calls": sum(t.outcomes.values()), **{o: t.outcomes.get(o, 0) for o in seen},
             "failed_http_status": ", ".join(f"{s}: {n}" for s, n in sorted(t.statuses.items())) or "-"}
            for name, t in tallies.items()]
    return md_table(rows)


def tool_failure_sentence(step: str, tallies: dict[str, ToolTally], max_share: float, min_calls: int,
                          rollouts: int) -> str | None:
    """The one sentence that fails the step when a tool's calls mostly failed, or None."""
    dead = [(name, t) for name, t in tallies.items()
            if t.ran >= min_calls and t.failed and t.failed / t.ran > max_share]
    if not dead:
        return None
    parts = []
    for name, t in dead:
        kinds = ", ".join(f"{o}={n}" for o, n in t.outcomes.most_common() if o in FAILED_OUTCOMES)
        http = ", ".join(f"HTTP {s} x{n}" for s, n in sorted(t.statuses.items()))
        parts.append(f"the {name} tool failed on {t.failed} of {t.ran} calls ({kinds}{'; ' + http if http else ''}), "
                     f"more than the allowed share {max_share:g}, last error: {t.last_error[:300] or '(none given)'}")
    return (f"{step}: " + "; ".join(parts) + f"; the {rollouts} rollouts are written with their tool outcomes, "
            "so fix the tool's backend (its URL or key) and re-run.")


def style_for(name: str, tools: list[dict[str, Any]], date: str, storage: StorageResource,
              role: str | None = None) -> Style:
    """The rollout style ``name`` with its system prompts (atomic: the atomic_prompts asset's),
    run by ``role`` (default: the style's teacher role; agent_eval passes its policy)."""
    who = {"role": role} if role else {}
    if name == "short":
        return short_style(tools, date, **who)
    if name == "long":
        return long_style(tools, date, **who)
    return atomic_style(tools, date, _atomic_prompt_rows(storage), **who)


def _make_trajectories(style: str) -> dg.AssetsDefinition:
    deps: list[Any] = [qa_pool, search_index] + ([atomic_prompts] if style == "atomic" else [])
    role = {"short": "teacher", "long": "reasoner", "atomic": "teacher"}[style]
    what = {"short": "short-CoT: the instruct teacher runs the ReAct loop",
            "long": "long-CoT: the reasoner sees the question and past actions/observations only; its reasoning is "
                    "the thought",
            "atomic": "Atomic-Thought: the teacher under an expanded Atom-Searcher prompt, thoughts split into "
                      "named units"}[style]

    @dg.asset(
        name=style, key_prefix=["trajectories"], group_name=GROUP, kinds={"python", "parquet", "llm"}, owners=OWNERS,
        deps=deps,
        check_specs=[dg.AssetCheckSpec("unique_ids", asset=dg.AssetKey(["trajectories", style]), blocking=True),
                     dg.AssetCheckSpec("known_finish_reasons", asset=dg.AssetKey(["trajectories", style]),
                                       blocking=True)],
        description=f"ReAct rollouts ({what}) over qa_pool with the search/visit tools; K per question; every "
                    f"rollout kept with its finish reason (answer | max_turns | max_tokens | invalid | error).",
    )
    def _asset(context: dg.AssetExecutionContext, config: TrajectoriesConfig, storage: StorageResource,
               llm: LLMResource, crawler: CrawlerResource, agent_tools: AgentToolsResource) -> dg.MaterializeResult:
        started = time.monotonic()
        items = _items(storage, config.max_questions)
        date = config.current_date or datetime.now(UTC).date().isoformat()
        with llm.session(storage) as session:
            async def go() -> tuple[list[Trajectory], dict[str, Any], dict[str, int]]:
                async with session.client() as client, \
                        agent_tools.tools(storage, crawler, client, session.cache) as box:
                    st = style_for(style, [t.schema for t in box.tools.values()], date, storage)
                    trajs = await run_rollouts(client, st, items, box.tools, config.rollout_settings(),
                                               k=config.samples_per_question, seed=config.seed,
                                               progress=StepProgress(context, f"trajectories/{style}", "rollouts"))
                    return trajs, client.stats_dict(), box.stats()

            trajs, stats, tool_stats = asyncio.run(go())
        df = trajectories_frame(trajs)
        write_table(df, storage.path("trajectories", f"{style}.parquet"))
        fail_if_llm_unusable(stats, f"trajectories__{style}")
        tallies = tool_tallies(trajs)
        outcomes_md = dg.MetadataValue.md(tool_outcomes_md(tallies))
        why = tool_failure_sentence(f"trajectories/{style}", tallies, config.max_tool_failure_share,
                                    config.tool_failure_min_calls, len(trajs))
        if why is not None:
            raise dg.Failure(why, metadata={"tool_outcomes": outcomes_md, "rollouts_written": len(trajs)})
        unknown = df.filter(~pl.col("finish_reason").is_in(list(FINISH_REASONS))).height
        return dg.MaterializeResult(
            metadata={
                **_metadata(df, trajs),
                "tool_outcomes": outcomes_md,
                "failed_tool_calls": int(df["failed_tool_calls"].sum()) if df.height else 0,
                "role": role,
                "system_prompts": df["system_prompt_id"].n_unique() if df.height else 0,
                "tool_cache": json.dumps(tool_stats),
                "date_in_prompt": date,
                **llm_metadata(stats, time.monotonic() - started),
            },
            check_results=[
                dg.AssetCheckResult(check_name="unique_ids", passed=bool(df["id"].is_unique().all()) if df.height else True),
                dg.AssetCheckResult(check_name="known_finish_reasons", passed=unknown == 0, metadata={"unknown": unknown}),
            ],
        )

    return _asset


trajectories = [_make_trajectories(s) for s in STYLES]
