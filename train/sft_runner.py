"""Supervised fine-tuning on ``sft_dataset`` with TRL's ``SFTTrainer``.

The tokenized variant is used as is: its ``labels`` already carry -100 on every token that
is not model output (system, user, tool observations), and TRL trains on pre-tokenized
``input_ids`` + ``labels`` without touching them, so the mask the ``masks_cover_observations``
check verified is exactly the mask trained on.

Device and precision follow the machine: bf16 on a CUDA GPU that supports it, float32 on
CPU (bf16 on CPU made one step ~8x slower, measured). Activation checkpointing is off by
default: TRL 1.16 turns it on, which costs ~60% more CPU for a model this small.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from train.report import TrainReport, log_history, run_fields

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SFTSettings:
    max_steps: int = -1  # > 0 overrides epochs
    num_train_epochs: float = 2.0
    learning_rate: float = 1e-5
    per_device_batch: int = 1
    grad_accum: int = 8
    max_length: int = 8192
    warmup: float = 0.05  # < 1: a share of the steps (transformers 5 folded warmup_ratio into warmup_steps)
    lora: bool = False
    lora_r: int = 16
    lora_alpha: int = 32
    activation_checkpointing: bool = False
    seed: int = 0
    device: str = "auto"  # auto | cuda | cpu (see device_and_dtype)


@dataclass(slots=True, kw_only=True)
class SFTReport(TrainReport):  # tokens: what the trainer processed (TRL's num_tokens)
    train_loss: float
    rows: int


def progress_callback(progress: Callable[[int, int, float], None]) -> Any:
    """A TrainerCallback reporting ``(step, max_steps, elapsed_s)`` after every optimizer step."""
    from transformers import TrainerCallback

    class _Progress(TrainerCallback):
        def on_train_begin(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            self.started = time.monotonic()

        def on_step_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            progress(int(state.global_step), int(state.max_steps), time.monotonic() - self.started)

    return _Progress()


def device_and_dtype(want: str = "auto") -> tuple[str, Any]:
    """(device, dtype). ``auto`` takes CUDA when present; ``cuda`` on a machine without it is
    an error, not a silent CPU run of a production training job."""
    import torch

    if want not in ("auto", "cuda", "cpu"):
        raise ValueError(f"device {want!r} is not one of auto, cuda, cpu")
    if want == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device 'cuda' was asked for but torch sees no CUDA device on this machine")
    if want != "cpu" and torch.cuda.is_available():
        return "cuda", torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return "cpu", torch.float32


def run_sft(dataset_dir: str | Path, base_model: str | Path, out_dir: str | Path,
            settings: SFTSettings | None = None,
            progress: Callable[[int, int, float], None] | None = None) -> SFTReport:
    """Train, save the model (merged when LoRA) and tokenizer to ``out_dir/checkpoint``, and
    write ``out_dir/train_report.json``. An empty dataset is an error, not a silent no-op."""
    import datasets
    import torch
    from transformers import AutoModelForCausalLM
    from trl import SFTConfig, SFTTrainer

    from train.base_model import load_tokenizer

    s = settings or SFTSettings()
    ds = datasets.load_from_disk(str(dataset_dir))
    if len(ds) == 0:
        raise ValueError(f"{dataset_dir} holds no SFT rows; nothing to train on")
    keep = [c for c in ("input_ids", "labels") if c in ds.column_names]
    if keep != ["input_ids", "labels"]:
        raise ValueError(f"{dataset_dir} is not the tokenized SFT variant (needs input_ids and labels)")
    ds = ds.select_columns(keep)
    device, dtype = device_and_dtype(s.device)
    torch.manual_seed(s.seed)
    tokenizer = load_tokenizer(base_model)
    model = AutoModelForCausalLM.from_pretrained(str(base_model), dtype=dtype)
    peft_config = None
    if s.lora:
        from peft import LoraConfig

        peft_config = LoraConfig(r=s.lora_r, lora_alpha=s.lora_alpha, target_modules="all-linear",
                                 task_type="CAUSAL_LM")
    out_dir = Path(out_dir)
    args = SFTConfig(
        output_dir=str(out_dir / "trainer"), max_steps=s.max_steps, num_train_epochs=s.num_train_epochs,
        learning_rate=s.learning_rate, per_device_train_batch_size=s.per_device_batch,
        gradient_accumulation_steps=s.grad_accum, max_length=s.max_length, warmup_steps=s.warmup,
        bf16=dtype == torch.bfloat16, fp16=dtype == torch.float16, use_cpu=device == "cpu", report_to="none",
        save_strategy="no", logging_steps=1, disable_tqdm=True, seed=s.seed,
        activation_checkpointing=s.activation_checkpointing,
    )
    trainer = SFTTrainer(model=model, args=args, train_dataset=ds, processing_class=tokenizer,
                         peft_config=peft_config)
    if progress is not None:
        trainer.add_callback(progress_callback(progress))
    started = time.perf_counter()
    result = trainer.train()
    seconds = time.perf_counter() - started
    trained: Any = trainer.model  # a PeftModel with LoRA, else the PreTrainedModel
    if s.lora:
        trained = trained.merge_and_unload()
    ckpt = out_dir / "checkpoint"
    trained.save_pretrained(str(ckpt))
    tokenizer.save_pretrained(str(ckpt))
    tokens = int(max((h.get("num_tokens", 0) for h in log_history(trainer)), default=0))
    run = run_fields(trainer, checkpoint=ckpt, device=device, dtype=dtype, seconds=seconds, tokens=tokens)
    report = SFTReport(**run, train_loss=float(result.training_loss), rows=len(ds))
    if not math.isfinite(report.train_loss):
        raise RuntimeError(f"SFT diverged: training loss {report.train_loss}")
    report.save(out_dir)
    log.info("SFT: %d steps, loss %.4f, %.0f tokens/s on %s", report.steps, report.train_loss, report.tokens_per_s,
             device)
    return report
