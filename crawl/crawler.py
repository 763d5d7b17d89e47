"""Crawl from root URLs into ``web_pages`` rows: fetch, render if needed, parse, account.

Every URL the frontier hands out ends as exactly one row (or, when a redirect lands
on a page we already have, as a counted ``duplicate``), so ``fetched + failed +
duplicates`` always equals what was attempted. Parsing runs in a process pool when
asked (it is CPU-bound: BeautifulSoup on a 300 KB article is ~50 ms), so fetching and
parsing overlap on every core.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import multiprocessing
import os
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from crawl.adapters import parse_response, source_of
from crawl.fetcher import Fetcher, FetchResult, Outcome
from crawl.frontier import Budget, FrontierSettings, candidates, walker_rng
from crawl.page import Link, LinkKind, ParsedPage
from crawl.urls import canonicalize

log = logging.getLogger(__name__)
ProgressFn = Callable[[dict[str, Any]], None]


def default_parse_workers() -> int:
    """Parsing is ~85% of a page's cost (BeautifulSoup), so a crawl is CPU-bound on one
    core unless parsing moves to other processes; measured 1.8-2.1x on 2 cores."""
    cores = os.cpu_count() or 1
    return min(cores, 4) if cores > 1 else 0


@dataclass(frozen=True)
class CrawlSettings:
    frontier: FrontierSettings = field(default_factory=FrontierSettings)
    parse_workers: int = 0  # 0: parse in the event loop's thread; N: a pool of N processes (see default_parse_workers)
    browser_patterns: tuple[str, ...] = field(default=(), metadata={"help": "Regexes of URLs always rendered in "
                                                                          "chromium."})
    browser_auto: bool = field(default=False, metadata={"help": "Render pages whose HTML looks JavaScript-only."})
    browser_executable: str = "/usr/bin/chromium"
    progress_every_s: float = 10.0


@dataclass
class CrawlResult:
    rows: list[dict[str, Any]]
    outcomes: Counter[str]
    duplicates: int = 0
    elapsed_s: float = 0.0
    warc_records: int = 0  # exchanges archived
    warc_failures: int = 0  # exchanges that could not be archived (the archive no longer replays the crawl)
    warc_last_error: str = ""

    @property
    def attempted(self) -> int:
        return len(self.rows) + self.duplicates


def _parse_job(url: str, status: int, headers: dict[str, str], body: bytes) -> dict[str, Any]:
    """Top-level (picklable) parse for the process pool; returns plain data."""
    return parse_response(url, status, headers, body).to_dict()


def _page_from_dict(d: dict[str, Any]) -> ParsedPage:
    links = [Link(url=x["url"], kind=LinkKind(x["kind"]), text=x.get("text", "")) for x in d.get("links", [])]
    return ParsedPage(**{**d, "links": links})


def _decoded_headers(headers: dict[str, str]) -> dict[str, str]:
    """Headers that still describe a body we already decoded."""
    return {k: v for k, v in headers.items() if k not in ("content-encoding", "content-length", "transfer-encoding")}


def page_from_row(row: Mapping[str, Any]) -> ParsedPage:
    """The parsed page a corpus row was built from (for a 304 revalidation)."""
    links = [Link(url=x["url"], kind=LinkKind(x["kind"]), text=x.get("text") or "") for x in row.get("links") or []]
    return ParsedPage(url=row["canonical_url"], source=row["source"], kind=row.get("kind") or "", title=row.get("title") or "",
                      text=row.get("text") or "", fields=json.loads(row.get("fields_json") or "{}"), links=links,
                      valid=bool(row.get("valid")), invalid_reason=row.get("invalid_reason"),
                      invalid_detail=row.get("invalid_detail") or "")


def build_row(result: FetchResult, page: ParsedPage | None, *, root: str, depth: int, parent: str | None,
              previous: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """One corpus row. After a 304, ``previous`` (the stored row) supplies status, content hash and validators."""
    final = canonicalize(result.final_url) or result.final_url
    revalidated = result.status == 304 and previous is not None and page is not None
    row: dict[str, Any] = {
        "url": result.url,
        "canonical_url": final,
        "source": page.source if page else source_of(final),
        "kind": page.kind if page else None,
        "root": root,
        "depth": depth,
        "parent_url": parent,
        "outcome": str(result.outcome),
        "status": result.status,
        "content_type": result.content_type,
        "content_hash": hashlib.sha256(result.body).hexdigest() if result.body else None,
        "etag": result.headers.get("etag"),
        "last_modified": result.headers.get("last-modified"),
        "revalidated": revalidated,
        "fetch_mode": result.mode,
        "fetched_at": result.fetched_at,
        "attempts": result.attempts,
        "elapsed_s": round(result.elapsed_s, 4),
        "redirects": list(result.redirects),
        "detail": result.detail,
    }
    if revalidated:
        assert previous is not None
        row.update(status=previous.get("status"), content_type=previous.get("content_type"),
                   content_hash=previous.get("content_hash"), etag=row["etag"] or previous.get("etag"),
                   last_modified=row["last_modified"] or previous.get("last_modified"))
    if page is None:
        # The fetch outcome is the reason (a declared one, stage "fetch"); its detail is in ``detail``.
        row.update(valid=False, invalid_reason=str(result.outcome), invalid_detail=None, title="", text="",
                   fields_json="{}", links=[], n_links=0)
    else:
        row.update(
            valid=page.valid,
            invalid_reason=page.invalid_reason,
            invalid_detail=page.invalid_detail or None,
            title=page.title,
            text=page.text,
            fields_json=json.dumps(page.fields, ensure_ascii=False, sort_keys=True, default=str),
            links=[link.to_dict() for link in page.links],
            n_links=len(page.links),
        )
    return row


class Crawler:
    """Run a frontier strategy over a :class:`Fetcher`; see module docstring."""

    def __init__(
        self,
        fetcher: Fetcher,
        settings: CrawlSettings | None = None,
        progress: ProgressFn | None = None,
        known_urls: Callable[[str], bool] | None = None,
        previous: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        """``known_urls``: when crawling a snapshot (replay / archive), the set of URLs it
        holds; links outside it are counted as ``skipped_not_in_archive`` instead of
        being fetched one dead request at a time. ``previous``: corpus rows of an earlier
        crawl by URL; their ETag / Last-Modified make requests conditional, and a 304
        reuses the stored page (content, links) instead of downloading it again."""
        self.fetcher = fetcher
        self.settings = settings or CrawlSettings()
        self.progress = progress
        self.known_urls = known_urls
        self.previous = previous or {}
        self.revalidated = 0
        self._pool: Executor | None = None
        self._browser: Any = None
        self._browser_lock = asyncio.Lock()
        self._done = 0
        self._planned = 0
        self._started = 0.0
        self._last_report = 0.0

    # ------------------------------------------------------------------ API
    async def crawl(self, roots: Sequence[str]) -> CrawlResult:
        started = time.monotonic()
        self._started = started
        self._last_report = started
        if self.settings.parse_workers > 0:
            # forkserver, not fork: the replay server and httpx may hold locks in other threads.
            self._pool = ProcessPoolExecutor(max_workers=self.settings.parse_workers,
                                             mp_context=multiprocessing.get_context("forkserver"))
        try:
            if self.settings.frontier.strategy == "random_walk":
                result = await self._random_walk(roots)
            elif self.settings.frontier.strategy == "bfs":
                result = await self._bfs(roots)
            else:
                raise ValueError(f"unknown crawl strategy {self.settings.frontier.strategy!r}; use bfs or random_walk")
        finally:
            if self._pool is not None:
                self._pool.shutdown(wait=True, cancel_futures=True)
                self._pool = None
            if self._browser is not None:
                await self._browser.__aexit__(None, None, None)
                self._browser = None
        result.elapsed_s = time.monotonic() - started
        self._report(force=True)
        return result

    # ------------------------------------------------------------ strategies
    async def _bfs(self, roots: Sequence[str]) -> CrawlResult:
        """Level by level; within a level, fill the budgets in link order, batch by batch.

        A batch holds at most as many URLs per root/site as that budget has left, so
        caps are exact; a URL that yields no page frees its slot for the next one.
        Batches depend only on outcomes, never on timing: crawls are reproducible.
        """
        fs = self.settings.frontier
        budget = Budget(fs)
        visited: set[str] = set()
        claimed: set[str] = set()
        rows: list[dict[str, Any]] = []
        outcomes: Counter[str] = Counter()
        duplicates = 0
        level: list[tuple[str, str, str | None]] = []  # (url, root, parent)
        for raw in roots:
            url = canonicalize(raw)
            if url is None:
                outcomes["invalid_url"] += 1
                rows.append(self._invalid_root_row(raw))
                continue
            if url not in visited:
                visited.add(url)
                level.append((url, url, None))
        batch_size = max(8, 2 * self.fetcher.settings.total_concurrency)
        depth = 0
        while level:
            next_level: list[tuple[str, str, str | None]] = []
            pending = list(level)
            self._planned += len(pending)
            while pending:
                batch: list[tuple[str, str, str | None]] = []
                rest: list[tuple[str, str, str | None]] = []
                for item in pending:
                    url, root, _ = item
                    if len(batch) < batch_size and budget.can_take(url, root):
                        budget.reserve(url, root)
                        batch.append(item)
                    else:
                        rest.append(item)
                if not batch:
                    self._planned -= len(rest)  # every remaining root is out of budget
                    break
                pending = rest
                visits = await asyncio.gather(*(self._visit(u) for u, _, _ in batch))
                for (url, root, parent), (result, page) in zip(batch, visits, strict=True):
                    outcomes[str(result.outcome)] += 1
                    budget.settle(url, root, got_page=page is not None)
                    row = build_row(result, page, root=root, depth=depth, parent=parent,
                                    previous=self.previous.get(url))
                    if row["canonical_url"] in claimed:
                        duplicates += 1
                        outcomes["duplicate"] += 1
                        continue
                    claimed.add(row["canonical_url"])
                    visited.add(row["canonical_url"])
                    rows.append(row)
                    if page is None or not page.valid or depth >= fs.max_depth:
                        continue
                    for link in candidates(page.links, root, fs):
                        if link in visited:
                            continue
                        visited.add(link)
                        if self.known_urls is not None and not self.known_urls(link):
                            outcomes["skipped_not_in_archive"] += 1
                            continue
                        next_level.append((link, root, row["canonical_url"]))
            level = next_level
            depth += 1
        return CrawlResult(rows=rows, outcomes=outcomes, duplicates=duplicates)

    async def _random_walk(self, roots: Sequence[str]) -> CrawlResult:
        """Seeded walks: each step shuffles the current page's links with the walker's
        RNG and moves to the first that yields a valid page (dead links are recorded).
        Walkers never look at each other, so results do not depend on timing."""
        fs = self.settings.frontier
        cache: dict[str, asyncio.Task[tuple[FetchResult, ParsedPage | None]]] = {}
        tries_per_step = 5

        def visit(url: str) -> asyncio.Task[tuple[FetchResult, ParsedPage | None]]:
            if url not in cache:
                cache[url] = asyncio.ensure_future(self._visit(url))
            return cache[url]

        async def walk(root: str, walker: int) -> list[tuple[str, int, str | None]]:
            rng = walker_rng(fs.seed, root, walker)
            path: list[tuple[str, int, str | None]] = [(root, 0, None)]
            seen = {root}
            current = root
            _, page = await visit(root)
            for step in range(1, fs.max_depth + 1):
                if page is None or not page.valid:
                    break
                options = [u for u in candidates(page.links, root, fs)
                           if u not in seen and (self.known_urls is None or self.known_urls(u))]
                rng.shuffle(options)
                moved = False
                for nxt in options[:tries_per_step]:
                    seen.add(nxt)
                    path.append((nxt, step, current))
                    _, nxt_page = await visit(nxt)
                    if nxt_page is not None and nxt_page.valid:
                        current, page, moved = nxt, nxt_page, True
                        break
                if not moved:
                    break
            return path

        roots_c = [u for u in (canonicalize(r) for r in roots) if u]
        walkers = fs.walkers_per_root or max(1, -(-fs.max_pages_per_root // max(1, fs.max_depth)))
        self._planned = len(roots_c) * min(fs.max_pages_per_root, walkers * (fs.max_depth + 1))
        keys = [(root, w) for root in roots_c for w in range(walkers)]
        paths = await asyncio.gather(*(walk(root, w) for root, w in keys))
        # Order of discovery is (root, walker, step): independent of fetch timing.
        budget = Budget(fs)
        best_depth: dict[str, int] = {}
        order: list[tuple[str, str, str | None]] = []
        for (root, _w), path in zip(keys, paths, strict=True):
            for url, depth, parent in path:
                if url in best_depth:
                    best_depth[url] = min(best_depth[url], depth)
                    continue
                if not budget.can_take(url, root):
                    continue
                _, page = await visit(url)
                budget.reserve(url, root)
                budget.settle(url, root, got_page=page is not None)
                best_depth[url] = depth
                order.append((url, root, parent))
        rows: list[dict[str, Any]] = []
        outcomes: Counter[str] = Counter()
        claimed: set[str] = set()
        duplicates = 0
        for url, root, parent in order:
            result, page = await visit(url)
            outcomes[str(result.outcome)] += 1
            row = build_row(result, page, root=root, depth=best_depth[url], parent=parent,
                            previous=self.previous.get(url))
            if row["canonical_url"] in claimed:
                duplicates += 1
                outcomes["duplicate"] += 1
                continue
            claimed.add(row["canonical_url"])
            rows.append(row)
        return CrawlResult(rows=rows, outcomes=outcomes, duplicates=duplicates)

    # ---------------------------------------------------------------- pieces
    def _invalid_root_row(self, raw: str) -> dict[str, Any]:
        result = FetchResult(url=raw, final_url=raw, outcome=Outcome.INVALID_URL, detail=f"not an http(s) URL: {raw[:200]!r}")
        return build_row(result, None, root=raw, depth=0, parent=None)

    async def _visit(self, url: str) -> tuple[FetchResult, ParsedPage | None]:
        prev = self.previous.get(url)
        validators = {"etag": prev.get("etag") or "", "last_modified": prev.get("last_modified") or ""} if prev else None
        result = await self.fetcher.fetch(url, validators=validators)
        page: ParsedPage | None = None
        if result.ok and result.status == 304 and prev is not None and prev.get("text") is not None:
            page = page_from_row(prev)
            result.detail = "not modified: the stored page was reused"
            self.revalidated += 1
        elif result.ok and result.status is not None:
            if self._wants_browser(result):
                result = await self._render(result)
            page = await self._parse(result)
        self._done += 1
        self._report()
        return result, page

    async def _parse(self, result: FetchResult) -> ParsedPage:
        url = canonicalize(result.final_url) or result.final_url
        args = (url, result.status or 0, result.headers, result.body)
        if self._pool is None:
            return _page_from_dict(_parse_job(*args))
        loop = asyncio.get_running_loop()
        return _page_from_dict(await loop.run_in_executor(self._pool, _parse_job, *args))

    def _wants_browser(self, result: FetchResult) -> bool:
        s = self.settings
        if not (s.browser_patterns or s.browser_auto) or "html" not in result.content_type:
            return False
        from crawl.browser import looks_js_only, matches_any

        if s.browser_patterns and matches_any(result.final_url, s.browser_patterns):
            return True
        return s.browser_auto and looks_js_only(result.body)

    async def _render(self, result: FetchResult) -> FetchResult:
        from crawl.browser import BrowserRenderer, SubResponse

        async with self._browser_lock:
            if self._browser is None:
                self._browser = BrowserRenderer(self.settings.browser_executable)
                await self._browser.__aenter__()

        async def subfetch(url: str, method: str, headers: dict[str, str]) -> SubResponse | None:
            # Every sub-resource goes through our fetcher: SSRF guard, robots, caps, WARC.
            if method.upper() not in ("GET", "HEAD"):
                return None
            sub = await self.fetcher.fetch(url, any_content_type=True)
            if not sub.ok or sub.status is None:
                return None
            return SubResponse(status=sub.status, headers=_decoded_headers(sub.headers), body=sub.body, url=sub.final_url)

        main = SubResponse(status=result.status or 200, headers=_decoded_headers(result.headers), body=result.body,
                           url=result.final_url)
        rendered = await self._browser.render(result.final_url, subfetch, main=main)
        if rendered.outcome != "ok":
            result.detail = f"browser render failed ({rendered.outcome}: {rendered.detail}); kept the raw HTML"
            return result
        result.body = rendered.html.encode("utf-8")
        result.headers = {**result.headers, "content-type": "text/html; charset=utf-8"}
        result.headers.pop("content-encoding", None)
        result.mode = "browser"
        return result

    def _report(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last_report < self.settings.progress_every_s:
            return
        self._last_report = now
        elapsed = max(now - self._started, 1e-9)
        rate = self._done / elapsed
        remaining = max(self._planned - self._done, 0)
        info = {
            "done": self._done,
            "planned": self._planned,
            "rate_per_s": round(rate, 2),
            "eta_s": round(remaining / rate, 1) if rate > 0 else None,
            "outcomes": dict(self.fetcher.counts),
        }
        if self.progress is not None:
            self.progress(info)
        else:
            log.info("crawl: %(done)d/%(planned)d pages, %(rate_per_s).1f/s, eta %(eta_s)ss", info)
