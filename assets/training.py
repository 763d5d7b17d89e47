"""Training assets: sft_model (SFT), rl_model (GRPO with tool rollouts), agent_eval (served checkpoints as agents).

Thin on purpose: the runner lives in ``train/`` so it can be used from a notebook or another
orchestrator; this asset picks the device, passes config, and puts the figures a person
wants to see (loss curve, tokens/s, where the checkpoint is) into metadata.
"""

import json
import math
import time
from typing import Any, Literal

import dagster as dg
from pydantic import Field

from assets.datasets import rl_dataset, sft_dataset
from assets.metadata import fail_if_llm_unusable, llm_metadata, md_table
from assets.progress import StepProgress
from assets.recipe import RECIPE_RL_FIELDS, RECIPE_ROLLOUT_FIELDS, RecipeResource
from assets.resources import AgentToolsResource, CrawlerResource, LLMResource, ModelsResource, StorageResource
from assets.settings_fields import config_base, settings_from
from assets.trajectories import AgentAction
from distill.records import write_table
from filters.metrics import Metric
from train.rl_rollout import RolloutConfig
from train.rl_runner import RLSettings

GROUP = "train"
OWNERS = ["team:seekforge-data"]


class SFTModelConfig(dg.Config):
    max_steps: int = Field(default=-1, description="Optimizer steps; -1 = num_train_epochs over the dataset.")
    num_train_epochs: float = 2.0
    learning_rate: float = 1e-5
    per_device_batch: int = 1
    grad_accum: int = 8
    max_length: int = 8192
    lora: bool = Field(default=False, description="Train LoRA adapters (merged into the saved checkpoint).")
    seed: int = 0
    reuse: bool = Field(default=True, description="Keep the last checkpoint when the dataset, base model and settings "
                                                  "are unchanged (recorded as a fingerprint next to it).")


@dg.asset(
    group_name=GROUP, kinds={"python", "pytorch", "huggingface"}, owners=OWNERS,
    deps=[sft_dataset],
    check_specs=[dg.AssetCheckSpec("loss_is_finite", asset="sft_model", blocking=True)],
    description="Supervised fine-tuning of the base model on sft_dataset's tokenized variant with TRL's SFTTrainer "
                "(observation tokens masked by their -100 labels); bf16 on a GPU, float32 on CPU.",
)
def sft_model(context: dg.AssetExecutionContext, config: SFTModelConfig, storage: StorageResource,
              models: ModelsResource, recipe: RecipeResource) -> dg.MaterializeResult:
    from dataclasses import asdict

    from train.reuse import fingerprint, forget, record, recorded
    from train.sft_runner import SFTReport, SFTSettings, run_sft

    started = time.monotonic()
    _fail_unless_recipe_styles(storage.path("datasets", "sft", "parquet", "conversational.parquet"), "sft_dataset",
                               set(recipe.style_names()), recipe)
    base = models.base_model_path(storage)
    settings = SFTSettings(max_steps=config.max_steps, num_train_epochs=config.num_train_epochs,
                           learning_rate=config.learning_rate, per_device_batch=config.per_device_batch,
                           grad_accum=config.grad_accum, max_length=config.max_length, lora=config.lora,
                           seed=config.seed, device=models.device)
    out = storage.path("models", "sft")
    fp = fingerprint(settings=asdict(settings), contents=[storage.path("datasets", "sft", "parquet", "tokenized.parquet")],
                     stats=[base])
    # A recorded report of another shape (an older version's) means: train again.
    prior = SFTReport.from_dict(recorded(out, fp)) if config.reuse else None
    if prior is not None:
        report = prior
        context.log.info("sft_model: dataset, base model and settings unchanged: reusing the last checkpoint")
    else:
        forget(out)
        report = run_sft(storage.path("datasets", "sft", "tokenized"), base, out, settings,
                         progress=StepProgress(context, "sft_model", "steps"))
        record(out, fp, report.to_dict())
    losses = [{"step": h.get("step"), "loss": round(float(h["loss"]), 4)} for h in report.log_history if "loss" in h]
    context.log.info(f"sft_model: {report.steps} steps, loss {report.train_loss:.4f}, {report.tokens_per_s} tokens/s")
    return dg.MaterializeResult(
        metadata={
            "checkpoint": dg.MetadataValue.path(report.checkpoint),
            "reused": prior is not None,
            "fingerprint": fp[:16],
            "base_model": dg.MetadataValue.path(str(base)),
            "device": report.device,
            "dtype": report.dtype,
            "steps": report.steps,
            "train_loss": report.train_loss,
            "rows": report.rows,
            "tokens": report.tokens,
            "tokens_per_s": report.tokens_per_s,
            "loss_curve": dg.MetadataValue.md(md_table(losses[-50:])),
            "seconds": round(time.monotonic() - started, 1),
        },
        check_results=[dg.AssetCheckResult(check_name="loss_is_finite", passed=report.train_loss == report.train_loss,
                                           metadata={"train_loss": report.train_loss})],
    )


_RLModelFields: Any = config_base("RLModelFields", dg.Config, RLSettings, RolloutConfig,
                                  exclude=("rollout", "device", "scaffold", *RECIPE_RL_FIELDS, *RECIPE_ROLLOUT_FIELDS))


class RLModelConfig(_RLModelFields):
    """The size of an RL run: the fields of :class:`train.rl_runner.RLSettings` and
    :class:`train.rl_rollout.RolloutConfig` (declared there once) that the recipe
    (:class:`assets.recipe.RecipeResource`) does not decide, plus what only the asset decides:
    the graders' coverage bounds, the DEMO-ONLY scaffold, and reuse."""

    min_atr_coverage: float = Field(default=0.5, description="With rrm on and the atom_searcher reward: fail when the "
                                    "RRM graded fewer than this share of the rollouts it was asked about.")
    min_judge_coverage: float = Field(default=0.5, description="With judge on and the webdancer reward: fail when the "
                                      "judge gave a verdict on fewer than this share of the answers it was asked about.")
    scaffold: list[AgentAction] = Field(default_factory=list, description="DEMO ONLY: the action of turn i (last "
                                        "repeats), e.g. [search, visit, answer]; the environment writes the protocol's "
                                        "fixed text (masked out of the loss), the policy the thought, query, URL, goal "
                                        "and answer.")
    reuse: bool = Field(default=True, description="Keep the last checkpoint when the SFT checkpoint, dataset, settings, "
                                                  "tools and RRM endpoint are unchanged.")

    def settings(self, recipe: RecipeResource | None = None, device: str = "auto") -> RLSettings:
        """This run's settings under ``recipe`` (None: the recipe class defaults)."""
        recipe = recipe if recipe is not None else RecipeResource()
        rollout = settings_from(RolloutConfig, self, scaffold=tuple(a.value for a in self.scaffold),
                                **recipe.rollout_values())
        return settings_from(RLSettings, self, rollout=rollout, device=device, **recipe.rl_values())


def _fail_unless_recipe_styles(path: Any, asset: str, allowed: set[str], recipe: RecipeResource) -> dict[str, int]:
    """The dataset on disk must have been built under this recipe's styles: a recipe changed
    between refresh_job and train_job would otherwise train, say, WebDancer's short-CoT data
    under Atom-Searcher's name. Returns the rows per style, most first (for metadata)."""
    import polars as pl

    counts = dict(pl.read_parquet(path, columns=["style"])["style"].value_counts(sort=True).rows())
    found = set(counts)
    if found - allowed:
        raise dg.Failure(f"{asset} on disk holds {', '.join(sorted(found))} rollouts, but the recipe {recipe.name!r} "
                         f"trains on {', '.join(sorted(allowed))}: re-materialize {asset} with this recipe "
                         f"(refresh_job with the same recipe file).")
    return counts


def _fail_if_graders_uncovered(report: Any, config: RLModelConfig, recipe: RecipeResource) -> None:
    """The Atom-Searcher reward without RRM grades is F1 alone, WebDancer's without verdicts an F1
    rule: fail when the grader the recipe names gave too few back."""
    checks = (("rrm", recipe.rrm and recipe.reward == "atom_searcher", report.atr_asked, report.atr_graded,
               "min_atr_coverage", config.min_atr_coverage, "graded", "rollouts", "the Atom-Searcher reward was "
               "mostly F1 alone", "rrm: false"),
              ("judge", recipe.judge and recipe.reward == "webdancer", report.judge_asked, report.judge_graded,
               "min_judge_coverage", config.min_judge_coverage, "gave a verdict on", "answers", "the WebDancer reward "
               "was mostly the F1 rule", "judge: false"))
    for role, on, asked, graded, bound, minimum, verb, what, effect, switch in checks:
        if on and asked and graded / asked < minimum:
            raise dg.Failure(f"rl_model: the {role} role {verb} {graded} of {asked} {what} ({graded / asked:.0%} < "
                             f"{bound} {minimum:.0%}), so {effect}; fix the {role} endpoint (see the llm metadata) or "
                             f"set {switch} explicitly in the recipe.",
                             metadata={f"{role}_asked": asked, f"{role}_graded": graded})


_RL_CURVE = ("step", "reward", "reward_std", "reward/f1", "reward/atr", "reward/valid", "reward/alpha",
             "rollout/tool_calls", "entropy", "entropy_coef", "kl", "dapo/zero_variance_groups", "dapo/refill_rounds",
             "dapo/refill_groups", "dapo/effective_groups", "loss")


@dg.asset(
    group_name=GROUP, kinds={"python", "pytorch", "huggingface"}, owners=OWNERS,
    deps=[sft_model, rl_dataset],
    check_specs=[dg.AssetCheckSpec("loss_is_finite", asset="rl_model", blocking=True),
                 dg.AssetCheckSpec("rollouts_call_tools", asset="rl_model")],
    description="GRPO (DAPO loss) from sft_model on rl_dataset with TRL: multi-turn rollouts that call the real "
                "search/visit tools (observation tokens masked out of the loss), the Atom-Searcher reward (RRM "
                "grades of the atomic thoughts blended with answer F1 by a decaying curriculum weight), zero-variance "
                "groups out of the loss, and a sliding-window entropy bonus.",
)
def rl_model(context: dg.AssetExecutionContext, config: RLModelConfig, storage: StorageResource, llm: LLMResource,
             crawler: CrawlerResource, agent_tools: AgentToolsResource, models: ModelsResource,
             recipe: RecipeResource) -> dg.MaterializeResult:
    from dataclasses import asdict

    from train.env_bridge import BackgroundLoop, answer_judge, thought_scorer, tool_caller
    from train.reuse import fingerprint, forget, record, recorded, upstream_fingerprint
    from train.rl_runner import RLReport, run_rl

    started = time.monotonic()
    prompt_styles = _fail_unless_recipe_styles(storage.path("datasets", "rl", "parquet", "train.parquet"),
                                               "rl_dataset", {recipe.rl_prompt_style.value}, recipe)
    sft_ckpt = storage.path("models", "sft", "checkpoint")
    if not (sft_ckpt / "config.json").exists():
        raise FileNotFoundError(f"no SFT checkpoint at {sft_ckpt}: materialize sft_model first")
    out = storage.path("models", "rl")
    with llm.session(storage) as session:
        settings = config.settings(recipe, models.device)
        fp = fingerprint(settings={"rl": asdict(settings), "rrm": recipe.rrm, "judge": recipe.judge,
                                   "tools": agent_tools.model_dump(),
                                   "crawler": crawler.source_settings(), "endpoints": session.endpoints()},
                         contents=[storage.path("datasets", "rl", "parquet", "train.parquet")],
                         upstream=[upstream_fingerprint(storage.path("models", "sft"))])
        prior = RLReport.from_dict(recorded(out, fp)) if config.reuse else None  # None: train again
        if prior is not None:
            report = prior
            stats, tool_stats = {}, {}
            context.log.info("rl_model: SFT checkpoint, dataset and settings unchanged: reusing the last checkpoint")
        else:
            forget(out)
            with BackgroundLoop() as bg:
                client = bg.enter(session.client())
                box = bg.enter(agent_tools.tools(storage, crawler, client, session.cache))
                report = run_rl(storage.path("datasets", "rl", "dataset"), sft_ckpt, out,
                                settings, tool=tool_caller(bg, box.tools), tool_names=list(box.tools),
                                scorer=thought_scorer(bg, client) if recipe.rrm else None,
                                judge=answer_judge(bg, client) if recipe.judge and recipe.reward == "webdancer" else None,
                                progress=StepProgress(context, "rl_model", "steps"))
                stats, tool_stats = client.stats_dict(), box.stats()
            # A dead rrm endpoint: every call failed. Stop here, before the checkpoint is recorded
            # as reusable, instead of handing on a policy trained on F1 alone.
            fail_if_llm_unusable(stats, "rl_model")
            _fail_if_graders_uncovered(report, config, recipe)
            record(out, fp, report.to_dict())
    curve = [{k: (round(v, 4) if isinstance(v, float) else v) for k, v in h.items() if k in _RL_CURVE}
             for h in report.log_history if "reward" in h]
    m = report.metrics
    context.log.info(f"rl_model: {report.steps} steps, {report.rollouts} rollouts, {report.tool_calls} tool calls, "
                     f"{report.tokens_per_s} tokens/s")
    return dg.MaterializeResult(
        metadata={
            "checkpoint": dg.MetadataValue.path(report.checkpoint),
            "reused": prior is not None,
            "fingerprint": fp[:16],
            "device": report.device,
            "dtype": report.dtype,
            "steps": report.steps,
            "prompts": report.prompts,
            "rollouts": report.rollouts,
            "tool_calls": report.tool_calls,
            "tool_calls_per_rollout": round(report.tool_calls / max(1, report.rollouts), 3),
            "generation": report.generation,
            "rollout_tokens_per_s": round(report.generated_tokens / report.rollout_seconds, 1)
            if report.rollout_seconds else None,
            "recipe": dg.MetadataValue.json(recipe.summary()),
            "reward_kind": recipe.reward,
            "prompt_style": ", ".join(f"{style} ({n})" for style, n in prompt_styles.items()),
            "judge_coverage": dg.MetadataValue.md(md_table([{
                "asked": report.judge_asked, "graded": report.judge_graded,
                "share": round(report.judge_graded / report.judge_asked, 3) if report.judge_asked else None}])),
            "atr_coverage": dg.MetadataValue.md(md_table([{
                "asked": report.atr_asked, "graded": report.atr_graded,
                "share": round(report.atr_graded / report.atr_asked, 3) if report.atr_asked else None}])),
            "tokens": report.tokens,
            "tokens_per_s": report.tokens_per_s,
            "reward": m.get("reward", float("nan")),
            "reward_f1": m.get("reward/f1", float("nan")),
            "reward_atr": m.get("reward/atr", float("nan")),
            "alpha": m.get("reward/alpha", float("nan")),
            "entropy": m.get("entropy", float("nan")),
            "entropy_coef": m.get("entropy_coef", float("nan")),
            "training_curve": dg.MetadataValue.md(md_table(curve[-50:])),
            "dynamic_sampling": dg.MetadataValue.md(md_table([report.dynamic_sampling()])),
            "tool_cache": json.dumps(tool_stats),
            **llm_metadata(stats, time.monotonic() - started),
        },
        check_results=[
            dg.AssetCheckResult(check_name="loss_is_finite", passed=math.isfinite(m.get("loss", 0.0)),
                                metadata={"loss": m.get("loss", float("nan"))}),
            dg.AssetCheckResult(check_name="rollouts_call_tools", passed=report.tool_calls > 0,
                                metadata={"tool_calls": report.tool_calls, "rollouts": report.rollouts}),
        ],
    )


class AgentEvalConfig(dg.Config):
    max_questions: int = Field(default=50, description="Held-out qa_pool questions (seen by neither SFT nor RL), "
                                                       "scored as the benchmark 'held_out'.")
    benchmarks: list[str] = Field(default_factory=list, description="Benchmark files (FlashRAG / verl / HotpotQA JSON "
                                  "/ JSONL / Parquet / CSV, see train/benchmarks.py) to score every checkpoint on, "
                                  "beside the held-out questions; named by file (train.benchmarks.benchmark_name).")
    benchmark_limit: int = Field(default=0, description="Questions per benchmark file, in file order (0 = all).")
    checkpoints: list[str] = Field(default_factory=lambda: ["base", "sft", "rl"], description="Any of base, sft, rl.")
    samples: int = Field(default=1, description="Rollouts per question (pass@k needs k <= samples).")
    pass_k: list[int] = Field(default_factory=lambda: [1], description="The k of pass@k.")
    metric: Metric = Field(default="hotpotqa", description="EM / F1 rules: hotpotqa (official) or deepresearcher.")
    criterion: Literal["em", "cover_em", "judge"] = Field(default="em", description="What makes a sample correct "
                                                                                    "for pass@k.")
    judge: bool = Field(default=False, description="LLM-judge accuracy by the judge role, with the fixed, versioned "
                                                   "eval_judge prompt (DeepResearcher's model-based evaluation).")
    current_date: str = Field(default="", description="Date in the system prompt; empty = today (UTC).")
    max_turns: int = 10
    max_tokens_per_turn: int = 512
    max_total_tokens: int = 4096
    max_context_chars: int = 24_000
    max_observation_chars: int = 4_000
    temperature: float = 0.7
    seed: int = 0
    device: Literal["auto", "cuda", "cpu"] = Field(default="auto", description="transformers serve --device (auto: GPU "
                                                   "when present).")
    reuse: bool = Field(default=True, description="Keep the last table when the checkpoints, questions and settings "
                                                  "are unchanged.")


_SCALING = ("agent", "trajectories", "response_unit", "response_tokens_mean", "thinking_tokens_mean",
            "tool_calls_mean", "tool_calls_p90", "turns_mean", "turns_max")
_TABLE = ("agent", "questions", "samples", "em", "f1", "cover_em", "answer_rate", "format_valid", "pass@1",
          "judge_acc", "judge_missing")


def _rounded(row: dict[str, Any]) -> dict[str, Any]:
    return {k: round(v, 4) if isinstance(v, float) else v for k, v in row.items()}


@dg.asset(
    group_name=GROUP, kinds={"python", "huggingface"}, owners=OWNERS,
    deps=[rl_model],
    description="Base, SFT and RL checkpoints served by `transformers serve` (OpenAI-compatible, 127.0.0.1) and run "
                "as ReAct agents in the recipe's prompt style, unconstrained, on held-out qa_pool questions and on "
                "standard benchmark files: official EM / F1, cover-EM, pass@k, answer rate, format validity, LLM-judge "
                "accuracy; and per checkpoint the response / thinking tokens, tool calls and turns (test-time scaling).",
)
def agent_eval(context: dg.AssetExecutionContext, config: AgentEvalConfig, storage: StorageResource,
               llm: LLMResource, crawler: CrawlerResource, agent_tools: AgentToolsResource,
               models: ModelsResource, recipe: RecipeResource) -> dg.MaterializeResult:
    import asyncio
    from datetime import UTC, datetime

    import polars as pl

    from assets.trajectories import style_for
    from distill.agent.loop import RolloutSettings
    from distill.llm.roles import RoleConfig
    from train.agent_eval import held_out_items, serving_dir
    from train.base_model import load_tokenizer
    from train.benchmark_eval import AgentEval, EvalSettings, evaluate_agent, plot, write_csv
    from train.benchmarks import BenchmarkRecord, load_benchmarks
    from train.eval_metrics import tokenizer_counter
    from train.reuse import fingerprint, forget, record, recorded, upstream_fingerprint
    from train.serve import CheckpointServer

    started = time.monotonic()
    unknown = sorted(set(config.checkpoints) - {"base", "sft", "rl"})
    if unknown:
        raise ValueError(f"unknown checkpoints {unknown}; use base, sft, rl")
    settings = EvalSettings(samples=config.samples, seed=config.seed, judge=config.judge, variant=config.metric,
                            criterion=config.criterion, ks=tuple(config.pass_k))
    paths = {"base": models.base_model_path(storage), "sft": storage.path("models", "sft", "checkpoint"),
             "rl": storage.path("models", "rl", "checkpoint")}
    seen = set(pl.read_parquet(storage.path("datasets", "question_split.parquet"))["question_id"].to_list())
    pool = pl.read_parquet(storage.path("qa", "qa_pool.parquet"))
    items = held_out_items(pool.iter_rows(named=True), seen, config.max_questions)
    benches: dict[str, list[BenchmarkRecord]] = {}
    if items:
        benches["held_out"] = [BenchmarkRecord(i.id, i.question, (i.answer, *i.aliases)) for i in items]
    for name, recs in load_benchmarks(config.benchmarks).items():
        if name in benches:
            raise ValueError(f"benchmark file named {name!r} clashes with the held-out questions; rename the file")
        benches[name] = recs[: config.benchmark_limit] if config.benchmark_limit else recs
    if not benches:
        raise ValueError(f"nothing to evaluate on: qa_pool has no question outside the {len(seen)} used for SFT/RL "
                         f"and no benchmark file is configured")
    date = config.current_date or datetime.now(UTC).date().isoformat()
    rollout = RolloutSettings(max_turns=config.max_turns, max_tokens_per_turn=config.max_tokens_per_turn,
                              max_total_tokens=config.max_total_tokens, max_context_chars=config.max_context_chars,
                              max_observation_chars=config.max_observation_chars, temperature=config.temperature)
    counter = tokenizer_counter(load_tokenizer(paths["base"]), "base")
    out = storage.path("eval")
    results: list[AgentEval] = []
    with llm.session(storage) as session:
        fp = fingerprint(settings={"eval": config.model_dump(exclude={"reuse"}), "date": date,
                                   "endpoints": session.endpoints(), "tools": agent_tools.model_dump(),
                                   "style": recipe.rl_prompt_style.value,
                                   "questions": {b: [(r.id, r.question, r.answers) for r in recs]
                                                 for b, recs in benches.items()}},
                         stats=[paths["base"]],
                         upstream=[upstream_fingerprint(storage.path("models", "sft")),
                                   upstream_fingerprint(storage.path("models", "rl"))])
        prior = recorded(out, fp) if config.reuse and (out / "agent_eval.parquet").exists() else None
        if prior is not None:
            rows = prior["rows"]
            context.log.info("agent_eval: checkpoints, questions and settings unchanged: reusing the last table")
        else:
            forget(out)
            for name in config.checkpoints:
                link = serving_dir(paths[name], name, storage.path("models", "serving"))
                with CheckpointServer(link, device=config.device, log_path=storage.path("logs", f"serve_{name}.log")) as srv:
                    policy = RoleConfig(name="policy", base_url=srv.base_url, model=srv.model,
                                        temperature=config.temperature, max_tokens=config.max_tokens_per_turn,
                                        structured="openai")

                    async def go(policy: RoleConfig, name: str) -> AgentEval:
                        async with session.client({"policy": policy}, max_concurrency=1) as client, \
                                agent_tools.tools(storage, crawler, client, session.cache) as box:
                            style = style_for(recipe.rl_prompt_style.value, [t.schema for t in box.tools.values()],
                                              date, storage, role="policy")
                            return await evaluate_agent(
                                name, client, style, benches, box.tools, rollout, settings, counter=counter,
                                progress=lambda b: StepProgress(context, f"agent_eval/{name}/{b}", "rollouts"))

                    result = asyncio.run(go(policy, name))
                results.append(result)
                context.log.info(f"agent_eval {name}: " + "; ".join(
                    f"{r['benchmark']} f1 {r['f1']:.3f} em {r['em']:.3f}" for r in result.table))
            rows = [_rounded(r) for res in results for r in res.rows()]
    if prior is None:
        write_table(pl.DataFrame(rows), storage.path("eval", "agent_eval.parquet"))
        write_csv(rows, storage.path("eval", "agent_eval.csv"))
        write_table(pl.DataFrame([r for res in results for r in res.rollout_rows()]),
                    storage.path("eval", "agent_eval_rollouts.parquet"))
        record(out, fp, {"rows": rows})
    chart = plot(rows, storage.path("eval", "agent_eval.png"))
    from filters.funnel_chart import png_markdown

    by_bench: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        by_bench.setdefault(r["benchmark"], []).append(r)
    return dg.MaterializeResult(metadata={
        **{f"table_{b}": dg.MetadataValue.md(md_table([{k: r.get(k) for k in _TABLE} for r in rs]))
           for b, rs in by_bench.items()},
        "test_time_scaling": dg.MetadataValue.md(md_table([{k: r.get(k) for k in _SCALING}
                                                           for r in by_bench.get("overall", [])])),
        "plot": dg.MetadataValue.md(png_markdown(chart)),
        "csv": dg.MetadataValue.path(str(storage.path("eval", "agent_eval.csv"))),
        "reused": prior is not None,
        "fingerprint": fp[:16],
        "style": recipe.rl_prompt_style.value,
        "benchmarks": dg.MetadataValue.md(md_table([{"benchmark": b, "questions": len(recs)}
                                                    for b, recs in benches.items()])),
        "held_out_from": f"qa_pool minus the {len(seen)} questions with teacher rollouts (SFT and RL splits)",
        "scoring": f"{config.metric} EM/F1, pass@k by {config.criterion}, "
                   + ("judged with the versioned eval_judge prompt" if config.judge else "no judge"),
        **{f"f1_{r['agent']}": r["f1"] for r in by_bench.get("overall", [])},
        "dagster/row_count": len(rows),
        "seconds": round(time.monotonic() - started, 1),
    })
