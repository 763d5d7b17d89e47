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
from assets.resources import AgentToolsResource, CrawlerResource, LLMResource, ModelsResource, StorageResource
from assets.settings_fields import config_base, settings_from
from assets.trajectories import AgentAction
from distill.records import write_table
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
              models: ModelsResource) -> dg.MaterializeResult:
    from dataclasses import asdict

    from train.reuse import fingerprint, forget, record, recorded
    from train.sft_runner import SFTReport, SFTSettings, run_sft

    started = time.monotonic()
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
                                  exclude=("rollout", "device", "scaffold"))


class RLModelConfig(_RLModelFields):
    """GRPO settings: the fields of :class:`train.rl_runner.RLSettings` and
    :class:`train.rl_rollout.RolloutConfig` (declared there once), plus what only the asset
    decides: the RRM switch and its coverage bound, the DEMO-ONLY scaffold, and reuse."""

    rrm: bool = Field(default=True, description="Grade thoughts with the rrm role; off = F1 only (written "
                                                "explicitly: a dead rrm endpoint fails the step instead).")
    min_atr_coverage: float = Field(default=0.5, description="With rrm on and the atom_searcher reward: fail when the "
                                    "RRM graded fewer than this share of the rollouts it was asked about.")
    scaffold: list[AgentAction] = Field(default_factory=list, description="DEMO ONLY: the action of turn i (last "
                                        "repeats), e.g. [search, visit, answer]; the environment writes the protocol's "
                                        "fixed text (masked out of the loss), the policy the thought, query, URL, goal "
                                        "and answer.")
    reuse: bool = Field(default=True, description="Keep the last checkpoint when the SFT checkpoint, dataset, settings, "
                                                  "tools and RRM endpoint are unchanged.")

    def settings(self, device: str = "auto") -> RLSettings:
        rollout = settings_from(RolloutConfig, self, scaffold=tuple(a.value for a in self.scaffold))
        return settings_from(RLSettings, self, rollout=rollout, device=device)


def _fail_if_atr_uncovered(report: Any, config: RLModelConfig) -> None:
    """The Atom-Searcher reward without RRM grades is F1 alone: fail when too few came back."""
    if not (config.rrm and config.reward == "atom_searcher") or report.atr_asked == 0:
        return
    share = report.atr_graded / report.atr_asked
    if share < config.min_atr_coverage:
        raise dg.Failure(f"rl_model: the rrm role graded {report.atr_graded} of {report.atr_asked} rollouts "
                         f"({share:.0%} < min_atr_coverage {config.min_atr_coverage:.0%}), so the Atom-Searcher reward "
                         f"was mostly F1 alone; fix the rrm endpoint (see the llm metadata) or set rrm: false explicitly.",
                         metadata={"atr_asked": report.atr_asked, "atr_graded": report.atr_graded})


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
             crawler: CrawlerResource, agent_tools: AgentToolsResource, models: ModelsResource) -> dg.MaterializeResult:
    from dataclasses import asdict

    from train.env_bridge import BackgroundLoop, thought_scorer, tool_caller
    from train.reuse import fingerprint, forget, record, recorded, upstream_fingerprint
    from train.rl_runner import RLReport, run_rl

    started = time.monotonic()
    sft_ckpt = storage.path("models", "sft", "checkpoint")
    if not (sft_ckpt / "config.json").exists():
        raise FileNotFoundError(f"no SFT checkpoint at {sft_ckpt}: materialize sft_model first")
    out = storage.path("models", "rl")
    with llm.session(storage) as session:
        fp = fingerprint(settings={"rl": asdict(config.settings(models.device)), "tools": agent_tools.model_dump(),
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
                                config.settings(models.device), tool=tool_caller(bg, box.tools), tool_names=list(box.tools),
                                scorer=thought_scorer(bg, client) if config.rrm else None,
                                progress=StepProgress(context, "rl_model", "steps"))
                stats, tool_stats = client.stats_dict(), box.stats()
            # A dead rrm endpoint: every call failed. Stop here, before the checkpoint is recorded
            # as reusable, instead of handing on a policy trained on F1 alone.
            fail_if_llm_unusable(stats, "rl_model")
            _fail_if_atr_uncovered(report, config)
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
    max_questions: int = Field(default=50, description="Held-out qa_pool questions (seen by neither SFT nor RL).")
    checkpoints: list[str] = Field(default_factory=lambda: ["base", "sft", "rl"], description="Any of base, sft, rl.")
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


@dg.asset(
    group_name=GROUP, kinds={"python", "huggingface"}, owners=OWNERS,
    deps=[rl_model],
    description="Base, SFT and RL checkpoints served by `transformers serve` (OpenAI-compatible, 127.0.0.1) and run "
                "as ReAct agents, unconstrained, on held-out qa_pool questions: F1 / EM, answer rate, format "
                "validity and tool calls per question.",
)
def agent_eval(context: dg.AssetExecutionContext, config: AgentEvalConfig, storage: StorageResource,
               llm: LLMResource, crawler: CrawlerResource, agent_tools: AgentToolsResource,
               models: ModelsResource) -> dg.MaterializeResult:
    import asyncio
    from datetime import UTC, datetime

    import polars as pl

    from distill.agent.loop import RolloutSettings, run_rollouts
    from distill.agent.styles import short_style
    from distill.llm.roles import RoleConfig
    from train.agent_eval import held_out_items, serving_dir, summarize
    from train.reuse import fingerprint, forget, record, recorded, upstream_fingerprint
    from train.serve import CheckpointServer

    started = time.monotonic()
    unknown = sorted(set(config.checkpoints) - {"base", "sft", "rl"})
    if unknown:
        raise ValueError(f"unknown checkpoints {unknown}; use base, sft, rl")
    paths = {"base": models.base_model_path(storage), "sft": storage.path("models", "sft", "checkpoint"),
             "rl": storage.path("models", "rl", "checkpoint")}
    seen = set(pl.read_parquet(storage.path("datasets", "question_split.parquet"))["question_id"].to_list())
    pool = pl.read_parquet(storage.path("qa", "qa_pool.parquet"))
    items = held_out_items(pool.iter_rows(named=True), seen, config.max_questions)
    if not items:
        raise ValueError(f"qa_pool has no question outside the {len(seen)} used for SFT/RL; nothing to evaluate on")
    date = config.current_date or datetime.now(UTC).date().isoformat()
    settings = RolloutSettings(max_turns=config.max_turns, max_tokens_per_turn=config.max_tokens_per_turn,
                               max_total_tokens=config.max_total_tokens, max_context_chars=config.max_context_chars,
                               max_observation_chars=config.max_observation_chars, temperature=config.temperature)
    out = storage.path("eval")
    rows, all_trajs = [], []
    with llm.session(storage) as session:
        fp = fingerprint(settings={"eval": config.model_dump(exclude={"reuse"}), "date": date, "endpoints": session.endpoints(),
                                   "tools": agent_tools.model_dump(),
                                   "questions": [(i.id, i.question, i.answer) for i in items]},
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
                t0 = time.monotonic()
                with CheckpointServer(link, device=config.device, log_path=storage.path("logs", f"serve_{name}.log")) as srv:
                    policy = RoleConfig(name="policy", base_url=srv.base_url, model=srv.model,
                                        temperature=config.temperature, max_tokens=config.max_tokens_per_turn,
                                        structured="openai")

                    async def go(policy: RoleConfig, name: str) -> list[Any]:
                        async with session.client({"policy": policy}, max_concurrency=1) as client, \
                                agent_tools.tools(storage, crawler, client, session.cache) as box:
                            style = short_style([t.schema for t in box.tools.values()], date, role="policy")
                            return await run_rollouts(client, style, items, box.tools, settings, seed=config.seed,
                                                      progress=StepProgress(context, f"agent_eval/{name}", "questions"))

                    trajs = asyncio.run(go(policy, name))
                row = summarize(name, trajs, ("search", "visit"), time.monotonic() - t0)
                context.log.info(f"agent_eval {name}: {row.to_dict()}")
                rows.append(row.to_dict())
                all_trajs += [{"checkpoint": name, "question_id": t.question_id, "answer": t.final_answer,
                               "finish_reason": t.finish_reason, "turns": len(t.steps)} for t in trajs]
    if prior is None:
        write_table(pl.DataFrame(rows), storage.path("eval", "agent_eval.parquet"))
        write_table(pl.DataFrame(all_trajs), storage.path("eval", "agent_eval_rollouts.parquet"))
        record(out, fp, {"rows": rows})
    return dg.MaterializeResult(metadata={
        "eval_table": dg.MetadataValue.md(md_table(rows)),
        "reused": prior is not None,
        "fingerprint": fp[:16],
        "questions": len(items),
        "held_out_from": f"qa_pool minus the {len(seen)} questions with teacher rollouts (SFT and RL splits)",
        **{f"f1_{r['checkpoint']}": r["f1"] for r in rows},
        "dagster/row_count": len(rows),
        "seconds": round(time.monotonic() - started, 1),
    })
