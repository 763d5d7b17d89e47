"""What a training run reports: one base for the SFT and RL reports.

A report is written next to the checkpoint as ``train_report.json`` and recorded in the
reuse manifest (:mod:`train.reuse`), from which a later run with the same inputs reads it
back instead of training. A recorded report whose shape is not the current one (written by
an older version) is not an error: :meth:`TrainReport.from_dict` gives None and the caller
trains again.
"""

from __future__ import annotations

import json
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Self

REPORT_FILE = "train_report.json"


@dataclass(slots=True, kw_only=True)
class TrainReport:
    checkpoint: str
    device: str
    dtype: str
    steps: int
    seconds: float
    tokens: int
    tokens_per_s: float
    log_history: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Any) -> Self | None:
        """The report recorded as ``data``, or None when ``data`` does not have this class's
        fields (a missing required one or an unknown one): retrain rather than fail.

        >>> from train.report import TrainReport
        >>> TrainReport.from_dict({"checkpoint": "c", "device": "cpu", "dtype": "float32", "steps": 1,
        ...                        "seconds": 2.0, "tokens": 10, "tokens_per_s": 5.0}).steps
        1
        >>> TrainReport.from_dict({"checkpoint": "c"}) is None
        True
        """
        if not isinstance(data, dict):
            return None
        known = {f.name for f in fields(cls)}
        required = {f.name for f in fields(cls) if f.default is MISSING and f.default_factory is MISSING}
        if not required <= data.keys() <= known:
            return None
        return cls(**data)

    def save(self, out_dir: Path) -> None:
        """Write :data:`REPORT_FILE` into ``out_dir``."""
        (out_dir / REPORT_FILE).write_text(json.dumps(self.to_dict(), indent=1, default=str))


def run_fields(trainer: Any, *, checkpoint: Path, device: str, dtype: Any, seconds: float,
               tokens: int) -> dict[str, Any]:
    """The :class:`TrainReport` fields of a finished transformers/TRL ``trainer``."""
    return {"checkpoint": str(checkpoint), "device": device, "dtype": str(dtype).replace("torch.", ""),
            "steps": int(trainer.state.global_step), "seconds": round(seconds, 2), "tokens": tokens,
            "tokens_per_s": round(tokens / seconds, 1) if seconds > 0 else 0.0,
            "log_history": log_history(trainer)}


def log_history(trainer: Any) -> list[dict[str, Any]]:
    return [h for h in trainer.state.log_history if isinstance(h, dict)]
