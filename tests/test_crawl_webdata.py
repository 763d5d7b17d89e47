"""Crawls that follow real links in the recorded 2014 Wikipedia archive."""

from __future__ import annotations

import polars as pl
import pytest

from crawl.corpus import pages_frame
from crawl.crawler import CrawlSettings
from crawl.fetcher import FetchSettings
from crawl.frontier import FrontierSettings
from crawl.session import SourceSettings, run_crawl
from tests.webdata import archive

ROOT = "https://en.wikipedia.org/wiki/Andy_Roddick"
FAST = FetchSettings(per_host_delay_s=0.0, per_host_concurrency=8, max_retries=0)


def crawl(mode: str, frontier: FrontierSettings):  # type: ignore[no-untyped-def]
    return run_crawl(
        [ROOT],
        source=SourceSettings(mode=mode, archives=(str(archive("wikipedia_2014")),)),
        fetch=FAST,
        crawl=CrawlSettings(frontier=frontier),
    )


@pytest.fixture(scope="module")
def bfs_over_http():  # type: ignore[no-untyped-def]
    # Through the replay server: real HTTP on 127.0.0.1, as the embedded default runs.
    return crawl("replay", FrontierSettings(max_depth=4, max_pages_per_root=300, follow_kinds=("article",)))


def test_andy_roddick_reaches_40_pages_within_4_hops(bfs_over_http) -> None:  # type: ignore[no-untyped-def]
    df = pages_frame(bfs_over_http.rows)
    ok = df.filter(pl.col("valid"))
    assert ok["canonical_url"].n_unique() >= 40
    assert ok["depth"].max() <= 4
    assert df["canonical_url"].is_unique().all()
    assert ok.filter(pl.col("depth") == 0)["canonical_url"].to_list() == [ROOT]
    # Only article links were followed: no File:/Special:/Talk: pages were fetched.
    assert not df["canonical_url"].str.contains(r"/wiki/(File|Special|Talk|Help|Category|Template):").any()
    # Pages the archive lacks are recorded with a reason, not dropped silently.
    assert set(df["outcome"].unique()) <= {"ok", "not_in_archive"}
    assert (df.filter(pl.col("outcome") == "not_in_archive")["invalid_reason"] == "not_in_archive").all()
    assert bfs_over_http.attempted == df.height + bfs_over_http.duplicates


def test_each_row_has_provenance(bfs_over_http) -> None:  # type: ignore[no-untyped-def]
    df = pages_frame(bfs_over_http.rows).filter(pl.col("valid"))
    deeper = df.filter(pl.col("depth") > 0)
    assert deeper["parent_url"].is_in(df["canonical_url"].to_list()).all()
    assert (df["root"] == ROOT).all() and (df["fetch_mode"] == "replay").all()
    assert df["content_hash"].str.len_chars().min() == 64 and (df["status"] == 200).all()


def test_bfs_is_deterministic_and_mode_independent(bfs_over_http) -> None:  # type: ignore[no-untyped-def]
    again = crawl("archive", FrontierSettings(max_depth=4, max_pages_per_root=300))
    first = [(r["canonical_url"], r["depth"]) for r in bfs_over_http.rows]
    assert [(r["canonical_url"], r["depth"]) for r in again.rows] == first


def test_caps_and_random_walk_determinism() -> None:
    capped = crawl("archive", FrontierSettings(max_depth=4, max_pages_per_root=25))
    assert len(capped.rows) == 25
    walk = FrontierSettings(strategy="random_walk", max_depth=4, max_pages_per_root=30, seed=7)
    a, b = crawl("archive", walk), crawl("archive", walk)
    assert [r["canonical_url"] for r in a.rows] == [r["canonical_url"] for r in b.rows]
    assert 5 <= len(a.rows) <= 30
    other = crawl("archive", FrontierSettings(strategy="random_walk", max_depth=4, max_pages_per_root=30, seed=8))
    assert [r["canonical_url"] for r in other.rows] != [r["canonical_url"] for r in a.rows]
