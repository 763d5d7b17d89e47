"""A model server in a child process on a free loopback port: start, health-check, stop.

Both local servers the pipeline runs (llama.cpp for the embedded teacher, ``transformers
serve`` for trained checkpoints) differ only in their command line and health URL, so the
process handling (log file, early-exit detection, terminate then kill) lives here once.
"""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import time
from pathlib import Path
from typing import IO

import httpx

log = logging.getLogger(__name__)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ServerUnavailable(RuntimeError):
    pass


class LocalServer:
    """Subclasses give :meth:`command` and :attr:`health_path` (from the server root)."""

    label = "local model server"
    health_path = "/v1/models"
    error: type[RuntimeError] = ServerUnavailable

    def __init__(self, *, log_path: str | Path | None = None, startup_timeout_s: float = 120.0) -> None:
        self.log_path = Path(log_path) if log_path else None
        self.startup_timeout_s = startup_timeout_s
        self.port = 0
        self._proc: subprocess.Popen[bytes] | None = None
        self._log_fh: IO[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def health_url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.health_path}"

    def command(self) -> list[str]:
        raise NotImplementedError

    def check_available(self) -> None:
        """Raise :attr:`error` with an install hint when the server cannot be started."""

    def start(self) -> LocalServer:
        self.check_available()
        self.port = free_port()
        cmd = self.command()
        if self.log_path:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            self._log_fh = open(self.log_path, "ab")
        out = self._log_fh or subprocess.DEVNULL
        self._proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, "HF_HUB_OFFLINE": "1"})
        try:
            deadline = time.monotonic() + self.startup_timeout_s
            while time.monotonic() < deadline:
                if self._proc.poll() is not None:
                    raise self.error(f"the {self.label} exited with code {self._proc.returncode}; "
                                     f"see {self.log_path or 'its output'}")
                try:
                    if httpx.get(self.health_url, timeout=2.0).status_code == 200:
                        log.info("%s up on %s", self.label, self.base_url)
                        return self
                except httpx.HTTPError:
                    pass
                time.sleep(0.25)
            raise self.error(f"the {self.label} did not answer within {self.startup_timeout_s:g}s")
        except BaseException:  # including a test timeout or Ctrl-C while waiting: never leave the process behind
            self.stop()
            raise

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

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
