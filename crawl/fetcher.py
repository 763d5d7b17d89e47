"""The polite, bounded HTTP fetcher every crawl goes through.

One ``fetch(url)`` call: robots.txt, per-host concurrency and spacing, SSRF-checked
connections (via the transport), manual redirects (each hop re-checked), retries with
exponential backoff that honour ``Retry-After``, a deadline per attempt, streamed
bodies under a byte cap, bounded decompression, a content-type allow-list, and a
WARC record of every response received. It never raises: every way a fetch can end
is an :class:`Outcome` on the returned :class:`FetchResult`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from urllib.parse import urlsplit

import httpx
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt

from crawl import drop_reasons as R
from crawl.decode import BodyLimitExceeded, BoundedDecoder
from crawl.netguard import BlockedAddress, NetworkPolicy
from crawl.retrying import parse_retry_after, retry_after_or_backoff
from crawl.robots import RobotsCache
from crawl.transports import NOT_IN_ARCHIVE_HEADER, REPLAYED_HEADER, ArchiveTransport, GuardedTransport, ReplayTransport
from crawl.urls import ALLOWED_SCHEMES, canonicalize
from crawl.warc import WarcIndex, WarcWriter

log = logging.getLogger(__name__)

USER_AGENT = "seekforge/0.1 (research crawler; +https://github.com/seekforge/seekforge)"
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
DEFAULT_CONTENT_TYPES = (
    "text/html",
    "application/xhtml+xml",
    "application/json",
    "application/atom+xml",
    "application/rss+xml",
    "application/xml",
    "text/xml",
    "text/plain",
)


class Outcome(StrEnum):
    """How a fetch ended; every value but ``ok`` is a declared drop reason (stage ``fetch``)."""

    OK = "ok"
    TIMEOUT = R.TIMEOUT
    CONNECT_ERROR = R.CONNECT_ERROR
    DNS_ERROR = R.DNS_ERROR
    BLOCKED_SCHEME = R.BLOCKED_SCHEME
    BLOCKED_ADDRESS = R.BLOCKED_ADDRESS
    ROBOTS_DISALLOWED = R.ROBOTS_DISALLOWED
    TOO_MANY_REDIRECTS = R.TOO_MANY_REDIRECTS
    REDIRECT_LOOP = R.REDIRECT_LOOP
    BODY_TOO_LARGE = R.BODY_TOO_LARGE
    DECOMPRESSION_BOMB = R.DECOMPRESSION_BOMB
    DECODE_ERROR = R.DECODE_ERROR
    CONTENT_TYPE = R.CONTENT_TYPE_NOT_ALLOWED
    PROTOCOL_ERROR = R.PROTOCOL_ERROR
    INVALID_URL = R.INVALID_URL
    NOT_IN_ARCHIVE = R.NOT_IN_ARCHIVE
    INTERNAL_ERROR = R.INTERNAL_ERROR


@dataclass(frozen=True)
class FetchSettings:
    """Politeness and safety limits; defaults suit the live web.

    The one declaration of these settings: the Dagster crawler resource derives its run-config
    fields (names, types, defaults, help) from this class (``assets/settings_fields.py``)."""

    user_agent: str = field(default=USER_AGENT, metadata={"help": "User-Agent sent with every request: give a contact."})
    per_host_concurrency: int = field(default=2, metadata={"help": "Requests in flight per host."})
    per_host_delay_s: float = field(default=1.0, metadata={"help": "Seconds between request starts per host "
                                                                    "(more when robots.txt asks)."})
    max_crawl_delay_s: float = field(default=10.0, metadata={"help": "Cap on a robots.txt Crawl-delay we honour."})
    total_concurrency: int = field(default=32, metadata={"help": "Requests in flight over all hosts."})
    connect_timeout_s: float = 10.0
    read_timeout_s: float = 20.0
    total_timeout_s: float = field(default=60.0, metadata={"help": "Whole-request deadline, body included."})
    max_redirects: int = 5
    max_bytes: int = field(default=5_000_000, metadata={"help": "Bodies larger than this are cut (and marked)."})
    max_decompression_ratio: float = field(default=100.0, metadata={"help": "Decoded / wire bytes above this is a "
                                                                            "decompression bomb."})
    allowed_content_types: tuple[str, ...] = field(default=DEFAULT_CONTENT_TYPES,
                                                   metadata={"help": "MIME types fetched; others are refused."})
    max_retries: int = field(default=3, metadata={"help": "Retries of 429 / 5xx / timeouts / dropped connections."})
    backoff_base_s: float = 0.5
    backoff_max_s: float = 30.0
    max_retry_after_s: float = field(default=60.0, metadata={"help": "A longer Retry-After is not waited for."})
    respect_robots: bool = True


@dataclass(slots=True)
class FetchResult:
    url: str
    final_url: str
    outcome: Outcome
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    content_type: str = ""
    attempts: int = 0
    elapsed_s: float = 0.0
    redirects: list[str] = field(default_factory=list)
    mode: str = "http"
    detail: str = ""
    fetched_at: str = ""

    @property
    def ok(self) -> bool:
        return self.outcome == Outcome.OK


def conditional_headers(validators: Mapping[str, str] | None) -> dict[str, str]:
    """If-None-Match / If-Modified-Since from stored ``etag`` / ``last_modified`` (either may be absent)."""
    if not validators:
        return {}
    out = {}
    if validators.get("etag"):
        out["If-None-Match"] = validators["etag"]
    if validators.get("last_modified"):
        out["If-Modified-Since"] = validators["last_modified"]
    return out


class _Failure(Exception):
    """An attempt that ended without a usable response."""

    def __init__(self, outcome: Outcome, detail: str, *, retryable: bool = False, result: FetchResult | None = None,
                 retry_after: float | None = None) -> None:
        super().__init__(detail)
        self.outcome = outcome
        self.detail = detail
        self.retryable = retryable
        self.result = result  # a complete response worth returning if retries run out
        self.retry_after = retry_after


class _Retry(_Failure):
    pass


class _HostGate:
    """Per-host concurrency limit plus a minimum spacing between request starts."""

    def __init__(self, concurrency: int) -> None:
        self.sem = asyncio.Semaphore(max(1, concurrency))
        self.lock = asyncio.Lock()
        self.next_start = 0.0

    async def wait_turn(self, delay: float) -> None:
        if delay <= 0:
            return
        async with self.lock:
            now = time.monotonic()
            if self.next_start > now:
                await asyncio.sleep(self.next_start - now)
            self.next_start = time.monotonic() + delay


class Fetcher:
    """Fetch URLs politely from the live web, a replay server or WARC files.

    ``mode``: ``"http"`` (live, through the SSRF guard), ``"replay"`` (send to the
    replay server at ``replay_url``, which must pass the guard: allow-list it), or
    ``"archive"`` (read ``archive`` in-process). Use as an async context manager.
    """

    def __init__(
        self,
        settings: FetchSettings | None = None,
        *,
        policy: NetworkPolicy | None = None,
        mode: str = "http",
        replay_url: str | None = None,
        archive: WarcIndex | Sequence[str] | None = None,
        warc_writer: WarcWriter | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        retry_replay: bool = False,
    ) -> None:
        settings = settings or FetchSettings()
        if (mode == "archive" or (mode == "replay" and not retry_replay)) and settings.max_retries:
            # Our own snapshot answers the same way every time: retrying only adds waiting.
            # A replay server run by someone else (retry_replay) can fail like any server.
            settings = replace(settings, max_retries=0)
        self.settings = settings
        self.policy = policy or NetworkPolicy()
        self.mode = mode
        self.warc = warc_writer
        if transport is None:
            if mode == "http":
                transport = GuardedTransport(self.policy)
            elif mode == "replay":
                if not replay_url:
                    raise ValueError("mode='replay' needs replay_url (e.g. http://127.0.0.1:8765)")
                transport = ReplayTransport(replay_url, GuardedTransport(self.policy))
            elif mode == "archive":
                if archive is None:
                    raise ValueError("mode='archive' needs archive= (WARC paths or a WarcIndex)")
                index = archive if isinstance(archive, WarcIndex) else WarcIndex(list(archive))
                transport = ArchiveTransport(index)
            else:
                raise ValueError(f"unknown fetch mode {mode!r}; use http, replay or archive")
        self._transport = transport
        self._client: httpx.AsyncClient | None = None
        self._gates: dict[str, _HostGate] = defaultdict(lambda: _HostGate(self.settings.per_host_concurrency))
        self._global = asyncio.Semaphore(max(1, self.settings.total_concurrency))
        self.robots = RobotsCache(self._fetch_robots, self.settings.user_agent)
        self._host_delay: dict[str, float] = {}
        self.counts: dict[str, int] = defaultdict(int)

    async def __aenter__(self) -> Fetcher:
        s = self.settings
        timeout = httpx.Timeout(connect=s.connect_timeout_s, read=s.read_timeout_s, write=s.read_timeout_s, pool=None)
        limits = httpx.Limits(max_connections=s.total_concurrency, max_keepalive_connections=s.total_concurrency)
        self._client = httpx.AsyncClient(
            transport=self._transport,
            follow_redirects=False,
            timeout=timeout,
            limits=limits,
            headers={"User-Agent": s.user_agent, "Accept-Encoding": "gzip, deflate", "Accept": "*/*"},
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    # ------------------------------------------------------------------ public
    async def fetch(self, url: str, *, any_content_type: bool = False, check_robots: bool = True,
                    validators: Mapping[str, str] | None = None) -> FetchResult:
        """Fetch ``url`` following redirects; never raises. ``validators`` (``etag``,
        ``last_modified`` from an earlier fetch) make the first request conditional
        (If-None-Match / If-Modified-Since): an unchanged page answers 304 with no body."""
        started = time.monotonic()
        fetched_at = datetime.now(UTC).isoformat(timespec="seconds")
        canonical = canonicalize(url)
        if canonical is None:
            scheme = url.split(":", 1)[0].lower() if ":" in url else ""
            outcome = Outcome.BLOCKED_SCHEME if scheme and scheme not in ALLOWED_SCHEMES and "/" not in scheme else Outcome.INVALID_URL
            result = FetchResult(url=url, final_url=url, outcome=outcome, detail=f"not an http(s) URL: {url[:200]!r}")
        else:
            try:
                result = await self._follow(canonical, any_content_type=any_content_type, check_robots=check_robots,
                                            conditional=conditional_headers(validators))
            except Exception as exc:  # the contract is: never raise
                log.exception("internal error fetching %s", canonical)
                result = FetchResult(url=canonical, final_url=canonical, outcome=Outcome.INTERNAL_ERROR, detail=repr(exc))
        result.elapsed_s = time.monotonic() - started
        result.fetched_at = fetched_at
        result.mode = self.mode
        self.counts[str(result.outcome)] += 1
        return result

    # ---------------------------------------------------------------- internals
    async def _fetch_robots(self, robots_url: str) -> tuple[int | None, bytes, str, str]:
        result = await self.fetch(robots_url, any_content_type=True, check_robots=False)
        if result.outcome == Outcome.OK:
            return result.status, result.body, "", ""
        if result.outcome == Outcome.NOT_IN_ARCHIVE:
            return 404, b"", "", ""
        return None, b"", str(result.outcome), result.detail

    async def _follow(self, url: str, *, any_content_type: bool, check_robots: bool,
                      conditional: Mapping[str, str] | None = None) -> FetchResult:
        s = self.settings
        seen = {url}
        redirects: list[str] = []
        current = url
        attempts = 0
        while True:
            if check_robots and s.respect_robots:
                allowed, rules = await self.robots.allowed(current)
                if not allowed:
                    # Robots.txt itself unreachable: report why (blocked address, DNS, ...), not a policy verdict.
                    outcome = Outcome(rules.failure) if rules.failure in Outcome.__members__.values() else Outcome.ROBOTS_DISALLOWED
                    return FetchResult(url=url, final_url=current, outcome=outcome, redirects=redirects,
                                       attempts=attempts, detail=rules.note or f"robots.txt disallows {current}")
                delay = rules.crawl_delay(s.user_agent)
                if delay is not None:
                    self._host_delay[urlsplit(current).netloc] = min(delay, s.max_crawl_delay_s)
            # Validators belong to the URL they were stored for, not to a redirect target.
            result = await self._with_retries(current, any_content_type=any_content_type,
                                              conditional=conditional if current == url else None)
            attempts += result.attempts
            result.attempts = attempts
            result.url = url
            result.redirects = redirects
            if result.outcome != Outcome.OK or result.status is None or not (300 <= result.status < 400):
                return result
            location = result.headers.get("location")
            if not location:
                return result  # a 3xx without Location is a final answer
            target = canonicalize(location, base=current)
            if target is None:
                scheme = location.split(":", 1)[0].lower() if ":" in location else ""
                outcome = Outcome.BLOCKED_SCHEME if scheme and scheme not in ALLOWED_SCHEMES else Outcome.INVALID_URL
                return FetchResult(url=url, final_url=current, outcome=outcome, status=result.status, attempts=attempts,
                                   redirects=redirects, detail=f"redirect to {location[:200]!r} refused")
            if target in seen:
                return FetchResult(url=url, final_url=target, outcome=Outcome.REDIRECT_LOOP, status=result.status,
                                   attempts=attempts, redirects=redirects + [target], detail=f"redirect loop back to {target}")
            if len(redirects) >= s.max_redirects:
                return FetchResult(url=url, final_url=target, outcome=Outcome.TOO_MANY_REDIRECTS, status=result.status,
                                   attempts=attempts, redirects=redirects, detail=f"more than {s.max_redirects} redirects")
            seen.add(target)
            redirects.append(target)
            current = target

    async def _with_retries(self, url: str, *, any_content_type: bool,
                            conditional: Mapping[str, str] | None = None) -> FetchResult:
        s = self.settings
        wait = retry_after_or_backoff(s.backoff_base_s, s.backoff_max_s)
        attempts = 0
        try:
            async for attempt in AsyncRetrying(
                stop=stop_after_attempt(s.max_retries + 1),
                wait=wait,
                retry=retry_if_exception_type(_Retry),
                reraise=True,
            ):
                with attempt:
                    attempts = attempt.retry_state.attempt_number
                    result = await self._attempt(url, any_content_type=any_content_type, conditional=conditional)
                    result.attempts = attempts
                    return result
        except _Failure as failure:
            if failure.result is not None:
                failure.result.attempts = attempts
                return failure.result
            return FetchResult(url=url, final_url=url, outcome=failure.outcome, attempts=attempts, detail=failure.detail)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _attempt(self, url: str, *, any_content_type: bool,
                       conditional: Mapping[str, str] | None = None) -> FetchResult:
        assert self._client is not None, "use `async with Fetcher(...)`"
        s = self.settings
        host = urlsplit(url).netloc
        gate = self._gates[host]
        async with self._global, gate.sem:
            await gate.wait_turn(max(s.per_host_delay_s, self._host_delay.get(host, 0.0)))
            try:
                async with asyncio.timeout(s.total_timeout_s):
                    return await self._request(url, any_content_type=any_content_type, conditional=conditional)
            except TimeoutError as exc:
                raise _Retry(Outcome.TIMEOUT, f"no complete response within {s.total_timeout_s:g}s") from exc
            except httpx.TimeoutException as exc:
                raise _Retry(Outcome.TIMEOUT, f"{type(exc).__name__}: {exc}") from exc
            except BlockedAddress as exc:
                outcome = Outcome.DNS_ERROR if exc.reason == "dns_error" else Outcome.BLOCKED_ADDRESS
                raise _Failure(outcome, exc.detail) from exc
            except httpx.UnsupportedProtocol as exc:
                raise _Failure(Outcome.BLOCKED_SCHEME, str(exc)) from exc
            except (httpx.InvalidURL, UnicodeError) as exc:
                raise _Failure(Outcome.INVALID_URL, str(exc)) from exc
            except httpx.ConnectError as exc:
                raise _Retry(Outcome.CONNECT_ERROR, f"connect failed: {exc}") from exc
            except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError, httpx.NetworkError) as exc:
                raise _Retry(Outcome.PROTOCOL_ERROR, f"{type(exc).__name__}: {exc}") from exc

    async def _request(self, url: str, *, any_content_type: bool,
                       conditional: Mapping[str, str] | None = None) -> FetchResult:
        s = self.settings
        assert self._client is not None
        request = self._client.build_request("GET", url, headers=dict(conditional or {}))
        response = await self._client.send(request, stream=True)
        try:
            headers = {k.lower(): v for k, v in response.headers.items()}
            status = response.status_code
            if headers.get(NOT_IN_ARCHIVE_HEADER):
                raise _Failure(Outcome.NOT_IN_ARCHIVE, f"{url} is not in the archive")
            content_type = headers.get("content-type", "").split(";", 1)[0].strip().lower()
            base = FetchResult(url=url, final_url=url, outcome=Outcome.OK, status=status, headers=headers,
                               content_type=content_type)
            is_redirect = 300 <= status < 400 and "location" in headers
            if not is_redirect and not any_content_type and status < 400 and content_type \
                    and content_type not in s.allowed_content_types:
                self._archive(url, request, response, b"", truncated="content-type")
                raise _Failure(Outcome.CONTENT_TYPE, f"content-type {content_type!r} not in the allow-list",
                               result=None)
            declared = headers.get("content-length", "")
            if declared.isdigit() and int(declared) > s.max_bytes:
                self._archive(url, request, response, b"", truncated="length")
                raise _Failure(Outcome.BODY_TOO_LARGE, f"Content-Length {declared} exceeds {s.max_bytes}")
            try:
                decoder = BoundedDecoder(headers.get("content-encoding", ""), s.max_bytes, s.max_decompression_ratio)
            except BodyLimitExceeded as exc:
                raise _Failure(Outcome.DECODE_ERROR, exc.detail) from exc
            raw_parts: list[bytes] = []
            try:
                async for chunk in response.aiter_raw():
                    raw_parts.append(chunk)
                    decoder.feed(chunk)
                body = decoder.finish()
            except BodyLimitExceeded as exc:
                self._archive(url, request, response, b"".join(raw_parts), truncated="length")
                outcome = {R.DECOMPRESSION_BOMB: Outcome.DECOMPRESSION_BOMB,
                           R.BODY_TOO_LARGE: Outcome.BODY_TOO_LARGE}.get(exc.reason, Outcome.DECODE_ERROR)
                raise _Failure(outcome, exc.detail) from exc
            self._archive(url, request, response, b"".join(raw_parts))
            base.body = body
            if status in RETRY_STATUSES and not headers.get(REPLAYED_HEADER):  # a recorded 429 stays a 429
                retry_after = parse_retry_after(headers.get("retry-after"))
                if retry_after is not None and retry_after > s.max_retry_after_s:
                    base.detail = f"Retry-After {retry_after:.0f}s exceeds the {s.max_retry_after_s:g}s we wait"
                    return base
                raise _Retry(Outcome.OK, f"HTTP {status}", result=base, retry_after=retry_after)
            return base
        finally:
            await response.aclose()

    def _archive(self, url: str, request: httpx.Request, response: httpx.Response, payload: bytes,
                 truncated: str | None = None) -> None:
        if self.warc is None or self.mode == "archive":
            return  # an archive replayed in-process is already archived
        try:
            self.warc.write_exchange(
                url,
                method=request.method,
                request_headers=[(k, v) for k, v in request.headers.items() if not k.startswith("x-seekforge")],
                status=response.status_code,
                reason=response.reason_phrase,
                response_headers=list(response.headers.multi_items()),
                payload=payload,
                truncated=truncated,
            )
        except Exception as exc:  # a failed archive write must not lose the page
            log.exception("could not write WARC record for %s", url)
            self.warc.note_failure(url, exc)  # counted: the crawl step fails on it after saving the pages
