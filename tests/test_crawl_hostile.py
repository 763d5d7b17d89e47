"""A whole crawl through the hostile server: every bad endpoint ends as a recorded
reason, never a crash, and every good page of the same crawl is kept."""

from __future__ import annotations

import polars as pl
import pytest

import hostile_server as hs
from crawl.corpus import pages_frame
from crawl.crawler import CrawlSettings
from crawl.fetcher import FetchSettings
from crawl.frontier import FrontierSettings
from crawl.session import SourceSettings, run_crawl

SETTINGS = FetchSettings(
    user_agent="seekforge-test", per_host_delay_s=0.0, per_host_concurrency=8, total_concurrency=16,
    connect_timeout_s=1.0, read_timeout_s=1.0, total_timeout_s=1.5, max_redirects=5, max_bytes=2_000_000,
    max_retries=3, backoff_base_s=0.01, backoff_max_s=0.05, max_retry_after_s=3.0,
)
EXPECTED = {
    hs.HANG: "timeout",
    hs.TRICKLE: "timeout",
    hs.REDIRECT_LOOP_A: "redirect_loop",
    hs.BIG: "body_too_large",
    hs.BIG_NOLENGTH: "body_too_large",
    hs.GZIP_BOMB: "decompression_bomb",
    hs.PRIVATE_SECRET: "robots_disallowed",
    hs.REDIRECT_METADATA: "blocked_address",
    hs.REDIRECT_PRIVATE: "blocked_address",
    hs.IMAGE: "content_type_not_allowed",
}


@pytest.mark.timeout(120)
def test_crawl_through_hostile_server_keeps_every_good_page(hostile_server) -> None:  # type: ignore[no-untyped-def]
    root = hostile_server.url(hs.ok_path(0))
    result = run_crawl(
        [root],
        source=SourceSettings(mode="http", allow_networks=("127.0.0.1",)),
        fetch=SETTINGS,
        crawl=CrawlSettings(frontier=FrontierSettings(max_depth=25, max_pages_per_root=500, follow_kinds=("external", "article", "other"), same_site=False)),
    )
    df = pages_frame(result.rows)
    by_path = {u.split(str(hostile_server.port), 1)[1]: r for u, r in zip(df["url"], df.iter_rows(named=True), strict=True)}
    # Every good page /ok/0../ok/20 is fetched, valid, and has its text.
    for n in range(hs.OK_MAX + 1):
        row = by_path[hs.ok_path(n)]
        assert row["valid"], (n, row["invalid_reason"])
        assert f"Good page {n}" in row["title"]
    for path, outcome in EXPECTED.items():
        assert path in by_path, f"{path} was never attempted"
        row = by_path[path]
        assert row["outcome"] == outcome, (path, row["outcome"], row["detail"])
        assert row["valid"] is False and row["invalid_reason"] == outcome
    # Pages that came back but are not content are kept and marked invalid with the right reason.
    assert by_path[hs.CLOUDFLARE]["invalid_reason"] == "cloudflare_challenge"
    assert by_path[hs.TOO_MANY]["invalid_reason"] in ("http_error", "rate_limited")
    assert by_path[hs.RETRY_AFTER]["valid"] and by_path[hs.FLAKY_503]["valid"]
    assert by_path[hs.BAD_UTF8]["outcome"] == "ok"
    # Nothing was lost: one row per attempted URL, all outcomes accounted for.
    assert result.attempted == df.height + result.duplicates
    assert df["canonical_url"].is_unique().all()
    assert hostile_server.hits(hs.PRIVATE_SECRET) == 0
    assert not df.filter(pl.col("valid") & (pl.col("status") != 200)).height


@pytest.mark.browser
@pytest.mark.timeout(120)
def test_crawler_renders_javascript_only_page_through_its_own_fetcher(chromium, hostile_server, tmp_path) -> None:  # type: ignore[no-untyped-def]
    url = hostile_server.url(hs.JS_ONLY)
    plain = run_crawl([url], source=SourceSettings(mode="http", allow_networks=("127.0.0.1",)), fetch=SETTINGS,
                      crawl=CrawlSettings(frontier=FrontierSettings(max_depth=0)))
    assert plain.rows[0]["valid"] is False  # raw HTML: nothing but a script
    rendered = run_crawl(
        [url],
        source=SourceSettings(mode="http", allow_networks=("127.0.0.1",)),
        fetch=SETTINGS,
        crawl=CrawlSettings(frontier=FrontierSettings(max_depth=0), browser_auto=True),
        warc_path=tmp_path / "js.warc.gz",
    )
    row = rendered.rows[0]
    assert row["fetch_mode"] == "browser" and row["valid"], row["invalid_reason"]
    assert row["title"] == "Rendered by JavaScript"
    assert len(row["text"]) > 500
    # The page was fetched once, by our fetcher (the browser got it handed over).
    assert hostile_server.hits(hs.JS_ONLY) == 2  # one per crawl above
