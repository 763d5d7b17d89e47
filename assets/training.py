"""Training assets: sft_model (TRL SFTTrainer on sft_dataset).

Thin on purpose: the runner lives in ``train/`` so it can be used from a notebook or another
orchestrator; this asset picks the device, passes config, and puts the figures a person
wants to see (loss curve, tokens/s, where the checkpoint is) into metadata.
"""

import time

import dagster as dg
from pydantic import Field

from assets.datasets import sft_dataset
from assets.metadata import md_table
from assets.resources import ModelsResource, StorageResource

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


@dg.asset(
    group_name=GROUP, kinds={"python", "pytorch", "huggingface"}, owners=OWNERS,
    deps=[sft_dataset],
    check_specs=[dg.AssetCheckSpec("loss_is_finite", asset="sft_model", blocking=True)],
    description="Supervised fine-tuning of the base model on sft_dataset's tokenized variant with TRL's SFTTrainer "
                "(observation tokens masked by their -100 labels); bf16 on a GPU, float32 on CPU.",
)
def sft_model(context: dg.AssetExecutionContext, config: SFTModelConfig, storage: StorageResource,
              models: ModelsResource) -> dg.MaterializeResult:
    from train.sft_runner import SFTSettings, run_sft

    started = time.monotonic()
    base = models.base_model_path(storage)
    settings = SFTSettings(max_steps=config.max_steps, num_train_epochs=config.num_train_epochs,
                           learning_rate=config.learning_rate, per_device_batch=config.per_device_batch,
                           grad_accum=config.grad_accum, max_length=config.max_length, lora=config.lora,
                           seed=config.seed)
    report = run_sft(storage.path("datasets", "sft", "tokenized"), base, storage.path("models", "sft"), settings)
    losses = [{"step": h.get("step"), "loss": round(float(h["loss"]), 4)} for h in report.log_history if "loss" in h]
    context.log.info(f"sft_model: {report.steps} steps, loss {report.train_loss:.4f}, {report.tokens_per_s} tokens/s")
    return dg.MaterializeResult(
        metadata={
            "checkpoint": dg.MetadataValue.path(report.checkpoint),
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
