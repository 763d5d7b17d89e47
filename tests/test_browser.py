"""crawl.browser: JS rendering in system chromium with every byte coming from ``subfetch``.

Browser tests need Debian's chromium (``scripts/install_system_deps.sh``): without it they
skip, or fail under CI (the ``chromium`` fixture, tests/conftest.py). They share one
browser on one event loop to stay fast.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar

import httpx
import playwright.async_api  # noqa: F401  (a declared dependency: its absence fails, never skips)
import pytest

from crawl.browser import BrowserRenderer, SubResponse, looks_js_only, matches_any

T = TypeVar("T")

ARTICLE_TEXT = "The quokka is a small macropod found on Rottnest Island"

# The article exists only after app.js runs; the raw HTML has an empty root.
RAW_PAGE = b"""<!doctype html>
<html><head><meta charset="utf-8"><title>Quokkas</title>
<script src="/static/app.js"></script>
<link rel="stylesheet" href="/static/site.css">
</head><body>
<div id="root"></div>
<img src="/static/logo.png" alt="">
<noscript>You need to enable JavaScript to run this app.</noscript>
</body></html>"""

APP_JS = (
    """
document.addEventListener('DOMContentLoaded', async () => {
  const root = document.getElementById('root');
  root.innerHTML = '<article><h1>Quokkas</h1><p>"""
    + ARTICLE_TEXT
    + """.</p>' +
    '<p>Quokkas are nocturnal herbivores that live in scrub and forest near water.</p>'.repeat(4) +
    '</article>';
  // A page trying to reach the cloud metadata service: must be refused, page still renders.
  try {
    const r = await fetch('http://169.254.169.254/latest/meta-data/');
    root.insertAdjacentHTML('beforeend', '<p id="leak">' + (await r.text()) + '</p>');
  } catch (e) {
    root.insertAdjacentHTML('beforeend', '<p id="meta">metadata blocked</p>');
  }
});
"""
).encode()

NORMAL_ARTICLE = (
    b"<html><head><title>Article</title><script>window.dataLayer=[];</script></head><body>"
    b"<nav>Home | About</nav><article><h1>Rottnest Island</h1>"
    + b"<p>Rottnest Island is an island off the coast of Western Australia, located 18 km west of "
    b"Fremantle. It is home to a large population of quokkas, a small marsupial.</p>" * 3
    + b"</article></body></html>"
)

SITE = {
    "http://js.test/": SubResponse(301, {"Location": "/article"}),
    "http://js.test/article": SubResponse(200, {"Content-Type": "text/html; charset=utf-8"}, RAW_PAGE),
    "http://js.test/static/app.js": SubResponse(200, {"Content-Type": "application/javascript"}, APP_JS),
    "http://js.test/static/site.css": SubResponse(200, {"Content-Type": "text/css"}, b"p{margin:0}"),
}


def dict_subfetch(site: dict[str, SubResponse], calls: list[tuple[str, str]]) -> Any:
    """subfetch serving from a dict -- like replaying a WARC; unknown URLs are refused."""

    async def subfetch(url: str, method: str, headers: dict[str, str]) -> SubResponse | None:
        calls.append((method, url))
        return site.get(url)

    return subfetch


# ---------------------------------------------------------------- pure helpers


def test_looks_js_only() -> None:
    assert looks_js_only(RAW_PAGE)
    assert looks_js_only(RAW_PAGE.decode())
    assert not looks_js_only(NORMAL_ARTICLE)
    # short page without scripts: rendering would not help
    assert not looks_js_only(b"<html><body><p>Not found</p></body></html>")
    # no scripts left, but a noscript notice
    assert looks_js_only(b"<html><body><noscript>Please enable JavaScript.</noscript></body></html>")
    assert not looks_js_only(b"")
    assert not looks_js_only("   ")


def test_matches_any() -> None:
    pats = [r"^https?://app\.example\.com/", r"/spa/"]
    assert matches_any("https://app.example.com/x", pats)
    assert matches_any("http://other.org/spa/page", pats)
    assert not matches_any("https://example.com/x", pats)
    assert not matches_any("https://example.com/x", [])
    with pytest.raises(ValueError, match="invalid render pattern"):
        matches_any("https://x", ["("])


# ---------------------------------------------------------------- browser


@pytest.fixture(scope="module")
def browser_run(chromium: str) -> Iterator[tuple[Callable[[Awaitable[T]], T], BrowserRenderer]]:
    """One event loop + one BrowserRenderer for the module (browser start ~1-2 s)."""
    loop = asyncio.new_event_loop()
    renderer = BrowserRenderer(timeout_s=10.0, max_pages=2)
    loop.run_until_complete(renderer.__aenter__())
    try:
        yield loop.run_until_complete, renderer
    finally:
        loop.run_until_complete(renderer.__aexit__(None, None, None))
        loop.close()


@pytest.mark.browser
def test_render_from_dict_all_requests_via_subfetch(browser_run: Any) -> None:
    run, renderer = browser_run
    assert renderer.launch_s is not None, "browser did not start"
    calls: list[tuple[str, str]] = []
    res = run(renderer.render("http://js.test/", dict_subfetch(SITE, calls)))

    assert res.outcome == "ok", res.detail
    assert res.status == 200
    assert res.final_url == "http://js.test/article"  # redirect resolved through subfetch
    assert ARTICLE_TEXT in res.html
    assert ARTICLE_TEXT.encode() not in RAW_PAGE
    assert looks_js_only(RAW_PAGE) and not looks_js_only(res.html)
    # the metadata request was refused and the page still rendered
    assert 'id="meta"' in res.html and 'id="leak"' not in res.html
    assert ("GET", "http://169.254.169.254/latest/meta-data/") in calls
    assert res.blocked_subrequests == 1
    # everything the browser asked for went through subfetch (image skipped by type)
    assert sorted(calls) == sorted(
        [
            ("GET", "http://js.test/"),
            ("GET", "http://js.test/article"),
            ("GET", "http://js.test/static/app.js"),
            ("GET", "http://js.test/static/site.css"),
            ("GET", "http://169.254.169.254/latest/meta-data/"),
        ]
    )
    assert res.subrequests == len(calls)
    assert res.skipped_subrequests == 1  # logo.png
    assert res.elapsed_s < 10


@pytest.mark.browser
def test_prefetched_main_document_not_fetched_again(browser_run: Any) -> None:
    run, renderer = browser_run
    calls: list[tuple[str, str]] = []
    main = SITE["http://js.test/article"]
    res = run(renderer.render("http://js.test/article", dict_subfetch(SITE, calls), main=main))
    assert res.outcome == "ok", res.detail
    assert ARTICLE_TEXT in res.html
    assert ("GET", "http://js.test/article") not in calls


@pytest.mark.browser
def test_blocked_document_and_non_http(browser_run: Any) -> None:
    run, renderer = browser_run
    calls: list[tuple[str, str]] = []
    res = run(renderer.render("http://169.254.169.254/", dict_subfetch({}, calls)))
    assert res.outcome == "blocked" and res.html == ""
    assert res.blocked_subrequests == 1
    res = run(renderer.render("file:///etc/passwd", dict_subfetch(SITE, calls)))
    assert res.outcome == "blocked"
    assert calls == [("GET", "http://169.254.169.254/")]


@pytest.mark.browser
def test_timeout_when_subfetch_hangs(browser_run: Any) -> None:
    run, _shared = browser_run
    cancelled: list[str] = []
    page = b"<html><head><script src='/slow.js'></script></head><body><p>before</p></body></html>"

    async def subfetch(url: str, method: str, headers: dict[str, str]) -> SubResponse | None:
        if url.endswith("/slow.js"):
            try:
                await asyncio.sleep(3600)  # never returns
            except asyncio.CancelledError:
                cancelled.append(url)
                raise
        return SubResponse(200, {"content-type": "text/html"}, page)

    async def go() -> Any:
        async with BrowserRenderer(timeout_s=2.0) as r:
            t0 = time.monotonic()
            res = await r.render("http://slow.test/", subfetch)
            return res, time.monotonic() - t0

    res, took = run(go())
    assert res.outcome == "timeout", (res.outcome, res.detail)
    assert took < 2.0 + 5.0
    assert res.status == 200
    assert cancelled == ["http://slow.test/slow.js"]  # hung subfetch does not leak


@pytest.mark.browser
def test_concurrent_renders_and_relaunch_after_browser_death(chromium: str) -> None:
    active = 0
    peak = 0

    async def subfetch(url: str, method: str, headers: dict[str, str]) -> SubResponse | None:
        nonlocal active, peak
        if url.endswith("/article"):  # one main-document fetch per render, inside the page slot
            active += 1
            peak = max(peak, active)
            await asyncio.sleep(0.2)
            active -= 1
        return SITE.get(url)

    async def go() -> Any:
        async with BrowserRenderer(max_pages=2, timeout_s=10) as r:
            results = await asyncio.gather(*(r.render(f"http://js.test/article?{i}", _strip_query(subfetch)) for i in range(4)))
            await r._browser.close()  # simulate chromium dying mid-crawl
            again = await r.render("http://js.test/article", _strip_query(subfetch))
            return results, again

    results, again = asyncio.run(go())
    assert [x.outcome for x in results] == ["ok"] * 4, [x.detail for x in results]
    assert all(ARTICLE_TEXT in x.html for x in results)
    assert peak == 2  # max_pages respected
    assert again.outcome == "ok", again.detail  # relaunched


def _strip_query(subfetch: Any) -> Any:
    async def inner(url: str, method: str, headers: dict[str, str]) -> SubResponse | None:
        return await subfetch(url.split("?")[0], method, headers)

    return inner


@pytest.mark.browser
def test_bad_executable_is_browser_error() -> None:
    async def go() -> Any:
        async with BrowserRenderer("/nonexistent/chromium", timeout_s=5) as r:
            return await r.render("http://js.test/", dict_subfetch(SITE, []))

    res = asyncio.run(go())
    assert res.outcome == "browser_error"
    assert "/nonexistent/chromium" in res.detail and "apt-get install" in res.detail
    assert res.html == ""


# ---------------------------------------------------------------- real server


class _Site(BaseHTTPRequestHandler):
    """Tiny site: /old -> 302 -> /article (JS-only), /static/app.js, /api/note."""

    hits: list[tuple[str, str]] = []

    def do_GET(self) -> None:
        type(self).hits.append((self.path, self.headers.get("user-agent", "")))
        routes: dict[str, tuple[int, str, bytes]] = {
            "/article": (200, "text/html; charset=utf-8", RAW_PAGE_SERVER),
            "/static/app.js": (200, "application/javascript", APP_JS_SERVER),
            "/api/note": (200, "application/json", b'{"note": "from the api"}'),
        }
        if self.path == "/old":
            self.send_response(302)
            self.send_header("Location", "/article")
            self.end_headers()
            return
        if self.path == "/api/old-note":
            self.send_response(307)
            self.send_header("Location", "/api/note")
            self.end_headers()
            return
        status, ctype, body = routes.get(self.path, (404, "text/plain", b"not found"))
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


RAW_PAGE_SERVER = b"""<!doctype html><html><head><title>Quokkas</title>
<link rel="preconnect" href="http://preconnect.test/"><link rel="dns-prefetch" href="http://dns.test/">
<script src="/static/app.js"></script></head>
<body><div id="root"></div><img src="/logo.png"><iframe src="http://169.254.169.254/"></iframe></body></html>"""

APP_JS_SERVER = (
    """
document.addEventListener('DOMContentLoaded', async () => {
  const root = document.getElementById('root');
  root.innerHTML = '<article><p>"""
    + ARTICLE_TEXT
    + """</p></article>';
  const r = await fetch('/api/old-note');
  const j = await r.json();
  root.insertAdjacentHTML('beforeend', '<p id="note">' + j.note + '</p>');
  try { new WebSocket('ws://' + location.host + '/ws'); } catch (e) {}
  navigator.sendBeacon('/beacon', 'x');
});
"""
).encode()

HTTPX_UA = "seekforge-test-fetcher/1.0"


@pytest.mark.browser
def test_real_server_with_httpx_subfetch(browser_run: Any) -> None:
    run, renderer = browser_run
    _Site.hits = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Site)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    seen: list[str] = []

    async def go() -> Any:
        # A stand-in for the crawler's fetcher: no redirects followed (the renderer
        # asks for each hop), only our test server allowed.
        async with httpx.AsyncClient(follow_redirects=False, headers={"user-agent": HTTPX_UA}, timeout=5) as client:

            async def subfetch(url: str, method: str, headers: dict[str, str]) -> SubResponse | None:
                seen.append(url)
                if not url.startswith(base + "/"):
                    return None  # the "SSRF guard"
                fwd = {k: v for k, v in headers.items() if k.lower() in ("accept", "accept-language")}
                r = await client.request(method, url, headers=fwd)
                return SubResponse(r.status_code, dict(r.headers), r.content)

            return await renderer.render(base + "/old", subfetch)

    try:
        res = run(go())
    finally:
        server.shutdown()
        server.server_close()

    assert res.outcome == "ok", res.detail
    assert res.status == 200
    assert res.final_url == base + "/article"
    assert ARTICLE_TEXT in res.html and ARTICLE_TEXT.encode() not in RAW_PAGE_SERVER
    assert '<p id="note">from the api</p>' in res.html  # fetch() + 307 resolved via subfetch
    # every hit on the server came from httpx, none from chromium itself
    paths = [p for p, _ua in _Site.hits]
    assert all(ua == HTTPX_UA for _p, ua in _Site.hits), _Site.hits
    assert paths.count("/old") == 1 and paths.count("/article") == 1
    assert "/logo.png" not in paths and "/beacon" not in paths and "/ws" not in paths
    assert "http://169.254.169.254/" in seen  # iframe was asked for and refused
    assert res.blocked_subrequests >= 2  # metadata iframe + websocket (+ beacon)
    assert res.subrequests == len(seen) == len(_Site.hits) + 1
