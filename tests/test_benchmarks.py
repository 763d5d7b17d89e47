"""Benchmark loaders (train.benchmarks) and ``seekforge eval --list``: every published layout of the
standard QA sets becomes the same records, and a bad record is an error naming where it is."""

from __future__ import annotations

import csv
import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from train.benchmarks import (
    FORMATS,
    BenchmarkFileError,
    BenchmarkRecord,
    benchmark_name,
    load_benchmark,
    load_benchmarks,
    records_from_rows,
)
from webdata import shared_path

REPO = Path(__file__).resolve().parents[1]

#: A Search-R1-shaped instruction prompt (our own wording): instructions, then "Question: <q>".
TEMPLATE = ("Answer the question below. Think inside <think></think>, search with <search> query </search> when "
            "you lack a fact, and give the final answer inside <answer></answer>, e.g. <answer> Lima </answer>. "
            "Question: {q}\n")


def _jsonl(path: Path, rows: list[object]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), "utf-8")
    return path


def _as_tuples(records: list[BenchmarkRecord]) -> list[tuple[str, str, tuple[str, ...]]]:
    return [(r.id, r.question, r.answers) for r in records]


# --------------------------------------------------------------------------- the shared files


def test_shared_hotpotqa_jsonl_gives_300_records() -> None:
    path = shared_path("qa", "hotpotqa", "dev_distractor_300.jsonl")
    records = load_benchmark(path)
    raw = [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]
    assert len(records) == len(raw) == 300
    assert [r.id for r in records] == [d["id"] for d in raw]
    assert [r.answers for r in records] == [(d["answer"].strip(),) for d in raw]
    assert records[0].answers == ("Tulsa",) and records[0].question.startswith("The band who released")
    assert records[0].to_json() == {"id": records[0].id, "question": records[0].question, "answers": ["Tulsa"]}
    assert benchmark_name(path) == "hotpotqa"


def test_shared_official_hotpotqa_json() -> None:
    path = shared_path("qa", "hotpotqa", "dev_gold_subset121.json")
    records = load_benchmark(path)
    gold = json.loads(path.read_text("utf-8"))
    assert len(records) == 121
    assert [(r.id, r.answers) for r in records] == [(d["_id"], (d["answer"],)) for d in gold]


# --------------------------------------------------------------------------- formats


def test_flashrag_jsonl(tmp_path: Path) -> None:
    path = _jsonl(tmp_path / "bamboogle.jsonl", [
        {"id": "test_0", "question": "  Who wrote Dune? ", "golden_answers": ["Frank Herbert", " F. Herbert ", ""],
         "metadata": {}},
        {"id": 7, "question": "Year of the Moon landing?", "golden_answers": [1969, "1969"]},
    ])
    assert _as_tuples(load_benchmark(path)) == [("test_0", "Who wrote Dune?", ("Frank Herbert", "F. Herbert")),
                                                ("7", "Year of the Moon landing?", ("1969",))]


def test_verl_jsonl_question_from_prompt_and_every_ground_truth_shape(tmp_path: Path) -> None:
    def row(q: str, truth: object, index: int, **extra: object) -> dict[str, object]:
        return {"data_source": "nq", "prompt": [{"role": "user", "content": TEMPLATE.format(q=q)}],
                "ability": "fact-reasoning", "reward_model": {"style": "rule", "ground_truth": truth},
                "extra_info": {"split": "test", "index": index}, **extra}

    path = _jsonl(tmp_path / "nq_search.jsonl", [
        row("who sang hey jude", "The Beatles", 0),
        row("capital of peru", ["Lima", "Lima, Peru"], 1),
        row("largest moon of saturn", {"target": ["Titan"]}, 2),
        row("ignored prompt", {"target": ["Everest"]}, 3, question="tallest mountain on earth", id="test_3"),
        {"prompt": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "2+2?"}],
         "reward_model": {"ground_truth": "4"}},  # no marker, no index: whole message, row number
    ])
    assert _as_tuples(load_benchmark(path)) == [
        ("0", "who sang hey jude", ("The Beatles",)),
        ("1", "capital of peru", ("Lima", "Lima, Peru")),
        ("2", "largest moon of saturn", ("Titan",)),
        ("test_3", "tallest mountain on earth", ("Everest",)),
        ("4", "2+2?", ("4",)),
    ]


def test_verl_parquet_written_by_polars_and_pyarrow(tmp_path: Path) -> None:
    questions = ["who painted guernica", "when did ww2 end"]
    pl.DataFrame({
        "data_source": ["nq", "nq"],
        "prompt": [[{"role": "user", "content": TEMPLATE.format(q=q)}] for q in questions],
        "reward_model": [{"style": "rule", "ground_truth": {"target": t}} for t in (["Pablo Picasso", "Picasso"],
                                                                                      ["1945"])],
        "extra_info": [{"split": "test", "index": i} for i in (10, 11)],
    }).write_parquet(tmp_path / "test.parquet")
    got = load_benchmark(tmp_path / "test.parquet")
    assert _as_tuples(got) == [("10", questions[0], ("Pablo Picasso", "Picasso")), ("11", questions[1], ("1945",))]
    assert benchmark_name(tmp_path / "nq_search" / "test.parquet") == "nq_search"

    pq.write_table(pa.table({
        "id": ["a", "b"], "question": ["Q one?", "Q two?"],
        "prompt": [[{"role": "user", "content": "x"}]] * 2,
        "reward_model": [{"ground_truth": "one"}, {"ground_truth": "two"}],
    }), tmp_path / "named.json")  # Parquet bytes under a .json name: told by content
    assert _as_tuples(load_benchmark(tmp_path / "named.json")) == [("a", "Q one?", ("one",)), ("b", "Q two?", ("two",))]


def test_numpy_rows_as_pandas_gives_them() -> None:
    rows = [{"prompt": np.array([{"role": "user", "content": TEMPLATE.format(q="who discovered penicillin")}]),
             "reward_model": {"ground_truth": {"target": np.array(["Alexander Fleming", "Fleming"])}},
             "extra_info": {"index": np.int64(5)}},
            {"question": "speed of light in km/s", "prompt": np.array([]),
             "reward_model": {"ground_truth": np.array(["299792"])}, "extra_info": {"index": np.int64(6)}}]
    got = records_from_rows(rows)
    assert _as_tuples(got) == [("5", "who discovered penicillin", ("Alexander Fleming", "Fleming")),
                               ("6", "speed of light in km/s", ("299792",))]
    assert all(isinstance(a, str) for r in got for a in r.answers)


def test_official_json_plain_json_wrapper_and_gzip(tmp_path: Path) -> None:
    (tmp_path / "dev.json").write_text(json.dumps([
        {"_id": "5a8b", "question": "Which is older, A or B?", "answer": "A", "type": "comparison"},
        {"_id": "5a8c", "question": "Is X a city?", "answer": "yes"}]), "utf-8")
    assert _as_tuples(load_benchmark(tmp_path / "dev.json")) == [("5a8b", "Which is older, A or B?", ("A",)),
                                                                 ("5a8c", "Is X a city?", ("yes",))]
    plain = [{"question": "Q1?", "answer": ["x", "y"]}, {"question": "Q2?", "answer": "z", "answers": ["zed", "z"]},
             {"id": "m3", "question": "Q3?", "answer": "w", "answer_aliases": ["double-u"]},
             {"question": "Q4?", "possible_answers": '["v", "vee"]'}]
    want = [("0", "Q1?", ("x", "y")), ("1", "Q2?", ("z", "zed")), ("m3", "Q3?", ("w", "double-u")),
            ("3", "Q4?", ("v", "vee"))]
    (tmp_path / "plain.json").write_text(json.dumps(plain), "utf-8")
    (tmp_path / "wrapped.json").write_text(json.dumps({"version": "1", "data": plain}), "utf-8")
    _jsonl(tmp_path / "lines.json", plain)  # JSON lines under a .json name
    (tmp_path / "lines.jsonl.gz").write_bytes(gzip.compress((tmp_path / "lines.json").read_bytes()))
    (tmp_path / "lines.bin").write_bytes(gzip.compress((tmp_path / "lines.json").read_bytes()))  # gzip, no .gz
    for name in ("plain.json", "wrapped.json", "lines.json", "lines.jsonl.gz", "lines.bin"):
        assert _as_tuples(load_benchmark(tmp_path / name)) == want, name
    _jsonl(tmp_path / "one.jsonl", [{"question": "Only one?", "answer": "yes"}])
    assert _as_tuples(load_benchmark(tmp_path / "one.jsonl")) == [("0", "Only one?", ("yes",))]


def test_csv_and_tsv_answers_rule(tmp_path: Path) -> None:
    with (tmp_path / "popqa.csv").open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "question", "answer", "answers"])
        w.writerow(["p1", " What is George Rankin's occupation? ", "politician", ""])
        w.writerow(["p2", "Who wrote\nthe Iliad?", "Homer", '["Homeros", "Homer"]'])
        w.writerow(["p3", "In what country is Chengde?", "China", "PRC | People's Republic of China"])
        w.writerow(["p4", "What is 'A|B'?", "A|B", ""])  # the answer column is never split
    assert _as_tuples(load_benchmark(tmp_path / "popqa.csv")) == [
        ("p1", "What is George Rankin's occupation?", ("politician",)),
        ("p2", "Who wrote\nthe Iliad?", ("Homer", "Homeros")),
        ("p3", "In what country is Chengde?", ("China", "PRC", "People's Republic of China")),
        ("p4", "What is 'A|B'?", ("A|B",)),
    ]
    (tmp_path / "popqa.tsv").write_text('id\tquestion\tpossible_answers\n9\tWho is X?\t["Y", "Why"]\n', "utf-8")
    assert _as_tuples(load_benchmark(tmp_path / "popqa.tsv")) == [("9", "Who is X?", ("Y", "Why"))]


def test_format_override(tmp_path: Path) -> None:
    path = _jsonl(tmp_path / "x.jsonl", [{"_id": "official", "id": "hf", "question": "Q?", "answer": "A"}])
    assert load_benchmark(path)[0].id == "official"  # detected: hotpotqa
    assert load_benchmark(path, "qa")[0].id == "hf"
    with pytest.raises(BenchmarkFileError, match="golden_answers|no answer"):
        load_benchmark(path, "flashrag")
    with pytest.raises(BenchmarkFileError, match="'question' column"):
        load_benchmark(path, "csv")  # forced CSV: the JSON line is not a CSV header with a question column
    with pytest.raises(ValueError, match="unknown benchmark format"):
        load_benchmark(path, "squad")  # type: ignore[arg-type]
    assert set(FORMATS) == {"flashrag", "verl", "hotpotqa", "qa", "csv"}


# --------------------------------------------------------------------------- errors


def test_errors_name_file_and_line_or_row(tmp_path: Path) -> None:
    good = {"id": "a", "question": "Q?", "golden_answers": ["A"]}
    _jsonl(tmp_path / "noq.jsonl", [good, {**good, "id": "b"}, {"id": "c", "question": "  ", "golden_answers": ["x"]}])
    (tmp_path / "noa.jsonl").write_text(json.dumps(good) + "\n\n" + json.dumps({**good, "id": "b",
                                                                                  "golden_answers": [" "]}), "utf-8")
    (tmp_path / "noa.json").write_text(json.dumps([{"question": "Q?", "answer": "A"}, {"question": "Q2?"}]), "utf-8")
    _jsonl(tmp_path / "dup.jsonl", [good, {**good, "question": "Other?"}])
    _jsonl(tmp_path / "scalar.jsonl", [good, 42])
    _jsonl(tmp_path / "badgt.jsonl", [{"prompt": [{"role": "user", "content": "q"}],
                                       "reward_model": {"ground_truth": {"answers": ["x"]}}}])
    _jsonl(tmp_path / "nouser.jsonl", [{"prompt": [{"role": "system", "content": "q"}],
                                        "reward_model": {"ground_truth": "x"}}])
    _jsonl(tmp_path / "badalias.jsonl", [{"question": "Q?", "answer": "A", "answers": "[broken"}])
    _jsonl(tmp_path / "dictanswer.jsonl", [{"question": "Q?", "answer": {"text": "A"}}])
    pq.write_table(pa.table({"question": ["Q?", "Q2?", "Q3?"], "answer": ["A", "B", None]}), tmp_path / "t.parquet")
    (tmp_path / "t.csv").write_text("question,answer\nQ?,A\nQ2?,\n", "utf-8")
    (tmp_path / "wide.csv").write_text("question,answer\nQ?,A,extra\n", "utf-8")
    (tmp_path / "empty.jsonl").write_text("\n", "utf-8")
    (tmp_path / "broken.jsonl").write_text(json.dumps(good) + "\n{nope\n", "utf-8")
    (tmp_path / "noheader.txt").write_text("just some text\n", "utf-8")
    (tmp_path / "obj.json").write_text(json.dumps({"version": 2}), "utf-8")
    cases = {
        "noq.jsonl": (":3:", "no question"), "noa.jsonl": (":3:", "no answer"), "noa.json": (": record 1:", "no answer"),
        "dup.jsonl": (":2:", "duplicate id 'a' (first at"), "scalar.jsonl": (":2:", "a int, not an object"),
        "badgt.jsonl": (":1:", "no 'target'"), "nouser.jsonl": (":1:", "no user message"),
        "badalias.jsonl": (":1:", "not a JSON list"), "dictanswer.jsonl": (":1:", "answer is a dict"),
        "t.parquet": (": row 2:", "no answer"), "t.csv": (":3:", "no answer"), "wide.csv": (":2:", "more fields"),
        "empty.jsonl": ("", "no records"), "broken.jsonl": (":2:", "neither JSON nor JSON lines"),
        "noheader.txt": ("", "'question' column"), "obj.json": ("", "neither a record nor"),
        "missing.jsonl": ("", "cannot read"),
    }
    for name, (where, message) in cases.items():
        with pytest.raises(BenchmarkFileError) as info:
            load_benchmark(tmp_path / name)
        text = str(info.value)
        assert text.startswith(f"{tmp_path / name}{where}") and message in text, (name, text)
    with pytest.raises(BenchmarkFileError, match=r"<rows>: row 1: no question"):
        records_from_rows([{"question": "Q?", "answer": "A"}, {"answer": "B"}])


def test_benchmark_names(tmp_path: Path) -> None:
    assert benchmark_name("hotpotqa/dev_distractor_300.jsonl") == "hotpotqa"
    assert benchmark_name("FlashRAG_datasets/nq/test.jsonl") == "nq"
    assert benchmark_name("data/Bamboogle.jsonl") == "bamboogle"
    assert benchmark_name("2wikimultihopqa_dev.json.gz") == "2wikimultihopqa"
    assert benchmark_name("musique_ans_v1.0_dev.jsonl") == "musique_ans_v1"
    assert benchmark_name("test.jsonl") == "test"
    a, b = tmp_path / "nq" / "test.jsonl", tmp_path / "nq_test.jsonl"
    a.parent.mkdir()
    for p in (a, b):
        _jsonl(p, [{"question": "Q?", "answer": "A"}])
    assert list(load_benchmarks([a])) == ["nq"]
    with pytest.raises(BenchmarkFileError, match="already taken"):
        load_benchmarks([a, b])


# --------------------------------------------------------------------------- CLI


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1"}
    return subprocess.run([sys.executable, "-m", "pipelines.cli", *args], capture_output=True, text=True,
                          timeout=120, cwd=REPO, env=env)


def test_cli_list_prints_exactly_the_records() -> None:
    path = shared_path("qa", "hotpotqa", "dev_distractor_300.jsonl")
    proc = _cli("-v", "eval", "--benchmark", str(path), "--list")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == 300 and proc.stdout.endswith("\n")
    parsed = [json.loads(line) for line in lines]
    assert all(list(d) == ["id", "question", "answers"] and isinstance(d["answers"], list) and d["answers"]
               for d in parsed)
    assert parsed == [r.to_json() for r in load_benchmark(path)]
    assert "300 records" in proc.stderr  # -v logs go to stderr, never to stdout

    gold = shared_path("qa", "hotpotqa", "dev_gold_subset121.json")
    proc = _cli("eval", "--benchmark", str(path), "--benchmark", str(gold), "--list", "--format", "qa")
    assert proc.returncode == 0, proc.stderr
    assert len(proc.stdout.splitlines()) == 421 and proc.stderr == ""


def test_cli_errors_are_one_line_on_stderr(tmp_path: Path) -> None:
    bad = _jsonl(tmp_path / "bad.jsonl", [{"question": "Q?", "answer": "A"}, {"question": "Q2?"}])
    good = _jsonl(tmp_path / "good.jsonl", [{"question": "Q?", "answer": "A"}])
    for args, code, message in [
        (["--benchmark", str(good), "--benchmark", str(bad), "--list"], 1, f"{bad}:2: no answer"),
        (["--benchmark", str(tmp_path / "missing.jsonl"), "--list"], 1, "cannot read"),
        (["--list"], 2, "no benchmark file"),
        (["--benchmark", str(good)], 2, "give the agent to evaluate"),
    ]:
        proc = _cli("eval", *args)
        assert proc.returncode == code, (args, proc.stderr)
        assert proc.stdout == "", args  # nothing listed when any file is bad
        assert len(proc.stderr.splitlines()) == 1 and message in proc.stderr, (args, proc.stderr)


def test_cli_format_choices_are_the_loader_formats() -> None:
    from pipelines.cli import main

    option = next(p for p in main.commands["eval"].params if p.name == "fmt")
    assert tuple(option.type.choices) == FORMATS  # type: ignore[attr-defined]
