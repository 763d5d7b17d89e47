"""A trained checkpoint behind ``transformers serve`` (OpenAI-compatible), for evaluation.

The evaluation drives checkpoints through the same HTTP client and ReAct loop that
produced the training data, so base, SFT and RL models are measured the way a user
would deploy them, not through a shortcut in-process API.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from distill.llm.local_server import LocalServer, ServerUnavailable


class CheckpointServer(LocalServer):
    label = "checkpoint server (transformers serve)"
    health_path = "/health"

    def __init__(self, model_dir: str | Path, *, device: str = "auto", log_path: str | Path | None = None,
                 startup_timeout_s: float = 300.0) -> None:
        super().__init__(log_path=log_path, startup_timeout_s=startup_timeout_s)
        self.model_dir = Path(model_dir).absolute()  # not resolved: a link name carries the fingerprint
        self.device = device

    @property
    def model(self) -> str:
        """The model name requests must carry: the directory, which the server loads on demand."""
        return str(self.model_dir)

    def check_available(self) -> None:
        if not (self.model_dir / "config.json").exists():
            raise ServerUnavailable(f"{self.model_dir} is not a model directory (no config.json)")
        missing = [m for m in ("fastapi", "uvicorn") if importlib.util.find_spec(m) is None]
        if missing:
            raise ServerUnavailable(f"transformers serve needs {', '.join(missing)}: pip install 'transformers[serving]'")

    def command(self) -> list[str]:
        return [sys.executable, "-m", "transformers.cli.transformers", "serve", str(self.model_dir), "--host",
                "127.0.0.1", "--port", str(self.port), "--device", self.device, "--log-level", "warning"]
