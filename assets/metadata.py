"""Small helpers that turn tables into metadata a person can read in the Dagster UI."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import dagster as dg
import polars as pl


def _cell(value: Any, width: int = 80) -> str:
    text = "" if value is None else str(value)
    text = text.replace("|", "\\|").replace("\n", " ")
    return text if len(text) <= width else text[: width - 1] + "…"


def md_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str] | None = None, width: int = 80) -> str:
    if not rows:
        return "_(none)_"
    cols = list(columns or rows[0].keys())
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(_cell(r.get(c), width) for c in cols) + " |" for r in rows]
    return "\n".join(lines)


def counts_md(df: pl.DataFrame, by: str | list[str], label: str = "rows") -> dg.MetadataValue:
    """Markdown table of row counts grouped by ``by`` (nulls shown as '(none)')."""
    keys = [by] if isinstance(by, str) else by
    if df.height == 0:
        return dg.MetadataValue.md("_(empty)_")
    grouped = df.group_by(keys).agg(pl.len().alias(label)).sort([label, *keys], descending=[True] + [False] * len(keys))
    rows = [{k: ("(none)" if v is None else v) for k, v in r.items()} for r in grouped.iter_rows(named=True)]
    return dg.MetadataValue.md(md_table(rows))


def counter_md(counts: Mapping[str, int] | Iterable[tuple[str, int]], key: str = "reason", label: str = "count") -> dg.MetadataValue:
    items = counts.items() if isinstance(counts, Mapping) else counts
    rows = [{key: k, label: v} for k, v in sorted(items, key=lambda kv: (-kv[1], kv[0]))]
    return dg.MetadataValue.md(md_table(rows))


def preview_md(df: pl.DataFrame, columns: Sequence[str], n: int = 10, width: int = 80) -> dg.MetadataValue:
    return dg.MetadataValue.md(md_table(df.head(n).select(columns).to_dicts(), columns, width))


def llm_metadata(stats: dict[str, dict[str, Any]], elapsed: float) -> dict[str, Any]:
    """LLM calls, cache hits, tokens and cost of one step, overall and per role."""
    calls = sum(s["calls"] for s in stats.values())
    hits = sum(s["cache_hits"] for s in stats.values())
    rows = [{"role": r, **{k: v for k, v in s.items() if k not in ("failures", "last_error", "unusable")},
             "failures": ", ".join(f"{k}={v}" for k, v in s["failures"].items()) or "-"} for r, s in stats.items()]
    return {
        "llm_calls": calls,
        "llm_requests": sum(s["requests"] for s in stats.values()),
        "llm_cache_hit_rate": round(hits / calls, 4) if calls else 0.0,
        "llm_tokens": sum(s["prompt_tokens"] + s["completion_tokens"] for s in stats.values()),
        "llm_cost_usd": round(sum(s["cost_usd"] for s in stats.values()), 6),
        "llm_by_role": dg.MetadataValue.md(md_table(rows)),
        "seconds": round(elapsed, 1),
    }


def fail_if_llm_unusable(stats: dict[str, dict[str, Any]], step: str) -> None:
    """Stop the run when a role's every call failed: an empty output would look like a
    data result when it is an outage. Call it after the step wrote its drops, so the
    failed work stays recorded; nothing failed is cached, so a re-run retries it."""
    dead = {role: s for role, s in stats.items() if s.get("unusable")}
    if not dead:
        return
    parts = [f"role {role!r}: all {s['calls']} calls failed ("
             + ", ".join(f"{k}={v}" for k, v in s["failures"].items()) + f"); last: {s['last_error'][:300]}"
             for role, s in sorted(dead.items())]
    raise dg.Failure(f"{step}: no LLM call succeeded, so the endpoint is unusable. " + "; ".join(parts)
                     + ". Completed work is cached: fix the endpoint (or its key) and re-run.",
                     metadata={"unusable_roles": ", ".join(sorted(dead))})
