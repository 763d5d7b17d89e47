"""WARC writing (secrets stripped), lazy index, and the replay server over real HTTP."""

from __future__ import annotations

import socket

import httpx
import pytest

from crawl.replay import ReplayServer
from crawl.warc import WarcIndex, WarcWriter, iter_responses
from tests.webdata import archive

SECRET = "sk-test-PLANTED-0123456789"


def test_writer_strips_credentials_and_roundtrips(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "out.warc.gz"
    with WarcWriter(path) as w:
        w.write_exchange(
            "https://example.org/a?x=1",
            method="GET",
            request_headers=[("User-Agent", "t"), ("Authorization", f"Bearer {SECRET}"), ("Cookie", f"s={SECRET}")],
            status=200,
            reason="OK",
            response_headers=[("Content-Type", "text/html"), ("Set-Cookie", f"sid={SECRET}"), ("Transfer-Encoding", "chunked")],
            payload=b"<html>hi</html>",
        )
    assert SECRET.encode() not in __import__("gzip").open(path).read()
    (rec,) = list(iter_responses(path))
    assert rec.url == "https://example.org/a?x=1"
    assert rec.status == 200 and rec.payload == b"<html>hi</html>"
    assert rec.header("content-type") == "text/html" and rec.header("set-cookie") == ""


def test_index_finds_percent_encoding_variants() -> None:
    index = WarcIndex([archive("wikipedia_2014")])
    assert len(index) == 608
    raw = "https://en.wikipedia.org/wiki/1916–17_Illinois_Fighting_Illini_men's_basketball_team"
    rec = index.get(raw)
    assert rec is not None and rec.status == 200 and b"Illini" in rec.payload
    assert index.get(raw.replace("–", "%e2%80%93")) is not None
    assert index.get("https://en.wikipedia.org/wiki/Not_In_This_Archive") is None


@pytest.fixture(scope="module")
def replay_server():  # type: ignore[no-untyped-def]
    with ReplayServer([archive("pages_modern"), archive("arxiv_api")]) as server:
        yield server


def test_replay_by_host_header_and_by_path_prefix(replay_server) -> None:  # type: ignore[no-untyped-def]
    by_host = httpx.get(replay_server.url + "/wiki/Mozilla", headers={"Host": "en.wikipedia.org"})
    by_prefix = httpx.get(replay_server.url + "/en.wikipedia.org/wiki/Mozilla")
    assert by_host.status_code == by_prefix.status_code == 200
    assert by_host.content == by_prefix.content and b"Mozilla" in by_host.content
    missing = httpx.get(replay_server.url + "/en.wikipedia.org/wiki/Nope")
    assert missing.status_code == 404 and missing.headers["x-seekforge-not-in-archive"] == "1"


def test_replay_refuses_raw_path_traversal(replay_server) -> None:  # type: ignore[no-untyped-def]
    with socket.create_connection(("127.0.0.1", replay_server.port), timeout=5) as s:
        s.sendall(b"GET /en.wikipedia.org/../../../etc/passwd HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        reply = b""
        while chunk := s.recv(65536):
            reply += chunk
    assert reply.startswith(b"HTTP/1.1 400") and b"root:" not in reply


def test_replay_refuses_public_bind() -> None:
    with pytest.raises(ValueError, match="loopback"):
        ReplayServer([archive("arxiv_api")], host="0.0.0.0")
