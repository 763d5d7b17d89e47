"""QA stage assets: crawlqa_pairs, e2hqa_pairs -> qa_pool."""

import asyncio
import time
from collections.abc import Sequence
from typing import Any, Literal

import dagster as dg
import polars as pl
from pydantic import Field

from assets.crawl import search_index, web_pages
from assets.metadata import counts_md, fail_if_llm_unusable, llm_metadata, md_table, preview_md
from assets.progress import StepProgress
from assets.resources import LLMResource, StorageResource
from assets.settings_fields import config_base, settings_from
from crawl.corpus import read_pages
from crawl.search_index import SearchIndex
from distill.chains import docs_and_graph, sample_chains
from distill.crawlqa import CrawlQASettings, generate_crawlqa
from distill.e2hqa import E2HSettings, generate_e2hqa
from distill.gates import GATES, GateSettings, run_gates
from distill.qa_pool import dedupe_questions
from distill.qa_rules import normalize_answer
from distill.records import drops_frame, qa_frame, write_table

GROUP = "qa"
OWNERS = ["team:seekforge-data"]


def _pages(storage: StorageResource) -> pl.DataFrame:
    return read_pages(sorted(storage.path("web_pages").glob("*.parquet")))


def _write_qa(storage: StorageResource, origin: str, records: list[dict[str, Any]],
              dropped: list[dict[str, Any]]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """``qa/<origin>_pairs.parquet`` and ``qa/<origin>_drops.parquet``: kept and dropped, side by side."""
    df, drops = qa_frame(records), drops_frame(origin, dropped)
    write_table(df, storage.path("qa", f"{origin}_pairs.parquet"))
    write_table(drops, storage.path("qa", f"{origin}_drops.parquet"))
    return df, drops


def _qa_checks(df: pl.DataFrame, known_urls: set[str]) -> list[dg.AssetCheckResult]:
    leaked = [q for q, a in zip(df["question"], df["answer"], strict=True)
              if normalize_answer(a) and f" {normalize_answer(a)} " in f" {normalize_answer(q)} "]
    unknown = sorted({u for urls in df["evidence_urls"].to_list() for u in (urls or []) if u not in known_urls})
    return [
        dg.AssetCheckResult(check_name="answer_not_in_question", passed=not leaked,
                            metadata={"leaked": len(leaked)}),
        dg.AssetCheckResult(check_name="unique_ids", passed=df["id"].is_unique().all() if df.height else True),
        dg.AssetCheckResult(check_name="evidence_urls_exist", passed=not unknown,
                            metadata={"unknown_urls": dg.MetadataValue.md("\n".join(f"- {u}" for u in unknown[:20]) or "none")}),
    ]


def _check_specs(asset: str) -> list[dg.AssetCheckSpec]:
    return [
        dg.AssetCheckSpec("answer_not_in_question", asset=asset, blocking=True),
        dg.AssetCheckSpec("unique_ids", asset=asset, blocking=True),
        dg.AssetCheckSpec("evidence_urls_exist", asset=asset, blocking=True,
                          description="Every evidence URL is a page of web_pages."),
    ]


class CrawlQAConfig(dg.Config):
    n_chains: int = Field(default=40, description="Page chains to write questions from.")
    hop_weights: dict[str, float] = Field(default_factory=lambda: {"1": 1.0, "2": 2.0, "3": 1.0},
                                          description="Relative frequency of chains of 1, 2, 3 documents.")
    samples_per_chain: int = Field(default=2, description="K samples per chain (distinct seeds).")
    judge: Literal["enforce", "record"] = Field(default="enforce", description="enforce | record (record keeps the "
                                                "verdict only: DEMO ONLY)")
    answer_space: Literal["free", "evidence_spans"] = Field(default="free", description="free | evidence_spans (answer constrained to names, numbers "
                                                         "and dates of the evidence: for very small models, demo)")
    max_chars_per_doc: int = 1500
    max_tokens: int = 400
    seed: int = 0


@dg.asset(
    group_name=GROUP, kinds={"python", "parquet", "llm"}, owners=OWNERS, deps=[web_pages],
    check_specs=_check_specs("crawlqa_pairs"),
    description="Multi-hop QA written by the teacher from chains of 1-3 linked valid pages (CRAWLQA), kept after rule "
                "checks (grounded, short entity answer, not leaked, no browsing talk, no error-page leftovers) and a "
                "strict LLM judge. Drops are kept with their reasons in qa/crawlqa_drops.parquet.",
)
def crawlqa_pairs(context: dg.AssetExecutionContext, config: CrawlQAConfig, storage: StorageResource, llm: LLMResource) -> dg.MaterializeResult:
    started = time.monotonic()
    docs, graph = docs_and_graph(_pages(storage))
    known = set(docs)
    chains = sample_chains(docs, graph, n=config.n_chains, hop_weights={int(k): v for k, v in config.hop_weights.items()},
                           seed=config.seed)
    settings = CrawlQASettings(samples_per_chain=config.samples_per_chain, judge=config.judge, seed=config.seed,
                               max_chars_per_doc=config.max_chars_per_doc, answer_space=config.answer_space,
                               max_tokens=config.max_tokens)
    with llm.session(storage) as session:
        async def go() -> tuple[Any, dict[str, Any]]:
            async with session.client() as client:
                return await generate_crawlqa(client, chains, settings, known,
                                             progress=StepProgress(context, "crawlqa_pairs", "samples")), \
                    client.stats_dict()

        out, stats = asyncio.run(go())
    records = [{**r, "origin": "crawlqa", "round": 0, "root_id": r["id"]} for r in out.records]
    df, drops = _write_qa(storage, "crawlqa", records, out.drops)
    fail_if_llm_unusable(stats, "crawlqa_pairs")
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": df.height,
            "chains": len(chains),
            "samples": len(chains) * config.samples_per_chain,
            "dropped": drops.height,
            "judge_mode": config.judge,
            "answer_space": config.answer_space,
            "by_type": counts_md(df, "type", "pairs"),
            "by_hops": counts_md(df, ["hops", "difficulty"], "pairs"),
            "drop_reasons": counts_md(drops, ["stage", "reason"], "drops"),
            "preview": preview_md(df, ["type", "hops", "question", "answer"], width=100),
            **llm_metadata(stats, time.monotonic() - started),
        },
        check_results=_qa_checks(df, known),
    )


class E2HQAConfig(dg.Config):
    rounds: int = Field(default=2, description="Maximum evolution rounds per seed question.")
    max_seeds: int = Field(default=20, description="Single-hop CRAWLQA pairs to evolve.")
    judge: Literal["enforce", "record"] = Field(default="enforce", description="enforce | record (DEMO ONLY)")
    search_k: int = 3
    seed: int = 0
    seed_file: str = Field(default="", description="Optional JSONL of simple QA (question, answer, aliases) to evolve "
                                                   "besides the single-hop CRAWLQA pairs.")


def _seed_file_pairs(path: str) -> list[dict[str, Any]]:
    import hashlib
    import json
    from pathlib import Path

    rows = []
    for i, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines()):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as exc:
            raise dg.Failure(f"e2hqa seed_file {path}: line {i + 1} is not JSON ({exc})") from exc
        if not isinstance(rec, dict) or not rec.get("question") or not rec.get("answer"):
            raise dg.Failure(f"e2hqa seed_file {path}: line {i + 1} needs 'question' and 'answer'")
        rid = hashlib.sha256(f"seed\x00{rec['question']}\x00{rec['answer']}".encode()).hexdigest()[:16]
        rows.append({"id": rid, "question": rec["question"], "answer": str(rec["answer"]),
                     "aliases": list(rec.get("aliases") or []), "evidence_urls": [], "type": rec.get("type", "seed"),
                     "hops": 1, "chain_id": None})
    return rows


@dg.asset(
    group_name=GROUP, kinds={"python", "parquet", "llm"}, owners=OWNERS, deps=[crawlqa_pairs, search_index],
    check_specs=_check_specs("e2hqa_pairs"),
    description="Easy-to-hard evolution (E2HQA): single-hop pairs whose entities are replaced, round by round, by "
                "descriptions found through the search index; the answer never changes, every round is validated.",
)
def e2hqa_pairs(context: dg.AssetExecutionContext, config: E2HQAConfig, storage: StorageResource, llm: LLMResource) -> dg.MaterializeResult:
    started = time.monotonic()
    pages = _pages(storage)
    docs, _ = docs_and_graph(pages)
    index = SearchIndex.load(storage.path("search_index", "bm25"))
    crawlqa = pl.read_parquet(storage.path("qa", "crawlqa_pairs.parquet"))
    seeds = crawlqa.filter(pl.col("hops") == 1).sort("id").head(config.max_seeds).to_dicts()
    if config.seed_file:
        seeds += _seed_file_pairs(config.seed_file)

    def docs_for(urls: Sequence[str]) -> list[dict[str, str]]:
        return [{"title": docs[u].title, "text": docs[u].text[:1200]} for u in urls if u in docs]

    settings = E2HSettings(rounds=config.rounds, search_k=config.search_k, judge=config.judge, seed=config.seed)
    with llm.session(storage) as session:
        async def go() -> tuple[Any, dict[str, Any]]:
            async with session.client() as client:
                return await generate_e2hqa(client, index.search, seeds, settings, docs_for,
                                            progress=StepProgress(context, "e2hqa_pairs", "seeds")), \
                    client.stats_dict()

        out, stats = asyncio.run(go())
    by_id = {s["id"]: s for s in seeds}
    records = []
    for r in out.records:
        root = by_id[r["root_id"]]
        records.append({**r, "origin": "e2hqa", "type": root["type"], "hops": root["hops"] + r["round"],
                        "difficulty": ["easy", "medium", "hard"][min(r["round"], 2)], "chain_id": root["chain_id"]})
    df, drops = _write_qa(storage, "e2hqa", records, out.drops)
    fail_if_llm_unusable(stats, "e2hqa_pairs")
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": df.height,
            "seeds": len(seeds),
            "seed_file": config.seed_file or "(none)",
            "dropped_chains": drops.height,
            "judge_mode": config.judge,
            "by_round": counts_md(df, "round", "pairs"),
            "drop_reasons": counts_md(drops, ["stage", "reason"], "drops"),
            "preview": preview_md(df, ["round", "entity_replaced", "question", "answer"], width=100),
            **llm_metadata(stats, time.monotonic() - started),
        },
        check_results=_qa_checks(df, set(docs) | set(index.docs["url"].to_list())),
    )


_GateFields: Any = config_base("GateFields", dg.Config, GateSettings, exclude=("role", "judge_role"))


class GateConfig(_GateFields):
    """One origin's hardness and uniqueness gates (:class:`distill.gates.GateSettings`)."""


class QAPoolConfig(dg.Config):
    gates: dict[str, GateConfig] = Field(default_factory=dict, description="Hardness and uniqueness gates per origin "
                                         "(crawlqa, e2hqa): closed_book / with_evidence / uniqueness, each enforce | "
                                         "record | off. An origin left out is not gated (said in metadata).")


def _evidence_lookup(pages: pl.DataFrame) -> Any:
    """``record -> [(title, text), ...]`` of its evidence URLs among the valid crawled pages."""
    valid = pages.filter(pl.col("valid"))
    by_url = {u: (t or u, x or "") for u, t, x in valid.select("canonical_url", "title", "text").iter_rows()}

    def evidence(rec: dict[str, Any]) -> list[tuple[str, str]]:
        return [by_url[u] for u in (rec.get("evidence_urls") or []) if u in by_url]

    return evidence


@dg.asset(
    group_name=GROUP, kinds={"python", "parquet", "llm"}, owners=OWNERS, deps=[crawlqa_pairs, e2hqa_pairs],
    check_specs=_check_specs("qa_pool"),
    description="Union of CRAWLQA and E2HQA pairs with near-duplicates removed (MinHash LSH + rapidfuzz), then the "
                "hardness and uniqueness gates per origin (closed-book pass must fail, with-evidence pass must "
                "succeed, wrong answers judged for a second valid answer); every removed pair is in "
                "qa/qa_pool_drops.parquet with its stage and reason, every verdict in the pair's `gates` JSON.",
)
def qa_pool(context: dg.AssetExecutionContext, config: QAPoolConfig, storage: StorageResource,
            llm: LLMResource) -> dg.MaterializeResult:
    started = time.monotonic()
    frames = [pl.read_parquet(storage.path("qa", f"{n}.parquet")) for n in ("crawlqa_pairs", "e2hqa_pairs")]
    union = pl.concat(frames, how="diagonal_relaxed").sort(["origin", "round", "id"])
    kept, dropped = dedupe_questions(union.to_dicts())
    settings = {origin: settings_from(GateSettings, cfg) for origin, cfg in config.gates.items()}
    stats: dict[str, Any] = {}
    pages = _pages(storage)
    if any(s.active for s in settings.values()):
        evidence = _evidence_lookup(pages)
        with llm.session(storage) as session:
            async def go() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
                async with session.client() as client:
                    out = await run_gates(client, kept, evidence, settings,
                                          progress=StepProgress(context, "qa_pool/gates", "questions"))
                    stats.update(client.stats_dict())
                    return out

            kept, gate_drops = asyncio.run(go())
        dropped += gate_drops
        fail_if_llm_unusable(stats, "qa_pool")
    df = qa_frame(kept)
    drops = drops_frame("qa_pool", dropped)
    write_table(df, storage.path("qa", "qa_pool.parquet"))
    write_table(drops, storage.path("qa", "qa_pool_drops.parquet"))
    known = set(pages["canonical_url"].to_list())
    gated = df.filter(pl.col("gates").is_not_null())
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": df.height,
            "input_pairs": union.height,
            "by_origin": counts_md(df, ["origin", "round"], "pairs"),
            "by_type": counts_md(df, "type", "pairs"),
            "drop_reasons": counts_md(drops, ["stage", "reason"], "drops"),
            "gates": dg.MetadataValue.md(md_table([{"origin": o, **{g: getattr(s, g) for g in GATES},
                                                    "samples": s.samples,
                                                    "max_closed_book_correct": s.max_closed_book_correct}
                                                   for o, s in settings.items()]) if settings else
                                         "off: no origin is gated (qa_pool config `gates`)"),
            "closed_book_difficulty": dg.MetadataValue.md(md_table(_difficulty_rows(gated))),
            "preview": preview_md(df, ["origin", "type", "hops", "question", "answer"], width=100),
            **(llm_metadata(stats, time.monotonic() - started) if stats else {}),
        },
        check_results=_qa_checks(df, known),
    )


def _difficulty_rows(gated: pl.DataFrame) -> list[dict[str, Any]]:
    """Per origin: how often the closed-book pass failed (the measured difficulty), from the verdicts."""
    import json

    rows: dict[str, list[float]] = {}
    for origin, raw in gated.select("origin", "gates").iter_rows():
        d = (json.loads(raw).get("closed_book") or {}).get("difficulty")
        if d is not None:
            rows.setdefault(origin, []).append(float(d))
    return [{"origin": o, "questions": len(v), "mean_difficulty": round(sum(v) / len(v), 3)} for o, v in rows.items()]
