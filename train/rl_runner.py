"""RL on ``rl_dataset`` with TRL's ``GRPOTrainer``: multi-turn tool rollouts, Atom-Searcher reward.

What this adds to the stock trainer, and why:

- **Rollouts** come from :mod:`train.rl_rollout` through ``rollout_func``: the policy calls the
  real ``search``/``visit`` tools between turns, and ``env_mask`` (0 on observations and
  template glue) becomes TRL's tool mask, so environment tokens never enter the loss.
- **Reward** (:class:`RolloutReward`, binding :mod:`train.rewards`, where the arithmetic lives):
  Atom-Searcher's blend of the RRM's grades of the thoughts (ATR) and the outcome F1 with the
  curriculum weight alpha_T read from the trainer state (-1 when the rollout breaks the format),
  or WebDancer's 0.1 * format + 0.9 * correct (correctness by the ``judge`` role when one is bound).
- **DAPO dynamic sampling** (:class:`AgentGRPOTrainer`, arithmetic in :mod:`train.dynamic_sampling`):
  a group whose rollouts all got the same reward has zero advantage everywhere. Up to
  ``max_refill_rounds`` times per generation batch, prompts are drawn from a seeded shuffle of the
  train set and rolled out, and their groups whose rewards differ take the places of the flat
  ones, so the batch keeps its size and fills with signal. Whatever is still flat after the last
  round (all of it with ``max_refill_rounds=0``) leaves the loss mask, so it does not dilute the
  token-level normaliser. The share of flat groups, the rounds, the groups drawn and the
  informative groups left are logged (``dapo/*``).
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
from train import dynamic_sampling as dapo
from train.report import TrainReport, log_history, run_fields
from train.rewards import (
    ALPHA0,
    ENTITY_ALPHA,
    REWARD_F1,
    WEBDANCER_CORRECT_F1,
    Aggregation,
    AnswerJudge,
    ThoughtScorer,
    atom_searcher_reward,
    check_entity_alpha,
    webdancer_reward,
)
from train.rl_data import PATH_ENTITIES
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
    entity_reward_alpha: float = field(default=ENTITY_ALPHA, metadata={"help": "Entity-coverage term (E-GRPO, about "
                                       "0.3 best there); 0 = off, must be < 1. A format-valid rollout's outcome (F1 "
                                       "for atom_searcher, correctness for webdancer) becomes outcome + alpha * "
                                       "coverage * (1 - outcome), coverage = the share of the question's "
                                       "path_entities (rl_dataset) its turns name; a wrong answer never reaches a "
                                       "correct one's reward."})
    mask_zero_variance_groups: bool = field(default=True, metadata={"help": "DAPO: groups whose rewards are all equal "
                                                                            "are left out of the loss."})
    max_refill_rounds: int = field(default=0, metadata={"help": "DAPO dynamic sampling: rounds of extra prompts "
                                                                "rolled out per batch to replace its equal-reward "
                                                                "groups (each round costs rollouts); 0 = only mask "
                                                                "them. Needs mask_zero_variance_groups."})
    refill_oversample: float = field(default=1.0, metadata={"help": "Prompts drawn per refill round, as a multiple of "
                                                                    "the groups still missing: above 1 fills the batch "
                                                                    "in fewer rounds, the surplus is thrown away."})
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

    def __post_init__(self) -> None:
        if self.max_refill_rounds < 0:
            raise ValueError(f"max_refill_rounds must be >= 0, not {self.max_refill_rounds}")
        if not self.refill_oversample >= 1.0:
            raise ValueError(f"refill_oversample must be >= 1, not {self.refill_oversample}")


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

    def dynamic_sampling(self) -> dict[str, Any]:
        """DAPO dynamic sampling over the run (:func:`train.dynamic_sampling.summary`), for metadata."""
        return dapo.summary(self.log_history)


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
        check_entity_alpha(settings.entity_reward_alpha)
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
                                       correct_f1=s.correct_f1, f1_metric=s.f1_metric,
                                       entity_alpha=s.entity_reward_alpha, log_metric=log_metric, **columns)
        else:
            rewards = atom_searcher_reward(completions, tool_names=self.tool_names, scorer=self.scorer,
                                           stats=self.stats, alpha0=s.alpha0, max_steps=s.max_steps,
                                           atr_aggregation=s.atr_aggregation, f1_metric=s.f1_metric,
                                           entity_alpha=s.entity_reward_alpha, log_metric=log_metric, **columns)
        if log_metric is not None:
            log_metric("rollout/tool_calls", sum(tool_calls) / max(1, len(tool_calls)))
        return rewards


def _trainer_class() -> type[Any]:
    from transformers import TrainerCallback
    from trl import GRPOTrainer

    class AgentGRPOTrainer(GRPOTrainer):
        """GRPO with DAPO dynamic sampling (zero-variance groups replaced or left out of the loss)
        and a windowed entropy bonus."""

        regulator: EntropyRegulator | None = None
        rl_settings: RLSettings | None = None  # None: TRL's own handling of zero-variance groups (none)
        refill_source: dapo.RefillSource | None = None  # made on the first refill

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._dapo_notes: set[str] = set()
            self._gathered_rewards: Any = None

        def _calculate_rewards(self, inputs: Any, prompts: Any, completions: Any, completion_ids_list: Any) -> Any:
            # TRL gathers the rewards of every process before normalising them per group; keep them, so
            # flat groups are told by their rewards (not by float-noise advantages) on every process.
            rewards = super()._calculate_rewards(inputs, prompts, completions, completion_ids_list)
            self._gathered_rewards = rewards
            return rewards

        def _note(self, reason: str) -> None:
            if reason not in self._dapo_notes:
                self._dapo_notes.add(reason)
                log.warning("DAPO dynamic sampling: %s", reason)

        def _scored(self, inputs: list[dict[str, Any]]) -> tuple[dict[str, Any], Any]:
            """TRL's rollouts, rewards and advantages for ``inputs``, and the zero-variance flags of
            every process's groups as a ``(processes, groups)`` tensor."""
            self._gathered_rewards = None
            output = super()._generate_and_score_completions(inputs)
            rewards = self._gathered_rewards
            if rewards is None:
                raise RuntimeError("TRL scored the batch without _calculate_rewards; this TRL is not the one pinned")
            n = self.num_generations
            assert n is not None  # GRPOTrainer sets it from GRPOConfig.num_generations
            flat = dapo.zero_variance_groups(rewards, self.reward_weights, n,
                                             per_function=self.multi_objective_aggregation == "normalize_then_sum")
            return output, flat.view(self.accelerator.num_processes, -1)

        def _refill_blocker(self, output: dict[str, Any]) -> str | None:
            from torch.utils.data import IterableDataset

            data = self.train_dataset
            if isinstance(data, IterableDataset) or not hasattr(data, "__getitem__") or not hasattr(data, "__len__"):
                return "the train dataset cannot be indexed, so no refill prompts can be drawn; flat groups are masked"
            bad = dapo.unsupported_keys(output)
            if bad:
                return f"the batch carries {bad}, which refill cannot re-pad; flat groups are masked"
            return None

        def _generate_and_score_completions(self, inputs: Any) -> Any:
            s = self.rl_settings
            if s is None or not s.mask_zero_variance_groups or self.model is None or not self.model.training:
                return super()._generate_and_score_completions(inputs)
            n = self.num_generations
            assert n is not None
            if len(inputs) % n:
                self._note(f"the {len(inputs)} rows on this process are not whole groups of {n} (groups split across "
                           "processes): zero-variance groups stay in the batch as TRL built it")
                return super()._generate_and_score_completions(inputs)
            output, flat = self._scored(inputs)
            before = float(flat.float().mean().item())
            rounds = drawn = 0
            blocker = self._refill_blocker(output) if s.max_refill_rounds else None
            if blocker is not None:
                self._note(blocker)
            procs, rank = self.accelerator.num_processes, self.accelerator.process_index
            data: Any = self.train_dataset  # indexable: _refill_blocker said so
            while blocker is None and rounds < s.max_refill_rounds and bool(flat.any()):
                # Every process draws as many groups as the neediest one (TRL gathers rewards across
                # processes, so all must generate the same number of rows) from one shared draw.
                per_process = math.ceil(int(flat.sum(dim=1).max()) * s.refill_oversample)
                if self.refill_source is None:
                    self.refill_source = dapo.RefillSource(len(data), self.args.seed)
                picks = self.refill_source.draw(per_process * procs)[rank * per_process:(rank + 1) * per_process]
                extra_inputs = []
                for i in picks:
                    row = data[i]
                    extra_inputs += [dict(row) for _ in range(n)]  # one dict per rollout: TRL writes into them
                extra, extra_flat = self._scored(extra_inputs)
                plans, flat = dapo.plan_refill(flat, extra_flat)
                output = dapo.substitute_groups(output, extra, plans[rank], n,
                                                pad_token_id=self._tokenizer.pad_token_id)
                rounds += 1
                drawn += per_process * procs
            output = dapo.drop_groups(output, flat[rank], n)  # still flat after the last round: out of the loss
            output["num_items_in_batch"] = self.accelerator.gather(output["num_items_in_batch"]).sum()
            metrics = self._metrics["train"]
            metrics[dapo.ZERO_VARIANCE].append(before)
            metrics[dapo.REFILL_ROUNDS].append(float(rounds))
            metrics[dapo.REFILL_GROUPS].append(float(drawn))
            metrics[dapo.EFFECTIVE_GROUPS].append(float((~flat).sum().item()))
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
        vllm = bool(getattr(trainer, "use_vllm", False))
        if cache.get("model") is not model:
            cache["model"] = model
            if vllm:
                policy: Any = VLLMPolicy(trainer.vllm_generation, trainer.vllm_mode, tokenizer, temperature=temperature,
                                         generation_config=getattr(model, "generation_config", None))
            else:
                policy = HFPolicy(model, tokenizer, temperature=temperature)
            cache["runner"] = EpisodeRunner(policy, tokenizer, tool, tool_names, config)
        runner: EpisodeRunner = cache["runner"]
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
    trainer.rl_settings = s
    trainer.regulator = EntropyRegulator(s.entropy_base, s.entropy_target, s.entropy_window, s.entropy_step,
                                         s.entropy_max)
    trainer.add_callback(cls.EntropyCallback(trainer))
    return trainer


#: The RL dataset's columns the trainer keeps: the prompt, and what the reward functions read (TRL passes
#: every column to them as keyword arguments).
RL_PROMPT_COLUMNS = ("prompt", "question", "answer", "aliases")


def load_rl_prompts(dataset_dir: str | Path, entities: bool = False) -> Any:
    """The RL prompts with :data:`RL_PROMPT_COLUMNS`, and ``path_entities`` where the dataset has it.

    ``entities`` (the entity-coverage term is on) requires that column with at least one entity:
    otherwise the term would silently do nothing."""
    import datasets

    ds = datasets.load_from_disk(str(dataset_dir))
    if len(ds) == 0:
        raise ValueError(f"{dataset_dir} holds no RL prompts; nothing to train on")
    missing = set(RL_PROMPT_COLUMNS) - set(ds.column_names)
    if missing:
        raise ValueError(f"{dataset_dir} is not an RL dataset: missing columns {sorted(missing)}")
    has_entities = PATH_ENTITIES in ds.column_names
    if entities and not (has_entities and any(ds[PATH_ENTITIES])):
        raise ValueError(f"entity_reward_alpha is on, but {dataset_dir} has no {PATH_ENTITIES} "
                         f"({'every list is empty' if has_entities else 'no such column'}): re-materialize rl_dataset "
                         "from QA pairs that record their path, or set entity_reward_alpha: 0")
    return ds.select_columns([*RL_PROMPT_COLUMNS, *([PATH_ENTITIES] if has_entities else [])])


def run_rl(dataset_dir: str | Path, model_dir: str | Path, out_dir: str | Path, settings: RLSettings | None = None, *,
           tool: ToolFn, tool_names: Sequence[str], scorer: ThoughtScorer | None = None,
           judge: AnswerJudge | None = None, progress: Callable[[int, int, float], None] | None = None) -> RLReport:
    """Train from ``model_dir`` (the SFT checkpoint), save to ``out_dir/checkpoint`` and write
    ``out_dir/train_report.json``."""
    s = settings or RLSettings()
    ds = load_rl_prompts(dataset_dir, entities=s.entity_reward_alpha > 0)
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
