"""The `seekforge` command line, run as users run it (a subprocess)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from crawl.miniweb import ARCHIVE_PATH
from tests.webdata import archive, shared_path

SEEKFORGE = str(Path(sys.executable).parent / "seekforge")


def run(*args: str, timeout: int = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([SEEKFORGE, *args], capture_output=True, text=True, timeout=timeout)


def test_parse_prints_one_json_object_per_response() -> None:
    proc = run("parse", str(archive("pages_modern")))
    assert proc.returncode == 0, proc.stderr
    records = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(records) == 6
    for rec in records:
        assert {"url", "source", "valid", "invalid_reason", "title", "text", "fields", "links"} <= rec.keys()
        assert rec["valid"] and rec["title"] and rec["text"]
        assert all({"url", "kind"} <= link.keys() for link in rec["links"])
    assert {r["source"] for r in records} == {"wikipedia", "github", "arxiv"}


def test_parse_marks_miniweb_bad_pages_invalid() -> None:
    proc = run("parse", "--no-text", str(ARCHIVE_PATH))
    assert proc.returncode == 0, proc.stderr
    records = {r["url"]: r for r in map(json.loads, proc.stdout.splitlines())}
    bad = {u: r["invalid_reason"] for u, r in records.items() if not r["valid"] and not u.endswith("robots.txt")}
    assert bad.get("https://arxiv.org/abs/2305.17301") in ("cloudflare_challenge", "http_error")
    assert bad.get("https://en.wikipedia.org/wiki/Grey_Sound") in ("not_found", "http_error")
    assert records["https://en.wikipedia.org/wiki/Sorvik_Institute"]["valid"]


def test_crawl_command_over_archive(tmp_path: Path) -> None:
    out = tmp_path / "pages.parquet"
    proc = run("crawl", "https://en.wikipedia.org/wiki/Sorvik_Institute", "--mode", "archive", "--archive",
               str(ARCHIVE_PATH), "--out", str(out), "--max-depth", "1", "--delay", "0")
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["valid"] >= 5 and out.exists()


def test_replay_refuses_public_bind_with_clear_error() -> None:
    proc = run("replay", str(ARCHIVE_PATH), "--host", "0.0.0.0")
    assert proc.returncode != 0
    assert "loopback" in proc.stderr


def test_convert_webdancer_through_parquet_is_byte_identical(tmp_path: Path) -> None:
    sample = shared_path("webdancer", "sample_traj_20.jsonl")
    table, back, openai = tmp_path / "t.parquet", tmp_path / "back.jsonl", tmp_path / "openai.jsonl"
    assert json.loads(run("convert", str(sample), str(table), "--to", "parquet").stdout)["written"] == 20
    run("convert", str(table), str(back), "--from", "parquet", "--to", "webdancer")
    assert back.read_bytes() == sample.read_bytes()
    run("convert", str(sample), str(openai), "--to", "openai")
    first = json.loads(openai.read_text(encoding="utf-8").splitlines()[0])
    call = next(m for m in first["messages"] if m.get("tool_calls"))
    assert json.loads(call["tool_calls"][0]["function"]["arguments"])["query"]


def test_convert_names_the_bad_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"messages": []}\n', encoding="utf-8")
    proc = run("convert", str(bad), str(tmp_path / "o.jsonl"))
    assert proc.returncode != 0 and "line 1" in proc.stderr
