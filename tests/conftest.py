"""Shared pytest fixtures for the seekforge test suite.

Fixtures live in clearly delimited blocks so several people can add theirs without
stepping on each other.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

# Test helper modules (e.g. hostile_server.py) sit next to this file; make them
# importable whether or not tests/ is a package and whatever the rootdir is.
_TESTS_DIR = str(Path(__file__).resolve().parent)
if _TESTS_DIR not in sys.path:
    sys.path.insert(0, _TESTS_DIR)

# One converted base model (GGUF -> HF, ~40 s) for the whole suite, including the Dagster
# runs started as subprocesses (they inherit the environment): tests use fresh data dirs.
import os  # noqa: E402

os.environ.setdefault("SEEKFORGE_MODEL_CACHE", str(Path(_TESTS_DIR).parent / "data" / "models" / "base"))


# ---------------------------------------------------------------------------
# BEGIN hostile_server fixture (see tests/hostile_server.py)
# ---------------------------------------------------------------------------
from hostile_server import HostileServer  # noqa: E402


@pytest.fixture
def hostile_server() -> Iterator[HostileServer]:
    """A fresh misbehaving HTTP server on 127.0.0.1:<free port> for one test.

    Function-scoped on purpose: counters ("fail 3 times then succeed") and hit
    counts start from zero in every test. Starting one costs a few milliseconds.
    Yields the server; use ``.base_url`` / ``.url(path)`` / ``.hits(path)``.
    """
    with HostileServer() as srv:
        yield srv
# ---------------------------------------------------------------------------
# END hostile_server fixture
# ---------------------------------------------------------------------------


# ---------------------------------------------------------------------------
# BEGIN fake_llm fixture (see tests/fake_llm_server.py)
# ---------------------------------------------------------------------------
from fake_llm_server import FakeLLMServer  # noqa: E402


@pytest.fixture
def fake_llm() -> Iterator[FakeLLMServer]:
    """A fresh scripted OpenAI-compatible server on 127.0.0.1:<free port> for one test.

    Function-scoped on purpose: the script queue, the request log and the in-flight
    peak start empty in every test. Yields the server; script it with
    ``fake_llm.script(reply(...), status(429, retry_after="1"), ...)``, point clients at
    ``fake_llm.base_url`` and inspect ``fake_llm.requests`` / ``fake_llm.count()``.
    """
    with FakeLLMServer() as srv:
        yield srv
# ---------------------------------------------------------------------------
# END fake_llm fixture
# ---------------------------------------------------------------------------
