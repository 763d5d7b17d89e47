"""QA synthesis (CRAWLQA, E2HQA, qa_pool) against a scripted OpenAI-compatible server."""

from __future__ import annotations

import asyncio
import json
import re
from collections import Counter
from itertools import pairwise
from pathlib import Path

import polars as pl
import pytest

from crawl.corpus import pages_frame
from crawl.crawler import CrawlSettings
from crawl.fetcher import FetchSettings
from crawl.frontier import FrontierSettings
from crawl.miniweb import ARCHIVE_PATH, SEED_URLS
from crawl.session import SourceSettings, run_crawl
from distill.chains import difficulty, docs_and_graph, sample_chains
from distill.crawlqa import CrawlQASettings, generate_crawlqa
from distill.e2hqa import candidate_entities
from distill.jsonparse import extract_json_object
from distill.llm.cache import RequestCache
from distill.llm.client import LLMClient
from distill.llm.roles import ROLES, RoleConfig
from distill.qa_pool import dedupe_questions
from scripted_teacher import scripted_teacher

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def corpus() -> pl.DataFrame:
    rows = []
    for roots in SEED_URLS.values():
        rows += run_crawl(roots, source=SourceSettings(mode="archive", archives=(str(ARCHIVE_PATH),)),
                          fetch=FetchSettings(per_host_delay_s=0), crawl=CrawlSettings(frontier=FrontierSettings(max_depth=3))).rows
    return pages_frame(rows)


def test_extract_json_object() -> None:
    assert extract_json_object('Sure! ```json\n{"a": 1, "b": [1,2,],}\n``` done') == {"a": 1, "b": [1, 2]}
    assert extract_json_object('{"q": "braces } in {strings}", "n": 2}') == {"q": "braces } in {strings}", "n": 2}
    assert extract_json_object('{"question": "Which year') is None
    assert extract_json_object("no json here") is None and extract_json_object(None) is None
    assert extract_json_object('[1, 2] then {"x": true}') == {"x": True}


def test_difficulty_follows_webwalker() -> None:
    assert [difficulty([d]) for d in (0, 2, 3, 4, 6)] == ["easy", "easy", "medium", "hard", "hard"]
    assert [difficulty(ds) for ds in ([1, 2], [2, 3], [3, 4], [4, 4])] == ["easy", "medium", "hard", "hard"]


def test_chains_follow_links_between_valid_pages(corpus: pl.DataFrame) -> None:
    docs, graph = docs_and_graph(corpus)
    assert "https://en.wikipedia.org/wiki/Grey_Sound" not in docs  # a 404 page is never evidence
    chains = sample_chains(docs, graph, n=20, hop_weights={1: 1, 2: 1, 3: 1}, seed=3)
    assert len(chains) == 20 and len({c.id for c in chains}) == 20
    assert {c.hops for c in chains} == {1, 2, 3}
    for c in chains:
        for a, b in pairwise(c.urls):
            assert b in graph[a]
    again = sample_chains(docs, graph, n=20, hop_weights={1: 1, 2: 1, 3: 1}, seed=3)
    assert [c.id for c in again] == [c.id for c in chains]
    assert any(len({d.source for d in c.docs}) > 1 for c in chains), "cross-source chains are expected"


def _client(fake, tmp_path: Path) -> LLMClient:  # type: ignore[no-untyped-def]
    roles = {r: RoleConfig(name=r, base_url=fake.base_url, model="scripted") for r in ROLES}
    return LLMClient(roles, cache=RequestCache(tmp_path / "cache.sqlite"), max_retries=1, backoff_base_s=0.01,
                     backoff_max_s=0.02, max_concurrency=8)


def test_crawlqa_accounts_for_every_sample_and_reruns_free(fake_llm, corpus: pl.DataFrame, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    fake_llm.set_default(scripted_teacher)
    docs, graph = docs_and_graph(corpus)
    chains = sample_chains(docs, graph, n=12, hop_weights={1: 1, 2: 2, 3: 1}, seed=0)
    settings = CrawlQASettings(samples_per_chain=3)

    async def go():  # type: ignore[no-untyped-def]
        async with _client(fake_llm, tmp_path) as client:
            return await generate_crawlqa(client, chains, settings, set(docs)), client.stats_dict()

    out, stats = asyncio.run(go())
    assert len(out.records) + len(out.drops) == 36
    reasons = Counter(d["reason"] for d in out.drops)
    garbage = sum(1 for d in out.drops if d["reason"] == "llm_error" and d["error"] == "invalid_response")
    assert garbage > 0  # the server's garbage: retried, then dropped (the error code beside the reason)
    assert reasons["malformed_json"] > 0  # a truncated JSON answer
    assert reasons["mentions_browsing"] > 0  # "According to this page, ..."
    assert out.records, reasons
    for r in out.records:
        assert r["answer"] not in r["question"] and r["judge_verdict"] == "accept"
        assert all(u in docs for u in r["evidence_urls"]) and r["prompt_version"]
    first_requests = fake_llm.count()
    assert stats["teacher"]["calls"] == 36

    out2, stats2 = asyncio.run(go())  # a new client on the same cache: nothing is paid twice
    assert [r["id"] for r in out2.records] == [r["id"] for r in out.records]
    # Only calls that failed (never cached) are tried again: 1 try + 1 retry each.
    assert fake_llm.count() - first_requests == 2 * garbage
    assert stats2["teacher"]["cache_hits"] == 36 - garbage


def test_entities_and_dedup() -> None:
    ents = candidate_entities("In which town was the founder of Vardel Systems born?", "Orsund")
    assert ents[0] == "Vardel Systems"
    assert candidate_entities("Who founded Orsund Rowing Club?", "Orsund") == []  # never a span holding the answer
    recs = [
        {"id": "a", "question": "Which year was the Tidewell library released?", "answer": "2021"},
        {"id": "b", "question": "Which year was the Tidewell library released ?", "answer": "2021"},
        {"id": "c", "question": "Which year was the Tidewell library released?", "answer": "2019"},
        {"id": "d", "question": "Who designed the Skerry language?", "answer": "Rune Ahlgren"},
    ]
    kept, drops = dedupe_questions(recs)
    assert [r["id"] for r in kept] == ["a", "c", "d"]
    assert drops[0]["id"] == "b" and drops[0]["duplicate_of"] == "a"


@pytest.mark.e2e
@pytest.mark.timeout(1500)
def test_refresh_job_through_qa_pool_and_free_rerun(scripted_pipeline) -> None:  # type: ignore[no-untyped-def]
    """The main job end to end with every role on a scripted endpoint; a second run of the
    QA assets on unchanged inputs sends zero requests; then train_job on what it made."""
    run = scripted_pipeline
    data = run.data
    # The multiprocess executor production uses: every step in its own process.
    assert 'Launching subprocess for "web_pages"' in run.refresh_log
    assert 'Launching subprocess for "sft_dataset"' in run.refresh_log
    qa = data / "qa"
    pool = pl.read_parquet(qa / "qa_pool.parquet")
    assert pool.height > 0 and pool["id"].is_unique().all()
    assert set(pool["origin"]) <= {"crawlqa", "e2hqa"}
    crawlqa = pl.read_parquet(qa / "crawlqa_pairs.parquet")
    drops = pl.read_parquet(qa / "crawlqa_drops.parquet")
    assert crawlqa.height + drops.height == 16 * 3  # demo.yaml: 16 chains x 3 samples, all accounted for
    _check_trajectories(data)
    _check_datasets(data)
    assert run.requests_first > 0
    assert run.requests_after_rerun == run.requests_first, \
        "re-materializing QA with unchanged inputs must not call the LLM"
    assert pool.equals(run.pool_first)
    assert pl.read_parquet(data / "trajectories" / "atomic.parquet").height > 0
    _check_training(data)
    # train_job again on unchanged datasets: no step trains or evaluates again.
    for asset in ("sft_model", "rl_model", "agent_eval"):
        assert re.search(rf"{asset}: [^\n]*unchanged: reusing the last", run.train_again_log), asset


def _check_training(data: Path) -> None:
    """train_job of the same data: SFT steps, GRPO steps whose rollouts called tools, the eval table."""
    sft = json.loads((data / "models" / "sft" / "train_report.json").read_text())
    assert sft["steps"] == 3 and sft["tokens_per_s"] > 0
    rl = json.loads((data / "models" / "rl" / "train_report.json").read_text())
    assert rl["steps"] == 2 and rl["tool_calls"] >= 4 and rl["tokens_per_s"] > 0
    # DAPO dynamic sampling: 2 steps x 1 group of 2, plus 2 rollouts per group drawn to refill a flat one.
    from train.dynamic_sampling import summary

    dapo = summary(rl["log_history"])
    assert dapo["steps"] == 2 and dapo["refill_rounds"] <= 2
    assert rl["rollouts"] == 2 * (2 + int(dapo["refill_groups"] or 0))
    assert "reward/alpha" in rl["metrics"] and (data / "models" / "rl" / "checkpoint" / "config.json").exists()
    table = pl.read_parquet(data / "eval" / "agent_eval.parquet")
    assert table.select("agent", "benchmark").rows() == [(c, b) for c in ("base", "rl")
                                                         for b in ("held_out", "mini_bench", "overall")]
    assert table.filter(pl.col("benchmark") != "overall")["questions"].to_list() == [1, 1, 1, 1]
    assert {"response_tokens_mean", "thinking_tokens_mean", "tool_calls_mean", "turns_mean"} <= set(table.columns)
    assert (data / "eval" / "agent_eval.png").read_bytes()[:4] == b"\x89PNG"
    assert pl.read_csv(data / "eval" / "agent_eval.csv").height == table.height
    split = set(pl.read_parquet(data / "datasets" / "question_split.parquet")["question_id"])
    rollouts = pl.read_parquet(data / "eval" / "agent_eval_rollouts.parquet")
    evaluated = set(rollouts.filter(pl.col("benchmark") == "held_out")["question_id"])
    assert evaluated and not evaluated & split  # held out from SFT and RL


def _check_trajectories(data: Path) -> None:
    """The agent stage of the same run: all three styles, real tools over the mini-web."""
    from distill.agent.trajectory import read_trajectories

    prompts = pl.read_parquet(data / "agent" / "atomic_prompts.parquet")
    assert prompts.height >= 20 and prompts["id"].is_unique().all()
    assert all(len(u) >= 2 for u in prompts["units"].to_list())
    pool = pl.read_parquet(data / "qa" / "qa_pool.parquet")
    for style in ("short", "long", "atomic"):
        df = pl.read_parquet(data / "trajectories" / f"{style}.parquet")
        assert df.height == min(4, pool.height), style  # demo.yaml: 4 questions x 1 sample
        trajs = read_trajectories(df)
        assert {t.finish_reason for t in trajs} == {"answer"}, [t.error for t in trajs]
        for t in trajs:
            assert [s.action for s in t.steps] == ["search", "visit", "answer"], style
            # visit read a real replayed mini-web page and the summarizer quoted it
            assert "The useful information in https://" in t.steps[1].observation
            assert "Evidence in page: \n" in t.steps[1].observation
            assert "Current date: 2026-11-22" in t.messages[0]["content"]
        if style == "long":
            assert all(t.role == "reasoner" and t.steps[0].think.strip().startswith("I should search") for t in trajs)
        if style == "atomic":
            assert all(len(s.units) >= 2 for t in trajs for s in t.steps)
            assert any(u.depth == 1 for t in trajs for s in t.steps for u in s.units)
            assert len({t.system_prompt_id for t in trajs}) > 1


def _check_datasets(data: Path) -> None:
    """Filters and datasets of the same run: every rollout accounted for, the funnel from pages
    to SFT records, an SFT dataset TRL can load, an RL set disjoint from it."""
    import datasets

    scored = pl.read_parquet(data / "filters" / "scored_trajectories.parquet")
    rollouts = sum(pl.read_parquet(data / "trajectories" / f"{s}.parquet").height for s in ("short", "long", "atomic"))
    assert scored.height == rollouts and scored["id"].is_unique().all()
    assert scored.filter(pl.col("keep"))["stage_dropped"].to_list() == [""] * scored["keep"].sum()
    assert all(r for r in scored.filter(~pl.col("keep"))["reasons"].to_list())
    # demo.yaml: judge on (asked for every answered rollout), correctness recorded, not enforced
    assert scored.filter(pl.col("finish_reason") == "answer")["judge_correct"].null_count() == 0
    assert scored["f1"].null_count() == 0 and "correctness" not in set(scored["stage_dropped"])
    funnel = pl.read_parquet(data / "filters" / "funnel.parquet")
    stages = list(dict.fromkeys(funnel["stage"].to_list()))
    assert stages[:3] == ["pages", "qa_candidates", "qa_pool"]
    pool = pl.read_parquet(data / "qa" / "qa_pool.parquet")
    assert ("rolled_out" in stages) == (pool.height > 4)  # demo.yaml rolls out 4 questions
    assert {"rollouts", "contamination", "validity", "voting", "dedup"} <= set(stages)
    # demo.yaml's gates: closed-book enforced (2 tries), with-evidence recorded, uniqueness off.
    assert stages.index("qa_pool") < stages.index("gate_closed_book") < stages.index("gate_with_evidence")
    verdicts = [json.loads(g) for g in pool["gates"].to_list()]
    assert verdicts and all(v["closed_book"]["asked"] == 2 and "with_evidence" in v and "uniqueness" not in v
                            for v in verdicts)
    assert (data / "filters" / "funnel.png").read_bytes()[:4] == b"\x89PNG"

    split = pl.read_parquet(data / "datasets" / "question_split.parquet")
    assert set(split["question_id"]) == set(scored["question_id"])
    sft = datasets.load_from_disk(str(data / "datasets" / "sft" / "conversational"))
    tok = datasets.load_from_disk(str(data / "datasets" / "sft" / "tokenized"))
    assert len(sft) == len(tok) >= 1  # demo.yaml: min_rows 1 (a blocking check)
    sft_questions = set(split.filter(pl.col("split") == "sft")["question_id"])
    kept = scored.filter(pl.col("keep") & pl.col("question_id").is_in(list(sft_questions)))
    assert set(sft["id"]) <= set(kept["id"]) and len(sft) <= kept.height  # only kept rollouts of SFT questions
    # The Atom-Searcher recipe: SFT holds atomic rollouts only, and the others are counted.
    assert set(sft["style"]) == {"atomic"}
    assert set(sft["id"]) == set(kept.filter(pl.col("style") == "atomic")["id"])
    from filters.funnel import Funnel

    sft_funnel = Funnel.from_rows(pl.read_parquet(data / "datasets" / "sft_funnel.parquet").to_dicts()).to_dict()
    assert sft_funnel["sft_styles"]["drops"] == {"style_not_in_recipe": kept.filter(pl.col("style") != "atomic").height}
    for row in tok:
        assert any(label != -100 for label in row["labels"]) and row["labels"][0] == -100
    assert any(m["role"] == "tool" for m in sft[0]["messages"])
    card = (data / "datasets" / "sft" / "README.md").read_text()
    assert "| validity |" in card and "CC BY-SA" in card
    rl_dir = data / "datasets" / "rl"
    assert (rl_dir / "README.md").exists()
    rl = datasets.load_from_disk(str(rl_dir / "dataset")) if (rl_dir / "dataset").exists() else None
    if rl is not None and len(rl):
        assert not set(rl["question_id"]) & sft_questions
        # The recipe's RL prompt style: the system prompt is one of the atomic-thought prompts.
        atomic = pl.read_parquet(data / "trajectories" / "atomic.parquet")
        atomic_systems = {m[0]["content"] for m in atomic["messages"].to_list()}
        assert set(rl["style"]) == {"atomic"}
        assert all(p[0]["role"] == "system" and p[0]["content"] in atomic_systems for p in rl["prompt"])
        assert all(0 <= p <= 1 for p in rl["pass_rate"])  # demo.yaml: difficulty_filter off (DEMO ONLY)
