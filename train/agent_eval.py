"""Trained checkpoints as agents: the held-out slice of qa_pool and the serving names.

Each checkpoint is served by ``transformers serve`` and driven by the same ReAct loop,
tools and system prompt that produced the training data, unconstrained: a model that
only writes the protocol when a grammar forces it should score as such. Scoring is
:mod:`train.eval_metrics`' (the same for held-out questions and benchmark files), the run
:mod:`train.benchmark_eval`'s.

Held out means the question reached neither training set: not an SFT record's question
and not an RL prompt. Order is by a hash of the question id, so the slice is stable.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from distill.agent.loop import QAItem
from distill.agent.trajectory import Trajectory


def held_out_items(rows: Iterable[Mapping[str, Any]], exclude: set[str], limit: int,
                   salt: str = "seekforge-eval-v1") -> list[QAItem]:
    """``rows``: qa_pool records (id, question, answer, aliases)."""
    pool = [r for r in rows if r["id"] not in exclude]
    pool.sort(key=lambda r: hashlib.sha256(f"{salt}:{r['id']}".encode()).hexdigest())
    return [QAItem(id=r["id"], question=r["question"], answer=r["answer"], aliases=list(r.get("aliases") or []))
            for r in pool[:limit]]


def assistant_turns(t: Trajectory) -> list[str]:
    return [m["content"] for m in t.messages if m["role"] == "assistant"]


def fingerprint(model_dir: str | Path) -> str:
    """A short content hash of a checkpoint's weights and config, so requests to a retrained
    checkpoint at the same path never hit the cached answers of the old one."""
    h = hashlib.sha256()
    root = Path(model_dir)
    for path in sorted(root.glob("*.safetensors")) + [root / "config.json"]:
        h.update(path.name.encode())
        with open(path, "rb") as fh:
            while chunk := fh.read(1 << 22):
                h.update(chunk)
    return h.hexdigest()[:12]


def serving_dir(model_dir: str | Path, name: str, root: str | Path) -> Path:
    """A link named ``<name>-<fingerprint>`` to the checkpoint: ``transformers serve`` names the
    model by its path, and the request cache keys on that name."""
    link = Path(root) / f"{name}-{fingerprint(model_dir)}"
    link.parent.mkdir(parents=True, exist_ok=True)
    target = Path(model_dir).resolve()
    if link.is_symlink() and Path(os.readlink(link)) != target:
        link.unlink()
    if not link.exists():
        link.symlink_to(target, target_is_directory=True)
    return link
