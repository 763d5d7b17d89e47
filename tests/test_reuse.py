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
