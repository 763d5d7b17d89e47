"""Render JavaScript-only pages in a headless browser that never touches the network.

Some pages ship an empty ``<body>`` and build their content with JavaScript. For those
(detected by :func:`looks_js_only`, or forced by config regexes via :func:`matches_any`)
the crawler renders the page in Debian's system ``chromium`` driven by Playwright.

Safety model -- why the browser is *not* allowed to fetch anything itself
--------------------------------------------------------------------------
The crawler's own fetcher enforces the SSRF address guard, robots.txt, byte caps and
politeness, archives every response to WARC, and can replay a recorded archive offline.
A browser fetching on its own would bypass all of that (a page could make it request
``http://169.254.169.254/``). So every request the page makes is intercepted with
``context.route("**/*")`` and answered with ``route.fulfill(...)`` from the bytes the
caller's ``subfetch`` returns; ``subfetch`` returning ``None`` aborts the request.

Three traps found while building this, each closed here:

* Fulfilling a route with a 3xx + ``Location`` makes Chromium follow the redirect
  *over its own network stack*, outside the interception. We therefore never fulfil a
  redirect: :class:`BrowserRenderer` follows ``Location`` hops itself, one ``subfetch``
  call per hop (so the fetcher guards each hop), and fulfils only the final response.
  For the top-level document the redirect chain is resolved *before* the browser
  navigates, so the page gets the right base URL and ``final_url`` is correct.
* Anything that is not an intercepted HTTP request (WebSocket, WebRTC, DNS prefetch,
  preconnect, an interception bug) could still reach the network. As defence in depth
  Chromium is pointed at a black-hole proxy: a local TCP port that we bind but never
  listen on (connections are refused), with loopback *not* bypassed, plus a host
  resolver that resolves nothing. WebSockets are additionally mocked with
  ``route_web_socket`` and WebRTC is removed from the page.
* Service workers can answer requests without the route seeing them, so they are
  blocked in every context.

Requirements: ``apt-get install -y chromium`` (see ``scripts/install_system_deps.sh``);
``playwright install`` is not needed (and cannot download browsers here).
"""

from __future__ import annotations

import asyncio
import logging
import re
import socket
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Literal
from urllib.parse import urljoin, urlsplit

log = logging.getLogger(__name__)

__all__ = [
    "BrowserRenderer",
    "RenderResult",
    "SubFetch",
    "SubResponse",
    "DEFAULT_CHROMIUM",
    "CHROMIUM_ARGS",
    "looks_js_only",
    "matches_any",
]

DEFAULT_CHROMIUM = "/usr/bin/chromium"

#: Flags from the project brief: headless, no sandbox (containers run as root), no GPU,
#: and none of Chromium's own background traffic (updates, sync, field trials, QUIC).
CHROMIUM_ARGS: tuple[str, ...] = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-quic",
    # Extra hardening against background / side-channel traffic.
    "--disable-domain-reliability",
    "--disable-breakpad",
    "--no-pings",
    "--dns-prefetch-disable",
    "--disable-dev-shm-usage",
    "--mute-audio",
    "--force-webrtc-ip-handling-policy=disable_non_proxied_udp",
)

#: Resource types that are always aborted: streams cannot be answered with one archived
#: body (and reconnect loops would keep the page from ever going idle); beacons, pings,
#: reports and prefetches are side effects or speculation, not content.
ALWAYS_SKIP_TYPES = frozenset(
    {"eventsource", "websocket", "manifest", "ping", "cspviolationreport", "prefetch", "signedexchange"}
)

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})

#: Response headers that describe the transfer, not the content. ``subfetch`` returns
#: decoded bytes, so passing ``content-encoding`` / ``content-length`` on would corrupt them.
_HOP_HEADERS = frozenset(
    {
        "content-encoding",
        "content-length",
        "transfer-encoding",
        "connection",
        "keep-alive",
        "proxy-connection",
        "upgrade",
        "trailer",
        "te",
        "alt-svc",
    }
)

# Removing WebRTC from every page: its STUN/TURN traffic is UDP and bypasses both the
# request interception and the proxy. Runs before any page script.
_INIT_SCRIPT = """
(() => {
  for (const name of ["RTCPeerConnection", "webkitRTCPeerConnection", "RTCDataChannel"]) {
    try { Object.defineProperty(window, name, {value: undefined, configurable: false}); } catch (e) {}
  }
})();
"""

_MAIN_DOC_HEADERS = {
    "accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    "upgrade-insecure-requests": "1",
}

WaitUntil = Literal["commit", "domcontentloaded", "load", "networkidle"]


@dataclass(slots=True)
class SubResponse:
    """One response produced by the crawler's fetcher for the browser.

    ``body`` must be the *decoded* payload (what ``httpx.Response.content`` gives).
    ``url`` is the final URL when the fetcher followed redirects itself; leave it
    ``None`` otherwise. A 3xx with ``Location`` is fine too: the renderer then asks
    ``subfetch`` for the next hop.
    """

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    url: str | None = None


#: ``(url, method, request_headers) -> SubResponse``, or ``None`` to refuse the request
#: (SSRF guard, robots, byte cap, not in archive ...). Must not raise for ordinary
#: refusals; an exception is logged and treated like ``None`` (for the document itself
#: it gives outcome ``"fetch_error"``).
SubFetch = Callable[[str, str, dict[str, str]], Awaitable[SubResponse | None]]


@dataclass(slots=True)
class RenderResult:
    """Outcome of one :meth:`BrowserRenderer.render` call.

    ``outcome`` is ``"ok"`` or why not: ``"timeout"`` (``html`` then holds whatever DOM
    existed when time ran out, possibly empty), ``"blocked"`` (``subfetch`` refused the
    document or the URL is not http(s)), ``"fetch_error"`` (``subfetch`` raised for
    the document), ``"too_many_redirects"``, ``"not_html"`` (document is not HTML
    or is served as a download; ``html`` empty), ``"crash"`` (renderer process died),
    ``"browser_error"`` (browser could not start / disconnected / protocol error).

    ``subrequests`` counts every ``subfetch`` call made for this render (the document
    and each redirect hop included); ``blocked_subrequests`` counts requests that were
    refused: ``subfetch`` returned ``None`` or raised, a non-http(s) or non-GET/HEAD
    request, a WebSocket. ``skipped_subrequests`` counts requests aborted because of
    their resource type (images, fonts ... ) without asking ``subfetch``.
    """

    url: str
    final_url: str
    status: int | None
    html: str
    outcome: str
    detail: str = ""
    subrequests: int = 0
    blocked_subrequests: int = 0
    skipped_subrequests: int = 0
    elapsed_s: float = 0.0

    @property
    def ok(self) -> bool:
        return self.outcome == "ok"


class _RenderState:
    """Per-render bookkeeping shared by the route handlers."""

    __slots__ = (
        "subrequests",
        "blocked",
        "skipped",
        "main_status",
        "main_served",
        "main_response",
        "tasks",
        "closing",
        "crashed",
    )

    def __init__(self, main_response: SubResponse | None = None) -> None:
        self.subrequests = 0
        self.blocked = 0
        self.skipped = 0
        self.main_status: int | None = main_response.status if main_response else None
        self.main_served = False
        self.main_response = main_response
        self.tasks: set[asyncio.Task[Any]] = set()
        self.closing = False
        self.crashed = False


class _LaunchError(RuntimeError):
    pass


def _header(headers: dict[str, str], name: str) -> str | None:
    for k, v in headers.items():
        if k.lower() == name:
            return v
    return None


def _is_http(url: str) -> bool:
    return urlsplit(url).scheme.lower() in ("http", "https")


def _looks_html(headers: dict[str, str]) -> bool:
    ctype = (_header(headers, "content-type") or "").split(";")[0].strip().lower()
    return ctype in ("", "text/html", "application/xhtml+xml")


class BrowserRenderer:
    """One shared headless Chromium rendering pages whose every byte comes from ``subfetch``.

    Use as ``async with BrowserRenderer() as r: res = await r.render(url, subfetch)``.
    The browser starts once (on enter) and is reused; each render gets a fresh,
    non-persistent browser context (no cookies or storage shared between pages), and at
    most ``max_pages`` renders run at once. If the browser dies it is relaunched on the
    next render (a few times at most). Exiting the context closes everything, also when
    the body raised.

    ``render`` never raises (except ``asyncio.CancelledError``): failures come back as a
    :class:`RenderResult` with a non-``"ok"`` outcome.
    """

    MAX_REDIRECTS = 5
    MAX_RELAUNCHES = 3

    def __init__(
        self,
        executable_path: str = DEFAULT_CHROMIUM,
        *,
        max_pages: int = 2,
        timeout_s: float = 20.0,
        wait_until: WaitUntil = "networkidle",
        block_resource_types: Iterable[str] = ("image", "media", "font"),
        allowed_methods: Iterable[str] = ("GET", "HEAD"),
        user_agent: str | None = None,
        extra_args: Sequence[str] = (),
    ) -> None:
        if max_pages < 1:
            raise ValueError("max_pages must be >= 1")
        if timeout_s <= 0:
            raise ValueError("timeout_s must be > 0")
        if wait_until not in ("commit", "domcontentloaded", "load", "networkidle"):
            raise ValueError(f"wait_until must be commit|domcontentloaded|load|networkidle, not {wait_until!r}")
        self.executable_path = executable_path
        self.max_pages = max_pages
        self.timeout_s = float(timeout_s)
        self.wait_until: WaitUntil = wait_until
        self.block_resource_types = frozenset(t.lower() for t in block_resource_types)
        self.allowed_methods = frozenset(m.upper() for m in allowed_methods)
        self.user_agent = user_agent
        self.extra_args = tuple(extra_args)
        #: Seconds the last successful browser launch took (``None`` before one).
        self.launch_s: float | None = None
        self._sem = asyncio.Semaphore(max_pages)
        self._lock = asyncio.Lock()
        self._pw: Any = None  # playwright.async_api.Playwright
        self._browser: Any = None  # playwright.async_api.Browser
        self._blackhole: socket.socket | None = None
        self._launch_error: str | None = None
        self._launches = 0
        self._closed = False

    # ------------------------------------------------------------------ lifecycle

    async def __aenter__(self) -> BrowserRenderer:
        # Start eagerly so launch cost is paid once up front, but never raise: a broken
        # browser must not take the crawl down, it shows up as "browser_error" results.
        try:
            await self._ensure_browser()
        except _LaunchError:
            pass  # already logged; every render() reports it
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close browser, Playwright driver and black-hole socket; safe to call twice."""
        self._closed = True
        browser, pw, hole = self._browser, self._pw, self._blackhole
        self._browser = self._pw = self._blackhole = None
        if browser is not None:
            try:
                await asyncio.wait_for(browser.close(), 10)
            except Exception as e:  # noqa: BLE001 - closing must not fail the caller
                log.debug("browser close failed: %s", e)
        if pw is not None:
            try:
                await asyncio.wait_for(pw.stop(), 10)
            except Exception as e:  # noqa: BLE001
                log.debug("playwright stop failed: %s", e)
        if hole is not None:
            hole.close()

    def _launch_args(self) -> list[str]:
        assert self._blackhole is not None
        port = self._blackhole.getsockname()[1]
        return [
            *CHROMIUM_ARGS,
            f"--proxy-server=http://127.0.0.1:{port}",
            "--proxy-bypass-list=<-loopback>",  # also send loopback to the black hole
            "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
            *self.extra_args,
        ]

    async def _ensure_browser(self) -> Any:
        """Return a connected browser, launching (or relaunching) one if needed.

        Raises :class:`_LaunchError` with an actionable message when it cannot.
        """
        async with self._lock:
            if self._closed:
                raise _LaunchError("BrowserRenderer is closed")
            if self._browser is not None and self._browser.is_connected():
                return self._browser
            if self._launch_error is not None:
                raise _LaunchError(self._launch_error)
            if self._launches > self.MAX_RELAUNCHES:
                self._launch_error = f"browser died {self._launches} times; giving up"
                raise _LaunchError(self._launch_error)
            if self._browser is not None:  # disconnected: clean up before relaunching
                log.warning("chromium disconnected; relaunching")
                try:
                    await asyncio.wait_for(self._browser.close(), 5)
                except Exception:  # noqa: BLE001
                    pass
                self._browser = None
            t0 = time.monotonic()
            try:
                if self._blackhole is None:
                    # Bound but never listening: every connection to it is refused.
                    hole = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                    hole.bind(("127.0.0.1", 0))
                    self._blackhole = hole
                if self._pw is None:
                    from playwright.async_api import async_playwright

                    self._pw = await async_playwright().start()
                self._browser = await self._pw.chromium.launch(
                    executable_path=self.executable_path,
                    headless=True,
                    args=self._launch_args(),
                    timeout=60_000,
                )
            except Exception as e:  # turned into an actionable message
                first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
                self._launch_error = (
                    f"cannot launch chromium at {self.executable_path!r}: {first} -- "
                    "install it with `apt-get install -y chromium` "
                    "(or scripts/install_system_deps.sh), or pass the right executable_path"
                )
                log.error("%s", self._launch_error)
                raise _LaunchError(self._launch_error) from e
            self._launches += 1
            self.launch_s = time.monotonic() - t0
            log.info("chromium %s started in %.2fs", self._browser.version, self.launch_s)
            return self._browser

    # ------------------------------------------------------------------ fetching

    async def _fetch_follow(
        self, url: str, method: str, headers: dict[str, str], subfetch: SubFetch, state: _RenderState | None
    ) -> tuple[str, SubResponse] | str:
        """``subfetch`` with redirects followed here, one guarded call per hop.

        Returns ``(final_url, response)`` or a refusal reason string.
        """
        for _ in range(self.MAX_REDIRECTS + 1):
            if not _is_http(url):
                return f"redirect to non-http(s) URL {url}"
            if state is not None:
                state.subrequests += 1
            try:
                resp = await subfetch(url, method, dict(headers))
            except asyncio.CancelledError:
                raise
            except Exception as e:  # noqa: BLE001 - a fetcher bug must not kill the render
                log.warning("subfetch raised for %s: %r", url, e)
                return f"subfetch raised {type(e).__name__}: {e}"
            if resp is None:
                return f"refused by subfetch: {url}"
            if resp.url and resp.url != url:
                url = resp.url
            location = _header(resp.headers, "location")
            if resp.status in REDIRECT_STATUSES and location:
                url = urljoin(url, location.strip())
                if resp.status == 303 or (resp.status in (301, 302) and method == "POST"):
                    method = "GET"
                continue
            return url, resp
        return "too_many_redirects"

    @staticmethod
    def _fulfil_headers(resp: SubResponse) -> dict[str, str]:
        out = {k: v for k, v in resp.headers.items() if k.lower() not in _HOP_HEADERS}
        if resp.status in REDIRECT_STATUSES or 300 <= resp.status < 400:
            # Never let Chromium follow a redirect itself: it would do so off-route.
            out = {k: v for k, v in out.items() if k.lower() not in ("location", "refresh")}
        return out

    # ------------------------------------------------------------------ rendering

    async def render(self, url: str, subfetch: SubFetch, *, main: SubResponse | None = None) -> RenderResult:
        """Render ``url`` with every request answered by ``subfetch``; never raises.

        ``main`` may carry the already-fetched document (the crawler usually fetched the
        raw HTML before deciding to render) so it is not fetched twice; it must be the
        final, non-redirect response for ``url`` (set ``main.url`` if it was redirected).
        """
        t0 = time.monotonic()
        res = RenderResult(url=url, final_url=url, status=None, html="", outcome="browser_error")
        if not _is_http(url):
            res.outcome, res.detail = "blocked", "only http(s) URLs are rendered"
            return res
        async with self._sem:
            t_start = time.monotonic()
            try:
                # Hard ceiling: every step below is also bounded on its own, this catches
                # a browser that stops answering altogether.
                async with asyncio.timeout(self.timeout_s + 10):
                    await self._render(url, subfetch, main, res, t_start + self.timeout_s)
            except TimeoutError:
                res.outcome = "timeout"
                res.detail = res.detail or f"no result within {self.timeout_s:.1f}s (browser unresponsive)"
            except asyncio.CancelledError:
                raise
            except _LaunchError as e:
                res.outcome, res.detail = "browser_error", str(e)
            except Exception as e:  # contract: never raise
                log.exception("render of %s failed", url)
                res.outcome, res.detail = "browser_error", f"{type(e).__name__}: {e}"
        res.elapsed_s = time.monotonic() - t0
        return res

    async def _render(
        self, url: str, subfetch: SubFetch, main: SubResponse | None, res: RenderResult, deadline: float
    ) -> None:
        from playwright.async_api import Error as PWError
        from playwright.async_api import TimeoutError as PWTimeout

        browser = await self._ensure_browser()

        def remaining() -> float:
            return max(0.0, deadline - time.monotonic())

        # 1. The document itself, with redirects resolved *before* the browser navigates,
        #    so the page's URL (and thus its base for relative links) is the final one.
        state = _RenderState()
        if main is not None:
            got: tuple[str, SubResponse] | str = (main.url or url, main)
        else:
            try:
                async with asyncio.timeout(remaining()):
                    got = await self._fetch_follow(url, "GET", dict(_MAIN_DOC_HEADERS), subfetch, state)
            except TimeoutError:
                res.outcome, res.detail = "timeout", "document fetch did not finish in time"
                res.subrequests = state.subrequests
                return
        res.subrequests = state.subrequests
        if isinstance(got, str):
            if got == "too_many_redirects":
                res.outcome = got
            elif got.startswith("subfetch raised"):
                res.outcome = "fetch_error"
            else:
                res.outcome = "blocked"
            res.detail = got
            res.blocked_subrequests = 1
            return
        final_url, doc = got
        res.final_url, res.status = final_url, doc.status
        if not _looks_html(doc.headers):
            res.outcome = "not_html"
            res.detail = f"content-type {_header(doc.headers, 'content-type')!r} is not rendered"
            return
        state.main_response, state.main_status = doc, doc.status

        context = await browser.new_context(
            service_workers="block",
            accept_downloads=False,
            java_script_enabled=True,
            user_agent=self.user_agent,
        )
        try:
            await context.add_init_script(_INIT_SCRIPT)
            page = await context.new_page()
            page.on("crash", lambda _p: setattr(state, "crashed", True))

            async def on_route(route: Any) -> None:
                await self._handle_route(route, page, state, subfetch)

            async def on_ws(ws: Any) -> None:
                # Not calling connect_to_server() means no connection is ever made.
                state.blocked += 1
                try:
                    await ws.close(code=1008, reason="blocked by crawler")
                except Exception:  # noqa: BLE001
                    pass

            async def on_popup(p: Any) -> None:
                # window.open() etc.: another page would fetch more; close it.
                if p is not page:
                    try:
                        await p.close()
                    except Exception:  # noqa: BLE001
                        pass

            await context.route("**/*", on_route)
            await context.route_web_socket(re.compile(r".*"), on_ws)
            context.on("page", on_popup)

            timed_out = False
            try:
                await page.goto(final_url, wait_until=self.wait_until, timeout=max(1.0, remaining() * 1000))
            except PWTimeout:
                timed_out = True
            except PWError as e:
                msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
                if state.crashed or "crash" in msg.lower():
                    res.outcome, res.detail = "crash", msg
                elif not browser.is_connected():
                    res.outcome, res.detail = "browser_error", f"browser disconnected: {msg}"
                elif "Download is starting" in msg:
                    res.outcome, res.detail = "not_html", "document is served as a download (content-disposition)"
                elif "ERR_BLOCKED_BY_CLIENT" in msg and not state.main_served:
                    res.outcome, res.detail = "blocked", msg
                else:
                    res.outcome, res.detail = "browser_error", msg
                self._finish(res, state, page)
                return

            # Grab the DOM. After a timeout the page may be stuck (e.g. waiting on a
            # script), so give it only a short grace period.
            grace = 1.0 if timed_out else max(2.0, remaining())
            try:
                res.html = await asyncio.wait_for(page.content(), grace)
            except (TimeoutError, PWError) as e:
                if not timed_out:
                    res.outcome, res.detail = ("crash" if state.crashed else "browser_error"), f"content(): {e!r}"
                    self._finish(res, state, page)
                    return
            if timed_out:
                res.outcome = "timeout"
                res.detail = f"page not {self.wait_until} within {self.timeout_s:.1f}s"
            else:
                res.outcome = "ok"
            self._finish(res, state, page)
        finally:
            state.closing = True
            for task in list(state.tasks):
                task.cancel()
            try:
                await asyncio.wait_for(context.close(), 5)
            except Exception as e:  # noqa: BLE001
                log.debug("context close failed: %r", e)

    @staticmethod
    def _finish(res: RenderResult, state: _RenderState, page: Any) -> None:
        try:
            if page.url and _is_http(page.url):
                res.final_url = page.url
        except Exception:  # noqa: BLE001
            pass
        res.status = state.main_status
        res.subrequests = state.subrequests
        res.blocked_subrequests = state.blocked
        res.skipped_subrequests = state.skipped

    async def _handle_route(self, route: Any, page: Any, state: _RenderState, subfetch: SubFetch) -> None:
        """Answer one intercepted request from ``subfetch`` -- or abort it."""
        if state.closing:
            return
        req = route.request
        url: str = req.url
        try:
            rtype: str = req.resource_type
            is_main_nav = req.is_navigation_request() and req.frame == page.main_frame
        except Exception:  # noqa: BLE001 - e.g. requests without a frame
            rtype, is_main_nav = "other", False

        async def abort(reason: str = "blockedbyclient") -> None:
            try:
                await route.abort(reason)
            except Exception:  # noqa: BLE001 - page/context already gone
                pass

        if is_main_nav and not state.main_served:
            # The document we already fetched (redirects resolved) -- serve it as is.
            state.main_served = True
            assert state.main_response is not None
            await self._fulfil(route, state.main_response)
            return
        if not _is_http(url):
            state.blocked += 1
            await abort()
            return
        if rtype in self.block_resource_types or rtype in ALWAYS_SKIP_TYPES:
            state.skipped += 1
            await abort()
            return
        method = req.method.upper()
        if method not in self.allowed_methods:
            state.blocked += 1  # no side effects: forms/beacons are not submitted
            await abort()
            return

        task = asyncio.ensure_future(self._fetch_follow(url, method, dict(req.headers), subfetch, state))
        state.tasks.add(task)
        try:
            await asyncio.wait({task})
        finally:
            state.tasks.discard(task)
        if task.cancelled() or state.closing:
            return  # render over; the context is being closed
        got = task.result()
        if isinstance(got, str):
            state.blocked += 1
            log.debug("blocked %s: %s", url, got)
            await abort()
            return
        _final, resp = got
        if is_main_nav:
            state.main_status = resp.status
        await self._fulfil(route, resp)

    async def _fulfil(self, route: Any, resp: SubResponse) -> None:
        try:
            await route.fulfill(status=resp.status, headers=self._fulfil_headers(resp), body=resp.body)
        except Exception as e:  # noqa: BLE001 - page/context already gone
            log.debug("fulfil failed: %r", e)


# ---------------------------------------------------------------------- heuristics

_JS_NOTICE = re.compile(r"(enable|turn on|activate|requires?)\W+(\w+\W+){0,3}javascript|javascript\W+(is\W+)?(required|disabled|needed)", re.I)
_INVISIBLE_TAGS = ("script", "style", "noscript", "template", "svg", "head", "iframe", "object", "canvas")


def looks_js_only(html: bytes | str, *, min_text_chars: int = 200) -> bool:
    """Guess whether a page needs JavaScript to show its content.

    True when the body has almost no visible text (fewer than ``min_text_chars``
    characters once scripts, styles, ``<noscript>`` and other invisible elements are
    dropped) *and* the page either has ``<script>`` tags or a ``<noscript>`` notice
    asking to enable JavaScript. A short page without scripts is just a short page,
    rendering it would not help. Cheap enough to run on every fetched page.
    """
    import lxml.html
    from lxml import etree

    if not html or not html.strip():
        return False
    try:
        doc = lxml.html.document_fromstring(html)
    except (etree.ParserError, ValueError):
        return False
    has_script = bool(doc.xpath("//script"))
    notice = any(_JS_NOTICE.search(n.text_content() or "") for n in doc.xpath("//noscript"))
    if not (has_script or notice):
        return False
    body = doc.find("body")
    if body is None:
        return True  # scripts but no body at all: certainly built by JS
    for tag in _INVISIBLE_TAGS:
        for el in body.xpath(f".//{tag}"):
            el.drop_tree()
    text = " ".join(body.text_content().split())
    return len(text) < min_text_chars


def matches_any(url: str, patterns: Sequence[str]) -> bool:
    """True if any config regex (``re.search`` semantics) matches ``url``.

    Used for per-site "always render" lists. An invalid pattern raises ``ValueError``
    naming it, so config mistakes fail loudly instead of silently never matching.
    """
    for pat in patterns:
        try:
            rx = _compile(pat)
        except re.error as e:
            raise ValueError(f"invalid render pattern {pat!r}: {e}") from e
        if rx.search(url):
            return True
    return False


_PATTERN_CACHE: dict[str, re.Pattern[str]] = {}


def _compile(pat: str) -> re.Pattern[str]:
    rx = _PATTERN_CACHE.get(pat)
    if rx is None:
        rx = re.compile(pat)
        if len(_PATTERN_CACHE) < 1024:
            _PATTERN_CACHE[pat] = rx
    return rx
