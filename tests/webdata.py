"""Locate the shared real-web archives (tests only; the project never ships them)."""

from __future__ import annotations

from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
WEBDATA = SHARED / "webdata"


def archive(name: str) -> Path:
    path = WEBDATA / f"{name}.warc.gz"
    if not path.exists():
        pytest.skip(f"{path} missing: the shared test data must sit beside the repo at ../shared")
    return path
