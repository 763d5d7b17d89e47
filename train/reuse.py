"""Reuse a training or evaluation result whose inputs have not changed.

Training is the one stage the LLM request cache cannot make free: re-materializing
``sft_model`` on the same dataset with the same settings would spend minutes (hours on
real data) to write the same checkpoint again. Each run records what it was made from as
a fingerprint next to its output; a later run with the same fingerprint returns the
recorded report instead of training. Anything that changes the result changes the
fingerprint: dataset bytes, settings, the upstream checkpoint's own fingerprint, the
base model, the endpoints that grade or serve.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

MANIFEST = "seekforge_run.json"


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.is_dir() else [root] if root.exists() else []


def fingerprint(*, settings: Mapping[str, Any], contents: Iterable[Path] = (), stats: Iterable[Path] = (),
                upstream: Iterable[str] = ()) -> str:
    """``contents``: files or directories hashed byte for byte (datasets: small).
    ``stats``: directories identified by path, file names, sizes and mtimes (model weights:
    large, and replaced rather than edited). ``upstream``: fingerprints this result builds on."""
    h = hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode())
    for fp in upstream:
        h.update(b"upstream\0" + fp.encode())
    for root in contents:
        h.update(b"contents\0" + root.name.encode())
        for f in _files(root):
            h.update(str(f.relative_to(root) if root.is_dir() else f.name).encode() + b"\0")
            with open(f, "rb") as fh:
                h.update(hashlib.file_digest(fh, "sha256").digest())
    for root in stats:
        h.update(b"stats\0" + str(root.resolve()).encode())
        for f in _files(root):
            st = f.stat()
            h.update(f"{f.relative_to(root) if root.is_dir() else f.name}\0{st.st_size}\0{st.st_mtime_ns}".encode())
    return h.hexdigest()


def recorded(out_dir: Path, fp: str) -> dict[str, Any] | None:
    """The report of the last run in ``out_dir`` if it was made from ``fp`` and its checkpoint
    (when it has one) is still there; else None."""
    path = out_dir / MANIFEST
    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if manifest.get("fingerprint") != fp:
        return None
    report = manifest.get("report") or {}
    ckpt = report.get("checkpoint")
    if ckpt and not (Path(ckpt) / "config.json").exists():
        return None
    return report


def upstream_fingerprint(out_dir: Path) -> str:
    """The fingerprint recorded in ``out_dir`` ('' when none): what a downstream result builds on."""
    try:
        return str(json.loads((out_dir / MANIFEST).read_text()).get("fingerprint", ""))
    except (OSError, ValueError):
        return ""


def forget(out_dir: Path) -> None:
    """Call before writing a new result: a run that dies half way must not leave the old
    manifest vouching for a half-written checkpoint."""
    (out_dir / MANIFEST).unlink(missing_ok=True)


def record(out_dir: Path, fp: str, report: Mapping[str, Any]) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    tmp = out_dir / (MANIFEST + ".tmp")
    tmp.write_text(json.dumps({"fingerprint": fp, "report": dict(report)}, default=str, indent=1))
    os.replace(tmp, out_dir / MANIFEST)
