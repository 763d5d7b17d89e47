"""Crawl stage assets: seeds -> web_pages (per source) -> search_index."""


import time
from pathlib import Path
from typing import Any, Literal

import dagster as dg
import polars as pl
from pydantic import Field

from assets.metadata import counter_md, counts_md, preview_md
from assets.resources import BenchmarksResource, CrawlerResource, StorageResource
from crawl.corpus import pages_frame, read_pages, write_pages
from crawl.frontier import FrontierSettings
from crawl.search_index import SearchIndex
from crawl.session import run_crawl
from crawl.validity import check_validity, is_structured_kind

SOURCES = ("arxiv", "github", "wikipedia")
source_partitions = dg.StaticPartitionsDefinition(list(SOURCES))
GROUP = "crawl"
OWNERS = ["team:seekforge-data"]


def _default_seeds() -> dict[str, list[str]]:
    from crawl.miniweb import SEED_URLS

    return {k: list(v) for k, v in SEED_URLS.items()}


class CrawlSeedsConfig(dg.Config):
    """Root URLs per source. Defaults to the embedded mini-web's roots."""

    seeds: dict[str, list[str]] = Field(default_factory=_default_seeds)


class WebPagesConfig(dg.Config):
    """Frontier policy for each source's crawl."""

    strategy: Literal["bfs", "random_walk"] = Field(default="bfs", description="bfs | random_walk")
    max_depth: int = Field(default=3, description="Link hops from a root.")
    max_pages_per_root: int = 60
    max_pages_per_site: int = 500
    same_site: bool = Field(default=True, description="Follow only links within the root's site.")
    follow_kinds: list[str] = Field(default_factory=lambda: ["article"], description="Link kinds to follow.")
    seed: int = Field(default=0, description="RNG seed for random walks (deterministic crawls).")
    conditional: bool = Field(default=True, description="Re-crawls send If-None-Match / If-Modified-Since for pages "
                                                         "of the last crawl; a 304 reuses the stored page.")

    def frontier(self) -> FrontierSettings:
        return FrontierSettings(
            strategy=self.strategy,
            max_depth=self.max_depth,
            max_pages_per_root=self.max_pages_per_root,
            max_pages_per_site=self.max_pages_per_site,
            same_site=self.same_site,
            follow_kinds=tuple(self.follow_kinds),
            seed=self.seed,
        )


@dg.asset(
    group_name=GROUP,
    kinds={"python", "parquet"},
    owners=OWNERS,
    description="Root URLs to crawl, per source (arxiv, github, wikipedia), from run config.",
)
def crawl_seeds(config: CrawlSeedsConfig, storage: StorageResource, benchmarks: BenchmarksResource) -> dg.MaterializeResult:
    unknown = sorted(set(config.seeds) - set(SOURCES))
    if unknown:
        raise dg.Failure(f"crawl_seeds: unknown source(s) {unknown}; use {list(SOURCES)}")
    # Decontamination reads these files only after the rollouts, hours later: a missing file
    # is found here, before any crawl work.
    try:
        files = benchmarks.active_files()
    except ValueError as exc:
        raise dg.Failure(f"crawl_seeds: {exc}") from exc
    absent = [f for f in files if not Path(f).expanduser().is_file()]
    if absent:
        raise dg.Failure(f"crawl_seeds: benchmark file(s) {absent} do not exist (resources.benchmarks.config.files); "
                         f"download them (README: decontamination) or write decontamination: 'off' explicitly")
    df = pl.DataFrame(
        [{"source": s, "url": u} for s in SOURCES for u in config.seeds.get(s, [])],
        schema={"source": pl.String, "url": pl.String},
    )
    path = storage.path("crawl_seeds.parquet")
    df.write_parquet(path)
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": df.height,
            "by_source": counts_md(df, "source", "seeds"),
            "preview": preview_md(df, ["source", "url"], n=20, width=120),
            "path": dg.MetadataValue.path(str(path)),
            "decontamination": f"on: {len(files)} benchmark file(s)" if files else "off",
        }
    )


def _check_results(df: pl.DataFrame) -> list[dg.AssetCheckResult]:
    valid = df.filter(pl.col("valid"))
    dupes = df.height - df["canonical_url"].n_unique() if df.height else 0
    bad = []
    for row in valid.iter_rows(named=True):
        reason = check_validity(row["status"] or 0, row["title"] or "", row["text"] or "",
                                structured=is_structured_kind(row["kind"] or ""))
        if row["outcome"] != "ok" or not (200 <= (row["status"] or 0) < 300) or reason is not None:
            bad.append(f"{row['canonical_url']} ({reason or row['outcome']}/{row['status']})")
    return [
        dg.AssetCheckResult(check_name="non_empty", passed=valid.height > 0,
                            metadata={"valid_pages": valid.height, "rows": df.height}),
        dg.AssetCheckResult(check_name="unique_canonical_urls", passed=dupes == 0, metadata={"duplicates": dupes}),
        dg.AssetCheckResult(check_name="no_invalid_among_valid", passed=not bad,
                            metadata={"offending": dg.MetadataValue.md("\n".join(f"- {b}" for b in bad[:20]) or "none")}),
    ]


def _revalidatable(path: Any) -> dict[str, dict[str, Any]]:
    """Rows of the last crawl whose server gave a validator (ETag / Last-Modified), by URL."""
    df = read_pages(path).filter(pl.col("valid") & (pl.col("etag").is_not_null() | pl.col("last_modified").is_not_null()))
    return {r["url"]: r for r in df.iter_rows(named=True)}


@dg.asset(
    group_name=GROUP,
    kinds={"python", "parquet", "warc"},
    owners=OWNERS,
    partitions_def=source_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    deps=[crawl_seeds],
    check_specs=[
        dg.AssetCheckSpec("non_empty", asset="web_pages", blocking=True, description="At least one valid page."),
        dg.AssetCheckSpec("unique_canonical_urls", asset="web_pages", blocking=True, description="One row per canonical URL."),
        dg.AssetCheckSpec("no_invalid_among_valid", asset="web_pages", blocking=True,
                          description="No error / bot-block / empty page is marked valid."),
    ],
    description=(
        "One row per URL the crawler tried, per source: canonical URL, depth, root, fetch outcome, HTTP status, "
        "validity (+reason), title, clean markdown text, structured fields, typed out-links. Every response "
        "is archived to WARC. Invalid pages stay for accounting and are never used downstream."
    ),
)
def web_pages(
    context: dg.AssetExecutionContext, config: WebPagesConfig, storage: StorageResource, crawler: CrawlerResource
) -> dg.MaterializeResult:
    seeds = pl.read_parquet(storage.path("crawl_seeds.parquet"))
    keys = context.partition_keys
    frames: list[pl.DataFrame] = []
    outcomes_all: dict[str, int] = {}
    notes: list[str] = []
    warc_failed: list[str] = []
    started = time.monotonic()
    for key in keys:
        roots = seeds.filter(pl.col("source") == key)["url"].to_list()
        if not roots:
            context.log.warning(f"web_pages[{key}]: no seeds configured; writing an empty partition")
        warc_path = storage.path("warc", key, f"{context.run_id[:8]}-{int(time.time())}.warc.gz")
        previous = _revalidatable(storage.path("web_pages", f"{key}.parquet")) if config.conditional else {}

        def progress(info: dict[str, Any], key: str = key) -> None:
            context.log.info(f"web_pages[{key}]: {info['done']}/{info['planned']} pages, {info['rate_per_s']}/s, "
                             f"eta {info['eta_s']}s")

        result = run_crawl(
            roots,
            source=crawler.source_settings(),
            fetch=crawler.fetch_settings(),
            crawl=crawler.crawl_settings(config.frontier()),
            warc_path=warc_path if roots else None,
            progress=progress,
            previous=previous,
        )
        df = pages_frame(result.rows)
        write_pages(df, storage.path("web_pages", f"{key}.parquet"))
        frames.append(df)
        for k, v in result.outcomes.items():
            outcomes_all[k] = outcomes_all.get(k, 0) + v
        if result.warc_failures:
            warc_failed.append(f"{key}: {result.warc_failures} of {result.warc_failures + result.warc_records} "
                               f"exchanges (last: {result.warc_last_error})")
        notes.append(f"{key}: {df.height} rows ({int(df['valid'].sum()) if df.height else 0} valid) in {result.elapsed_s:.1f}s")
        context.log.info(f"web_pages[{key}]: {notes[-1]}; outcomes {dict(result.outcomes)}; WARC {warc_path}")
    df = pl.concat(frames) if frames else pages_frame([])
    if warc_failed:
        # The pages are saved above; the archive is not whole, so this crawl cannot be replayed.
        raise dg.Failure(f"web_pages: WARC records could not be written ({'; '.join(warc_failed)}), so the archive "
                         f"would not replay this crawl exactly; free disk space or fix the archive path and re-run.",
                         metadata={"warc_failures": dg.MetadataValue.md("\n".join(f"- {w}" for w in warc_failed))})
    elapsed = time.monotonic() - started
    valid = df.filter(pl.col("valid"))
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": df.height,
            "valid_pages": valid.height,
            "revalidated_304": int(df["revalidated"].fill_null(False).sum()) if df.height else 0,
            "partitions": dg.MetadataValue.md("\n".join(f"- {n}" for n in notes)),
            "by_source": counts_md(df, ["source", "valid"], "pages"),
            "by_depth": counts_md(df, "depth", "pages"),
            "by_status": counts_md(df, "status", "pages"),
            "fetch_outcomes": counter_md(outcomes_all, "outcome"),
            "invalid_reasons": counts_md(df.filter(~pl.col("valid")), "invalid_reason", "pages"),
            "pages_per_s": round(df.height / elapsed, 2) if elapsed > 0 else 0.0,
            "preview": preview_md(
                valid.with_columns(pl.col("text").str.len_chars().alias("chars")),
                ["source", "depth", "title", "canonical_url", "n_links", "chars"],
            ),
            "path": dg.MetadataValue.path(str(storage.path("web_pages"))),
        },
        check_results=_check_results(df),
    )


@dg.asset(
    group_name=GROUP,
    kinds={"python", "bm25"},
    owners=OWNERS,
    deps=[web_pages],
    check_specs=[dg.AssetCheckSpec("self_retrieval", asset="search_index",
                                   description="A page's title finds that page in the top 3 for >= 80% of pages.")],
    description="BM25 index (bm25s, Snowball stemming) over valid web_pages: the agent's offline `search` backend.",
)
def search_index(storage: StorageResource) -> dg.MaterializeResult:
    pages = read_pages(sorted(storage.path("web_pages").glob("*.parquet")))
    index = SearchIndex.build(pages)
    directory = index.save(storage.path("search_index", "bm25"))
    sample = index.docs.head(50)
    hits = sum(
        1 for url, title in zip(sample["url"], sample["title"], strict=True)
        if url in {h.url for h in index.search(title, k=3)}
    )
    rate = hits / sample.height if sample.height else 0.0
    examples = []
    for title in index.docs["title"].head(3):
        top = index.search(title, k=3)
        examples.append(f"**{title}** → " + "; ".join(f"{h.title} ({h.score:.1f})" for h in top))
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": len(index),
            "by_source": counts_md(index.docs, "source", "documents"),
            "example_queries": dg.MetadataValue.md("\n\n".join(examples)),
            "self_retrieval_rate": round(rate, 3),
            "path": dg.MetadataValue.path(str(directory)),
        },
        check_results=[dg.AssetCheckResult(check_name="self_retrieval", passed=rate >= 0.8,
                                           metadata={"rate": round(rate, 3), "sampled": sample.height})],
    )
