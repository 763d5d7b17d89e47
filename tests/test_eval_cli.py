"""`seekforge eval` end to end: a real OpenAI-compatible server process as the agent (the
scripted teacher's competent ReAct agent, which also summarises pages and judges answers),
the local BM25 index on disk, two benchmark files, k samples, the judge; and the table it
prints must agree with the rollouts it wrote (scores recomputed here from the answers)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import polars as pl

from crawl.corpus import pages_frame
from crawl.search_index import SearchIndex
from fake_llm_server import FakeLLMServer
from filters.metrics import best_em, best_f1
from scripted_teacher import reliable_teacher

REPO = Path(__file__).resolve().parents[1]
PAGES = [
    ("https://example.org/velmora", "Velmora Institute", "Velmora Institute was founded by Ada Rinn in 1912."),
    ("https://example.org/tessholm", "Tessholm", "Tessholm is an island; Oslo merchants settled it in 1820."),
]


def _jsonl(path: Path, rows: list[dict]) -> Path:  # type: ignore[type-arg]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_eval_cli_scores_an_openai_compatible_agent(tmp_path: Path) -> None:
    rows = [{"url": u, "canonical_url": u, "source": "web", "valid": True, "title": t, "text": x} for u, t, x in PAGES]
    SearchIndex.build(pages_frame(rows)).save(tmp_path / "data" / "search_index" / "bm25")
    flash = _jsonl(tmp_path / "nq.jsonl", [
        {"id": "n1", "question": "Who founded the Velmora Institute?", "golden_answers": ["Ada Rinn", "A. Rinn"]},
        {"id": "n2", "question": "Which merchants settled Tessholm?", "golden_answers": ["Oslo"]},
    ])
    plain = tmp_path / "bamboogle.csv"
    plain.write_text("question,answer\nWhen was the Velmora Institute founded?,1912\n", encoding="utf-8")
    out = tmp_path / "out"
    with FakeLLMServer(default=reliable_teacher) as fake:
        env = {**os.environ, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1",
               "SEEKFORGE_JUDGE_BASE_URL": fake.base_url, "SEEKFORGE_JUDGE_MODEL": "scripted-judge"}
        env.pop("SEEKFORGE_SUMMARIZER_BASE_URL", None)
        proc = subprocess.run(
            [sys.executable, "-m", "pipelines.cli", "eval", "--benchmark", str(flash), "--benchmark", str(plain),
             "--base-url", fake.base_url, "--model", "some-agent", "--profile", "embedded",
             "--data-dir", str(tmp_path / "data"), "--samples", "2", "--pass-k", "1", "--pass-k", "2", "--judge",
             "--max-turns", "4", "--date", "2026-01-01", "--out", str(out)],
            capture_output=True, text=True, timeout=300, cwd=REPO, env=env)
        models = {str((r.json or {}).get("model")) for r in fake.requests}
    assert proc.returncode == 0, proc.stderr[-3000:]
    (line,) = proc.stdout.splitlines()  # one JSON object, nothing else on stdout
    result = json.loads(line)
    assert {"some-agent", "scripted-judge"} <= models
    assert result["summarizer"]["model"] == "some-agent"  # no summarizer configured: the agent's endpoint, said so
    table = {r["benchmark"]: r for r in result["table"]}
    assert set(table) == {"nq", "bamboogle", "overall"}
    assert (table["nq"]["questions"], table["nq"]["samples"], table["overall"]["questions"]) == (2, 4, 3)
    assert result["scoring"]["judge_prompt"].startswith("eval_judge@v1:")

    # The printed scores are the rollouts' answers scored again here.
    rollouts = pl.read_parquet(out / "rollouts.parquet")
    assert rollouts.height == 6 and set(rollouts["sample"]) == {0, 1}
    golds = {"n1": ["Ada Rinn", "A. Rinn"], "n2": ["Oslo"]}
    nq = rollouts.filter(pl.col("benchmark") == "nq")
    per_q = {q: [a or "" for a in nq.filter(pl.col("question_id") == q)["answer"]] for q in golds}
    em = sum(sum(best_em(a, golds[q]) for a in answers) / 2 for q, answers in per_q.items()) / 2
    f1 = sum(sum(best_f1(a, golds[q]) for a in answers) / 2 for q, answers in per_q.items()) / 2
    assert abs(table["nq"]["em"] - em) < 1e-9 and abs(table["nq"]["f1"] - f1) < 1e-9
    judged_yes = sum(a.strip().lower() in {g.lower() for g in golds[q]} for q, answers in per_q.items()
                     for a in answers)
    assert table["nq"]["judge_missing"] == 0 and abs(table["nq"]["judge_acc"] - judged_yes / 4) < 1e-9
    # Behaviour: the scripted agent searches before it answers.
    overall = next(b for b in result["behaviour"] if b["benchmark"] == "overall")
    assert overall["trajectories"] == 6 and overall["tool_calls_mean"] >= 1
    csv_rows = pl.read_csv(out / "agent_eval.csv")
    assert csv_rows.height == 3 and "tool_calls_mean" in csv_rows.columns
    assert (out / "agent_eval.png").read_bytes()[:4] == b"\x89PNG"


def test_eval_cli_refuses_a_judge_without_endpoint_and_a_missing_index(tmp_path: Path) -> None:
    bench = _jsonl(tmp_path / "b.jsonl", [{"id": "1", "question": "Q?", "golden_answers": ["A"]}])
    env = {**os.environ, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1"}
    env.pop("SEEKFORGE_JUDGE_BASE_URL", None)
    base = [sys.executable, "-m", "pipelines.cli", "eval", "--benchmark", str(bench), "--base-url",
            "http://127.0.0.1:9/v1", "--model", "m", "--data-dir", str(tmp_path / "empty")]
    for extra, message in ((["--judge"], "SEEKFORGE_JUDGE_BASE_URL"), ([], "needs the search index")):
        proc = subprocess.run(base + extra, capture_output=True, text=True, timeout=120, cwd=REPO, env=env)
        assert proc.returncode == 1 and proc.stdout == "", proc.stderr
        assert message in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
