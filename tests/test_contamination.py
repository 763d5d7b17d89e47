"""Benchmark decontamination (filters.contamination) and `seekforge decontaminate`.

The benchmark is the 300-question HotpotQA dev sample in ../shared. Copies of its
questions -- verbatim, re-cased, re-punctuated, lightly reworded by hand and by
rule -- must be caught; unrelated questions and questions that share an entity
with a benchmark question but ask something else must be kept.
"""

from __future__ import annotations

import gzip
import json
import random
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from filters.contamination import MIN_NEAR_TOKENS, BenchmarkFileError, BenchmarkIndex, Match, load_questions
from webdata import shared_path

SEEKFORGE = str(Path(sys.executable).parent / "seekforge")

#: Hand-written light rewordings: benchmark question -> reworded copy.
REWORDED = {
    'The band who released the debut album "Tinted Windows" had their first performance in what city?':
        'The band that released the debut album "Tinted Windows" had its first performance in which city?',
    "Who was older, George Atzerodt or Andrew Johnson?":
        "Who was born earlier, George Atzerodt or Andrew Johnson?",
    "What year did Christopher Nolan's magic-themed drama come out?":
        "In what year did Christopher Nolan's magic-themed drama come out?",
    "Did Ed Sullivan ever work anywhere other than the New York Daily News?":
        "Did Ed Sullivan ever work anywhere besides the New York Daily News?",
    "Who is from farther west, Halestorm or Audioslave?":
        "Who is from further west, Halestorm or Audioslave?",
    "Which was released first, The Greatest Game Ever Played or Hot Lead and Cold Feet?":
        "Which film was released first, The Greatest Game Ever Played or Hot Lead and Cold Feet?",
    "In which country did Ahmed Khader Al-Muwallad win a gold medal?":
        "In which country did Ahmed Khader Al-Muwallad win his gold medal?",
    "Jacques Coghen is a direct ancestor to the spouse of which Belgian Queen?":
        "Jacques Coghen is a direct ancestor of the spouse of which Belgian queen?",
    "Which professional baseball player was born in 1984 and played as a rookie for the Los Angeles Dogers in 2007?":
        "Which professional baseball player, born in 1984, played as a rookie for the Los Angeles Dodgers in 2007?",
    "Who was the military commander of the last active ruler of the Ptolemaic Kingdom of Egypt?":
        "Who was the military commander of the last ruler of the Ptolemaic Kingdom of Egypt?",
    "Chandgi Ram won a gold medal in 1970 in a continental multi-sport event held at which city ?":
        "Chandgi Ram won a gold medal in 1970 at a continental multi-sport event held in which city?",
    "When was the host of the Los Angeles talk radio program Religion on the Line born?":
        "When was the host of the LA talk radio show Religion on the Line born?",
}

#: Unrelated questions in the style of synthesized research QA.
UNRELATED = [
    "What is the boiling point of water at sea level in degrees Fahrenheit?",
    "Which programming language was created by Guido van Rossum?",
    "In what year did the Berlin Wall fall?",
    "Who wrote the novel One Hundred Years of Solitude?",
    "What is the capital city of the Australian state of Tasmania?",
    "Which chemical element has the symbol W?",
    "How many moons does the planet Neptune have?",
    "Which company's researchers wrote the paper Attention Is All You Need?",
    "What is the longest river in South America?",
    "Who painted the ceiling of the Sistine Chapel?",
    "In which year was the first iPhone released?",
    "What is the largest desert in Asia?",
    "Which football club has won the most UEFA Champions League titles?",
    "Who was the first woman to win a Nobel Prize?",
    "What is the tallest mountain in Africa?",
    "Which composer wrote the opera The Magic Flute?",
    "What is the official language of Brazil?",
    "Which university did Bill Gates drop out of?",
    "How long is a marathon in kilometres?",
    "Which mission first landed humans on the Moon?",
    "Which GitHub organisation maintains the Rust compiler?",
    "Who were the authors of the arXiv paper that introduced the Adam optimizer?",
]

#: Same entity as a benchmark question (named in the comment), different question.
SHARED_ENTITY = [
    "Which record label released the debut album of Tinted Windows?",  # Tinted Windows, first performance
    "Which political party did Andrew Johnson belong to before the Civil War?",  # Atzerodt or Johnson older
    "What is the tallest building in Shanghai?",  # Shanghai or Hanggin Rear Banner population
    "Which actor played the lead role in Christopher Nolan's film Memento?",  # Nolan's magic-themed drama
    "Who was the original lead singer of Audioslave?",  # Halestorm or Audioslave farther west
    "In what year did The Ed Sullivan Show first air on CBS?",  # Ed Sullivan, New York Daily News
    "Who directed the film The Greatest Game Ever Played?",  # released first
    "Which city was the capital of the Ptolemaic Kingdom of Egypt?",  # military commander of its last ruler
    "How many calories are in a 12 ounce serving of Genny Light?",  # brewing company of Genny Light
    "Which Belgian queen was the spouse of King Albert I?",  # Jacques Coghen's descendant
]

FILLERS = ["exactly", "originally", "actually", "also", "really"]
SYNONYMS = {"what": "which", "which": "what", "film": "movie", "movie": "film", "city": "town",
            "born": "birthed", "band": "group", "album": "record", "located": "situated", "first": "earliest",
            "country": "nation", "released": "issued", "actor": "performer", "company": "firm"}


@pytest.fixture(scope="module")
def bench_file() -> Path:
    """The 300-question HotpotQA dev sample (shared test data)."""
    return shared_path("qa", "hotpotqa", "dev_distractor_300.jsonl")


@pytest.fixture(scope="module")
def bench(bench_file: Path) -> list[str]:
    return [json.loads(line)["question"] for line in bench_file.read_text("utf-8").splitlines() if line.strip()]


@pytest.fixture(scope="module")
def index(bench_file: Path, bench: list[str]) -> BenchmarkIndex:
    return BenchmarkIndex.from_files([bench_file])


def caught(index: BenchmarkIndex, pairs: list[tuple[str, str]]) -> list[tuple[str, str, Match | None]]:
    """The (copy, original) pairs NOT matched to their original."""
    misses = []
    for copy, original in pairs:
        m = index.match(copy)
        if m is None or m.question != original:
            misses.append((copy, original, m))
    return misses


# --------------------------------------------------------------------------- light edits


def substitute(q: str, rng: random.Random) -> str:
    words = q.split()
    spots = [i for i, w in enumerate(words) if w.lower().strip("?,.'\"") in SYNONYMS]
    if not spots:
        return insert(q, rng)
    i = rng.choice(spots)
    core = words[i].strip("?,.'\"")
    words[i] = words[i].replace(core, SYNONYMS[core.lower()])
    return " ".join(words)


def insert(q: str, rng: random.Random) -> str:
    words = q.split()
    words.insert(rng.randrange(1, len(words)), rng.choice(FILLERS))
    return " ".join(words)


def delete(q: str, rng: random.Random) -> str:
    """Drop one lower-case (non-name) word: rewording keeps the entities."""
    words = q.split()
    spots = [i for i, w in enumerate(words) if i and w.islower()] or [len(words) - 1]
    del words[rng.choice(spots)]
    return " ".join(words)


def reword(q: str, rng: random.Random, edits: int) -> str:
    for _ in range(edits):
        q = rng.choice([substitute, insert, delete])(q, rng)
    return q


# --------------------------------------------------------------------------- catching copies


def test_exact_recased_and_repunctuated_copies(index: BenchmarkIndex, bench: list[str]) -> None:
    variants = {
        "exact": lambda q: q,
        "upper": str.upper,
        "lower": str.lower,
        "title": str.title,
        "no punctuation": lambda q: re.sub(r"[^\w\s]", "", q),
        "period": lambda q: q.rstrip(" ?") + ".",
        "curly quotes": lambda q: re.sub(r'"([^"]*)"', "\u201c\\1\u201d", q).replace("'", "\u2019"),
        "spaced": lambda q: re.sub(r"([?,!:;])", r" \1 ", "  " + q),
        "extra punctuation": lambda q: "Q: " + q.replace(",", ";").rstrip("?") + "??",
    }
    for name, fn in variants.items():
        pairs = [(fn(q), q) for q in bench]
        assert caught(index, pairs) == [], name
        kinds = {index.match(c).kind for c, _ in pairs}  # type: ignore[union-attr]
        # Spacing out punctuation splits words ("3:16" -> "3 16"), "Q:" adds one: near copies.
        if name not in ("spaced", "extra punctuation"):
            assert kinds == {"exact"}, (name, kinds)


def test_hyphens_and_spacing_variants(index: BenchmarkIndex, bench: list[str]) -> None:
    hyphenated = [q for q in bench if re.search(r"\w-\w", q)]
    assert len(hyphenated) >= 10
    spaced = [(re.sub(r"(\w)-(\w)", r"\1 \2", q), q) for q in hyphenated]
    assert caught(index, spaced) == []


def test_misspelled_names_are_caught(index: BenchmarkIndex, bench: list[str]) -> None:
    """One letter dropped from one name: the word check loses a rare word, shingles still match."""
    rng = random.Random(3)
    pairs = []
    for q in bench:
        words = q.split()
        spots = [i for i, w in enumerate(words) if i and re.fullmatch(r"[A-Z][a-z]{5,}", w)]
        if spots:
            i = rng.choice(spots)
            j = rng.randrange(1, len(words[i]) - 1)
            words[i] = words[i][:j] + words[i][j + 1 :]
            pairs.append((" ".join(words), q))
    assert len(pairs) >= 200
    assert caught(index, pairs) == []
    kinds = Counter(index.match(c).kind for c, _ in pairs)  # type: ignore[union-attr]
    assert kinds["minhash"] > kinds["ngram"]  # the character check does this work


def test_hand_reworded_copies(index: BenchmarkIndex, bench: list[str], bench_file: Path) -> None:
    assert set(REWORDED) <= set(bench)
    misses = caught(index, [(copy, original) for original, copy in REWORDED.items()])
    assert misses == []
    for copy in REWORDED.values():
        m = index.match(copy)
        assert m is not None and m.kind in ("ngram", "minhash") and m.file == str(bench_file)
        assert 0 < m.score <= 1


def test_word_order_change_is_caught(index: BenchmarkIndex) -> None:
    m = index.match("Andrew Johnson or George Atzerodt: who was older?")
    assert m is not None and m.question == "Who was older, George Atzerodt or Andrew Johnson?"


def test_rule_reworded_copies(index: BenchmarkIndex, bench: list[str]) -> None:
    rng = random.Random(20240601)
    one = [(reword(q, rng, 1), q) for q in bench]
    two = [(reword(q, rng, 2), q) for q in bench]
    assert caught(index, one) == []  # one changed/added/removed word: all 300
    assert len(caught(index, two)) <= 3  # two: at least 99% (measured: 300/300)


# --------------------------------------------------------------------------- keeping the rest


def test_unrelated_and_same_entity_questions_are_kept(index: BenchmarkIndex) -> None:
    flagged = {q: index.match(q) for q in UNRELATED + SHARED_ENTITY}
    assert {q: m for q, m in flagged.items() if m is not None} == {}


def test_other_hotpotqa_questions_are_kept(index: BenchmarkIndex, bench: list[str]) -> None:
    """Real HotpotQA questions not in the sample: same style, many on the same templates."""
    other_hotpot = shared_path("qa", "hotpotqa", "dev_gold_subset121.json")
    bench_set = set(bench)
    others = [d["question"] for d in json.loads(other_hotpot.read_text("utf-8")) if d["question"] not in bench_set]
    assert len(others) >= 80
    assert [q for q in others if index.match(q) is not None] == []


def test_same_template_different_entities_are_kept(index: BenchmarkIndex) -> None:
    for q in ["Who was older, Abraham Lincoln or Ulysses S. Grant?",
              "Which has the larger population, Beijing or Chongqing?",
              "Who is from farther west, Metallica or Nirvana?",
              "Which was released first, Toy Story or A Bug's Life?"]:
        assert index.match(q) is None, q


def test_short_questions_match_exactly_only() -> None:
    idx = BenchmarkIndex([("Who wrote Dune?", "b.json"), ("Who painted the Mona Lisa today?", "b.json")])
    assert idx.match("who wrote dune") == Match("Who wrote Dune?", "b.json", "exact", 1.0)
    assert len("who wrote dune messiah".split()) == MIN_NEAR_TOKENS
    assert idx.match("Who wrote Dune Messiah?") is None
    assert idx.match("Painted Mona Lisa?") is None  # 3 words: exact only
    assert idx.match("") is None and idx.match("???") is None
    for near in ("Who painted Mona Lisa?", "Who really painted the Mona Lisa today?"):
        m = idx.match(near)
        assert m is not None and m.kind in ("ngram", "minhash"), near


def test_larger_index_with_template_decoys() -> None:
    """Thousands of questions on three templates with made-up names, built in small batches.

    A reworded copy finds its original; new questions on the same templates with
    other names are kept, unless they keep three of the four name words of an
    indexed question (then they are near copies).
    """
    rng = random.Random(7)
    syllables = ["ka", "lo", "ve", "mir", "dun", "tas", "bel", "cor", "an", "ith", "os", "rue", "pel", "zan", "gor",
                 "nu", "fel", "sha", "ter", "vok"]

    def name() -> str:
        return "".join(rng.choice(syllables) for _ in range(3)).capitalize()

    templates = ["Who was born first, {} {} or {} {}?", "Which band released an album produced by {} {} in {} {}?",
                 "What is the name of the river that flows through {} {} and {} {}?"]

    def make() -> str:
        return rng.choice(templates).format(*(name() for _ in range(4)))

    questions = list(dict.fromkeys(make() for _ in range(6000)))
    idx = BenchmarkIndex([(q, "big.jsonl") for q in questions], batch=500)
    assert len(idx) == len(questions)
    target = questions[1234]
    m = idx.match(target.lower().replace("?", "") + " exactly?")
    assert m is not None and m.question == target and m.file == "big.jsonl"

    def names_of(q: str) -> set[str]:
        return set(re.findall(r"\b[A-Z][a-z]+", q)) - {"Who", "Which", "What"}

    wrongly_flagged = []
    for _ in range(200):
        decoy = make()
        hit = idx.match(decoy)
        if hit is not None and len(names_of(decoy) & names_of(hit.question)) < 3:
            wrongly_flagged.append((decoy, hit))
    assert wrongly_flagged == []


# --------------------------------------------------------------------------- loading files


def test_load_formats(tmp_path: Path) -> None:
    recs = [{"question": "Who founded the Royal Society of London?"}, {"question": "Where is Lake Baikal?"},
            {"question": None}, {"other": 1}]
    (tmp_path / "a.json").write_text(json.dumps(recs), "utf-8")
    (tmp_path / "b.json").write_text(json.dumps({"version": 2, "data": recs}), "utf-8")
    (tmp_path / "c.jsonl").write_text("\n".join(json.dumps(r) for r in recs) + "\n\n", "utf-8")
    (tmp_path / "d.json").write_text("\n".join(json.dumps(r) for r in recs), "utf-8")  # JSONL named .json
    (tmp_path / "e.jsonl.gz").write_bytes(gzip.compress("\n".join(json.dumps(r) for r in recs).encode()))
    pq.write_table(pa.table({"question": [r.get("question") for r in recs], "answer": ["x"] * 4}),
                   tmp_path / "f.parquet")
    want = ["Who founded the Royal Society of London?", "Where is Lake Baikal?"]
    for name in ["a.json", "b.json", "c.jsonl", "d.json", "e.jsonl.gz", "f.parquet"]:
        assert load_questions(tmp_path / name) == want, name

    (tmp_path / "g.jsonl").write_text(json.dumps({"query": "What is the capital of Peru?"}), "utf-8")
    assert load_questions(tmp_path / "g.jsonl", question_field="query") == ["What is the capital of Peru?"]
    assert len(BenchmarkIndex.from_files([tmp_path / "g.jsonl"], question_field="query")) == 1
    idx = BenchmarkIndex.from_files([tmp_path / "a.json", tmp_path / "c.jsonl"])
    assert len(idx) == 2  # duplicates across files are indexed once, first file wins
    assert idx.match("where is lake baikal").file == str(tmp_path / "a.json")  # type: ignore[union-attr]


def test_load_errors_name_the_file(tmp_path: Path) -> None:
    (tmp_path / "nofield.jsonl").write_text(json.dumps({"query": "What is the capital of Peru?"}), "utf-8")
    (tmp_path / "bad.jsonl").write_text('{"question": "ok?"}\n{broken\n', "utf-8")
    (tmp_path / "scalar.json").write_text("42", "utf-8")
    (tmp_path / "obj.json").write_text(json.dumps({"data": [{"q": "x"}]}), "utf-8")
    pq.write_table(pa.table({"text": ["a"]}), tmp_path / "nocol.parquet")
    (tmp_path / "fake.parquet").write_text("not parquet", "utf-8")
    (tmp_path / "binary.json").write_bytes(b"\xff\xfe\x00garbage")
    cases = {"nofield.jsonl": "'question'", "bad.jsonl": "bad.jsonl:2", "scalar.json": "not a list",
             "obj.json": "no list of records", "nocol.parquet": "columns: text", "fake.parquet": "Parquet",
             "binary.json": "UTF-8", "missing.json": "cannot read"}
    for name, message in cases.items():
        with pytest.raises(BenchmarkFileError) as info:
            load_questions(tmp_path / name)
        assert str(tmp_path / name) in str(info.value) and message in str(info.value), (name, info.value)


# --------------------------------------------------------------------------- CLI


def test_cli_decontaminate(tmp_path: Path, bench: list[str], bench_file: Path) -> None:
    original = next(iter(REWORDED))
    lines = [
        json.dumps({"question": bench[5], "answer": "x"}),  # 0 exact
        json.dumps({"question": bench[8].upper()}),  # 1 re-cased
        json.dumps({"question": REWORDED[original]}),  # 2 reworded
        json.dumps({"question": UNRELATED[0]}),  # 3 kept
        "",  # blank: not a record
        "{not json",  # 4
        json.dumps({"answer": "no question"}),  # 5
        json.dumps(["a list"]),  # 6
        json.dumps({"question": 42}),  # 7
        json.dumps({"question": SHARED_ENTITY[0]}),  # 8 kept
    ]
    qa = tmp_path / "qa.jsonl"
    qa.write_bytes(("\n".join(lines) + "\n").encode() + b'{"question": "\xff"}\n')  # 9 not UTF-8
    proc = subprocess.run([SEEKFORGE, "decontaminate", str(qa), "--benchmark", str(bench_file)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    out = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [o["index"] for o in out] == list(range(10))
    assert all(set(o) == {"index", "keep", "reasons", "match"} for o in out)
    assert out[0] == {"index": 0, "keep": False, "reasons": ["benchmark_exact"], "match": bench[5]}
    assert out[1]["reasons"] == ["benchmark_exact"] and out[1]["match"] == bench[8]
    assert out[2] == {"index": 2, "keep": False, "reasons": ["benchmark_near"], "match": original}
    for i in (3, 8):
        assert out[i] == {"index": i, "keep": True, "reasons": [], "match": None}
    for i in (4, 5, 6, 7, 9):
        assert out[i] == {"index": i, "keep": False, "reasons": ["malformed_record"], "match": None}
    assert "kept 2 of 10" in proc.stderr


def test_cli_decontaminate_errors(tmp_path: Path) -> None:
    qa = tmp_path / "qa.jsonl"
    qa.write_text(json.dumps({"question": "Who founded the Royal Society?"}) + "\n", "utf-8")
    bench = tmp_path / "bench.jsonl"
    bench.write_text(json.dumps({"query": "Who founded the Royal Society?"}) + "\n", "utf-8")
    proc = subprocess.run([SEEKFORGE, "decontaminate", str(qa), "--benchmark", str(bench)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1 and str(bench) in proc.stderr and "'question'" in proc.stderr
    assert "Traceback" not in proc.stderr
    proc = subprocess.run([SEEKFORGE, "decontaminate", str(qa), "--benchmark", str(bench), "--benchmark",
                           str(bench), "--question-field", "query"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == {"index": 0, "keep": False, "reasons": ["benchmark_exact"],
                                       "match": "Who founded the Royal Society?"}
