"""Schemas of the QA tables, declared once, and their Parquet I/O."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import polars as pl

from crawl.drop_reasons import check

QA_SCHEMA = pl.Schema(
    # mypy joins dtype classes (pl.String) and instances (pl.List(...)) to object.
    {  # type: ignore[arg-type]
        "id": pl.String,
        "origin": pl.String,  # crawlqa | e2hqa
        "question": pl.String,
        "answer": pl.String,
        "aliases": pl.List(pl.String),
        "type": pl.String,  # count | multi_hop | intersection | comparison | temporal | evolved
        "hops": pl.Int32,  # documents the question needs
        "difficulty": pl.String,
        "round": pl.Int32,  # E2HQA round (0 for CRAWLQA)
        "root_id": pl.String,  # E2HQA: the seed pair; CRAWLQA: itself
        "parent_id": pl.String,
        "entity_replaced": pl.String,
        "evidence_urls": pl.List(pl.String),
        "judge_verdict": pl.String,
        "generator_model": pl.String,
        "prompt_id": pl.String,
        "prompt_version": pl.String,
        "seed": pl.Int64,
        "sample_index": pl.Int32,
        "chain_id": pl.String,
        "gates": pl.String,  # JSON verdicts of the hardness / uniqueness gates (distill/gates.py); null: not gated
    }
)

DROP_SCHEMA = pl.Schema(
    {"origin": pl.String, "stage": pl.String, "reason": pl.String, "question": pl.String, "answer": pl.String,
     "record_json": pl.String}
)


def qa_frame(rows: Iterable[Mapping[str, Any]]) -> pl.DataFrame:
    cols = QA_SCHEMA.names()
    data = [{c: r.get(c) for c in cols} for r in rows]
    return pl.DataFrame(data, schema=QA_SCHEMA, orient="row") if data else QA_SCHEMA.to_frame()


def drops_frame(origin: str, drops: Iterable[Mapping[str, Any]]) -> pl.DataFrame:
    """The ``*_drops.parquet`` table; every ``reason`` must be declared (crawl/drop_reasons.py), else
    :class:`crawl.drop_reasons.UndeclaredReason` before anything is written."""
    drops = list(drops)
    for d in drops:
        check(d.get("reason"))
    rows = [
        {"origin": origin, "stage": d.get("stage"), "reason": d.get("reason"), "question": d.get("question"),
         "answer": d.get("answer"), "record_json": json.dumps(dict(d), ensure_ascii=False, default=str)}
        for d in drops
    ]
    return pl.DataFrame(rows, schema=DROP_SCHEMA, orient="row") if rows else DROP_SCHEMA.to_frame()


def write_table(df: pl.DataFrame, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    df.write_parquet(tmp)
    tmp.replace(path)
    return path
