"""One call to crawl: set up the source (live, replay server, archive), run, clean up.

This is the entry point notebooks, the Dagster asset and the benchmark share, so the
replay server's lifetime, the WARC writer and the fetcher are always wired the same
way. ``mode="replay"`` starts a replay server on a free loopback port for the
duration of the crawl and allow-lists exactly that address.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from crawl.crawler import Crawler, CrawlResult, CrawlSettings, ProgressFn
from crawl.fetcher import Fetcher, FetchSettings
from crawl.netguard import NetworkPolicy
from crawl.replay import ReplayServer
from crawl.warc import WarcIndex, WarcWriter


@dataclass(frozen=True)
class SourceSettings:
    """Where pages come from.

    ``mode``: ``http`` (live web), ``replay`` (serve ``archives`` over loopback HTTP and
    crawl through it), ``archive`` (read ``archives`` in-process). ``allow_networks``
    is the SSRF allow-list for non-public addresses (empty in production).
    ``replay_url``: an already running replay server for ``archives`` (one shared by
    several processes, or a fault-injecting proxy in front of one); empty = start one
    on a free loopback port. Its host is allow-listed, since the operator named it.
    """

    mode: Literal["http", "replay", "archive"] = field(default="http", metadata={"help": "http (live web) | replay "
                                                      "(archives over loopback HTTP) | archive (archives in-process)"})
    archives: tuple[str, ...] = field(default=(), metadata={"help": "WARC files for replay / archive modes."})
    allow_networks: tuple[str, ...] = field(default=(), metadata={"help": "Non-public IPs / CIDRs / hosts the crawler "
                                                                          "may reach (SSRF allow-list)."})
    replay_url: str = field(default="", metadata={"help": "replay mode: an already running replay server for "
                                                          "`archives` (shared, or a fault-injecting proxy); empty = "
                                                          "one per step."})

    def allowed_networks(self) -> tuple[str, ...]:
        """The SSRF allow-list, plus the host of ``replay_url`` when replay mode names one."""
        if self.mode != "replay" or not self.replay_url:
            return self.allow_networks
        from urllib.parse import urlsplit

        return (*self.allow_networks, urlsplit(self.replay_url).hostname or "")


async def crawl_async(
    roots: Sequence[str],
    *,
    source: SourceSettings,
    fetch: FetchSettings,
    crawl: CrawlSettings,
    warc_path: str | Path | None = None,
    progress: ProgressFn | None = None,
    replay_url: str | None = None,
    index: WarcIndex | None = None,
    previous: Mapping[str, Mapping[str, Any]] | None = None,
) -> CrawlResult:
    """Crawl inside a running event loop. In replay/archive modes, ``index`` (built
    from ``source.archives`` when not given) also tells the frontier which links the
    snapshot holds, so dead links are counted rather than requested."""
    policy = NetworkPolicy.from_strings(source.allowed_networks())
    writer = WarcWriter(warc_path) if warc_path else None
    try:
        if index is None and source.mode in ("archive", "replay") and source.archives:
            index = WarcIndex(list(source.archives))
        archive = index if source.mode == "archive" else None
        known = index.__contains__ if index is not None else None
        async with Fetcher(fetch, policy=policy, mode=source.mode, replay_url=replay_url, archive=archive,
                           warc_writer=writer, retry_replay=bool(source.replay_url)) as fetcher:
            result = await Crawler(fetcher, crawl, progress=progress, known_urls=known, previous=previous).crawl(roots)
        if writer is not None:
            result.warc_records, result.warc_failures, result.warc_last_error = \
                writer.records, writer.failures, writer.last_error
        return result
    finally:
        if writer is not None:
            writer.close()


def run_crawl(
    roots: Sequence[str],
    *,
    source: SourceSettings,
    fetch: FetchSettings | None = None,
    crawl: CrawlSettings | None = None,
    warc_path: str | Path | None = None,
    progress: ProgressFn | None = None,
    previous: Mapping[str, Mapping[str, Any]] | None = None,
) -> CrawlResult:
    """Synchronous wrapper: crawl ``roots`` and return rows plus outcome counts.
    ``previous``: rows of the last crawl by URL, for conditional requests (see :class:`Crawler`)."""
    fetch = fetch or FetchSettings()
    crawl = crawl or CrawlSettings()
    if source.mode == "replay":
        if not source.archives:
            raise ValueError("replay mode needs at least one WARC archive to serve")
        if source.replay_url:
            return asyncio.run(crawl_async(roots, source=source, fetch=fetch, crawl=crawl, warc_path=warc_path,
                                           progress=progress, replay_url=source.replay_url, previous=previous))
        with ReplayServer(list(source.archives)) as server:
            src = SourceSettings(mode="replay", archives=source.archives,
                                 allow_networks=(*source.allow_networks, server.host))
            return asyncio.run(crawl_async(roots, source=src, fetch=fetch, crawl=crawl, warc_path=warc_path,
                                           progress=progress, replay_url=server.url, index=server.index,
                                           previous=previous))
    return asyncio.run(crawl_async(roots, source=source, fetch=fetch, crawl=crawl, warc_path=warc_path, progress=progress,
                                   previous=previous))
