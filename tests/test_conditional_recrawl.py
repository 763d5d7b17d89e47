"""Nightly re-crawls: conditional requests with the stored ETag / Last-Modified, a 304 reuses
the stored page (text and links), a changed page is downloaded again."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from crawl.crawler import CrawlSettings
from crawl.fetcher import FetchSettings
from crawl.frontier import FrontierSettings
from crawl.session import SourceSettings, run_crawl

FETCH = FetchSettings(user_agent="seekforge-test", per_host_delay_s=0.0, per_host_concurrency=4, max_retries=0,
                      connect_timeout_s=2.0, read_timeout_s=2.0, total_timeout_s=3.0)
LAST_MODIFIED = "Tue, 01 Dec 2026 10:00:00 GMT"
FACTS = ("was written to test conditional requests", "links to the other two pages of the site",
         "changes its version when the test edits it", "is served by a threaded HTTP server on loopback",
         "has enough words to count as a real page", "keeps its links in plain anchors")
BODY = ("<html><head><title>{title}</title></head><body><main><h1>{title}</h1>"
        + "".join(f"<p>{{title}} {fact}, fact number {i}.</p>" for i, fact in enumerate(FACTS))
        + "{links}</main></body></html>")


class Site:
    def __init__(self) -> None:
        self.version = {"/a": "1", "/b": "1", "/c": "1"}
        self.requests: list[tuple[str, dict[str, str], int]] = []

    def page(self, path: str) -> bytes:
        links = "".join(f'<p><a href="{p}">to {p}</a></p>' for p in sorted(self.version) if p != path)
        return BODY.format(title=f"Page {path[1:]} v{self.version[path]}", links=links).encode()


@pytest.fixture
def site() -> Iterator[tuple[Site, str]]:
    state = Site()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            headers = {k.lower(): v for k, v in self.headers.items()}
            if self.path not in state.version:
                self.send_response(404)
                self.end_headers()
                state.requests.append((self.path, headers, 404))
                return
            etag = f'"{self.path[1:]}-{state.version[self.path]}"'
            # /a gives an ETag, /b a Last-Modified, /c neither.
            if (self.path == "/a" and headers.get("if-none-match") == etag) or \
                    (self.path == "/b" and headers.get("if-modified-since") == LAST_MODIFIED):
                self.send_response(304)
                self.end_headers()
                state.requests.append((self.path, headers, 304))
                return
            body = state.page(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            if self.path == "/a":
                self.send_header("ETag", etag)
            if self.path == "/b":
                self.send_header("Last-Modified", LAST_MODIFIED)
            self.end_headers()
            self.wfile.write(body)
            state.requests.append((self.path, headers, 200))

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _crawl(base: str, previous=None):  # type: ignore[no-untyped-def]
    return run_crawl([f"{base}/a"], source=SourceSettings(mode="http", allow_networks=("127.0.0.1",)), fetch=FETCH,
                     crawl=CrawlSettings(frontier=FrontierSettings(max_depth=2, follow_kinds=("article", "other")),
                                         parse_workers=0), previous=previous)


def test_recrawl_revalidates_and_reuses_unchanged_pages(site) -> None:  # type: ignore[no-untyped-def]
    state, base = site
    rows = _crawl(base).rows
    first = {r["url"]: r for r in rows if r["valid"]}
    assert set(first) == {f"{base}/a", f"{base}/b", f"{base}/c"}, [(r["url"], r["outcome"], r["invalid_reason"]) for r in rows]
    assert first[f"{base}/a"]["etag"] == '"a-1"' and first[f"{base}/b"]["last_modified"] == LAST_MODIFIED
    state.requests.clear()
    state.version["/c"] = "2"  # changed, and it has no validator anyway

    second = {r["url"]: r for r in _crawl(base, previous=first).rows if r["valid"]}
    sent = {path: (headers, status) for path, headers, status in state.requests if path in state.version}
    assert sent["/a"][0].get("if-none-match") == '"a-1"' and sent["/a"][1] == 304
    assert sent["/b"][0].get("if-modified-since") == LAST_MODIFIED and sent["/b"][1] == 304
    assert "if-none-match" not in sent["/c"][0] and sent["/c"][1] == 200
    for path in ("/a", "/b"):
        new, old = second[f"{base}{path}"], first[f"{base}{path}"]
        assert new["revalidated"] is True and new["status"] == 200
        assert (new["text"], new["links"], new["content_hash"]) == (old["text"], old["links"], old["content_hash"])
    assert second[f"{base}/c"]["revalidated"] is False and "v2" in second[f"{base}/c"]["title"]


def test_a_changed_page_is_downloaded_again(site) -> None:  # type: ignore[no-untyped-def]
    state, base = site
    first = {r["url"]: r for r in _crawl(base).rows if r["valid"]}
    state.version["/a"] = "2"  # new ETag: If-None-Match no longer matches
    second = {r["url"]: r for r in _crawl(base, previous=first).rows if r["valid"]}
    a = second[f"{base}/a"]
    assert a["revalidated"] is False and a["etag"] == '"a-2"' and "v2" in a["title"]
