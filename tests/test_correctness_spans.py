"""Correctness without a judge on sentence answers: answer spans + cover-EM (filters.answer_span).

The acceptance data is WebDancer's real sample (../shared/webdancer/sample_traj_20.jsonl): a
strong model's answers are sentences with the entity in bold, its references short entities.
Every record below was checked by hand (question, reference, final answer):

* kept (18): 1 The Archers, 2 Jim Douglas, 3/4 ricin, 5 James Dougherty (second sentence of
  a short answer), 6 Vespa, 7 Corfe Castle, 8 troll, 10/14/15/18 "Yes, ...", 11 Third
  Edition, 12 four basic tenses, 13 "3 editions", 16 "No, ...", 17 **5**, 19 "the
  discharge of ballast water" -- all right;
* dropped: 0, "**Epsom Derby**" for the reference "English horse race Derby" -- right, but
  the reference is a description, not a name, and no span contains it (a judge's case);
  9, "was **Parva**" for "runston parva" -- wrong: the answer asserts Parva and mentions
  Runston Parva only as an earlier name.

With the final answers moved between records whose references differ (every such rotation),
nothing may pass: what matched was the answer, not the wording.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from distill.agent.formats import from_webdancer
from distill.agent.trajectory import Trajectory
from filters.answer_span import MatchSettings, answer_correct, answer_sentence, answer_spans, reference_forms
from filters.metrics import answer_tokens, cover_em
from filters.pipeline import run_filters
from filters.rules import ANSWER_NOT_MATCHED, check_correctness
from pipelines.cli import main
from trajectory_factory import answer, call, traj
from webdata import shared_path

HAND_CHECKED_RIGHT = [1, 2, 3, 4, 5, 6, 7, 8, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19]
HAND_CHECKED_WRONG = [9]
_ANSWER = re.compile(r"<answer>.*?</answer>", re.DOTALL)


def _webdancer() -> Path:
    # Fail, not skip, even outside CI: this is the acceptance test of the correctness rule on real answers.
    return shared_path("webdancer", "sample_traj_20.jsonl", required=True)


def _records() -> list[dict]:  # type: ignore[type-arg]
    return [json.loads(line) for line in _webdancer().read_text(encoding="utf-8").splitlines() if line.strip()]


def _filter(path: Path) -> tuple[list[dict], dict]:  # type: ignore[type-arg]
    result = CliRunner().invoke(main, ["filter", str(path), "--format", "webdancer"])
    assert result.exit_code == 0, result.output
    lines = [json.loads(x) for x in result.stdout.splitlines()]
    return lines[:-1], lines[-1]


def _valid_rotations(trajs: list[Trajectory]) -> list[int]:
    """Shifts k for which no record receives the answer of a record with the same reference
    (the sample holds two rollouts of the "Ricin" question and four "Yes" questions)."""
    refs = [tuple(answer_tokens(t.reference)) for t in trajs]
    n = len(refs)
    return [k for k in range(1, n) if all(refs[i] != refs[(i + k) % n] for i in range(n))]


def _swap_answers(records: list[dict], k: int) -> list[dict]:  # type: ignore[type-arg]
    """Record i gets record (i + k) % n's ``<answer>`` block, in the raw WebDancer JSON."""
    n = len(records)
    blocks = [_ANSWER.findall(r["messages"][-1]["content"])[-1] for r in records]
    out = []
    for i, r in enumerate(records):
        r = json.loads(json.dumps(r))
        last = r["messages"][-1]["content"]
        head, _, tail = last.rpartition(blocks[i])
        r["messages"][-1]["content"] = head + blocks[(i + k) % n] + tail
        out.append(r)
    return out


# ---------------------------------------------------------------------------
# acceptance on the real sample
# ---------------------------------------------------------------------------


def test_webdancer_sample_is_recognised(tmp_path: Path) -> None:
    assert len(_records()) == 20
    records, summary = _filter(_webdancer())
    correctness = summary["funnel"]["correctness"]
    assert correctness["in"] == 20 and correctness["kept"] >= 14
    dropped = {r["index"] for r in records if "answer_not_matched" in r["reasons"]}
    assert dropped.isdisjoint(HAND_CHECKED_RIGHT) and set(HAND_CHECKED_WRONG) <= dropped


def test_webdancer_sample_with_swapped_answers_keeps_nothing(tmp_path: Path) -> None:
    raw = _records()
    trajs = [from_webdancer(r, line=i + 1) for i, r in enumerate(raw)]
    rotations = _valid_rotations(trajs)
    assert len(rotations) >= 5
    for k in rotations:
        swapped = _swap_answers(raw, k)
        # every answer really moved
        assert all(from_webdancer(s).final_answer == trajs[(i + k) % 20].final_answer for i, s in enumerate(swapped))
        kept = [i for i, s in enumerate(swapped) if not check_correctness(from_webdancer(s)).reasons]
        assert kept == [], f"rotation {k}: {kept}"
    path = tmp_path / "swapped.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in _swap_answers(raw, rotations[0])))
    records, summary = _filter(path)
    assert summary["funnel"]["correctness"] == {"in": 20, "kept": 0, "drops": {"answer_not_matched": 20}}
    assert all(r["reasons"] == ["answer_not_matched"] for r in records)


def test_run_filters_records_rule_verdict_beside_judge() -> None:
    trajs = [from_webdancer(r, line=i + 1, sample_index=i) for i, r in enumerate(_records())]
    judge = {trajs[0].id: True, trajs[1].id: False}
    result = run_filters(trajs, judge=judge)
    by = {d.id: d for d in result.decisions}
    # the judge overrules the rule both ways; the rule verdict stays recorded
    assert by[trajs[0].id].rule_correct is False and "answer_not_matched" not in by[trajs[0].id].reasons
    assert by[trajs[1].id].rule_correct is True and by[trajs[1].id].reasons == ["judge_rejected"]
    assert by[trajs[9].id].rule_correct is False and by[trajs[9].id].stage_dropped == "correctness"
    assert by[trajs[7].id].answer_span == "Corfe Castle" and by[trajs[7].id].f1 < 0.1


# ---------------------------------------------------------------------------
# span kinds
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "kind"), [
    ("The founder of the institute was **Ada Brun**, a geologist.", "bold"),
    ("The founder of the institute was __Ada Brun__, a geologist.", "bold"),
    ("The founder of the institute was <b>Ada Brun</b>, a geologist.", "bold"),
    ('The founder, per the charter: "Ada Brun", a geologist.', "quote"),
    ("The founder, per the charter: “Ada Brun”, a geologist.", "quote"),
    ("The founder, per the charter: 'Ada Brun', a geologist.", "quote"),
    ("According to the charter, the founder was Ada Brun; she was a geologist from Oslo.", "copula"),
    ("Ada Brun", "text"),
])
def test_each_span_kind(text: str, kind: str) -> None:
    m = answer_correct(text, ["Ada Brun"])
    assert m.correct and m.how == kind and answer_tokens(m.span) == ["ada", "brun"]


def test_apostrophes_are_not_quotes_and_labels_are_skipped() -> None:
    spans = answer_spans("It's the founder's 'own' institute, isn't it.")
    assert [s.kind for s in spans] == ["text"]  # 'own' is not title-like; the apostrophes are not quotes
    assert answer_sentence("**Final Answer:** The founder is **Ada Brun**.") == "The founder is **Ada Brun**."
    assert answer_sentence("### Answer\n\nDr. J. Smith says the founder is **Ada Brun**. More.") == \
        "Dr. J. Smith says the founder is **Ada Brun**."
    assert answer_correct("**Answer:** **Ada Brun**", ["Ada Brun"]).how == "bold"


def test_only_the_answer_sentence_is_searched_for_marks() -> None:
    # The first assertion is the answer; a right name mentioned later does not rescue it.
    wrong = ("The band's original name was **Parva**. Before that, the band was briefly called **Runston Parva** "
             "after a Yorkshire hamlet, and in 2003 it became Kaiser Chiefs.")
    m = answer_correct(wrong, ["Runston Parva"])
    assert not m.correct and m.span == "Parva"
    # ...and figures bolded in the explanation are not the answer
    explained = ("No, the number is **not** greater.\n\n- **8 planets**\n- **5 dwarf planets**\n- Total: **13**.")
    assert not answer_correct(explained, ["5"]).correct


# ---------------------------------------------------------------------------
# normalisation: numbers, accents, punctuation
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(("said", "gold"), [
    ("**three** editions", "3"), ("**3 editions**", "Three editions"), ("**twenty-one**", "21"),
    ("**one hundred and five** days", "105"), ("**2,000** copies", "two thousand"),
    ("**Third Edition**", "3rd edition"),
    ("**Twelve**", "12"), ("**ninety nine** runs", "99"), ("**Pokémon Red**", "Pokemon red"),
    ("**U.S. Navy**", "US Navy"), ("**O’Brien** won", "O'Brien"), ("**Jean–Luc**", "Jean-Luc"),
])
def test_number_words_and_normalisation(said: str, gold: str) -> None:
    assert answer_correct(f"The answer is {said}.", [gold]).correct


def test_cover_em_is_whole_tokens() -> None:
    assert cover_em("He won the Epsom Derby.", "epsom derby") == 1.0
    assert cover_em("Derbyshire", "derby") == 0.0
    assert cover_em("It was 1889.", "1887") == 0.0
    assert cover_em("the third in 2020", "three") == 0.0  # ordinal is not cardinal
    assert answer_tokens("twenty twenty") == ["20", "20"] and answer_tokens("one two") == ["1", "2"]


# ---------------------------------------------------------------------------
# references: aliases and their forms
# ---------------------------------------------------------------------------


def test_aliases_and_reference_forms() -> None:
    assert answer_correct("She was born as **Norma Jeane Mortenson**.", ["Marilyn Monroe", "Norma Jeane"]).correct
    assert answer_correct("The word is **troll**.", ["Troll (Internet"]).correct
    assert answer_correct("It is **The Archers**.", ["The Archers - Radio Soap"]).correct
    forms = reference_forms(["jim douglas race car driver"], "Who is the race car driver protagonist of Herbie?")
    assert forms == ["jim douglas race car driver", "jim douglas"]
    # a single shared word is not a descriptor, and a reference never shrinks to what the question says
    assert reference_forms(["Bank of England"], "Which bank issued it?") == ["Bank of England"]
    assert reference_forms(["race car driver"], "Who is the race car driver?") == ["race car driver"]
    # hyphenated names are not disambiguators
    assert reference_forms(["Arakhamia-Grant"]) == ["Arakhamia-Grant"]


def test_descriptive_reference_in_another_word_order() -> None:
    said = "The primary method is through the discharge of ballast water from ships."
    assert answer_correct(said, ["ballast water discharge"]).how == "copula"
    # two-token names keep their order
    assert not answer_correct("The winner was Douglas Jim.", ["Jim Douglas"]).correct
    assert not answer_correct("The pair was **Jim Smith and Mary Douglas**.", ["Jim Douglas"]).correct


# ---------------------------------------------------------------------------
# guards
# ---------------------------------------------------------------------------


def test_yes_no_must_lead() -> None:
    assert answer_correct("Yes, she played in the 1990 Olympiad as a Grandmaster.", ["Yes"]).how == "yes_no"
    assert answer_correct("**No.** The count is 13 against 88.", ["no"]).correct
    assert answer_correct("The answer is **no**: 13 is less than 88.", ["No"]).correct
    assert not answer_correct("No, she never did, yes that is right.", ["Yes"]).correct
    assert not answer_correct("There is no evidence against it; it is true.", ["No"]).correct
    assert not answer_correct("She said yes to the invitation but not to the Olympiad.", ["Yes"]).correct


def test_whole_text_fallback_is_capped() -> None:
    short = "The American actress is Marilyn Monroe. Her husband at that time was James Dougherty."
    assert answer_correct(short, ["James Dougherty"]).how in ("text", "copula")
    dump = ("Several people are linked to the institute. " * 3 + "Its staff included Carl Ode, Eva Lind, "
            "Ada Brun and Ole Dahl, among many others listed on the archived page of the society.")
    assert len(answer_tokens(dump)) > MatchSettings().text_max_tokens
    assert not answer_correct(dump, ["Ada Brun"]).correct
    assert answer_correct(dump, ["Ada Brun"], settings=MatchSettings(text_max_tokens=100)).how == "text"


def test_a_list_of_bold_candidates_is_not_an_answer() -> None:
    hedge = "It could be **Carl Ode**, **Eva Lind**, **Ada Brun** or **Ole Dahl**."
    assert not answer_correct(hedge, ["Ada Brun"]).correct  # first bold only, and no whole-text fallback
    assert answer_correct(hedge, ["Carl Ode"]).correct  # the first is taken as the answer
    # bold spans that do not match end the search: the model emphasised its (wrong) answer
    assert not answer_correct("It was **Carl Ode**, not Ada Brun.", ["Ada Brun"]).correct


def test_long_marked_span_is_not_an_answer() -> None:
    long = "The founder is someone many sources describe in various ways including Ada Brun and **others** of its day."
    assert not answer_correct(long, ["Ada Brun"]).correct  # the clause after "is": 15 tokens > 12
    assert answer_correct(long, ["Ada Brun"], settings=MatchSettings(span_max_tokens=20)).how == "copula"


def test_negative_cases() -> None:
    assert not answer_correct("The founder was **Carl Ode**.", ["Ada Brun"]).correct
    assert not answer_correct("**Brun**", ["Ada Brun"]).correct  # part of the name is not the name
    assert not answer_correct("", ["Ada Brun"]).correct
    assert not answer_correct("It was **1889**.", ["1887"]).correct
    with pytest.raises(TypeError):
        answer_correct("Ada Brun", "Ada Brun")  # type: ignore[arg-type]


def test_check_correctness_uses_the_span_rule() -> None:
    t = traj(call("look"), answer("found it", "The institute was set up in 1901 by **Ada Brun**, a geologist."))
    c = check_correctness(t)
    assert c.reasons == [] and c.rule is not None and c.rule.how == "bold" and c.f1 is not None and c.f1 < 0.5
    wrong = traj(call("look"), answer("found it", "The institute was set up by **Carl Ode**."))
    assert check_correctness(wrong).reasons == [ANSWER_NOT_MATCHED]
