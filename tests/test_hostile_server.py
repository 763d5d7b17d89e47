"""Sanity tests of the hostile test server itself (plain httpx and raw sockets).

The fetcher fault tests are only as good as the faults they are fed: if ``/hang``
answered, or ``/big`` quietly sent 1 MB, a broken fetcher would pass. These tests pin
the server's behaviour on the wire, independent of any crawler code.
"""

from __future__ import annotations

import gzip
import socket
import struct
import time
import zlib
from email.utils import parsedate_to_datetime
from itertools import pairwise

import httpx
import pytest

import hostile_server as hs
from hostile_server import HostileServer


def _client(**kw: object) -> httpx.Client:
    return httpx.Client(timeout=kw.pop("timeout", 5.0), follow_redirects=False, **kw)  # type: ignore[arg-type]


@pytest.mark.timeout(10)
def test_robots_and_good_page(hostile_server: HostileServer) -> None:
    """robots.txt disallows /private/ only; /ok/<n> is a linked ~2 KB article."""
    with _client() as c:
        robots = c.get(hostile_server.url(hs.ROBOTS))
        assert robots.status_code == 200
        assert robots.content == b"User-agent: *\nDisallow: /private/\n"

        page = c.get(hostile_server.url("/ok/0"))
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        assert "<title>Good page 0</title>" in page.text
        assert 'href="/ok/1"' in page.text and 'href="/ok/2"' in page.text
        for path in hs.HOSTILE_PATHS:
            assert f'href="{path}"' in page.text
        # the article alone is ~2 KB of prose
        article = page.text.split("<article>")[1].split("</article>")[0]
        assert 1800 < len(article) < 3000

        last = c.get(hostile_server.url("/ok/20")).text
        assert 'href="/ok/21"' not in last and 'href="/ok/22"' not in last

        assert c.get(hostile_server.url(hs.PRIVATE_SECRET)).status_code == 200
    assert hostile_server.hits("/ok/0") == 1
    assert hostile_server.hits(hs.ROBOTS) == 1
    assert hostile_server.errors == []


@pytest.mark.timeout(10)
def test_fail_then_succeed_counters(hostile_server: HostileServer) -> None:
    """Counters are per full path: /retry-after and /retry-after/x fail independently."""
    with _client() as c:
        first = c.get(hostile_server.url(hs.RETRY_AFTER))
        assert first.status_code == 429 and first.headers["retry-after"] == "1"
        assert c.get(hostile_server.url(hs.RETRY_AFTER)).status_code == 200
        assert c.get(hostile_server.url(hs.RETRY_AFTER + "/other")).status_code == 429
        assert c.get(hostile_server.url(hs.RETRY_AFTER + "/long?after=30")).headers["retry-after"] == "30"

        dated = c.get(hostile_server.url(hs.RETRY_AFTER_DATE))
        assert dated.status_code == 429
        ahead = parsedate_to_datetime(dated.headers["retry-after"]).timestamp() - time.time()
        assert 0.5 < ahead <= 2.05
        assert c.get(hostile_server.url(hs.RETRY_AFTER_DATE)).status_code == 200

        codes = [c.get(hostile_server.url(hs.FLAKY_503)).status_code for _ in range(5)]
        assert codes == [503, 503, 503, 200, 200]
        assert all(
            "retry-after" not in c.get(hostile_server.url(hs.FLAKY_503 + "/fresh")).headers for _ in range(3)
        )

        assert [c.get(hostile_server.url(hs.TOO_MANY)).status_code for _ in range(3)] == [429] * 3
    assert hostile_server.hits(hs.RETRY_AFTER) == 2
    assert hostile_server.hits(hs.FLAKY_503) == 5
    assert hostile_server.hits(hs.TOO_MANY) == 3


@pytest.mark.timeout(20)
@pytest.mark.parametrize("path,chunked", [(hs.BIG, False), (hs.BIG_NOLENGTH, True)])
def test_big_streams_full_length(hostile_server: HostileServer, path: str, chunked: bool) -> None:
    """/big declares and delivers exactly 50 MiB; /big-nolength is chunked, same bytes."""
    total = 0
    with _client() as c, c.stream("GET", hostile_server.url(path)) as r:
        assert r.status_code == 200
        if chunked:
            assert "content-length" not in r.headers
            assert r.headers["transfer-encoding"] == "chunked"
        else:
            assert int(r.headers["content-length"]) == hs.BIG_SIZE
        for chunk in r.iter_raw():
            total += len(chunk)
    assert total == hs.BIG_SIZE
    assert hostile_server.wait_finished(path)
    assert hostile_server.bytes_sent(path) == hs.BIG_SIZE


@pytest.mark.timeout(10)
def test_big_stops_when_client_goes_away(hostile_server: HostileServer) -> None:
    """Back-pressure: a client that reads 1 MB and hangs up does not cost 50 MB."""
    with _client() as c, c.stream("GET", hostile_server.url(hs.BIG)) as r:
        got = 0
        for chunk in r.iter_raw():
            got += len(chunk)
            if got > 1_000_000:
                break
    assert hostile_server.wait_finished(hs.BIG)
    # < everything, not a tighter bound: loopback socket buffers autotune up to tcp_rmem max
    assert hostile_server.bytes_sent(hs.BIG) < hs.BIG_SIZE


@pytest.mark.timeout(30)
def test_gzip_bomb_payload(hostile_server: HostileServer) -> None:
    """Small on the wire (< 2 MB, gzip-encoded HTML) and a valid 1 GiB gzip stream."""
    payload = hs.gzip_bomb_payload()
    assert len(payload) < 2_000_000
    assert hs.gzip_bomb_payload() is payload  # cached per process
    with _client() as c, c.stream("GET", hostile_server.url(hs.GZIP_BOMB)) as r:
        assert r.headers["content-encoding"] == "gzip"
        assert r.headers["content-type"].startswith("text/html")
        assert int(r.headers["content-length"]) == len(payload)
        wire = b"".join(r.iter_raw())
    assert wire == payload
    # The construction, checked end to end (stdlib gzip verifies CRC and ISIZE) on a
    # small instance; inflating the real GiB would cost seconds of CPU per run.
    small = hs.build_zero_gzip(8 * 1024 * 1024)
    assert gzip.decompress(small) == bytes(8 * 1024 * 1024)
    # The real payload: same header, ISIZE of 1 GiB, and the start inflates to zeros.
    assert payload[:10] == small[:10]
    assert struct.unpack("<I", payload[-4:])[0] == hs.GZIP_BOMB_SIZE & 0xFFFFFFFF
    d = zlib.decompressobj(16 + zlib.MAX_WBITS)
    head = d.decompress(payload[:20_000], 64 << 20)
    assert len(head) > 16 * 1024 * 1024 and not head.lstrip(b"\x00")


@pytest.mark.timeout(10)
def test_hang_never_answers(hostile_server: HostileServer) -> None:
    """/hang accepts and reads the request but sends nothing within 1 s."""
    t0 = time.monotonic()
    with _client(timeout=httpx.Timeout(1.0)) as c, pytest.raises(httpx.ReadTimeout):
        c.get(hostile_server.url(hs.HANG))
    assert time.monotonic() - t0 >= 0.9
    assert hostile_server.hits(hs.HANG) == 1


@pytest.mark.timeout(10)
def test_trickle_is_slow_but_alive(hostile_server: HostileServer) -> None:
    """/trickle sends headers, then ~1 byte per 0.5 s: per-read timeouts never fire."""
    with _client(timeout=httpx.Timeout(2.0)) as c, c.stream("GET", hostile_server.url(hs.TRICKLE)) as r:
        assert r.status_code == 200
        t0 = time.monotonic()
        got = b""
        for chunk in r.iter_raw():
            got += chunk
            if len(got) >= 3:
                break
    elapsed = time.monotonic() - t0
    assert got == b"xxx"
    assert 0.8 < elapsed < 2.0


@pytest.mark.timeout(10)
def test_redirects(hostile_server: HostileServer) -> None:
    """Loop a -> b -> a, chains of exactly n hops, and the hostile targets."""
    with _client() as c:
        a = c.get(hostile_server.url(hs.REDIRECT_LOOP_A))
        assert a.status_code == 302 and a.headers["location"] == hostile_server.url(hs.REDIRECT_LOOP_B)
        b = c.get(hostile_server.url(hs.REDIRECT_LOOP_B))
        assert b.status_code == 302 and b.headers["location"] == "a"

        hops, url = 0, hostile_server.url(hs.redirect_chain_path(3))
        while True:
            r = c.get(url)
            if r.status_code != 302:
                break
            hops += 1
            url = str(httpx.URL(url).join(r.headers["location"]))
        assert hops == 3 and url == hostile_server.url("/ok/1") and r.status_code == 200

        expect = {
            hs.REDIRECT_METADATA: "http://169.254.169.254/latest/meta-data/",
            hs.REDIRECT_PRIVATE: "http://10.0.0.1/admin",
            hs.REDIRECT_FTP: "ftp://127.0.0.1/x",
            hs.REDIRECT_LOCALHOST_NAME: f"http://localhost:{hostile_server.port}/ok/1",
        }
        for path, location in expect.items():
            r = c.get(hostile_server.url(path))
            assert (r.status_code, r.headers["location"]) == (302, location)


@pytest.mark.timeout(10)
def test_content_odds_and_ends(hostile_server: HostileServer) -> None:
    """bad UTF-8 bytes go out verbatim; image/png; missing Content-Type; block pages; JS."""
    with _client() as c:
        bad = c.get(hostile_server.url(hs.BAD_UTF8))
        assert bad.headers["content-type"] == "text/html; charset=utf-8"
        assert bad.content == hs.BAD_UTF8_BODY
        with pytest.raises(UnicodeDecodeError):
            bad.content.decode("utf-8")

        img = c.get(hostile_server.url(hs.IMAGE))
        assert img.headers["content-type"] == "image/png" and img.content.startswith(b"\x89PNG")

        assert "content-type" not in c.get(hostile_server.url(hs.NO_CONTENT_TYPE)).headers

        cf = c.get(hostile_server.url(hs.CLOUDFLARE))
        assert cf.status_code == 403
        assert "Attention Required! | Cloudflare" in cf.text and "Ray ID:" in cf.text

        js = c.get(hostile_server.url(hs.JS_ONLY)).text
        body = js.split("<body>")[1]
        assert "<script>" in body and "<p>" not in body and "Cape Sorrow" in body


@pytest.mark.timeout(10)
def test_conditional_requests(hostile_server: HostileServer) -> None:
    """/etag: validators on 200; 304 on matching If-None-Match or If-Modified-Since."""
    with _client() as c:
        r = c.get(hostile_server.url(hs.ETAG_PATH))
        assert r.status_code == 200
        assert r.headers["etag"] == hs.ETAG and r.headers["last-modified"] == hs.LAST_MODIFIED
        assert c.get(hostile_server.url(hs.ETAG_PATH), headers={"If-None-Match": hs.ETAG}).status_code == 304
        assert c.get(hostile_server.url(hs.ETAG_PATH), headers={"If-None-Match": '"other"'}).status_code == 200
        ims = {"If-Modified-Since": hs.LAST_MODIFIED}
        assert c.get(hostile_server.url(hs.ETAG_PATH), headers=ims).status_code == 304


@pytest.mark.timeout(10)
def test_reset_and_lying_length(hostile_server: HostileServer) -> None:
    """/reset dies mid-headers; /lying-length ends 9900 bytes short of its promise."""
    with _client() as c:
        with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
            c.get(hostile_server.url(hs.RESET))
        with pytest.raises(httpx.RemoteProtocolError):
            c.get(hostile_server.url(hs.LYING_LENGTH))
    # the raw bytes, without httpx in between
    with socket.create_connection(("127.0.0.1", hostile_server.port), timeout=2) as s:
        s.sendall(b"GET /lying-length HTTP/1.1\r\nHost: x\r\n\r\n")
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    assert b"Content-Length: 10000" in head and len(body) == 100


@pytest.mark.timeout(10)
def test_in_flight_tracking(hostile_server: HostileServer) -> None:
    """max_in_flight sees 4 overlapping /slow requests as 4, sequential ones as 1."""
    # Raw sockets: all four requests are on the wire before the first answer is due,
    # whatever the machine's load, so the overlap is certain.
    socks = [socket.create_connection(("127.0.0.1", hostile_server.port), timeout=5) for _ in range(4)]
    for i, s in enumerate(socks):
        s.sendall(f"GET {hs.slow_path(i, 0.5)} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
    for s in socks:
        with s:
            data = b""
            while chunk := s.recv(65536):
                data += chunk
            assert data.startswith(b"HTTP/1.1 200 ")
    assert hostile_server.max_in_flight("/slow/") == 4
    hostile_server.reset()
    with _client() as c:
        for i in range(3):
            assert c.get(hostile_server.url(hs.slow_path(i, 0.3))).status_code == 200
    assert hostile_server.max_in_flight("/slow/") == 1
    starts = hostile_server.request_starts("/slow/")
    assert len(starts) == 3 and all(b - a >= 0.29 for a, b in pairwise(starts))


@pytest.mark.timeout(10)
def test_stop_is_clean_with_stuck_clients() -> None:
    """Stopping releases /hang and /trickle handlers promptly and frees the port."""
    srv = HostileServer().start()
    port = srv.port
    socks = []
    for path in (hs.HANG, hs.TRICKLE):
        s = socket.create_connection(("127.0.0.1", port), timeout=2)
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        socks.append(s)
    deadline = time.monotonic() + 2
    while srv.total_hits() < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert srv.total_hits() == 2
    t0 = time.monotonic()
    srv.stop()
    assert time.monotonic() - t0 < 3
    for s in socks:
        s.close()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    assert srv.errors == []
