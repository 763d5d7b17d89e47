"""The ``web_pages`` table: schema declared once, Parquet via polars.

One row per URL the crawl tried, successful or not, so every fetch outcome is
accounted for. Downstream stages must read pages with :func:`valid_pages`, never the
raw table: invalid rows (errors, bot blocks, near-empty pages) are kept only for the
record.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import polars as pl

LINK_DTYPE = pl.Struct({"url": pl.String, "kind": pl.String, "text": pl.String})

WEB_PAGES_SCHEMA = pl.Schema(
    # mypy joins dtype classes (pl.String) and instances (pl.List(...)) to object.
    {  # type: ignore[arg-type]
        "url": pl.String,  # canonical form of the URL as discovered
        "canonical_url": pl.String,  # canonical final URL after redirects (unique)
        "source": pl.String,  # arxiv | github | wikipedia | web
        "kind": pl.String,  # adapter page kind (article, abs, atom_feed, repo, api_repo ...)
        "root": pl.String,  # crawl root this page was reached from
        "depth": pl.Int32,  # link hops from the root
        "parent_url": pl.String,
        "outcome": pl.String,  # fetch outcome (crawl.fetcher.Outcome)
        "status": pl.Int32,
        "valid": pl.Boolean,
        "invalid_reason": pl.String,  # a declared drop reason (crawl/drop_reasons.py: stages fetch, page)
        "invalid_detail": pl.String,  # what varies for that reason (exception message, API error code)
        "title": pl.String,
        "text": pl.String,  # clean main content as markdown
        "fields_json": pl.String,  # site-specific structured fields, JSON
        "links": pl.List(LINK_DTYPE),
        "n_links": pl.Int32,
        "content_type": pl.String,
        "content_hash": pl.String,  # sha256 of the decoded body
        "etag": pl.String,  # validators for conditional re-crawls
        "last_modified": pl.String,
        "revalidated": pl.Boolean,  # a 304 answered a conditional request: the stored page was reused
        "fetch_mode": pl.String,  # http | replay | archive | browser
        "fetched_at": pl.String,
        "attempts": pl.Int32,
        "elapsed_s": pl.Float64,
        "redirects": pl.List(pl.String),
        "detail": pl.String,
    }
)


def pages_frame(rows: Iterable[Mapping[str, Any]]) -> pl.DataFrame:
    """Build a frame with exactly :data:`WEB_PAGES_SCHEMA` (missing keys are null)."""
    cols = WEB_PAGES_SCHEMA.names()
    data = [{c: row.get(c) for c in cols} for row in rows]
    return pl.DataFrame(data, schema=WEB_PAGES_SCHEMA, orient="row") if data else WEB_PAGES_SCHEMA.to_frame()


def write_pages(df: pl.DataFrame, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    df.select(WEB_PAGES_SCHEMA.names()).cast(WEB_PAGES_SCHEMA).write_parquet(tmp)
    tmp.replace(path)  # readers never see a half-written file
    return path


def read_pages(paths: str | Path | Iterable[str | Path]) -> pl.DataFrame:
    items = [paths] if isinstance(paths, (str, Path)) else list(paths)
    frames = [pl.read_parquet(p) for p in items if Path(p).exists()]
    if not frames:
        return WEB_PAGES_SCHEMA.to_frame()
    # Corpora written before a column existed read as nulls in it.
    frames = [f.with_columns([pl.lit(None, dtype=t).alias(c) for c, t in WEB_PAGES_SCHEMA.items() if c not in f.columns])
              .select(WEB_PAGES_SCHEMA.names()) for f in frames]
    return pl.concat([f.cast(WEB_PAGES_SCHEMA) for f in frames], how="vertical")


def valid_pages(df: pl.DataFrame) -> pl.DataFrame:
    return df.filter(pl.col("valid"))


def fields_of(row: Mapping[str, Any]) -> dict[str, Any]:
    raw = row.get("fields_json") or "{}"
    return json.loads(raw)
