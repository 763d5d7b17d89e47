"""Fault tests of :class:`crawl.fetcher.Fetcher` against a real misbehaving server.

Every way the open web can hurt a crawler (silence, trickles, loops, floods, bombs,
rate limits, SSRF redirects, lies about lengths) is served on the wire by
``tests/hostile_server.py``. Each test pins the fetcher's verdict (outcome, status,
attempts) *and* what the server saw (hits), because a fetcher that returns the right
outcome after hammering the server, or after reading 50 MB, is still broken.

pytest-asyncio is not installed: each test drives its own loop with ``asyncio.run``.
Timeouts and retry counts are shrunk per test so the whole file stays well under a
minute.
"""

from __future__ import annotations

import asyncio
import resource
import socket
import time
from collections.abc import Sequence
from itertools import pairwise
from typing import Any

import pytest

import hostile_server as hs
from crawl.fetcher import Fetcher, FetchResult, FetchSettings, Outcome
from crawl.netguard import NetworkPolicy
from hostile_server import HostileServer

# The contract's test profile: fast timeouts, tiny backoff, loopback allowed.
BASE_SETTINGS: dict[str, Any] = dict(
    user_agent="seekforge-test", per_host_delay_s=0.0, per_host_concurrency=4,
    connect_timeout_s=2.0, read_timeout_s=2.0, total_timeout_s=3.0, max_redirects=5,
    max_bytes=2_000_000, max_decompression_ratio=200.0, max_retries=4, backoff_base_s=0.01,
    backoff_max_s=0.1, max_retry_after_s=5.0, respect_robots=True,
)
LOOPBACK = NetworkPolicy(allow=("127.0.0.1",))


def settings(**overrides: Any) -> FetchSettings:
    """The test profile with ``overrides`` applied."""
    return FetchSettings(**{**BASE_SETTINGS, **overrides})


async def _fetch_all(urls: Sequence[str], st: FetchSettings, policy: NetworkPolicy) -> list[FetchResult]:
    async with Fetcher(st, policy=policy) as fetcher:
        return list(await asyncio.gather(*(fetcher.fetch(u) for u in urls)))


async def _fetch_sequential(urls: Sequence[str], st: FetchSettings, policy: NetworkPolicy) -> list[FetchResult]:
    async with Fetcher(st, policy=policy) as fetcher:
        return [await fetcher.fetch(u) for u in urls]


def fetch(url: str, st: FetchSettings | None = None, policy: NetworkPolicy = LOOPBACK) -> FetchResult:
    """One fetch on a fresh fetcher (fresh robots cache, fresh connection pool)."""
    return asyncio.run(_fetch_all([url], st or settings(), policy))[0]


def timed_fetch(url: str, st: FetchSettings | None = None, policy: NetworkPolicy = LOOPBACK) -> tuple[FetchResult, float]:
    """:func:`fetch` plus the wall time it took, measured outside the fetcher."""
    t0 = time.monotonic()
    r = fetch(url, st, policy)
    return r, time.monotonic() - t0


def _why(r: FetchResult) -> str:
    return f"outcome={r.outcome} status={r.status} attempts={r.attempts} detail={r.detail!r}"


# ------------------------------------------------------------------ timeouts


@pytest.mark.timeout(20)
def test_hang_times_out_and_is_retried(hostile_server: HostileServer) -> None:
    """A server that never answers costs at most total_timeout per attempt."""
    st = settings(total_timeout_s=1.0, read_timeout_s=0.7, max_retries=2)
    r, wall = timed_fetch(hostile_server.url(hs.HANG), st)
    assert r.outcome == Outcome.TIMEOUT, _why(r)
    assert r.status is None and not r.ok
    assert r.attempts == 3
    assert hostile_server.hits(hs.HANG) == 3
    assert wall < 1.0 * 3 + 2.0


@pytest.mark.timeout(20)
def test_trickle_hits_the_total_deadline(hostile_server: HostileServer) -> None:
    """1 byte per 0.5 s never trips a 2 s read timeout; the per-attempt deadline must."""
    st = settings(total_timeout_s=1.0, read_timeout_s=2.0, max_retries=1)
    r, wall = timed_fetch(hostile_server.url(hs.TRICKLE), st)
    assert r.outcome == Outcome.TIMEOUT, _why(r)
    assert r.attempts == 2
    assert hostile_server.hits(hs.TRICKLE) == 2
    assert wall < 1.0 * 2 + 2.0


# ----------------------------------------------------------------- redirects


@pytest.mark.timeout(15)
def test_redirect_loop_detected_before_refetching(hostile_server: HostileServer) -> None:
    """a -> b -> a ends as REDIRECT_LOOP without requesting a twice."""
    r = fetch(hostile_server.url(hs.REDIRECT_LOOP_A))
    assert r.outcome == Outcome.REDIRECT_LOOP, _why(r)
    assert hostile_server.hits(hs.REDIRECT_LOOP_A) == 1
    assert hostile_server.hits(hs.REDIRECT_LOOP_B) == 1


@pytest.mark.timeout(15)
def test_redirect_cap(hostile_server: HostileServer) -> None:
    """7 hops with a cap of 5 stops after following 5; the target is never fetched."""
    r = fetch(hostile_server.url(hs.redirect_chain_path(7)))
    assert r.outcome == Outcome.TOO_MANY_REDIRECTS, _why(r)
    assert len(r.redirects) == 5
    assert hostile_server.total_hits("/redirect-chain/") == 6  # the start + 5 followed hops
    assert hostile_server.hits("/ok/1") == 0


@pytest.mark.timeout(15)
def test_short_redirect_chain_is_followed(hostile_server: HostileServer) -> None:
    """3 hops under a cap of 5 arrive at /ok/1 with the hops recorded."""
    start = hostile_server.url(hs.redirect_chain_path(3))
    r = fetch(start)
    assert r.outcome == Outcome.OK, _why(r)
    assert r.status == 200
    assert r.url == start
    assert r.final_url == hostile_server.url("/ok/1")
    assert len(r.redirects) == 3
    assert r.redirects[-1] == hostile_server.url("/ok/1")
    assert b"Good page 1" in r.body
    assert hostile_server.hits("/ok/1") == 1


# -------------------------------------------------------------- size limits


@pytest.mark.timeout(20)
@pytest.mark.parametrize("path", [hs.BIG, hs.BIG_NOLENGTH])
def test_big_body_is_cut_off_early(hostile_server: HostileServer, path: str) -> None:
    """A 50 MiB body ends as BODY_TOO_LARGE after ~max_bytes, not after 50 MiB."""
    r, wall = timed_fetch(hostile_server.url(path))
    assert r.outcome == Outcome.BODY_TOO_LARGE, _why(r)
    assert len(r.body) <= BASE_SETTINGS["max_bytes"]
    assert wall < 5.0
    assert r.attempts == 1  # a size verdict is final, not retried
    assert hostile_server.hits(path) == 1
    assert hostile_server.wait_finished(path, timeout=5.0), "client kept the connection open"
    # The server stopped short of the full body because the client hung up. What it
    # did push is the client's ~max_bytes plus loopback socket buffers, which Linux
    # autotunes up to tcp_rmem max (32 MiB here), so only "< everything" is portable.
    assert hostile_server.bytes_sent(path) < hs.BIG_SIZE


@pytest.mark.timeout(30)
def test_gzip_bomb_is_refused_in_bounded_memory(hostile_server: HostileServer) -> None:
    """~1 MB that inflates to 1 GiB: refused, and the process never holds the GiB."""
    hs.gzip_bomb_payload()  # build the payload first so the server answers at once
    before_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    r = fetch(hostile_server.url(hs.GZIP_BOMB))
    grown_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before_kib) / 1024
    assert r.outcome in (Outcome.DECOMPRESSION_BOMB, Outcome.BODY_TOO_LARGE), _why(r)
    assert len(r.body) <= BASE_SETTINGS["max_bytes"]
    assert grown_mib < 300, f"max RSS grew by {grown_mib:.0f} MiB"
    assert hostile_server.hits(hs.GZIP_BOMB) == 1


# ---------------------------------------------------------- retries / limits


@pytest.mark.timeout(15)
def test_retry_after_seconds_is_honoured(hostile_server: HostileServer) -> None:
    """429 + Retry-After: 1, then 200: two attempts, at least ~1 s apart."""
    r, wall = timed_fetch(hostile_server.url(hs.RETRY_AFTER))
    assert r.outcome == Outcome.OK, _why(r)
    assert r.status == 200
    assert r.attempts == 2
    assert hostile_server.hits(hs.RETRY_AFTER) == 2
    assert r.elapsed_s >= 0.95 and wall >= 0.95
    starts = hostile_server.request_starts(hs.RETRY_AFTER)
    assert starts[1] - starts[0] >= 0.95


@pytest.mark.timeout(15)
def test_retry_after_http_date_is_honoured(hostile_server: HostileServer) -> None:
    """Retry-After as an HTTP-date 1-2 s ahead is waited for, like the seconds form."""
    r = fetch(hostile_server.url(hs.RETRY_AFTER_DATE))
    assert r.outcome == Outcome.OK, _why(r)
    assert r.status == 200
    assert r.attempts == 2
    assert hostile_server.hits(hs.RETRY_AFTER_DATE) == 2
    starts = hostile_server.request_starts(hs.RETRY_AFTER_DATE)
    assert 0.9 <= starts[1] - starts[0] <= 3.0


@pytest.mark.timeout(15)
def test_retry_after_beyond_cap_is_not_waited_for(hostile_server: HostileServer) -> None:
    """Retry-After: 30 > max_retry_after_s=5: end at once with the 429, one request."""
    r, wall = timed_fetch(hostile_server.url(hs.RETRY_AFTER + "/long?after=30"))
    assert r.outcome == Outcome.OK, _why(r)
    assert r.status == 429
    assert r.attempts == 1
    assert hostile_server.hits(hs.RETRY_AFTER + "/long") == 1
    assert wall < 2.0


@pytest.mark.timeout(15)
def test_flaky_503_recovers(hostile_server: HostileServer) -> None:
    """Three 503s without Retry-After, then 200: backoff retries get there on attempt 4."""
    r = fetch(hostile_server.url(hs.FLAKY_503))
    assert r.outcome == Outcome.OK, _why(r)
    assert r.status == 200
    assert r.attempts == 4
    assert hostile_server.hits(hs.FLAKY_503) == 4


@pytest.mark.timeout(15)
def test_persistent_429_ends_ok_with_status(hostile_server: HostileServer) -> None:
    """A 429 that never clears: max_retries+1 attempts, then the 429 page is the answer."""
    r = fetch(hostile_server.url(hs.TOO_MANY))
    assert r.outcome == Outcome.OK, _why(r)
    assert r.status == 429
    assert r.attempts == BASE_SETTINGS["max_retries"] + 1
    assert hostile_server.hits(hs.TOO_MANY) == BASE_SETTINGS["max_retries"] + 1
    assert b"Too Many Requests" in r.body


@pytest.mark.timeout(15)
def test_cloudflare_block_is_a_complete_response(hostile_server: HostileServer) -> None:
    """A 403 challenge page is OK at the fetch layer (validity marks it later); no retry."""
    r = fetch(hostile_server.url(hs.CLOUDFLARE))
    assert r.outcome == Outcome.OK, _why(r)
    assert r.status == 403
    assert r.attempts == 1
    assert b"Attention Required! | Cloudflare" in r.body
    assert r.headers.get("cf-ray", "").startswith(hs.CLOUDFLARE_RAY)
    assert hostile_server.hits(hs.CLOUDFLARE) == 1


# ------------------------------------------------------------------- content


@pytest.mark.timeout(15)
def test_bad_utf8_bytes_preserved(hostile_server: HostileServer) -> None:
    """The fetcher returns bytes; decoding (and its errors) is a later layer's job."""
    r = fetch(hostile_server.url(hs.BAD_UTF8))
    assert r.outcome == Outcome.OK, _why(r)
    assert r.status == 200
    assert r.body == hs.BAD_UTF8_BODY
    assert r.content_type == "text/html"


@pytest.mark.timeout(15)
def test_image_content_type_refused(hostile_server: HostileServer) -> None:
    """image/png is not in the allow-list; refused without retrying."""
    r = fetch(hostile_server.url(hs.IMAGE))
    assert r.outcome == Outcome.CONTENT_TYPE, _why(r)
    assert not r.ok
    assert hostile_server.hits(hs.IMAGE) == 1


# ----------------------------------------------------------- broken sockets


@pytest.mark.timeout(20)
@pytest.mark.parametrize("path", [hs.RESET, hs.LYING_LENGTH])
def test_broken_responses_are_errors_not_pages(hostile_server: HostileServer, path: str) -> None:
    """A reset mid-headers or a body short of its Content-Length is never OK."""
    r = fetch(hostile_server.url(path))
    assert r.outcome in (Outcome.CONNECT_ERROR, Outcome.PROTOCOL_ERROR), _why(r)
    assert not r.ok
    assert r.body == b""
    assert 1 <= r.attempts <= BASE_SETTINGS["max_retries"] + 1
    assert hostile_server.hits(path) == r.attempts


@pytest.mark.timeout(15)
def test_closed_port_is_connect_error() -> None:
    """Nothing listening on a loopback port: CONNECT_ERROR (refused fast, retried)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    r, wall = timed_fetch(f"http://127.0.0.1:{port}/ok/1")
    assert r.outcome == Outcome.CONNECT_ERROR, _why(r)
    assert wall < 5.0


# ---------------------------------------------------------------- robots.txt


@pytest.mark.timeout(15)
def test_robots_disallowed_never_reaches_server(hostile_server: HostileServer) -> None:
    """Disallowed paths are refused before any request; robots.txt is fetched once."""
    urls = [hostile_server.url(p) for p in ("/ok/1", hs.PRIVATE_SECRET, "/ok/2", "/private/other", "/ok/3")]
    results = asyncio.run(_fetch_sequential(urls, settings(), LOOPBACK))
    verdicts = [r.outcome for r in results]
    assert verdicts == [Outcome.OK, Outcome.ROBOTS_DISALLOWED, Outcome.OK, Outcome.ROBOTS_DISALLOWED, Outcome.OK]
    assert hostile_server.hits(hs.PRIVATE_SECRET) == 0
    assert hostile_server.total_hits("/private/") == 0
    assert hostile_server.hits(hs.ROBOTS) == 1
    # every request, robots.txt included, identifies the crawler
    assert {r.headers.get("user-agent") for r in hostile_server.requests()} == {"seekforge-test"}


@pytest.mark.timeout(15)
def test_robots_fetched_once_under_concurrency(hostile_server: HostileServer) -> None:
    """Eight simultaneous first fetches on one host share a single robots.txt request."""
    urls = [hostile_server.url(f"/ok/{i}") for i in range(8)]
    results = asyncio.run(_fetch_all(urls, settings(), LOOPBACK))
    assert all(r.ok for r in results), [_why(r) for r in results if not r.ok]
    assert hostile_server.hits(hs.ROBOTS) == 1


# ------------------------------------------------------------------ SSRF guard


@pytest.mark.timeout(15)
@pytest.mark.parametrize("path", [hs.REDIRECT_METADATA, hs.REDIRECT_PRIVATE])
def test_redirect_to_internal_address_blocked(hostile_server: HostileServer, path: str) -> None:
    """A public-looking page redirecting to metadata / LAN is stopped at the hop."""
    r, wall = timed_fetch(hostile_server.url(path))
    assert r.outcome == Outcome.BLOCKED_ADDRESS, _why(r)
    assert r.body == b""
    assert hostile_server.hits(path) == 1
    assert wall < 2.0


@pytest.mark.timeout(15)
@pytest.mark.parametrize("url", ["http://169.254.169.254/latest/meta-data/", "http://10.0.0.1/"])
def test_direct_internal_address_blocked_without_connecting(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Metadata and RFC 1918 literals are refused before any socket is opened."""
    connects: list[object] = []
    real_create_connection = asyncio.BaseEventLoop.create_connection

    async def spy(self: asyncio.BaseEventLoop, *args: Any, **kwargs: Any) -> Any:
        connects.append(args[1] if len(args) > 1 else kwargs.get("host"))
        return await real_create_connection(self, *args, **kwargs)

    monkeypatch.setattr(asyncio.BaseEventLoop, "create_connection", spy)
    r, wall = timed_fetch(url)
    assert r.outcome == Outcome.BLOCKED_ADDRESS, _why(r)
    assert wall < 1.0
    assert connects == []


@pytest.mark.timeout(15)
def test_redirect_to_ftp_blocked_scheme(hostile_server: HostileServer) -> None:
    """A redirect off http(s) is refused as BLOCKED_SCHEME."""
    r = fetch(hostile_server.url(hs.REDIRECT_FTP))
    assert r.outcome == Outcome.BLOCKED_SCHEME, _why(r)
    assert hostile_server.hits(hs.REDIRECT_FTP) == 1


@pytest.mark.timeout(15)
def test_file_url_refused() -> None:
    """file:// never reads the local disk."""
    r, wall = timed_fetch("file:///etc/passwd")
    assert r.outcome in (Outcome.BLOCKED_SCHEME, Outcome.INVALID_URL), _why(r)
    assert r.body == b"" and r.status is None
    assert wall < 1.0


@pytest.mark.timeout(15)
def test_empty_allow_list_blocks_loopback(hostile_server: HostileServer) -> None:
    """With nothing allow-listed (production), our own loopback server is off limits."""
    r = fetch(hostile_server.url("/ok/1"), policy=NetworkPolicy(allow=()))
    assert r.outcome == Outcome.BLOCKED_ADDRESS, _why(r)
    assert hostile_server.total_hits() == 0  # not even robots.txt


# ---------------------------------------------------------------- politeness


@pytest.mark.timeout(20)
def test_per_host_concurrency_cap(hostile_server: HostileServer) -> None:
    """10 slow pages at once, per_host_concurrency=2: the server never sees 3 at a time."""
    urls = [hostile_server.url(hs.slow_path(i, 0.25)) for i in range(10)]
    results = asyncio.run(_fetch_all(urls, settings(per_host_concurrency=2), LOOPBACK))
    assert all(r.ok and r.status == 200 for r in results), [_why(r) for r in results]
    assert hostile_server.total_hits("/slow/") == 10
    assert hostile_server.max_in_flight("/slow/") == 2


@pytest.mark.timeout(20)
def test_per_host_delay_spaces_request_starts(hostile_server: HostileServer) -> None:
    """per_host_delay_s=0.2: consecutive request starts on one host are >= 0.2 s apart."""
    urls = [hostile_server.url(f"/ok/{i}") for i in range(5)]
    results = asyncio.run(_fetch_all(urls, settings(per_host_delay_s=0.2), LOOPBACK))
    assert all(r.ok for r in results), [_why(r) for r in results if not r.ok]
    starts = hostile_server.request_starts("/ok/")
    gaps = [b - a for a, b in pairwise(starts)]
    assert len(starts) == 5
    # The fetcher spaces the moments it *sends*; the server stamps arrival, so each gap
    # carries client-side jitter (a new connection, a busy loop). Allow a little per
    # gap, but the span of 4 gaps must add up to the full 4 x 0.2 s.
    assert min(gaps) >= 0.15, gaps
    assert starts[-1] - starts[0] >= 4 * 0.2 - 0.03, gaps
