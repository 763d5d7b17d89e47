"""A real, misbehaving HTTP/1.1 server on 127.0.0.1 for crawler fault tests.

Why a real server and not a mocked transport: the failures a crawler meets on the
open web happen on the wire (a peer that never answers, a body that trickles in one
byte at a time, a Content-Length that lies, a socket reset in the middle of the
headers, a 1 GB gzip bomb). A mock transport cannot reproduce those honestly, so this
module speaks HTTP itself over raw ``asyncio.start_server`` streams, which gives full
control over every byte written and every connection closed.

The server runs its own asyncio loop in a daemon thread (:class:`crawl.loop_thread.LoopThread`),
so it serves both sync tests and tests that drive their own loop with ``asyncio.run``. It
binds an OS-assigned free port, keeps all state per instance (request log, "fail N times"
counters keyed by the full path), and stops cleanly: :meth:`HostileServer.stop` releases hanging and
trickling handlers, cancels every connection task and joins the thread.

Usage::

    with HostileServer() as srv:
        httpx.get(srv.url(OK_0))
        assert srv.hits("/robots.txt") == 0

or the ``hostile_server`` pytest fixture in ``tests/conftest.py``.

Endpoints (paths are exported as module constants; ``<...>`` parts are free):

=============================  ==================================================
``/robots.txt``                ``User-agent: *`` / ``Disallow: /private/`` only
``/ok/<n>``                    200 HTML article (~2 KB), title "Good page <n>",
                               links to ``/ok/<n+1>``, ``/ok/<n+2>`` (while <= 20)
                               and to every hostile endpoint below
``/slow/<n>[?delay=s]``        like ``/ok/<n>`` but answers after ``delay`` seconds
                               (default 0.3): makes concurrency observable
``/private/<anything>``        200 page, but robots.txt disallows it
``/hang``                      reads the request, never answers (until the client
                               goes away or the server stops)
``/trickle``                   200 headers (chunked), then 1 body byte every 0.5 s,
                               forever
``/redirect-loop/a`` / ``b``   302 a -> b (absolute Location) -> a (relative)
``/redirect-chain/<n>``        exactly ``n`` 302 hops to ``/ok/1``
                               (n -> n-1 -> ... -> 1 -> /ok/1)
``/big``                       50 MiB HTML-ish body, truthful Content-Length,
                               streamed from a generator in 64 KiB chunks
``/big-nolength``              the same body with chunked transfer-encoding
``/gzip-bomb``                 ``Content-Encoding: gzip``, text/html; ~1 MB on the
                               wire that inflates to 1 GiB of zeros
``/retry-after[/<tag>]``       1st request: 429 ``Retry-After: 1`` (or ``?after=N``),
                               then 200 good page (counter per full path)
``/retry-after-date[/<tag>]``  the same with an HTTP-date Retry-After 1-2 s ahead
``/flaky-503[/<tag>]``         503 (no Retry-After) three times, then 200
``/bad-utf8``                  ``charset=utf-8`` HTML with invalid UTF-8 bytes
                               (exact bytes: :data:`BAD_UTF8_BODY`)
``/redirect-metadata``         302 -> ``http://169.254.169.254/latest/meta-data/``
``/redirect-private``          302 -> ``http://10.0.0.1/admin``
``/redirect-ftp``              302 -> ``ftp://127.0.0.1/x``
``/redirect-localhost-name``   302 -> ``http://localhost:<same port>/ok/1``
``/image``                     200 ``image/png`` (a real 1x1 PNG)
``/no-content-type``           200 HTML body without a Content-Type header
``/cloudflare``                403 Cloudflare-style challenge page
``/too-many``                  429 "Too Many Requests" page, no Retry-After, always
``/reset``                     writes half a status line + header, then RST
``/lying-length``              Content-Length 10000, sends 100 bytes, closes
``/etag``                      200 with ETag + Last-Modified; 304 when
                               If-None-Match / If-Modified-Since match
``/js-only``                   empty body except a <script> writing the article
``/status/<code>``             an empty-ish page with that status
anything else                  404
=============================  ==================================================

Every request is logged (path, headers, start/finish times, status, body bytes
written), which backs :meth:`HostileServer.hits`, :meth:`HostileServer.max_in_flight`,
:meth:`HostileServer.request_starts` and :meth:`HostileServer.bytes_sent`.
"""

from __future__ import annotations

import asyncio
import re
import socket
import struct
import threading
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.utils import formatdate, parsedate_to_datetime
from types import TracebackType
from urllib.parse import parse_qs, urlsplit

from crawl.loop_thread import LoopThread

__all__ = [
    "HostileServer",
    "RequestRecord",
    "gzip_bomb_payload",
    "good_page_html",
    "ok_path",
    "slow_path",
    "redirect_chain_path",
    "BAD_UTF8_BODY",
    "BIG_SIZE",
    "GZIP_BOMB_SIZE",
    "HOSTILE_PATHS",
    "ETAG",
    "LAST_MODIFIED",
    "ROBOTS_TXT",
]

# --------------------------------------------------------------------------- paths

ROBOTS = "/robots.txt"
OK_0 = "/ok/0"
OK_MAX = 20  # /ok/<n> pages link onwards only while the target n <= OK_MAX
PRIVATE_SECRET = "/private/secret"
HANG = "/hang"
TRICKLE = "/trickle"
REDIRECT_LOOP_A = "/redirect-loop/a"
REDIRECT_LOOP_B = "/redirect-loop/b"
BIG = "/big"
BIG_NOLENGTH = "/big-nolength"
GZIP_BOMB = "/gzip-bomb"
RETRY_AFTER = "/retry-after"
RETRY_AFTER_DATE = "/retry-after-date"
FLAKY_503 = "/flaky-503"
BAD_UTF8 = "/bad-utf8"
REDIRECT_METADATA = "/redirect-metadata"
REDIRECT_PRIVATE = "/redirect-private"
REDIRECT_FTP = "/redirect-ftp"
REDIRECT_LOCALHOST_NAME = "/redirect-localhost-name"
IMAGE = "/image"
NO_CONTENT_TYPE = "/no-content-type"
CLOUDFLARE = "/cloudflare"
TOO_MANY = "/too-many"
RESET = "/reset"
LYING_LENGTH = "/lying-length"
ETAG_PATH = "/etag"
JS_ONLY = "/js-only"

METADATA_URL = "http://169.254.169.254/latest/meta-data/"
PRIVATE_URL = "http://10.0.0.1/admin"
FTP_URL = "ftp://127.0.0.1/x"

FLAKY_FAILURES = 3  # /flaky-503 answers 503 this many times before a 200
RETRY_AFTER_DEFAULT_S = 1
SLOW_DEFAULT_DELAY_S = 0.3
TRICKLE_INTERVAL_S = 0.5
LYING_DECLARED = 10_000
LYING_SENT = 100

# Every misbehaving endpoint, linked from each /ok page so a crawl from /ok/0 meets them.
HOSTILE_PATHS: tuple[str, ...] = (
    PRIVATE_SECRET, HANG, TRICKLE, REDIRECT_LOOP_A, "/redirect-chain/3", "/redirect-chain/7",
    BIG, BIG_NOLENGTH, GZIP_BOMB, RETRY_AFTER, RETRY_AFTER_DATE, FLAKY_503, BAD_UTF8,
    REDIRECT_METADATA, REDIRECT_PRIVATE, REDIRECT_FTP, REDIRECT_LOCALHOST_NAME, IMAGE,
    NO_CONTENT_TYPE, CLOUDFLARE, TOO_MANY, RESET, LYING_LENGTH, ETAG_PATH, JS_ONLY,
)


def ok_path(n: int) -> str:
    """Path of good page ``n``."""
    return f"/ok/{n}"


def slow_path(n: int, delay_s: float | None = None) -> str:
    """Path of a good page that answers after ``delay_s`` (server default 0.3 s)."""
    return f"/slow/{n}" if delay_s is None else f"/slow/{n}?delay={delay_s}"


def redirect_chain_path(hops: int) -> str:
    """Path that takes exactly ``hops`` redirects to reach ``/ok/1``."""
    return f"/redirect-chain/{hops}"


# ------------------------------------------------------------------------- bodies

ROBOTS_TXT = b"User-agent: *\nDisallow: /private/\n"

ETAG = '"seekforge-etag-v1"'
LAST_MODIFIED = "Wed, 21 Oct 2015 07:28:00 GMT"

BIG_SIZE = 50 * 1024 * 1024
GZIP_BOMB_SIZE = 1024 * 1024 * 1024  # decompressed size of /gzip-bomb

_PARAGRAPHS = (
    "The lighthouse at Cape Sorrow was first lit in the winter of 1843, after three "
    "merchant ships were lost on the reef within a single season. Its keeper, a former "
    "ship's carpenter named Elias Brand, kept a log of every vessel that passed, noting "
    "the weather, the state of the lamp and, more than once, his own doubts about the "
    "wisdom of building a tower on shifting sand.",
    "Engineers who surveyed the site in 1901 found that the foundation had settled by "
    "almost forty centimetres on its seaward side. Rather than demolish the tower, they "
    "drove iron piles beneath it and poured a new concrete collar, a technique that was "
    "later copied at several stations along the northern coast.",
    "Electrification arrived in 1926. The paraffin burner was replaced by a 1,000-watt "
    "lamp and a rotating Fresnel lens that threw a beam visible for twenty-two nautical "
    "miles. Local fishermen complained that the new light was too bright, and for a "
    "while the keepers fitted a shade on the landward side.",
    "During the storm of October 1953 the keepers recorded wind gusts above 150 "
    "kilometres per hour. Waves broke over the gallery, forty metres above the sea, and "
    "the lantern room flooded twice. The light, however, never went out, a fact still "
    "commemorated by a plaque in the village church.",
    "The station was automated in 1988 and the last keeper left the following spring. "
    "Today the tower is maintained by a volunteer trust, which opens the gallery to "
    "visitors on summer weekends and keeps the original log books in a small museum in "
    "the former oil store.",
    "Historians have used Brand's logs to reconstruct shipping patterns in the region. "
    "The entries show a steady decline in sail after 1870 and a sharp rise in coastal "
    "steamers, whose schedules were regular enough that the keepers set their clocks by "
    "the evening packet from the mainland.",
)


def _article_paragraphs(n: int) -> list[str]:
    """Six paragraphs (~2 KB) rotated by ``n`` so each page's text differs."""
    k = n % len(_PARAGRAPHS)
    return list(_PARAGRAPHS[k:] + _PARAGRAPHS[:k])


def good_page_html(n: int, *, title: str | None = None, link_hostile: bool = True) -> bytes:
    """A realistic article page: title, nav chrome, ~2 KB main text, onward links."""
    title = title if title is not None else f"Good page {n}"
    paras = "\n".join(f"    <p>{p}</p>" for p in _article_paragraphs(n))
    onward = [ok_path(m) for m in (n + 1, n + 2) if m <= OK_MAX]
    onward_html = "\n".join(f'      <li><a href="{u}">Good page {u.rsplit("/", 1)[1]}</a></li>' for u in onward)
    hostile_html = (
        "\n".join(f'      <li><a href="{p}">{p}</a></li>' for p in HOSTILE_PATHS) if link_hostile else ""
    )
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n"
        '  <meta charset="utf-8">\n'
        f"  <title>{title}</title>\n"
        "</head>\n<body>\n"
        '  <nav><a href="/ok/0">Home</a> | <a href="/ok/1">About</a></nav>\n'
        "  <main>\n  <article>\n"
        f"    <h1>{title}</h1>\n"
        f"{paras}\n"
        "  </article>\n"
        "  <section class=\"related\">\n    <h2>Read next</h2>\n    <ul>\n"
        f"{onward_html}\n    </ul>\n  </section>\n  </main>\n"
        "  <footer>\n    <ul>\n"
        f"{hostile_html}\n    </ul>\n  </footer>\n"
        "</body>\n</html>\n"
    ).encode()


# Invalid UTF-8 (a stray 0xFF 0xFE, a truncated two-byte sequence, a lone continuation
# byte, an overlong encoding) mixed into an otherwise good page.
BAD_UTF8_BODY: bytes = (
    b"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Bad UTF-8 page</title></head>\n"
    b"<body><article><h1>Bad UTF-8 page</h1>\n<p>"
    + _PARAGRAPHS[0].encode()
    + b" \xff\xfe\xc3\x28 caf\xc3\xa9 na\xefve \x80\x80 \xc0\xaf end.</p>\n<p>"
    + _PARAGRAPHS[1].encode()
    + b" \xed\xa0\x80 (a UTF-16 surrogate encoded as UTF-8) \xf8\x88\x80\x80\x80</p>\n"
    b"</article></body></html>\n"
)

# A real 1x1 transparent PNG.
PNG_1X1: bytes = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00"
    b"\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18"
    b"\xd8N\x00\x00\x00\x00IEND\xaeB`\x82"
)

CLOUDFLARE_RAY = "8a1f2c3d4e5b6a79"
CLOUDFLARE_HTML: bytes = (
    "<!DOCTYPE html>\n<html class=\"no-js\" lang=\"en-US\">\n<head>\n"
    "<title>Attention Required! | Cloudflare</title>\n"
    '<meta charset="UTF-8" />\n<meta name="robots" content="noindex, nofollow" />\n'
    "</head>\n<body>\n<div id=\"cf-wrapper\">\n"
    "  <div class=\"cf-alert cf-alert-error cf-cookie-error\" id=\"cookie-alert\">"
    "Please enable cookies.</div>\n"
    "  <div id=\"cf-error-details\" class=\"cf-error-details-wrapper\">\n"
    "    <h1>Sorry, you have been blocked</h1>\n"
    "    <h2>You are unable to access this website</h2>\n"
    "    <p>This website is using a security service to protect itself from online "
    "attacks. The action you just performed triggered the security solution.</p>\n"
    "    <p>Please complete the security check to access the site.</p>\n"
    "  </div>\n"
    f"  <div class=\"cf-footer\">Cloudflare Ray ID: <strong>{CLOUDFLARE_RAY}</strong> "
    "&bull; Performance &amp; security by Cloudflare</div>\n"
    "</div>\n</body>\n</html>\n"
).encode()

TOO_MANY_HTML: bytes = (
    b"<!DOCTYPE html>\n<html><head><title>429 Too Many Requests</title></head>\n"
    b"<body><h1>Too Many Requests</h1><p>You have sent too many requests in a given "
    b"amount of time. Please slow down.</p></body></html>\n"
)

JS_ONLY_HTML: bytes = (
    "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
    "<title>Loading...</title>\n</head>\n<body>\n<div id=\"app\"></div>\n<script>\n"
    "(function () {\n"
    f"  var paras = {list(_article_paragraphs(0))!r};\n"
    "  var app = document.getElementById('app');\n"
    "  var art = document.createElement('article');\n"
    "  var h = document.createElement('h1');\n"
    "  h.textContent = 'Rendered by JavaScript';\n"
    "  art.appendChild(h);\n"
    "  paras.forEach(function (t) { var p = document.createElement('p'); "
    "p.textContent = t; art.appendChild(p); });\n"
    "  app.appendChild(art);\n"
    "  document.title = 'Rendered by JavaScript';\n"
    "})();\n</script>\n</body>\n</html>\n"
).encode()

_REASONS = {
    200: "OK", 204: "No Content", 301: "Moved Permanently", 302: "Found", 304: "Not Modified",
    400: "Bad Request", 403: "Forbidden", 404: "Not Found", 410: "Gone", 429: "Too Many Requests",
    500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable",
    504: "Gateway Timeout",
}


# --------------------------------------------------------------------- big bodies

_BIG_HEAD = b"<!DOCTYPE html>\n<html><head><title>Big page</title></head><body><article>\n"
_BIG_TAIL = b"</article></body></html>\n"
_BIG_CHUNK = 64 * 1024


def _big_filler_block() -> bytes:
    text = "".join(f"<p>{p}</p>\n" for p in _PARAGRAPHS).encode()
    reps = _BIG_CHUNK // len(text) + 1
    return (text * reps)[:_BIG_CHUNK]


_BIG_FILLER = _big_filler_block()


def big_body_chunks(total: int = BIG_SIZE) -> Iterator[bytes]:
    """Yield exactly ``total`` bytes of HTML-ish text in 64 KiB chunks (O(1) memory)."""
    remaining = total - len(_BIG_HEAD) - len(_BIG_TAIL)
    yield _BIG_HEAD
    while remaining > 0:
        chunk = _BIG_FILLER if remaining >= len(_BIG_FILLER) else _BIG_FILLER[:remaining]
        remaining -= len(chunk)
        yield chunk
    yield _BIG_TAIL


_bomb_lock = threading.Lock()
_bomb_payload: bytes | None = None


def build_zero_gzip(size: int) -> bytes:
    """A single gzip member that inflates to ``size`` zero bytes (``size`` a multiple of 1 MiB).

    Compressing 1 GiB with zlib takes ~6 s, so instead we deflate 1 MiB of zeros
    three times with ``Z_SYNC_FLUSH`` after each: once the 32 KiB window is all
    zeros the compressor's output per MiB is byte-identical (checked below), so the
    stream is the first block, the repeated block ``n-1`` times, then the final empty
    block. The gzip header and trailer (CRC-32, ISIZE) are written by hand.
    """
    mib = bytes(1024 * 1024)
    n, rest = divmod(size, len(mib))
    if n < 1 or rest:
        raise ValueError("size must be a positive multiple of 1 MiB")
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)  # raw deflate
    first = comp.compress(mib) + comp.flush(zlib.Z_SYNC_FLUSH)
    steady = comp.compress(mib) + comp.flush(zlib.Z_SYNC_FLUSH)
    again = comp.compress(mib) + comp.flush(zlib.Z_SYNC_FLUSH)
    if steady == again:
        deflate = b"".join([first, steady * (n - 1), comp.flush(zlib.Z_FINISH)])
    else:  # pragma: no cover - a zlib without the steady state: slow but correct
        comp = zlib.compressobj(9, zlib.DEFLATED, -15)
        deflate = b"".join([*(comp.compress(mib) for _ in range(n)), comp.flush()])
    crc = 0
    for _ in range(n):
        crc = zlib.crc32(mib, crc)
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"  # magic, deflate, no flags, mtime 0, OS unknown
    return header + deflate + struct.pack("<II", crc, size & 0xFFFFFFFF)


def gzip_bomb_payload() -> bytes:
    """The /gzip-bomb body: ~1 MB inflating to :data:`GZIP_BOMB_SIZE` zeros; built once.

    Takes ~0.5 s the first time (see :func:`build_zero_gzip`). Call it before
    timing-sensitive tests so the server answers at once.
    """
    global _bomb_payload
    with _bomb_lock:
        if _bomb_payload is None:
            _bomb_payload = build_zero_gzip(GZIP_BOMB_SIZE)
        return _bomb_payload


# ----------------------------------------------------------------------- the log


@dataclass
class RequestRecord:
    """One request as the server saw it (times are ``time.monotonic()``)."""

    method: str
    path: str
    query: str
    headers: dict[str, str]
    started: float
    finished: float | None = None
    status: int | None = None
    bytes_sent: int = 0  # body bytes handed to the socket (headers excluded)
    extra: dict[str, object] = field(default_factory=dict)


class _ClientGone(Exception):
    """The peer closed or reset the connection while we were writing."""


# ---------------------------------------------------------------------- the server


class HostileServer:
    """Misbehaving HTTP server on 127.0.0.1:<free port>, run in a background thread.

    Use as a context manager (or call :meth:`start` / :meth:`stop`). All state is
    per instance, so each test gets fresh counters with a fresh server; paths of the
    "fail then succeed" endpoints also take a free suffix (``/flaky-503/mytest``)
    with its own counter, for tests that share one instance.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        *,
        slow_delay_s: float = SLOW_DEFAULT_DELAY_S,
        trickle_interval_s: float = TRICKLE_INTERVAL_S,
    ) -> None:
        self.host = host
        self.port: int = 0
        self.slow_delay_s = slow_delay_s
        self.trickle_interval_s = trickle_interval_s
        self._lock = threading.Lock()
        self._log: list[RequestRecord] = []
        self._counters: dict[str, int] = {}
        self._bg = LoopThread("hostile-server")
        self._server: asyncio.base_events.Server | None = None
        self._shutdown: asyncio.Event | None = None
        self._conn_tasks: set[asyncio.Task[None]] = set()
        self.errors: list[BaseException] = []  # unexpected handler exceptions (server bugs)

    # ---------------------------------------------------------------- lifecycle

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT`` (no trailing slash)."""
        return f"http://{self.host}:{self.port}"

    def url(self, path: str) -> str:
        """Absolute URL of ``path`` on this server."""
        return self.base_url + (path if path.startswith("/") else "/" + path)

    def start(self) -> HostileServer:
        """Bind a free port and serve in a daemon thread; returns once listening."""
        if self._bg.started:
            raise RuntimeError("HostileServer already started")
        try:
            self._bg.start(self._bind, timeout=10)
        except Exception as exc:
            raise RuntimeError("HostileServer failed to start") from exc
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Release hanging handlers, close every connection, stop the loop, join."""
        self._bg.stop(self._shutdown_async, timeout)

    def __enter__(self) -> HostileServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    async def _bind(self) -> None:
        self._shutdown = asyncio.Event()
        self._server = await asyncio.start_server(self._handle_connection, self.host, 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _shutdown_async(self) -> None:
        assert self._shutdown is not None and self._server is not None
        self._shutdown.set()
        self._server.close()
        tasks = list(self._conn_tasks)
        for t in tasks:
            t.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=2)
        await self._server.wait_closed()

    # ---------------------------------------------------------------- accessors

    def hits(self, path: str) -> int:
        """Requests whose path (query ignored) equals ``path`` exactly."""
        path = urlsplit(path).path or path
        with self._lock:
            return sum(1 for r in self._log if r.path == path)

    def total_hits(self, prefix: str = "/") -> int:
        """Requests whose path starts with ``prefix``."""
        with self._lock:
            return sum(1 for r in self._log if r.path.startswith(prefix))

    def requests(self, prefix: str = "/") -> list[RequestRecord]:
        """Snapshot of the log (in arrival order) for paths starting with ``prefix``."""
        with self._lock:
            return [r for r in self._log if r.path.startswith(prefix)]

    def request_starts(self, prefix: str = "/") -> list[float]:
        """Monotonic arrival times of requests under ``prefix``, sorted."""
        return sorted(r.started for r in self.requests(prefix))

    def max_in_flight(self, prefix: str = "/") -> int:
        """Most requests under ``prefix`` that were being served at the same moment.

        A request is in flight from the moment its head was parsed until its
        response was fully written (or its connection died); unfinished requests
        count as still in flight.
        """
        events: list[tuple[float, int]] = []
        for r in self.requests(prefix):
            events.append((r.started, 1))
            events.append((r.finished if r.finished is not None else float("inf"), -1))
        events.sort(key=lambda e: (e[0], e[1]))  # an end at t sorts before a start at t
        cur = best = 0
        for _, d in events:
            cur += d
            best = max(best, cur)
        return best

    def bytes_sent(self, path: str) -> int:
        """Body bytes written for all requests to exactly ``path``."""
        with self._lock:
            return sum(r.bytes_sent for r in self._log if r.path == path)

    def wait_finished(self, prefix: str = "/", timeout: float = 5.0) -> bool:
        """Block until every logged request under ``prefix`` has finished."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(r.finished is not None for r in self.requests(prefix)):
                return True
            time.sleep(0.01)
        return False

    def reset(self) -> None:
        """Forget the log and the fail-N-times counters."""
        with self._lock:
            self._log.clear()
            self._counters.clear()

    def _bump(self, path: str) -> int:
        """Increment and return the per-path counter (1 on the first request)."""
        with self._lock:
            self._counters[path] = self._counters.get(path, 0) + 1
            return self._counters[path]

    # --------------------------------------------------------------- connection

    async def _handle_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._conn_tasks.add(task)
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
                    return
                rec = self._parse_head(head)
                if rec is None:
                    await self._write_simple(writer, None, 400, b"bad request\n", keep_alive=False)
                    return
                length = int(rec.headers.get("content-length", "0") or 0)
                if length:
                    await reader.readexactly(length)
                with self._lock:
                    self._log.append(rec)
                try:
                    keep_alive = await self._dispatch(rec, reader, writer)
                except _ClientGone:
                    keep_alive = False
                except (ConnectionError, OSError):
                    keep_alive = False
                finally:
                    rec.finished = time.monotonic()
                if not keep_alive or rec.headers.get("connection", "").lower() == "close":
                    return
        except asyncio.CancelledError:
            pass
        except asyncio.IncompleteReadError:
            pass
        except Exception as exc:  # noqa: BLE001 - a test server must never take the loop down
            self.errors.append(exc)
        finally:
            self._conn_tasks.discard(task)
            if not writer.is_closing():
                writer.close()

    @staticmethod
    def _parse_head(head: bytes) -> RequestRecord | None:
        try:
            lines = head.decode("latin-1").split("\r\n")
            method, target, _version = lines[0].split(" ", 2)
        except ValueError:
            return None
        headers: dict[str, str] = {}
        for line in lines[1:]:
            if not line:
                continue
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        parts = urlsplit(target)
        return RequestRecord(
            method=method.upper(), path=parts.path or "/", query=parts.query,
            headers=headers, started=time.monotonic(),
        )

    # ------------------------------------------------------------------ writing

    @staticmethod
    def _head_bytes(status: int, headers: list[tuple[str, str]]) -> bytes:
        lines = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Unknown')}"]
        lines.append(f"Date: {formatdate(usegmt=True)}")
        lines.append("Server: hostile/1.0")
        lines.extend(f"{k}: {v}" for k, v in headers)
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    @staticmethod
    async def _drain(writer: asyncio.StreamWriter) -> None:
        if writer.is_closing():
            raise _ClientGone()
        try:
            await writer.drain()
        except (ConnectionError, OSError) as exc:
            raise _ClientGone() from exc

    async def _write_simple(
        self,
        writer: asyncio.StreamWriter,
        rec: RequestRecord | None,
        status: int,
        body: bytes,
        *,
        content_type: str | None = "text/html; charset=utf-8",
        extra: list[tuple[str, str]] | None = None,
        keep_alive: bool = True,
    ) -> bool:
        """Write a complete response with a truthful Content-Length."""
        headers: list[tuple[str, str]] = []
        if content_type is not None:
            headers.append(("Content-Type", content_type))
        headers.extend(extra or [])
        if status != 304:
            headers.append(("Content-Length", str(len(body))))
        if not keep_alive:
            headers.append(("Connection", "close"))
        send_body = rec is None or (rec.method != "HEAD" and status not in (204, 304))
        writer.write(self._head_bytes(status, headers) + (body if send_body else b""))
        if rec is not None:
            rec.status = status
            rec.bytes_sent += len(body) if send_body else 0
        await self._drain(writer)
        return keep_alive

    async def _redirect(self, writer: asyncio.StreamWriter, rec: RequestRecord, location: str) -> bool:
        body = f'<html><body>Moved to <a href="{location}">{location}</a></body></html>\n'.encode()
        return await self._write_simple(writer, rec, 302, body, extra=[("Location", location)])

    async def _good(self, writer: asyncio.StreamWriter, rec: RequestRecord, n: int = 1) -> bool:
        return await self._write_simple(writer, rec, 200, good_page_html(n))

    async def _stream(
        self,
        writer: asyncio.StreamWriter,
        rec: RequestRecord,
        chunks: Iterator[bytes],
        *,
        content_length: int | None,
    ) -> bool:
        """Stream a generator's chunks, waiting for the socket after each one.

        Draining per chunk applies TCP back-pressure: a client that stops reading
        stops us too, so ``bytes_sent`` shows how much it actually pulled (plus the
        kernel's socket buffers).
        """
        headers = [("Content-Type", "text/html; charset=utf-8")]
        if content_length is None:
            headers.append(("Transfer-Encoding", "chunked"))
        else:
            headers.append(("Content-Length", str(content_length)))
        writer.write(self._head_bytes(200, headers))
        rec.status = 200
        await self._drain(writer)
        if rec.method == "HEAD":
            return True
        for chunk in chunks:
            if content_length is None:
                writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            else:
                writer.write(chunk)
            await self._drain(writer)
            rec.bytes_sent += len(chunk)
        if content_length is None:
            writer.write(b"0\r\n\r\n")
            await self._drain(writer)
        return True

    async def _wait_for_shutdown_or_eof(self, reader: asyncio.StreamReader) -> None:
        """Park until the server stops or the client hangs up."""
        assert self._shutdown is not None
        stop = asyncio.ensure_future(self._shutdown.wait())
        eof = asyncio.ensure_future(reader.read(1))
        try:
            await asyncio.wait({stop, eof}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for f in (stop, eof):
                f.cancel()

    # ----------------------------------------------------------------- routing

    _RE_OK = re.compile(r"^/ok/(\d+)$")
    _RE_SLOW = re.compile(r"^/slow/(\d+)$")
    _RE_CHAIN = re.compile(r"^/redirect-chain/(\d+)$")
    _RE_STATUS = re.compile(r"^/status/(\d{3})$")
    _RE_RETRY_AFTER = re.compile(r"^/retry-after(?:/.*)?$")
    _RE_RETRY_AFTER_DATE = re.compile(r"^/retry-after-date(?:/.*)?$")
    _RE_FLAKY = re.compile(r"^/flaky-503(?:/.*)?$")

    async def _dispatch(self, rec: RequestRecord, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        """Answer one request; return whether the connection may be reused."""
        p = rec.path
        q = parse_qs(rec.query)

        if p == ROBOTS:
            return await self._write_simple(writer, rec, 200, ROBOTS_TXT, content_type="text/plain")
        if m := self._RE_OK.match(p):
            return await self._good(writer, rec, int(m.group(1)))
        if m := self._RE_SLOW.match(p):
            delay = float(q.get("delay", [self.slow_delay_s])[0])
            await asyncio.sleep(delay)
            return await self._good(writer, rec, int(m.group(1)))
        if p.startswith("/private/"):
            return await self._write_simple(writer, rec, 200, good_page_html(0, title="Private page"))
        if p == HANG:
            await self._wait_for_shutdown_or_eof(reader)
            return False
        if p == TRICKLE:
            return await self._trickle(writer, rec)
        if p == REDIRECT_LOOP_A:
            return await self._redirect(writer, rec, self.url(REDIRECT_LOOP_B))  # absolute
        if p == REDIRECT_LOOP_B:
            return await self._redirect(writer, rec, "a")  # relative: /redirect-loop/a
        if m := self._RE_CHAIN.match(p):
            n = int(m.group(1))
            return await self._redirect(writer, rec, redirect_chain_path(n - 1) if n > 1 else ok_path(1))
        if p == BIG:
            return await self._stream(writer, rec, big_body_chunks(), content_length=BIG_SIZE)
        if p == BIG_NOLENGTH:
            return await self._stream(writer, rec, big_body_chunks(), content_length=None)
        if p == GZIP_BOMB:
            payload = gzip_bomb_payload()
            return await self._write_simple(
                writer, rec, 200, payload, extra=[("Content-Encoding", "gzip"), ("Vary", "Accept-Encoding")]
            )
        if self._RE_RETRY_AFTER_DATE.match(p):
            if self._bump(p) == 1:
                when = formatdate(time.time() + 2, usegmt=True)  # truncated to the second: 1-2 s ahead
                return await self._write_simple(writer, rec, 429, TOO_MANY_HTML, extra=[("Retry-After", when)])
            return await self._good(writer, rec, 2)
        if self._RE_RETRY_AFTER.match(p):
            if self._bump(p) == 1:
                after = q.get("after", [str(RETRY_AFTER_DEFAULT_S)])[0]
                return await self._write_simple(writer, rec, 429, TOO_MANY_HTML, extra=[("Retry-After", after)])
            return await self._good(writer, rec, 3)
        if self._RE_FLAKY.match(p):
            if self._bump(p) <= FLAKY_FAILURES:
                body = b"<html><body><h1>503 Service Unavailable</h1></body></html>\n"
                return await self._write_simple(writer, rec, 503, body)
            return await self._good(writer, rec, 4)
        if p == BAD_UTF8:
            return await self._write_simple(writer, rec, 200, BAD_UTF8_BODY)
        if p == REDIRECT_METADATA:
            return await self._redirect(writer, rec, METADATA_URL)
        if p == REDIRECT_PRIVATE:
            return await self._redirect(writer, rec, PRIVATE_URL)
        if p == REDIRECT_FTP:
            return await self._redirect(writer, rec, FTP_URL)
        if p == REDIRECT_LOCALHOST_NAME:
            return await self._redirect(writer, rec, f"http://localhost:{self.port}{ok_path(1)}")
        if p == IMAGE:
            return await self._write_simple(writer, rec, 200, PNG_1X1, content_type="image/png")
        if p == NO_CONTENT_TYPE:
            return await self._write_simple(writer, rec, 200, good_page_html(5), content_type=None)
        if p == CLOUDFLARE:
            extra = [("CF-RAY", f"{CLOUDFLARE_RAY}-FRA"), ("Cache-Control", "no-store")]
            return await self._write_simple(writer, rec, 403, CLOUDFLARE_HTML, extra=extra)
        if p == TOO_MANY:
            return await self._write_simple(writer, rec, 429, TOO_MANY_HTML)
        if p == RESET:
            return await self._reset(writer, rec)
        if p == LYING_LENGTH:
            return await self._lying_length(writer, rec)
        if p == ETAG_PATH:
            return await self._etag(writer, rec)
        if p == JS_ONLY:
            return await self._write_simple(writer, rec, 200, JS_ONLY_HTML)
        if m := self._RE_STATUS.match(p):
            code = int(m.group(1))
            body = f"<html><body><h1>{code} {_REASONS.get(code, 'Status')}</h1></body></html>\n".encode()
            return await self._write_simple(writer, rec, code, body)
        return await self._write_simple(writer, rec, 404, b"<html><body><h1>404 Not Found</h1></body></html>\n")

    # ------------------------------------------------------------ misbehaviour

    async def _trickle(self, writer: asyncio.StreamWriter, rec: RequestRecord) -> bool:
        """Headers at once, then one chunked byte per interval until someone gives up."""
        assert self._shutdown is not None
        headers = [("Content-Type", "text/html; charset=utf-8"), ("Transfer-Encoding", "chunked")]
        writer.write(self._head_bytes(200, headers))
        rec.status = 200
        await self._drain(writer)
        while not self._shutdown.is_set():
            writer.write(b"1\r\nx\r\n")
            await self._drain(writer)
            rec.bytes_sent += 1
            try:
                await asyncio.wait_for(self._shutdown.wait(), self.trickle_interval_s)
            except TimeoutError:
                pass
        return False

    async def _reset(self, writer: asyncio.StreamWriter, rec: RequestRecord) -> bool:
        """Half a status line and header, then a TCP RST (SO_LINGER 0 + abort)."""
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Ty")
        await self._drain(writer)
        await asyncio.sleep(0.05)  # let the partial head reach the client first
        sock = writer.get_extra_info("socket")
        if sock is not None:
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            except OSError:
                pass
        writer.transport.abort()
        rec.status = None
        return False

    async def _lying_length(self, writer: asyncio.StreamWriter, rec: RequestRecord) -> bool:
        """Promise 10000 body bytes, deliver 100, close (FIN)."""
        headers = [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(LYING_DECLARED))]
        body = (b"<html><body><p>" + b"x" * LYING_SENT)[:LYING_SENT]
        writer.write(self._head_bytes(200, headers) + body)
        rec.status = 200
        rec.bytes_sent = len(body)
        await self._drain(writer)
        writer.close()
        return False

    async def _etag(self, writer: asyncio.StreamWriter, rec: RequestRecord) -> bool:
        """200 with validators; 304 when If-None-Match (preferred) or If-Modified-Since match."""
        validators = [("ETag", ETAG), ("Last-Modified", LAST_MODIFIED), ("Cache-Control", "max-age=0")]
        inm = rec.headers.get("if-none-match")
        ims = rec.headers.get("if-modified-since")
        not_modified = False
        if inm is not None:
            tags = [t.strip().removeprefix("W/") for t in inm.split(",")]
            not_modified = "*" in tags or ETAG in tags
        elif ims is not None:
            try:
                not_modified = parsedate_to_datetime(ims) >= parsedate_to_datetime(LAST_MODIFIED)
            except (TypeError, ValueError):
                not_modified = False
        if not_modified:
            return await self._write_simple(writer, rec, 304, b"", content_type=None, extra=validators)
        return await self._write_simple(writer, rec, 200, good_page_html(7, title="ETag page"), extra=validators)
