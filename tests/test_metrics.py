"""Answer metrics (filters.metrics) and the `seekforge score` command.

The HotpotQA numbers are checked against a second, deliberately separate
implementation of the official rules written below, so that a bug in the module
(or in the normalisation it shares with distill.qa_rules) shows up as a mismatch.
"""

from __future__ import annotations

import json
import re
import string
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from filters.metrics import best_em, best_f1, em, f1, normalize_deepresearcher, score_official
from webdata import shared_path

SEEKFORGE = str(Path(sys.executable).parent / "seekforge")


# --------------------------------------------------------------------------- reference


def ref_norm(text: str) -> str:
    """Official rules, step by step: lower, strip string.punctuation, articles out, spaces."""
    lowered = text.lower()
    no_punct = "".join(c for c in lowered if c not in string.punctuation)
    no_articles = re.sub(r"(?<!\w)(?:a|an|the)(?!\w)", " ", no_punct)
    return " ".join(no_articles.split())


def ref_f1(pred: str, gold: str) -> float:
    p, g = ref_norm(pred), ref_norm(gold)
    special = ("yes", "no", "noanswer")
    if (p in special or g in special) and p != g:
        return 0.0
    shared = Counter(p.split()) & Counter(g.split())
    same = sum(shared.values())
    if not same:
        return 0.0
    precision = same / len(p.split())
    recall = same / len(g.split())
    return 2 * precision * recall / (precision + recall)


def ref_score(gold: list[dict], pred: dict) -> dict:
    answers = pred["answer"]
    ems = [float(ref_norm(answers[d["_id"]]) == ref_norm(d["answer"])) if d["_id"] in answers else 0.0 for d in gold]
    f1s = [ref_f1(answers[d["_id"]], d["answer"]) if d["_id"] in answers else 0.0 for d in gold]
    return {"em": sum(ems) / len(gold), "f1": sum(f1s) / len(gold), "n": len(gold)}


@pytest.fixture(scope="module")
def official_files() -> tuple[Path, Path]:
    """The HotpotQA gold/prediction subset (shared test data)."""
    return (shared_path("qa", "hotpotqa", "dev_gold_subset121.json"),
            shared_path("qa", "hotpotqa", "dev_pred_subset121.json"))


@pytest.fixture(scope="module")
def official(official_files: tuple[Path, Path]) -> tuple[list[dict], dict]:
    gold_file, pred_file = official_files
    return json.loads(gold_file.read_text("utf-8")), json.loads(pred_file.read_text("utf-8"))


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([SEEKFORGE, *args], capture_output=True, text=True, timeout=120)


# --------------------------------------------------------------------------- official file


def test_official_subset_matches_reference(official: tuple[list[dict], dict]) -> None:
    gold, pred = official
    got, want = score_official(gold, pred), ref_score(gold, pred)
    assert got["n"] == want["n"] == 121
    assert got["em"] == pytest.approx(want["em"], abs=1e-9)
    assert got["f1"] == pytest.approx(want["f1"], abs=1e-9)
    # Per question, too: an averaging accident must not hide a per-answer bug.
    for d in gold:
        p = pred["answer"][d["_id"]]
        assert f1(p, d["answer"]) == pytest.approx(ref_f1(p, d["answer"]), abs=1e-12), (p, d["answer"])
        assert em(p, d["answer"]) == float(ref_norm(p) == ref_norm(d["answer"]))


def test_official_subset_with_perturbed_predictions(official: tuple[list[dict], dict]) -> None:
    """Near-miss predictions (gold with noise) exercise partial F1 far more than the real file."""
    gold, _ = official
    answers = {}
    for i, d in enumerate(gold):
        a = d["answer"]
        answers[d["_id"]] = [a.upper(), f"the {a} band", a.split()[0], f"{a}, {a}", "yes", "no answer"][i % 6]
    pred = {"answer": answers}
    got, want = score_official(gold, pred), ref_score(gold, pred)
    assert got["f1"] == pytest.approx(want["f1"], abs=1e-9)
    assert got["em"] == pytest.approx(want["em"], abs=1e-9)
    assert 0 < got["f1"] < 1


def test_cli_score_matches_reference(official_files: tuple[Path, Path], official: tuple[list[dict], dict]) -> None:
    gold, pred = official
    gold_file, pred_file = official_files
    proc = run("score", "--gold", str(gold_file), "--pred", str(pred_file))
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == 1
    out = json.loads(lines[0])
    want = ref_score(gold, pred)
    assert out["n"] == 121
    assert out["em"] == pytest.approx(want["em"], abs=1e-9)
    assert out["f1"] == pytest.approx(want["f1"], abs=1e-9)

    proc = run("score", "--gold", str(gold_file), "--pred", str(pred_file), "--metric", "deepresearcher")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == pytest.approx(score_official(gold, pred, variant="deepresearcher"))


def test_cli_score_errors(tmp_path: Path) -> None:
    gold = tmp_path / "gold.json"
    gold.write_text(json.dumps([{"_id": "q1", "answer": "Paris"}]), "utf-8")
    pred = tmp_path / "pred.json"
    pred.write_text(json.dumps({"answer": {"q1": "paris"}}), "utf-8")
    ok = run("score", "--gold", str(gold), "--pred", str(pred))
    assert ok.returncode == 0 and json.loads(ok.stdout) == {"em": 1.0, "f1": 1.0, "n": 1}

    bad_json = tmp_path / "bad.json"
    bad_json.write_text("{not json", "utf-8")
    wrong_shape = tmp_path / "shape.json"
    wrong_shape.write_text(json.dumps({"q1": "paris"}), "utf-8")  # no "answer" object
    gold_no_id = tmp_path / "noid.json"
    gold_no_id.write_text(json.dumps([{"answer": "Paris"}]), "utf-8")
    cases = [
        (["--gold", str(tmp_path / "missing.json"), "--pred", str(pred)], "cannot read gold file"),
        (["--gold", str(bad_json), "--pred", str(pred)], "is not JSON"),
        (["--gold", str(gold), "--pred", str(wrong_shape)], '"answer"'),
        (["--gold", str(pred), "--pred", str(pred)], "expected a JSON list"),
        (["--gold", str(gold_no_id), "--pred", str(pred)], "_id"),
    ]
    for args, message in cases:
        proc = run("score", *args)
        assert proc.returncode == 1, (args, proc.stdout, proc.stderr)
        assert "Traceback" not in proc.stderr
        assert message in proc.stderr, (args, proc.stderr)
        assert proc.stdout == ""


# --------------------------------------------------------------------------- unit rules


def test_articles_removed_as_whole_words_only() -> None:
    assert em("The Beatles", "beatles") == 1.0
    assert em("an apple", "apple") == 1.0
    assert em("Theatre Royal", "atre Royal") == 0.0  # "the" inside a word stays
    assert f1("the the the Beatles", "Beatles") == 1.0  # articles do not count as tokens
    # DeepResearcher keeps articles: "the" is a token of its own there.
    assert em("The Beatles", "beatles", variant="deepresearcher") == 0.0
    assert f1("the beatles", "beatles", variant="deepresearcher") == pytest.approx(2 / 3)


def test_punctuation_deleted_vs_spaced() -> None:
    assert em("U.S.", "US") == 1.0  # official: deleted, so "us" == "us"
    assert em("2,314", "2314") == 1.0
    assert em("Jean-Luc", "JeanLuc") == 1.0
    assert normalize_deepresearcher("U.S. Navy!") == "u s navy"
    assert em("U.S.", "US", variant="deepresearcher") == 0.0
    assert f1("Jean-Luc Picard", "jean luc picard", variant="deepresearcher") == 1.0
    assert f1("Jean-Luc Picard", "jean luc picard") == pytest.approx(2 * 0.5 * (1 / 3) / (0.5 + 1 / 3))


def test_yes_no_rule() -> None:
    assert f1("yes", "yes") == 1.0
    assert f1("Yes.", "yes") == 1.0
    assert f1("yes", "yes it is") == 0.0  # would be 0.5 without the rule
    assert f1("no way", "no") == 0.0
    assert f1("noanswer", "no answer") == 0.0
    assert ref_f1("yes", "yes it is") == 0.0
    # No such rule in the DeepResearcher variant.
    assert f1("yes", "yes it is", variant="deepresearcher") == pytest.approx(0.5)


def test_counts_versus_sets() -> None:
    # Official F1 counts tokens: two "new york" against one is precision 1/2.
    assert f1("New York New York", "New York") == pytest.approx(2 / 3)
    # DeepResearcher F1 uses sets: the repetition is invisible.
    assert f1("New York New York", "New York", variant="deepresearcher") == 1.0
    # Partial overlap, both variants: {barack, obama} vs {obama}.
    assert f1("Barack Obama", "Obama") == pytest.approx(2 / 3)
    assert f1("Barack Obama", "Obama", variant="deepresearcher") == pytest.approx(2 / 3)
    # Counter intersection takes the minimum count: gold has "paris" once.
    assert f1("paris paris", "paris france") == pytest.approx(0.5)


def test_empty_answers() -> None:
    assert em("", "") == 1.0
    assert f1("", "") == 0.0  # nothing shared: the official script returns 0
    assert em("the", "A") == 1.0 and f1("the", "A") == 0.0  # both normalise to ""
    assert f1("", "Paris") == 0.0 and f1("Paris", "") == 0.0
    assert f1("", "", variant="deepresearcher") == 0.0
    assert f1("...", "Paris", variant="deepresearcher") == 0.0


def test_aliases() -> None:
    golds = ["New York City", "NYC", "the Big Apple"]
    assert best_em("nyc", golds) == 1.0
    assert best_em("Big Apple", golds) == 1.0
    assert best_em("Boston", golds) == 0.0
    assert best_f1("New York", golds) == pytest.approx(0.8)
    assert best_f1("x", []) == 0.0 and best_em("x", []) == 0.0
    with pytest.raises(TypeError):
        best_em("nyc", "NYC")  # a bare string would be scored per character


def test_score_official_missing_predictions_count_as_zero() -> None:
    gold = [{"_id": "a", "answer": "Paris"}, {"_id": "b", "answer": "Lyon"},
            {"_id": "c", "answer": "Marseille Provence"}, {"_id": "d", "answer": "Nice"}]
    pred = {"answer": {"a": "Paris", "c": "Marseille", "zzz": "ignored"}, "sp": {}}
    got = score_official(gold, pred)
    assert got == {"em": pytest.approx(1 / 4), "f1": pytest.approx((1 + 2 / 3) / 4), "n": 4}
    assert score_official([], {"answer": {}}) == {"em": 0.0, "f1": 0.0, "n": 0}


def test_score_official_rejects_wrong_shapes() -> None:
    with pytest.raises(ValueError, match="answer"):
        score_official([{"_id": "a", "answer": "x"}], {"a": "x"})
    with pytest.raises(ValueError, match="gold item 0"):
        score_official([{"id": "a", "answer": "x"}], {"answer": {}})
    with pytest.raises(ValueError, match="not a string"):
        score_official([{"_id": "a", "answer": "x"}], {"answer": {"a": ["x"]}})
    with pytest.raises(ValueError, match="unknown metric"):
        f1("a", "b", variant="squad")  # type: ignore[arg-type]
