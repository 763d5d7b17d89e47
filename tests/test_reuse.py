"""train/reuse.py: a training result is reused exactly when nothing it was made from changed."""

from __future__ import annotations

import json
from pathlib import Path

from train.reuse import fingerprint, forget, record, recorded, upstream_fingerprint


def _setup(tmp_path: Path) -> tuple[Path, Path, Path]:
    data = tmp_path / "train.parquet"
    data.write_bytes(b"rows-v1")
    model = tmp_path / "base"
    model.mkdir()
    (model / "model.safetensors").write_bytes(b"w" * 100)
    out = tmp_path / "out"
    (out / "checkpoint").mkdir(parents=True)
    (out / "checkpoint" / "config.json").write_text("{}")
    return data, model, out


def test_same_inputs_reuse_and_any_change_retrains(tmp_path: Path) -> None:
    data, model, out = _setup(tmp_path)
    fp = fingerprint(settings={"lr": 1e-5}, contents=[data], stats=[model], upstream=["sft-abc"])
    record(out, fp, {"checkpoint": str(out / "checkpoint"), "steps": 3})
    assert recorded(out, fp) == {"checkpoint": str(out / "checkpoint"), "steps": 3}
    assert upstream_fingerprint(out) == fp

    assert fingerprint(settings={"lr": 2e-5}, contents=[data], stats=[model], upstream=["sft-abc"]) != fp
    assert fingerprint(settings={"lr": 1e-5}, contents=[data], stats=[model], upstream=["sft-xyz"]) != fp
    data.write_bytes(b"rows-v2")
    assert fingerprint(settings={"lr": 1e-5}, contents=[data], stats=[model], upstream=["sft-abc"]) != fp
    data.write_bytes(b"rows-v1")
    (model / "model.safetensors").write_bytes(b"w" * 101)  # weights replaced
    assert fingerprint(settings={"lr": 1e-5}, contents=[data], stats=[model], upstream=["sft-abc"]) != fp


def test_missing_checkpoint_or_forgotten_run_is_not_reused(tmp_path: Path) -> None:
    data, model, out = _setup(tmp_path)
    fp = fingerprint(settings={}, contents=[data])
    record(out, fp, {"checkpoint": str(out / "checkpoint")})
    (out / "checkpoint" / "config.json").unlink()  # e.g. deleted by hand
    assert recorded(out, fp) is None
    (out / "checkpoint" / "config.json").write_text("{}")
    forget(out)  # a new run started (and may have died half way)
    assert recorded(out, fp) is None and upstream_fingerprint(out) == ""


def test_corrupt_manifest_means_retrain(tmp_path: Path) -> None:
    _, _, out = _setup(tmp_path)
    (out / "seekforge_run.json").write_text("{not json")
    assert recorded(out, "x") is None
    (out / "seekforge_run.json").write_text(json.dumps({"fingerprint": "x", "report": {}}))
    assert recorded(out, "x") == {}


def test_recorded_reports_load_back_or_mean_retrain(tmp_path: Path) -> None:
    """assets/training.py reads the recorded report back as SFTReport / RLReport: a report
    of today's shape loads (old train_report.json files have the same fields), another
    shape is None (train again) instead of a TypeError in the asset."""
    from train.rl_runner import RLReport
    from train.sft_runner import SFTReport

    _, _, out = _setup(tmp_path)
    sft = SFTReport(checkpoint=str(out / "checkpoint"), device="cpu", dtype="float32", steps=3, seconds=1.5,
                    tokens=300, tokens_per_s=200.0, train_loss=0.5, rows=4, log_history=[{"loss": 0.5, "step": 3}])
    record(out, "fp", sft.to_dict())
    assert SFTReport.from_dict(recorded(out, "fp")) == sft
    sft.save(out)
    assert SFTReport.from_dict(json.loads((out / "train_report.json").read_text())) == sft
    old_sft = {"checkpoint": "c", "device": "cpu", "dtype": "float32", "steps": 3, "train_loss": 0.5, "seconds": 1.5,
               "tokens": 300, "tokens_per_s": 200.0, "rows": 4, "log_history": []}  # the pre-base field order
    assert SFTReport.from_dict(old_sft) is not None
    assert SFTReport.from_dict({**old_sft, "renamed_field": 1}) is None
    assert SFTReport.from_dict({k: v for k, v in old_sft.items() if k != "rows"}) is None
    assert SFTReport.from_dict({}) is None and SFTReport.from_dict(None) is None
    rl = {"checkpoint": "c", "device": "cpu", "dtype": "float32", "steps": 2, "seconds": 1.0, "tokens": 10,
          "tokens_per_s": 10.0, "prompts": 1, "rollouts": 4, "tool_calls": 3}  # before atr_* and metrics existed
    report = RLReport.from_dict(rl)
    assert report is not None and report.atr_asked == 0 and report.metrics == {}
    assert RLReport.from_dict(old_sft) is None  # an SFT report is not an RL one
