"""The `seekforge` command line, run as users run it (a subprocess)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from crawl.miniweb import ARCHIVE_PATH
from tests.webdata import archive

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
    assert bad.get("https://arxiv.org/abs/2305.17301") in ("cloudflare_challenge", "http_403")
    assert bad.get("https://en.wikipedia.org/wiki/Grey_Sound") in ("not_found", "http_404")
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
