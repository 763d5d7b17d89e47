"""RL on ``rl_dataset`` with TRL's ``GRPOTrainer``: multi-turn tool rollouts, Atom-Searcher reward.

What this adds to the stock trainer, and why:

- **Rollouts** come from :mod:`train.rl_rollout` through ``rollout_func``: the policy calls the
  real ``search``/``visit`` tools between turns, and ``env_mask`` (0 on observations and
  template glue) becomes TRL's tool mask, so environment tokens never enter the loss.
- **Reward** (:class:`RolloutReward`, binding :mod:`train.rewards`, where the arithmetic lives):
  Atom-Searcher's blend of the RRM's grades of the thoughts (ATR) and the outcome F1 with the
  curriculum weight alpha_T read from the trainer state (-1 when the rollout breaks the format),
  or WebDancer's 0.1 * format + 0.9 * correct (correctness by the ``judge`` role when one is bound).
- **DAPO dynamic sampling** (:class:`AgentGRPOTrainer`): a group whose rollouts all got the
  same reward has zero advantage everywhere; its tokens are taken out of the loss mask so
  they do not dilute the token-level normaliser, and the share of such groups is logged.
  (DAPO also resamples to refill the batch; here the batch just gets smaller.)
- **Sliding-window entropy regulation** (:class:`EntropyRegulator`): the entropy bonus is
  raised while the mean entropy of the last ``window`` steps is below ``target`` and lowered
  back towards its base otherwise. TRL's own adaptive mode looks at one step only.
"""

from __future__ import annotations

import logging
import math
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from filters.metrics import Metric
from train.report import TrainReport, log_history, run_fields
from train.rewards import (
    ALPHA0,
    REWARD_F1,
    WEBDANCER_CORRECT_F1,
    Aggregation,
    AnswerJudge,
    ThoughtScorer,
    atom_searcher_reward,
    webdancer_reward,
)
from train.rl_rollout import Episode, EpisodeRunner, RolloutConfig, ToolFn
from train.sft_runner import device_and_dtype, progress_callback

log = logging.getLogger(__name__)

LossType = Literal["dapo", "grpo", "dr_grpo", "bnpo", "cispo", "sapo", "luspo"]  # TRL 1.16's GRPO loss types
RewardKind = Literal["atom_searcher", "webdancer"]
Generation = Literal["auto", "hf", "vllm"]
VLLMMode = Literal["colocate", "server"]


@dataclass(frozen=True, slots=True)
class RLSettings:
    """GRPO / DAPO settings, declared once: ``rl_model``'s run config derives its fields from
    this class (and :class:`train.rl_rollout.RolloutConfig`). Defaults follow DeepResearcher."""

    max_steps: int = field(default=200, metadata={"help": "Optimizer steps (each: prompts_per_step questions x "
                                                          "num_generations rollouts)."})
    learning_rate: float = field(default=1e-6, metadata={"help": "DeepResearcher's 1e-6."})
    num_generations: int = field(default=16, metadata={"help": "Rollouts per question (the GRPO group)."})
    prompts_per_step: int = field(default=1, metadata={"help": "Questions per optimizer step (gradient accumulation)."})
    beta: float = field(default=0.001, metadata={"help": "KL coefficient."})
    epsilon: float = field(default=0.2, metadata={"help": "Lower clip range."})
    epsilon_high: float = field(default=0.28, metadata={"help": "Upper clip range (DAPO clip-higher)."})
    loss_type: LossType = field(default="dapo", metadata={"help": "TRL GRPO loss normalisation (dapo: token-level)."})
    temperature: float = field(default=1.0, metadata={"help": "Sampling temperature of the rollouts."})
    reward: RewardKind = field(default="atom_searcher", metadata={"help": "atom_searcher (ATR + F1, curriculum) | "
                                                                          "webdancer (format + correctness)."})
    alpha0: float = field(default=ALPHA0, metadata={"help": "Initial weight of the atomic-thought reward."})
    atr_aggregation: Aggregation = field(default="mean", metadata={"help": "mean | min | late_weighted"})
    f1_metric: Metric = field(default=REWARD_F1, metadata={"help": "F1 variant of the outcome reward."})
    correct_f1: float = field(default=WEBDANCER_CORRECT_F1, metadata={"help": "webdancer: the outcome counts as correct at this F1."})
    mask_zero_variance_groups: bool = field(default=True, metadata={"help": "DAPO: groups whose rewards are all equal "
                                                                            "are left out of the loss."})
    entropy_base: float = field(default=0.001, metadata={"help": "DeepResearcher's entropy coefficient."})
    entropy_target: float = field(default=0.3, metadata={"help": "Nats; set near the entropy logged early in "
                                                                 "training."})
    entropy_window: int = field(default=8, metadata={"help": "Steps in the entropy regulator's sliding window."})
    entropy_step: float = 0.001
    entropy_max: float = 0.01
    rollout: RolloutConfig = field(default_factory=RolloutConfig)
    seed: int = 0
    device: str = "auto"  # auto | cuda | cpu (see train.sft_runner.device_and_dtype)
    generation: Generation = field(default="auto", metadata={"help": "Rollout generation: vllm (TRL's vLLM engine, "
                                   "needs CUDA and the .[gpu] extra), hf (transformers generate), auto (vllm when both "
                                   "are there, else hf)."})
    vllm_mode: VLLMMode = field(default="colocate", metadata={"help": "colocate: vLLM in the trainer's process, "
                                                                     "sharing the GPU; server: a `trl vllm-serve` "
                                                                     "process at vllm_server_base_url."})
    vllm_server_base_url: str = field(default="", metadata={"help": "server mode: the `trl vllm-serve` URL "
                                                                    "(empty: TRL's default host and port)."})
    vllm_gpu_memory_utilization: float = field(default=0.3, metadata={"help": "colocate mode: the GPU memory share "
                                                                             "vLLM may take."})


@dataclass(slots=True, kw_only=True)
class RLReport(TrainReport):
    prompts: int
    rollouts: int
    tool_calls: int
    atr_asked: int = 0  # rollouts whose atomic thoughts were sent to the RRM
    atr_graded: int = 0  # ... and came back with at least one grade
    judge_asked: int = 0  # webdancer with a judge: answers sent to the judge role
    judge_graded: int = 0  # ... that came back with a verdict
    generation: str = "hf"  # hf | vllm_colocate | vllm_server
    generated_tokens: int = 0  # policy tokens of all rollouts (environment tokens not counted)
    rollout_seconds: float = 0.0  # wall time inside rollout_func (generation and tools)
    metrics: dict[str, float] = field(default_factory=dict)  # last logged value of each metric


class EntropyRegulator:
    """Entropy-bonus coefficient from the mean entropy over a sliding window of steps."""

    def __init__(self, base: float, target: float, window: int, step: float, maximum: float) -> None:
        if window < 1:
            raise ValueError("entropy window must be >= 1")
        self.base, self.target, self.step, self.maximum = base, target, step, maximum
        self.recent: deque[float] = deque(maxlen=window)
        self.coef = base

    def update(self, entropy: float) -> float:
        if math.isfinite(entropy):
            self.recent.append(entropy)
        if self.recent:
            mean = sum(self.recent) / len(self.recent)
            if mean < self.target:
                self.coef = min(self.coef + self.step, self.maximum)
            else:
                self.coef = max(self.coef - self.step, self.base)
        return self.coef


class RolloutReward:
    """The reward function TRL calls: :func:`train.rewards.atom_searcher_reward` or
    :func:`train.rewards.webdancer_reward` bound to the run's settings, tools and RRM scorer
    (a class, not ``functools.partial``, because TRL names a reward by its ``__name__``).

    ``stats`` gathers ATR coverage, ``atr_asked`` / ``atr_graded``, and the judge's,
    ``judge_asked`` / ``judge_graded``: a dead RRM or judge would otherwise turn the reward into
    F1 only without a word."""

    def __init__(self, settings: RLSettings, tool_names: Sequence[str], scorer: ThoughtScorer | None,
                 stats: dict[str, int] | None = None, judge: AnswerJudge | None = None) -> None:
        if settings.reward not in ("atom_searcher", "webdancer"):
            raise ValueError(f"unknown reward {settings.reward!r}; use atom_searcher or webdancer")
        self.settings, self.tool_names, self.scorer, self.judge = settings, frozenset(tool_names), scorer, judge
        self.stats = stats if stats is not None else {}
        for key in ("atr_asked", "atr_graded", "judge_asked", "judge_graded"):
            self.stats.setdefault(key, 0)
        self.__name__ = settings.reward

    def __call__(self, prompts: list[Any], completions: list[Any], completion_ids: list[Any] | None = None, *,
                 tool_calls: list[int], log_metric: Callable[[str, float], None] | None = None,
                 **columns: Any) -> list[float]:
        s = self.settings
        if s.reward == "webdancer":
            rewards = webdancer_reward(completions, tool_names=self.tool_names, judge=self.judge, stats=self.stats,
                                       correct_f1=s.correct_f1, f1_metric=s.f1_metric, log_metric=log_metric,
                                       **columns)
        else:
            rewards = atom_searcher_reward(completions, tool_names=self.tool_names, scorer=self.scorer,
                                           stats=self.stats, alpha0=s.alpha0, max_steps=s.max_steps,
                                           atr_aggregation=s.atr_aggregation, f1_metric=s.f1_metric,
                                           log_metric=log_metric, **columns)
        if log_metric is not None:
            log_metric("rollout/tool_calls", sum(tool_calls) / max(1, len(tool_calls)))
        return rewards


def _trainer_class() -> type[Any]:
    from transformers import TrainerCallback
    from trl import GRPOTrainer

    class AgentGRPOTrainer(GRPOTrainer):
        """GRPO with DAPO's zero-variance groups out of the loss and a windowed entropy bonus."""

        regulator: EntropyRegulator | None = None
        mask_zero_variance: bool = True

        def _generate_and_score_completions(self, inputs: Any) -> Any:
            output = super()._generate_and_score_completions(inputs)
            if not (self.mask_zero_variance and self.model is not None and self.model.training):
                return output
            adv = output["advantages"]
            n = self.num_generations
            assert n is not None  # GRPOTrainer sets it from GRPOConfig.num_generations
            if adv.numel() % n:
                return output  # groups split across processes: leave the batch as TRL built it
            flat = adv.view(-1, n).abs().amax(dim=1) == 0
            zero_rows = flat.repeat_interleave(n)
            mask = output["completion_mask"]
            output["completion_mask"] = mask * (~zero_rows).to(mask.dtype).unsqueeze(1)
            loss_mask = output["completion_mask"] * output["tool_mask"] if "tool_mask" in output else output["completion_mask"]
            output["num_items_in_batch"] = self.accelerator.gather(loss_mask.sum()).sum()
            self._metrics["train"]["dapo/zero_variance_groups"].append(float(flat.float().mean().item()))
            return output

    class EntropyCallback(TrainerCallback):
        def __init__(self, trainer: Any) -> None:
            self.trainer = trainer

        def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, float] | None = None, **kw: Any) -> None:
            reg = self.trainer.regulator
            if reg is not None and logs and "entropy" in logs:
                self.trainer.entropy_coef = reg.update(float(logs["entropy"]))
                logs["entropy_window_mean"] = sum(reg.recent) / len(reg.recent) if reg.recent else float("nan")

    AgentGRPOTrainer.EntropyCallback = EntropyCallback  # type: ignore[attr-defined]
    return AgentGRPOTrainer


def new_stats() -> dict[str, int]:
    """The run's counters, filled by the rollout function and the reward."""
    return {"rollouts": 0, "tool_calls": 0, "atr_asked": 0, "atr_graded": 0, "judge_asked": 0, "judge_graded": 0,
            "generated_tokens": 0, "rollout_ms": 0}


def resolve_generation(generation: str, device: str) -> bool:
    """Whether rollouts go through vLLM: ``vllm`` insists (an error naming what is missing),
    ``hf`` never, ``auto`` when the run is on CUDA and vLLM is installed."""
    import importlib.util

    if generation not in ("auto", "hf", "vllm"):
        raise ValueError(f"unknown generation {generation!r}; use auto, hf or vllm")
    if generation == "hf":
        return False
    has_vllm = importlib.util.find_spec("vllm") is not None
    if generation == "vllm":
        if device != "cuda":
            raise ValueError(f"generation: vllm needs CUDA, and this run is on {device}; use generation: hf or auto")
        if not has_vllm:
            raise ValueError("generation: vllm, but vLLM is not installed: pip install -e '.[gpu]'")
        return True
    return device == "cuda" and has_vllm


def make_rollout_func(tokenizer: Any, tool: ToolFn, tool_names: Sequence[str], config: RolloutConfig,
                      temperature: float, stats: dict[str, int]) -> Callable[[list[Any], Any], dict[str, Any]]:
    """TRL's ``rollout_func``: the multi-turn episodes of a generation batch. With vLLM every
    live episode's turn goes to the engine in one call per round (:meth:`EpisodeRunner.run_batch`)
    and the sampler's log-probabilities come back for TRL's importance-sampling correction;
    with HF ``generate`` the episodes run one after another on the trainer's model."""
    from train.rl_policy import HFPolicy, VLLMPolicy

    cache: dict[str, Any] = {}

    def rollout(prompts: list[Any], trainer: Any) -> dict[str, Any]:
        model = trainer.accelerator.unwrap_model(trainer.model)
        if cache.get("model") is not model:
            cache["model"] = model
            if getattr(trainer, "use_vllm", False):
                policy: Any = VLLMPolicy(trainer.vllm_generation, trainer.vllm_mode, tokenizer, temperature=temperature,
                                         generation_config=getattr(model, "generation_config", None))
            else:
                policy = HFPolicy(model, tokenizer, temperature=temperature)
            cache["runner"] = EpisodeRunner(policy, tokenizer, tool, tool_names, config)
        runner: EpisodeRunner = cache["runner"]
        vllm = getattr(trainer, "use_vllm", False)
        started = time.perf_counter()
        episodes: list[Episode] = runner.run_batch(prompts) if vllm else [runner.run(p) for p in prompts]
        stats["rollout_ms"] = stats.get("rollout_ms", 0) + round(1000 * (time.perf_counter() - started))
        stats["rollouts"] += len(episodes)
        stats["tool_calls"] += sum(e.tool_calls for e in episodes)
        stats["generated_tokens"] = stats.get("generated_tokens", 0) + sum(sum(e.env_mask) for e in episodes)
        return {
            "prompt_ids": [e.prompt_ids for e in episodes],
            "completion_ids": [e.completion_ids for e in episodes],
            # vLLM: the sampler's log-probabilities (None on environment tokens: no correction there);
            # HF generate: none, the trainer recomputes them.
            "logprobs": [e.logprobs for e in episodes] if vllm else None,
            "env_mask": [e.env_mask for e in episodes],
            "turns": [e.turns for e in episodes],
            "thoughts": [e.thoughts for e in episodes],
            "observations": [e.observations for e in episodes],
            "tool_calls": [e.tool_calls for e in episodes],
        }

    return rollout


def build_trainer(dataset: Any, model_dir: str | Path, out_dir: str | Path, settings: RLSettings, *, tool: ToolFn,
                  tool_names: Sequence[str], scorer: ThoughtScorer | None, stats: dict[str, int] | None = None,
                  judge: AnswerJudge | None = None) -> Any:
    """The configured trainer (exposed for tests that need its loss)."""
    import os

    import torch
    from transformers import AutoModelForCausalLM
    from trl import GRPOConfig

    from train.base_model import load_tokenizer

    os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")  # rollout_func is experimental; we know, and pin TRL
    s = settings
    device, dtype = device_and_dtype(s.device)
    use_vllm = resolve_generation(s.generation, device)
    vllm_args: dict[str, Any] = {}
    if use_vllm:
        vllm_args = {"use_vllm": True, "vllm_mode": s.vllm_mode,
                     "vllm_gpu_memory_utilization": s.vllm_gpu_memory_utilization}
        if s.vllm_mode == "server" and s.vllm_server_base_url:
            vllm_args["vllm_server_base_url"] = s.vllm_server_base_url
    log.info("RL rollouts: %s", f"vLLM ({s.vllm_mode})" if use_vllm else "transformers generate")
    torch.manual_seed(s.seed)
    tokenizer = load_tokenizer(model_dir)
    model = AutoModelForCausalLM.from_pretrained(str(model_dir), dtype=dtype)
    args = GRPOConfig(
        output_dir=str(Path(out_dir) / "trainer"), max_steps=s.max_steps, learning_rate=s.learning_rate,
        per_device_train_batch_size=s.num_generations, gradient_accumulation_steps=s.prompts_per_step,
        num_generations=s.num_generations, beta=s.beta, epsilon=s.epsilon, epsilon_high=s.epsilon_high,
        loss_type=s.loss_type, scale_rewards="group", temperature=s.temperature,
        max_completion_length=s.rollout.max_completion_tokens, entropy_coef=s.entropy_base,
        bf16=dtype == torch.bfloat16, fp16=dtype == torch.float16, use_cpu=device == "cpu", report_to="none",
        save_strategy="no", logging_steps=1, disable_tqdm=True, seed=s.seed, activation_checkpointing=False,
        remove_unused_columns=False, **vllm_args,
    )
    cls = _trainer_class()
    counters = stats if stats is not None else new_stats()
    trainer = cls(model=model, reward_funcs=[RolloutReward(s, tool_names, scorer, counters, judge)], args=args,
                  train_dataset=dataset,
                  processing_class=tokenizer,
                  rollout_func=make_rollout_func(tokenizer, tool, tool_names, s.rollout, s.temperature, counters))
    trainer.mask_zero_variance = s.mask_zero_variance_groups
    trainer.regulator = EntropyRegulator(s.entropy_base, s.entropy_target, s.entropy_window, s.entropy_step,
                                         s.entropy_max)
    trainer.add_callback(cls.EntropyCallback(trainer))
    return trainer


def load_rl_prompts(dataset_dir: str | Path) -> Any:
    import datasets

    ds = datasets.load_from_disk(str(dataset_dir))
    if len(ds) == 0:
        raise ValueError(f"{dataset_dir} holds no RL prompts; nothing to train on")
    missing = {"prompt", "question", "answer", "aliases"} - set(ds.column_names)
    if missing:
        raise ValueError(f"{dataset_dir} is not an RL dataset: missing columns {sorted(missing)}")
    return ds.select_columns(["prompt", "question", "answer", "aliases"])


def run_rl(dataset_dir: str | Path, model_dir: str | Path, out_dir: str | Path, settings: RLSettings | None = None, *,
           tool: ToolFn, tool_names: Sequence[str], scorer: ThoughtScorer | None = None,
           judge: AnswerJudge | None = None, progress: Callable[[int, int, float], None] | None = None) -> RLReport:
    """Train from ``model_dir`` (the SFT checkpoint), save to ``out_dir/checkpoint`` and write
    ``out_dir/train_report.json``."""
    s = settings or RLSettings()
    ds = load_rl_prompts(dataset_dir)
    stats = new_stats()
    trainer = build_trainer(ds, model_dir, out_dir, s, tool=tool, tool_names=tool_names, scorer=scorer, stats=stats,
                            judge=judge)
    if progress is not None:
        trainer.add_callback(progress_callback(progress))
    device, dtype = device_and_dtype(s.device)
    started = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - started
    out_dir = Path(out_dir)
    ckpt = out_dir / "checkpoint"
    trainer.model.save_pretrained(str(ckpt))
    trainer.processing_class.save_pretrained(str(ckpt))
    last: dict[str, float] = {}
    for h in log_history(trainer):
        for k, v in h.items():
            if isinstance(v, int | float) and k not in ("step", "epoch"):
                last[k] = float(v)
    tokens = int(trainer.state.num_input_tokens_seen or 0)
    run = run_fields(trainer, checkpoint=ckpt, device=device, dtype=dtype, seconds=seconds, tokens=tokens)
    report = RLReport(**run, prompts=len(ds), rollouts=stats["rollouts"], tool_calls=stats["tool_calls"],
                      atr_asked=stats["atr_asked"], atr_graded=stats["atr_graded"], judge_asked=stats["judge_asked"],
                      judge_graded=stats["judge_graded"],
                      generation=f"vllm_{s.vllm_mode}" if getattr(trainer, "use_vllm", False) else "hf",
                      generated_tokens=stats["generated_tokens"], rollout_seconds=stats["rollout_ms"] / 1000,
                      metrics=last)
    loss = last.get("loss", 0.0)
    if not math.isfinite(loss):
        raise RuntimeError(f"RL diverged: loss {loss}")
    report.save(out_dir)
    log.info("RL: %d steps, %d rollouts, %d tool calls, %.0f tokens/s on %s", report.steps, report.rollouts,
             report.tool_calls, report.tokens_per_s, device)
    return report
