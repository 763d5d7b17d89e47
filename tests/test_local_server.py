"""LocalServer's error paths: a server that dies or never answers is reported and never left running."""

from __future__ import annotations

import sys

import pytest

from distill.llm.local_server import LocalServer, ServerUnavailable


class _Cmd(LocalServer):
    def __init__(self, code: str, **kw: object) -> None:
        super().__init__(**kw)  # type: ignore[arg-type]
        self.code = code

    def command(self) -> list[str]:
        return [sys.executable, "-c", self.code]


def test_a_server_that_exits_is_reported_with_its_code() -> None:
    srv = _Cmd("raise SystemExit(3)", startup_timeout_s=20)
    with pytest.raises(ServerUnavailable, match="exited with code 3"):
        srv.start()
    assert srv._proc is None


def test_a_server_that_never_answers_is_stopped() -> None:
    srv = _Cmd("import time; time.sleep(60)", startup_timeout_s=1.0)
    with pytest.raises(ServerUnavailable, match="did not answer within 1s"):
        srv.start()
    assert srv._proc is None
