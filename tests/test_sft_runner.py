"""Real SFT steps on CPU through train.sft_runner on a saved tokenized sft_dataset."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch

from test_sft_data import COMPACT_SYSTEM, crafted_trajectory
from train import base_model as bm
from train.sft_data import save_sft_dataset, sft_records, tokenize_sft
from train.sft_runner import SFTSettings, run_sft

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.usefixtures("embedded_model")  # tests/conftest.py: skip, or fail under CI


@pytest.mark.timeout(600)
def test_three_sft_steps_save_a_loadable_checkpoint(tmp_path: Path) -> None:
    from transformers import AutoModelForCausalLM

    base = bm.ensure_base_model(os.environ.get("SEEKFORGE_MODEL_CACHE") or REPO / "data" / "models" / "base")
    tokenizer = bm.load_tokenizer(base)
    records = sft_records([crafted_trajectory(system_text=COMPACT_SYSTEM),
                           crafted_trajectory(question="Who wrote Solaris?", answer="Stanislaw Lem",
                                              system_text=COMPACT_SYSTEM)])
    tok = tokenize_sft(records, tokenizer, max_length=512)
    assert len(tok.rows) == 2
    paths = save_sft_dataset(records, tok, tmp_path / "sft", "# card")
    report = run_sft(paths["tokenized"], base, tmp_path / "out",
                     SFTSettings(max_steps=3, grad_accum=1, max_length=512, learning_rate=1e-4))
    assert report.steps == 3 and report.device == "cpu" and report.dtype == "float32"
    assert report.tokens > 0 and report.tokens_per_s > 0 and report.train_loss > 0
    assert json.loads((tmp_path / "out" / "train_report.json").read_text())["steps"] == 3
    trained = AutoModelForCausalLM.from_pretrained(report.checkpoint, dtype=torch.float32)
    original = AutoModelForCausalLM.from_pretrained(str(base), dtype=torch.float32)
    assert not torch.equal(trained.model.embed_tokens.weight, original.model.embed_tokens.weight)


def test_conversational_variant_is_refused(tmp_path: Path) -> None:
    import datasets

    datasets.Dataset.from_list([{"messages": [{"role": "user", "content": "hi"}]}]).save_to_disk(str(tmp_path / "c"))
    with pytest.raises(ValueError, match="tokenized"):
        run_sft(tmp_path / "c", tmp_path, tmp_path / "out")
