"""Trained checkpoints as agents on held-out questions: F1 / EM, format validity, tool use.

Each checkpoint is served by ``transformers serve`` and driven by the same ReAct loop,
tools and system prompt that produced the training data, unconstrained: a model that
only writes the protocol when a grammar forces it should score as such.

Held out means the question reached neither training set: not an SFT record's question
and not an RL prompt. Order is by a hash of the question id, so the slice is stable.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from distill.agent.loop import QAItem
from distill.agent.trajectory import Trajectory
from filters.metrics import Metric, best_em, best_f1
from train.rewards import check_format


@dataclass(slots=True)
class EvalRow:
    checkpoint: str
    questions: int
    answered: float  # share that ended with an <answer>
    valid_format: float  # share whose every turn followed the protocol
    f1: float
    em: float
    tool_calls_per_question: float
    turns_per_question: float
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def held_out_items(rows: Iterable[Mapping[str, Any]], exclude: set[str], limit: int,
                   salt: str = "seekforge-eval-v1") -> list[QAItem]:
    """``rows``: qa_pool records (id, question, answer, aliases)."""
    pool = [r for r in rows if r["id"] not in exclude]
    pool.sort(key=lambda r: hashlib.sha256(f"{salt}:{r['id']}".encode()).hexdigest())
    return [QAItem(id=r["id"], question=r["question"], answer=r["answer"], aliases=list(r.get("aliases") or []))
            for r in pool[:limit]]


def assistant_turns(t: Trajectory) -> list[str]:
    return [m["content"] for m in t.messages if m["role"] == "assistant"]


def summarize(name: str, trajs: Sequence[Trajectory], tool_names: Iterable[str], seconds: float,
              metric: Metric = "deepresearcher") -> EvalRow:
    n = len(trajs)
    tools = frozenset(tool_names)
    if n == 0:
        return EvalRow(name, 0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, round(seconds, 1))
    f1s, ems, valid, answered, calls, turns = [], [], 0, 0, 0, 0
    for t in trajs:
        golds = [g for g in (t.reference, *t.aliases) if g]
        answer = t.final_answer if t.finish_reason == "answer" else ""
        f1s.append(best_f1(answer, golds, variant=metric) if answer and golds else 0.0)
        ems.append(best_em(answer, golds, variant=metric) if answer and golds else 0.0)
        answered += t.finish_reason == "answer"
        valid += check_format(assistant_turns(t), tools).valid
        calls += sum(1 for s in t.steps if s.action in tools)
        turns += len(t.steps)
    return EvalRow(name, n, round(answered / n, 4), round(valid / n, 4), round(sum(f1s) / n, 4),
                   round(sum(ems) / n, 4), round(calls / n, 3), round(turns / n, 3), round(seconds, 1))


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
