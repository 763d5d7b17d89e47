"""Filter and dataset assets: scored_trajectories, sft_dataset, rl_dataset.

The filters themselves are pure functions in ``filters/``; the dataset builders live in
``train/``. These assets read the previous stage's Parquet, call them, and make every drop
visible: one funnel from crawled pages to training records, as a table and a chart.
"""

import asyncio
import hashlib
import json
import time
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import dagster as dg
import polars as pl
from pydantic import Field

from assets.metadata import counter_md, counts_md, fail_if_llm_unusable, llm_metadata, md_table, preview_md
from assets.recipe import RecipeResource
from assets.resources import BenchmarksResource, LLMResource, ModelsResource, StorageResource
from assets.trajectories import trajectories
from crawl.drop_reasons import (
    HELD_OUT_FOR_RL,
    NOT_SAMPLED,
    NOT_SELECTED,
    STYLE_NOT_IN_RECIPE,
    UNEXPLAINED_INVALID,
    prefixed,
)
from distill.agent.trajectory import STYLES, Trajectory, read_trajectories, trajectories_frame
from distill.answer_judge import JudgeItem, judge_answers
from distill.gates import GATES
from distill.records import write_table
from filters.contamination import match_key
from filters.dedup import DedupSettings
from filters.funnel import Funnel
from filters.funnel_chart import funnel_png, png_markdown
from filters.pipeline import STAGES, FilterSettings, run_filters
from filters.rules import RuleSettings
from filters.voting import VoteSettings
from train.sft_select import DEFAULT_SELECTION, SELECTION_RULES, Selection, effort_stats, select_rollouts

GROUP = "datasets"
OWNERS = ["team:seekforge-data"]

# mypy joins dtype classes (pl.String) and instances (pl.List(...)) to object.
SCORED_EXTRA = pl.Schema({  # type: ignore[arg-type]
    "keep": pl.Boolean, "reasons": pl.List(pl.String), "stage_dropped": pl.String, "vote_share": pl.Float64,
    "f1": pl.Float64, "em": pl.Float64, "judge_correct": pl.Boolean, "judge_reason": pl.String,
    "benchmark_match": pl.String, "correct": pl.Boolean, "rule_correct": pl.Boolean, "answer_span": pl.String,
})
SPLIT_SCHEMA = pl.Schema({"question_id": pl.String, "split": pl.String})
#: datasets/sft_selection.parquet: every kept rollout of the SFT split in the recipe's styles, its effort and
#: whether sft_dataset's ``select`` let it through.
SELECTION_SCHEMA = pl.Schema({"id": pl.String, "question_id": pl.String, "style": pl.String, "correct": pl.Boolean,
                              "tool_calls": pl.Int32, "completion_tokens": pl.Int64, "prompt_tokens": pl.Int64,
                              "selected": pl.Boolean})


class ScoreConfig(dg.Config):
    f1_threshold: float = Field(default=0.8, description="Besides the answer-span rule (cover-EM of the stated answer), "
                                                          "a rollout is correct when its whole answer's F1 against the "
                                                          "reference (max over aliases) reaches this.")
    metric: Literal["hotpotqa", "deepresearcher"] = Field(default="hotpotqa",
                                                          description="hotpotqa (official) | deepresearcher")
    correctness: Literal["enforce", "record"] = Field(
        default="enforce", description="enforce: wrong answers are dropped (the rules, or the judge when on) | "
                                       "record: DEMO ONLY, kept with their scores.")
    judge: Literal["on", "off"] = Field(default="off", description="on: ask the `judge` role whether each final answer "
                                        "means the reference (WebDancer's correctness filter); off: the rules only.")
    min_vote_share: float = Field(default=0.5, description="Majority voting: an answer needs more than this share "
                                                           "of its question's rollouts.")
    min_tool_calls: int = 1
    max_failed_tool_share: float = Field(default=0.5, description="Validity: a rollout is dropped as tool_failures "
                                         "when more than this share of its tool calls failed, or when none brought "
                                         "content; 1.0 drops only rollouts where nothing came back.")
    max_tool_calls: int = 50
    max_ngram_repeats: int = Field(default=4, description="Any 10-word sequence may occur at most this often.")
    near_duplicate_threshold: float = Field(default=0.8, description="Jaccard of word 5-shingle sets (MinHash LSH "
                                                                     "proposes the pairs) at or above which a later "
                                                                     "trajectory duplicates a kept one.")

    def filter_settings(self) -> FilterSettings:
        enforce = self.correctness == "enforce"
        rules = RuleSettings(min_tool_calls=self.min_tool_calls, max_tool_calls=self.max_tool_calls,
                             max_failed_tool_share=self.max_failed_tool_share,
                             max_ngram_repeats=self.max_ngram_repeats, f1_threshold=self.f1_threshold,
                             metric=self.metric)
        voting = VoteSettings(min_share=self.min_vote_share, require_reference=enforce,
                              metric=self.metric)
        stages = tuple(s for s in STAGES if enforce or s != "correctness")
        return FilterSettings(rules=rules, voting=voting, dedup=DedupSettings(threshold=self.near_duplicate_threshold),
                              stages=stages)


def _read(path: Path, what: str) -> pl.DataFrame:
    if not path.exists():
        raise dg.Failure(f"{what} is missing ({path}); materialize it first")
    return pl.read_parquet(path)


def _upstream_funnel(storage: StorageResource, questions_rolled_out: int) -> Funnel:
    """Pages -> QA candidates -> qa_pool -> questions rolled out, from the files upstream assets wrote.

    The ``qa_candidates`` stage merges both generators' drops, so each reason is shown behind
    its generator's name (``crawlqa:judge_reject``): a display prefix, the reason after it is
    a declared constant (:func:`crawl.drop_reasons.prefixed`)."""
    funnel = Funnel()
    pages = sorted(storage.path("web_pages").glob("*.parquet"))
    if pages:
        df = pl.concat([pl.read_parquet(p, columns=["valid", "invalid_reason"]) for p in pages])
        bad = Counter(r or UNEXPLAINED_INVALID for r in df.filter(~pl.col("valid"))["invalid_reason"].to_list())
        funnel.add_stage("pages", df.height, bad)
    drops: Counter[str] = Counter()
    candidates = 0
    for origin in ("crawlqa", "e2hqa"):
        kept = storage.path("qa", f"{origin}_pairs.parquet")
        dropped = storage.path("qa", f"{origin}_drops.parquet")
        if kept.exists() and dropped.exists():
            d = pl.read_parquet(dropped)
            candidates += pl.read_parquet(kept).height + d.height
            drops.update(prefixed(origin, r) for r in d["reason"].to_list())  # "crawlqa:judge_reject": display only
    if candidates:
        funnel.add_stage("qa_candidates", candidates, drops)
    pool_path, pool_drops = storage.path("qa", "qa_pool.parquet"), storage.path("qa", "qa_pool_drops.parquet")
    if pool_path.exists() and pool_drops.exists():
        pool, d = pl.read_parquet(pool_path), pl.read_parquet(pool_drops)
        # Deduplication, then each hardness / uniqueness gate as its own stage (distill/gates.py).
        gate_stages = [f"gate_{g}" for g in GATES]
        ran = {f"gate_{g}" for raw in (pool["gates"].drop_nulls() if "gates" in pool.columns else [])
               for g in json.loads(raw)}  # the gates whose verdicts the kept questions carry
        n = pool.height + d.height
        for stage in ["qa_pool", *gate_stages]:
            here = d.filter(~pl.col("stage").is_in(gate_stages)) if stage == "qa_pool" else d.filter(pl.col("stage") == stage)
            if stage != "qa_pool" and stage not in ran and not here.height:
                continue
            funnel.add_stage(stage, n, Counter(here["reason"].to_list()))
            n -= here.height
        if questions_rolled_out < pool.height:
            funnel.add_stage("rolled_out", pool.height, {NOT_SAMPLED: pool.height - questions_rolled_out})
    return funnel


def _judge(storage: StorageResource, llm: LLMResource, trajs: list[Trajectory]) -> tuple[dict[str, Any], dict[str, Any]]:
    items = [JudgeItem(t.id, t.question, t.reference, tuple(t.aliases), t.final_answer)
             for t in trajs if t.reference and t.finish_reason == "answer"]
    if not items:
        return {}, {}
    with llm.session(storage) as session:
        async def go() -> tuple[Any, dict[str, Any]]:
            async with session.client() as client:
                return await judge_answers(client, items), client.stats_dict()

        verdicts, stats = asyncio.run(go())
    return {v.id: v for v in verdicts}, stats


@dg.asset(
    group_name=GROUP, kinds={"python", "parquet"}, owners=OWNERS,
    deps=[*trajectories],
    description="Every rollout of every style with its scores (F1/EM, judge verdict, vote share) and filter verdict: "
                "validity, repetition, bounds, correctness, majority voting, near-duplicates, benchmark "
                "contamination. Nothing is deleted: `keep`, `reasons` and `stage_dropped` say what happened.",
)
def scored_trajectories(context: dg.AssetExecutionContext, config: ScoreConfig, storage: StorageResource,
                        llm: LLMResource, benchmarks: BenchmarksResource) -> dg.MaterializeResult:
    started = time.monotonic()
    frames = [_read(storage.path("trajectories", f"{s}.parquet"), f"trajectories/{s}") for s in STYLES]
    trajs = [t for f in frames for t in read_trajectories(f)]
    context.log.info(f"scoring {len(trajs)} rollouts of {len({t.question_id for t in trajs})} questions")

    index = benchmarks.index()

    # The judge is asked about the rollouts that passed contamination (the first filter stage).
    verdicts: dict[str, Any] = {}
    stats: dict[str, Any] = {}

    def judge(clean: list[Trajectory]) -> dict[str, bool]:
        if config.judge == "on":
            got, used = _judge(storage, llm, clean)
            verdicts.update(got)
            stats.update(used)
        return {i: v.correct for i, v in verdicts.items() if v.correct is not None}

    result = run_filters(trajs, config.filter_settings(), judge=judge,
                         benchmark=index.match if index is not None else None)

    rows = []
    for t, d in zip(trajs, result.decisions, strict=True):
        m = result.matches.get(t.question)
        v = verdicts.get(t.id)
        # The judge decides when it gave a verdict; otherwise the rule (answer span cover-EM, or F1).
        judged = v.correct if v is not None else None
        correct = t.finish_reason == "answer" and (judged if judged is not None else bool(d.rule_correct))
        rows.append({
            "keep": d.keep, "reasons": list(d.reasons), "stage_dropped": d.stage_dropped, "vote_share": d.vote_share,
            "f1": d.f1, "em": d.em, "judge_correct": v.correct if v else None,
            "judge_reason": v.reason if v else None, "benchmark_match": m.question if m else None,
            "correct": correct, "rule_correct": d.rule_correct, "answer_span": d.answer_span,
        })
    df = pl.concat([trajectories_frame(trajs), pl.DataFrame(rows, schema=SCORED_EXTRA)], how="horizontal") \
        if trajs else pl.concat([trajectories_frame([]), SCORED_EXTRA.to_frame()], how="horizontal")
    write_table(df, storage.path("filters", "scored_trajectories.parquet"))

    funnel = _upstream_funnel(storage, len({t.question_id for t in trajs}))
    funnel.add_stage("rollouts", len(trajs), {})
    funnel = funnel.then(result.funnel)
    write_table(pl.DataFrame(funnel.to_rows()), storage.path("filters", "funnel.parquet"))
    fail_if_llm_unusable(stats, "scored_trajectories")
    chart = funnel_png(funnel, storage.path("filters", "funnel.png"))
    kept = df.filter(pl.col("keep"))
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": df.height,
            "kept": kept.height,
            "kept_by_style": counts_md(kept, "style", "kept"),
            "funnel": dg.MetadataValue.md(funnel.to_markdown()),
            "funnel_chart": dg.MetadataValue.md(png_markdown(chart)),
            "drops_by_stage": counts_md(df.filter(~pl.col("keep")), "stage_dropped", "dropped"),
            "drop_reasons": counter_md(Counter(r for rs in df["reasons"].to_list() for r in rs)),
            "correctness": "enforced" if config.correctness == "enforce" else "recorded only (DEMO ONLY)",
            "judge": config.judge,
            # polars types Series.mean() as any Python literal.
            "mean_f1": round(float(df["f1"].mean() or 0.0), 4) if df.height else 0.0,  # type: ignore[arg-type]
            "decontamination": (f"on: {len(index)} benchmark questions from {len(benchmarks.files)} file(s)"
                                if index is not None else "off (explicit)"),
            "benchmark_questions": len(index) if index is not None else 0,
            "preview": preview_md(df.with_columns(pl.col("reasons").list.join(", ")),
                                  ["style", "question", "final_answer", "reference", "f1", "keep", "reasons"], width=60),
            **(llm_metadata(stats, time.monotonic() - started) if stats else {"seconds": round(time.monotonic() - started, 1)}),
        },
    )


class SFTDatasetConfig(dg.Config):
    rl_fraction: float = Field(default=0.3, description="Share of questions held out for RL (by a hash of the "
                                                        "question id, so the split is stable across runs).")
    split_salt: str = "seekforge-split-v1"
    min_rl_questions: int = Field(default=0, description="Hold out at least this many questions for RL (the lowest "
                                                         "hashes), never all of them; for tiny runs.")
    max_length: int = Field(default=8192, description="Longer tokenized conversations are rejected (counted).")
    min_rows: int = Field(default=1, description="Fewer SFT records than this fails the blocking check.")
    select: Selection = Field(default=DEFAULT_SELECTION, description="Which of a question's kept rollouts (after the "
                              "recipe's styles) reach SFT: all | fewest_tool_calls (DeepDive: the correct rollout with "
                              "the fewest tool calls teaches better) | shortest (fewest completion tokens). The last "
                              "two keep one per question; the others are counted as not_selected.")


def question_split(question_ids: list[str], rl_fraction: float, salt: str, min_rl: int = 0,
                   texts: Mapping[str, str] | None = None) -> dict[str, str]:
    """``sft`` or ``rl`` per question: a hash, not a random draw, so new questions never move old ones.
    ``min_rl`` lowers the threshold until that many questions are held out (at most all but one),
    which is again a function of the question set alone. With ``texts`` (question id -> text) the
    hash is of the normalised text, so two ids asking the same question land on the same side:
    otherwise the RL set could hold, under another id, a question SFT trained on."""
    def key(q: str) -> str:
        return match_key(texts[q]) if texts is not None and texts.get(q) else q

    groups: dict[str, list[str]] = {}
    for q in sorted(set(question_ids)):
        groups.setdefault(key(q), []).append(q)
    hashes = {g: int.from_bytes(hashlib.sha256(f"{salt}\x00{g}".encode()).digest()[:8], "big") / 2**64 for g in groups}
    rl = {g for g, h in hashes.items() if h < rl_fraction}
    want = min(min_rl, max(0, len(hashes) - 1))
    if len(rl) < want:
        rl = set(sorted(hashes, key=hashes.__getitem__)[:want])
    return {q: "rl" if g in rl else "sft" for g, qs in groups.items() for q in qs}


def _funnel_through(storage: StorageResource, extra: Funnel | None = None) -> Funnel:
    """scored_trajectories' funnel (pages -> filters) continued by this asset's own stages."""
    path = storage.path("filters", "funnel.parquet")
    funnel = Funnel.from_rows(pl.read_parquet(path).to_dicts()) if path.exists() else Funnel()
    return funnel.then(extra)


@dg.asset(
    group_name=GROUP, kinds={"python", "parquet", "huggingface"}, owners=OWNERS,
    deps=[scored_trajectories],
    check_specs=[dg.AssetCheckSpec("masks_cover_observations", asset="sft_dataset", blocking=True,
                                   description="Every observation token has label -100; every assistant token is trained."),
                 dg.AssetCheckSpec("enough_rows", asset="sft_dataset", blocking=True)],
    description="TRL conversational SFT records (`messages` with assistant tool calls and `tool` observations, plus "
                "`tools`) from the kept trajectories of the SFT questions in the recipe's styles, and a tokenized variant "
                "with labels -100 on "
                "everything that is not model output. Saved with `datasets` and as Parquet, with a dataset card.",
)
def sft_dataset(context: dg.AssetExecutionContext, config: SFTDatasetConfig, storage: StorageResource,
                models: ModelsResource, recipe: RecipeResource) -> dg.MaterializeResult:
    from train.base_model import load_tokenizer
    from train.dataset_card import CardInfo, render_card
    from train.sft_data import mask_report, save_sft_dataset, sft_records, tokenize_sft

    scored = _read(storage.path("filters", "scored_trajectories.parquet"), "scored_trajectories")
    split = question_split(scored["question_id"].to_list(), config.rl_fraction, config.split_salt,
                           config.min_rl_questions, texts=dict(zip(scored["question_id"].to_list(),
                                                                    scored["question"].to_list(), strict=True)))
    write_table(pl.DataFrame(list(split.items()), schema=SPLIT_SCHEMA, orient="row"),
                storage.path("datasets", "question_split.parquet"))
    kept = scored.filter(pl.col("keep"))
    in_sft = kept.filter(pl.col("question_id").map_elements(lambda q: split[q] == "sft", return_dtype=pl.Boolean)) \
        if kept.height else kept
    styles = recipe.style_names()
    in_styles = in_sft.filter(pl.col("style").is_in(styles))
    candidates = read_trajectories(in_styles.select(trajectories_frame([]).columns))
    trajs = select_rollouts(candidates, config.select,
                            correct=dict(zip(in_styles["id"].to_list(), in_styles["correct"].to_list(), strict=True)))
    write_table(_selection_table(in_styles, {t.id for t in trajs}), storage.path("datasets", "sft_selection.parquet"))
    effort = [effort_stats(candidates).row("kept (in the recipe's styles)"), effort_stats(trajs).row("selected")]
    records = sft_records(trajs)
    base = models.base_model_path(storage)
    tokenizer = load_tokenizer(base)
    tokenized = tokenize_sft(records, tokenizer, config.max_length)
    report = mask_report(tokenized.rows, tokenizer, records)
    stage = Funnel()
    stage.add_stage("sft_split", kept.height, {HELD_OUT_FOR_RL: kept.height - in_sft.height})
    stage.add_stage("sft_styles", in_sft.height, {STYLE_NOT_IN_RECIPE: in_sft.height - in_styles.height})
    stage.add_stage("sft_select", len(candidates), {NOT_SELECTED: len(candidates) - len(trajs)})
    stage.add_stage("sft_records", len(records), Counter(r["reason"] for r in tokenized.rejected))
    out_dir = storage.path("datasets", "sft")
    info = CardInfo(name="seekforge-sft", kind="sft", rows=len(tokenized.rows),
                    sources=dict(Counter(t.source_format for t in trajs)),
                    styles=dict(Counter(t.style for t in trajs)), models=sorted({t.model for t in trajs}),
                    funnel_markdown=(funnel := _funnel_through(storage, stage)).to_markdown(),
                    selection=config.select, selection_rule=SELECTION_RULES[config.select], selection_effort=effort)
    paths = save_sft_dataset(records, tokenized, out_dir, render_card(info))
    write_table(pl.DataFrame(funnel.to_rows()), storage.path("datasets", "sft_funnel.parquet"))
    chart = funnel_png(funnel, storage.path("datasets", "sft_funnel.png"), title="pages to SFT records")
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": len(tokenized.rows),
            "records": len(records),
            "rejected_too_long": len(tokenized.rejected),
            "funnel": dg.MetadataValue.md(funnel.to_markdown()),
            "funnel_chart": dg.MetadataValue.md(png_markdown(chart)),
            "preview": dg.MetadataValue.md(_sft_preview(records)),
            "by_style": counter_md(Counter(t.style for t in trajs), key="style"),
            "recipe": recipe.name,
            "styles": ", ".join(styles),
            "select": config.select,
            "selection_rule": SELECTION_RULES[config.select],
            "selection_effort": dg.MetadataValue.md(md_table(effort)),
            "questions": len({t.question_id for t in trajs}),
            "split": counter_md(Counter(split.values()), key="split", label="questions"),
            "base_model": str(base),
            "masks": dg.MetadataValue.json(report.to_dict()),
            "path": dg.MetadataValue.path(str(out_dir)),
            "files": dg.MetadataValue.md(md_table([{"what": k, "path": str(v)} for k, v in paths.items()])),
            "dataset_card": dg.MetadataValue.md(render_card(info)),
        },
        check_results=[
            dg.AssetCheckResult(check_name="masks_cover_observations", passed=report.ok,
                                metadata=report.to_dict()),
            dg.AssetCheckResult(check_name="enough_rows", passed=len(tokenized.rows) >= config.min_rows,
                                metadata={"rows": len(tokenized.rows), "required": config.min_rows}),
        ],
    )


def _selection_table(in_styles: pl.DataFrame, selected: set[str]) -> pl.DataFrame:
    """Per kept rollout: its tool calls and tokens and whether ``select`` kept it (the record behind the
    metadata's means, and what a person reads to see why one rollout of a question won)."""
    df = in_styles.select([c for c in SELECTION_SCHEMA.names() if c != "selected"])
    chosen = pl.col("id").is_in(pl.Series(sorted(selected), dtype=pl.String))
    return df.with_columns(chosen.alias("selected")).cast(SELECTION_SCHEMA)


def _sft_preview(records: list[dict[str, Any]], n: int = 3, width: int = 160) -> str:
    """The first records as a person would skim them: question, turns, answer."""
    rows = []
    for r in records[:n]:
        msgs = r.get("messages") or []
        question = next((m["content"] for m in msgs if m["role"] == "user"), "")
        answer = next((m["content"] for m in reversed(msgs) if m["role"] == "assistant"), "")
        rows.append({"question": " ".join(question.split())[:width], "turns": sum(m["role"] == "assistant" for m in msgs),
                     "tool_calls": sum(len(m.get("tool_calls") or []) for m in msgs),
                     "last_turn": " ".join(str(answer).split())[-width:]})
    return md_table(rows)


class RLDatasetConfig(dg.Config):
    min_rollouts: int = Field(default=2, description="Questions with fewer rollouts have no meaningful pass rate.")
    min_rows: int = Field(default=1, description="Fewer RL prompts than this fails the blocking check.")
    difficulty_filter: bool = Field(default=True, description="Drop questions every rollout solved or every rollout "
                                                              "failed (DAPO dynamic sampling, done in advance).")


def _path_entities(storage: StorageResource, question_ids: set[str]) -> dict[str, list[str]]:
    """Per question, the entities its QA pair was built along (:func:`train.rl_data.path_entities`), read
    from the QA tables (every pair, so E2HQA ancestors resolve) and the crawled pages' titles; none for
    questions without a QA record (imported trajectories)."""
    from train.rl_data import path_entities

    tables = [storage.path("qa", f"{origin}_pairs.parquet") for origin in ("crawlqa", "e2hqa")]
    records = {r["id"]: r for t in tables if t.exists() for r in pl.read_parquet(t).to_dicts()}
    if not records:
        return {}
    titles: dict[str, str] = {}
    for page_file in sorted(storage.path("web_pages").glob("*.parquet")):
        pages = pl.read_parquet(page_file, columns=["canonical_url", "title"]).drop_nulls()
        titles.update(zip(pages["canonical_url"].to_list(), pages["title"].to_list(), strict=True))
    return {q: path_entities(q, records, titles) for q in sorted(question_ids)}


@dg.asset(
    group_name=GROUP, kinds={"python", "parquet", "huggingface"}, owners=OWNERS,
    deps=[scored_trajectories, sft_dataset],
    check_specs=[dg.AssetCheckSpec("enough_rows", asset="rl_dataset", blocking=True)],
    description="RL prompts (in the recipe's prompt style) of the held-out questions: question, answer, aliases and "
                "pass rate over all their rollouts; all-correct and all-wrong questions removed (DAPO dynamic sampling); disjoint from SFT.",
)
def rl_dataset(config: RLDatasetConfig, storage: StorageResource, recipe: RecipeResource) -> dg.MaterializeResult:
    from train.dataset_card import CardInfo, render_card
    from train.rl_data import PATH_ENTITIES, rl_records, save_rl_dataset

    scored = _read(storage.path("filters", "scored_trajectories.parquet"), "scored_trajectories")
    split = dict(_read(storage.path("datasets", "question_split.parquet"), "sft_dataset's question split").iter_rows())
    sft_questions = {q for q, s in split.items() if s == "sft"}
    clean = scored.filter(pl.col("benchmark_match").is_null())
    trajs = read_trajectories(clean.select(trajectories_frame([]).columns))
    correct = dict(zip(clean["id"].to_list(), clean["correct"].to_list(), strict=True))
    entities = _path_entities(storage, {t.question_id for t in trajs})
    records, drops = rl_records(trajs, correct, sft_questions, min_rollouts=config.min_rollouts,
                                difficulty_filter=config.difficulty_filter, prompt_style=recipe.rl_prompt_style.value,
                                entities=entities)
    stage = Funnel()
    stage.add_stage("rl_questions", len({t.question_id for t in trajs}), drops)
    out_dir = storage.path("datasets", "rl")
    info = CardInfo(name="seekforge-rl", kind="rl", rows=len(records),
                    sources=dict(Counter(t.source_format for t in trajs)),
                    styles=dict(Counter(t.style for t in trajs)), models=sorted({t.model for t in trajs}),
                    funnel_markdown=stage.to_markdown())
    save_rl_dataset(records, out_dir, render_card(info))
    rates = [r["pass_rate"] for r in records]
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": len(records),
            "recipe": recipe.name,
            "prompt_style": recipe.rl_prompt_style.value,
            "drops": counter_md(drops),
            "rollouts_excluded_as_benchmark": scored.height - clean.height,
            "prompts_with_path_entities": sum(1 for r in records if r[PATH_ENTITIES]),
            "entity_reward_alpha": recipe.entity_reward_alpha,
            "pass_rate": dg.MetadataValue.md(md_table([{"mean": round(sum(rates) / len(rates), 3) if rates else None,
                                                        "min": min(rates, default=None),
                                                        "max": max(rates, default=None)}])),
            "path": dg.MetadataValue.path(str(out_dir)),
            "preview": dg.MetadataValue.md(md_table([{k: r[k] for k in ("question", "answer", "pass_rate")}
                                                     for r in records[:10]])),
        },
        check_results=[
            dg.AssetCheckResult(check_name="enough_rows", passed=len(records) >= config.min_rows,
                                metadata={"rows": len(records), "required": config.min_rows}),
        ],
    )
