"""Rule checks for QA pairs (distill.qa_rules) and the `seekforge qa-lint` command."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from distill.qa_rules import REASONS, answer_kind, is_grounded, lint_qa, normalize_answer
from webdata import shared_path

SEEKFORGE = str(Path(sys.executable).parent / "seekforge")

GOOD_Q = "Which river flows next to the German town where the band was formed?"


def reasons(question: str = GOOD_Q, answer: str = "Moselle", **kw: object) -> list[str]:
    return lint_qa(question, answer, **kw)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def hotpot() -> list[dict]:
    path = shared_path("qa", "hotpotqa", "dev_distractor_300.jsonl")
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


# --------------------------------------------------------------------------- basics


def test_good_pair_is_kept() -> None:
    assert reasons() == []


def test_normalize_answer_matches_squad_rules() -> None:
    assert normalize_answer("  The  Eiffel-Tower!! ") == "eiffeltower"
    assert normalize_answer("An apple, a day") == "apple day"
    assert normalize_answer("2,314") == "2314"
    assert normalize_answer("Theatre") == "theatre"  # articles only as whole words
    assert normalize_answer("U.S.\tNavy\n") == "us navy"
    assert normalize_answer("") == ""


@pytest.mark.parametrize(("answer", "kind"), [
    ("yes", "yes_no"), ("No.", "yes_no"),
    ("2019", "date"), ("March 2021", "date"), ("16 Mar 2021", "date"), ("August 2, 1948", "date"),
    ("1990s", "date"), ("17th century", "date"), ("March", "date"),
    ("15", "number"), ("2,417 metres", "number"), ("25 laps", "number"), ("almost 3 million", "number"),
    ("$2.5 million", "number"), ("five months", "number"), ("12%", "number"),
    ("Tulsa", "entity"), ("Keeper of the Privy Seal of Scotland", "entity"), ("The 2013–14 Premier League", "entity"),
    ("1984 Summer Olympics", "entity"), ("One Raffles Place", "entity"),
    ("husband and wife", "other"), ("8th and 16th centuries", "other"), ("", "other"),
])
def test_answer_kind(answer: str, kind: str) -> None:
    assert answer_kind(answer) == kind


def test_reasons_are_sorted_unique_and_known() -> None:
    got = lint_qa("What does this page say?", " Ray ID: 8a1f2c\n")
    assert got == sorted(set(got))
    assert set(got) <= set(REASONS)
    assert {"error_page_leftover", "mentions_browsing", "answer_multiline", "answer_whitespace"} <= set(got)


# --------------------------------------------------------------------------- error_page_leftover


@pytest.mark.parametrize("answer", [
    "Ray ID: 8a1f2c", "Attention Required! | Cloudflare", "Just a moment...", "Checking your browser",
    "Please complete the CAPTCHA", "Verify you are human", "Too Many Requests", "429 Too Many Requests",
    "Rate limit exceeded", "403 Forbidden", "Access Denied", "404 Not Found", "Page not found",
    "Wikipedia does not have an article with this exact name", "Please enable JavaScript",
    "Sign in to continue", "Log in to continue", "Request blocked", "Service Unavailable", "502 Bad Gateway",
    "Error 429", "HTTP 503", "Security check", "Just a moment",
])
def test_error_page_answers_are_flagged(answer: str) -> None:
    assert "error_page_leftover" in reasons(answer=answer)


def test_error_page_text_in_question_is_flagged() -> None:
    q = "Which site shows the message 'Checking your browser before accessing' to visitors?"
    assert "error_page_leftover" in reasons(q, "Stack Overflow")


@pytest.mark.parametrize(("question", "answer"), [
    # Real topics that share words with block pages stay.
    ("Which company, founded in 2009 in San Francisco, acquired the startup Zaraz?", "Cloudflare"),
    ("Which university group coined the term CAPTCHA in 2003?", "Carnegie Mellon University"),
    ("What is the GitHub REST API rate limit per hour for unauthenticated requests?", "60"),
    ("How many seats does the 403-seat chamber of the parliament have?", "403"),
    ("What area code serves San Francisco in California?", "415"),
    ("Who played lead guitar on the album that was denied release in 1968?", "Jimmy Page"),
])
def test_error_page_words_in_real_topics_are_kept(question: str, answer: str) -> None:
    assert "error_page_leftover" not in reasons(question, answer)


def test_http_phrase_question_is_flagged_by_design() -> None:
    # Documented trade-off: the 429 page text is flagged wherever it occurs.
    assert "error_page_leftover" in reasons("What HTTP status code means too many requests?", "429")


# --------------------------------------------------------------------------- answer_leaked / choices


def test_answer_leaked() -> None:
    assert "answer_leaked" in reasons("Did Zaza Pachulia win an NBA title with the Atlanta Hawks?", "Zaza Pachulia")
    assert "answer_leaked" in reasons("What is served with ice and named like the Margarita cocktail?", "A margarita")
    assert "answer_leaked" not in reasons("Which city hosted the 1900 Summer Olympics after Athens?", "Paris")
    # whole words only: "Paris" is not in "Parisian"
    assert "answer_leaked" not in reasons("Which city is home to the Parisian opera house Garnier?", "Paris")


def test_yes_no_never_leaked() -> None:
    assert lint_qa("Did the band say yes to the invitation to play at Woodstock in 1969?", "yes") == []
    assert "answer_leaked" not in reasons("Did the no-hitter happen before the move to Denver?", "no")


def test_choice_answers_are_not_leaks_but_can_be_flagged() -> None:
    q = "Which city, Paris or Lyon, hosted the 1900 Summer Olympics?"
    assert reasons(q, "Paris") == []
    assert reasons(q, "Paris", flag_choices=True) == ["answer_in_choices"]
    q2 = "Among Kele Okereke and Jon Hume, who founded the New Zealand band Evermore?"
    assert reasons(q2, "Jon Hume", flag_choices=True) == ["answer_in_choices"]
    # a choice question that also names the answer elsewhere is a leak
    q3 = "Which city, Paris or Lyon, is home to the Paris Opera house?"
    assert "answer_leaked" in reasons(q3, "Paris")


# --------------------------------------------------------------------------- answer shape


def test_answer_empty() -> None:
    for answer in ("", "   ", "...", "the", "N/A", "unknown", "Not mentioned"):
        assert "answer_empty" in reasons(answer=answer), answer
    assert "answer_empty" not in reasons(answer="0")


def test_answer_multiline_and_whitespace() -> None:
    assert "answer_multiline" in reasons(answer="Moselle\nriver")
    assert "answer_multiline" not in reasons(answer="Moselle river")
    for answer in (" Moselle", "Moselle ", "Moselle  river", "Moselle\triver"):
        assert "answer_whitespace" in reasons(answer=answer), repr(answer)
    assert "answer_whitespace" not in reasons(answer="Moselle river")


@pytest.mark.parametrize("answer", ["A", "a", "(b)", "C)", "Option D", "B.", "[c]", "Answer: B"])
def test_answer_option_letter(answer: str) -> None:
    assert "answer_option_letter" in reasons(answer=answer)


def test_answer_option_letter_in_multiple_choice_question() -> None:
    q = "Which city hosted the 1900 Olympics? A) Paris B) Lyon C) Nice"
    assert "answer_option_letter" in reasons(q, "A) Paris")
    assert "answer_option_letter" in reasons(q, "A")
    # "B. B. King" is a name, not an option, when the question has no options
    assert "answer_option_letter" not in reasons("Which blues guitarist named his guitar Lucille?", "B. B. King")
    assert "answer_option_letter" not in reasons(answer="Aqua")


def test_answer_too_long() -> None:
    long_words = "one two three four five six seven eight nine ten eleven twelve thirteen"
    assert "answer_too_long" in reasons(answer=long_words)
    assert "answer_too_long" not in reasons(answer=long_words, max_answer_words=13)
    assert "answer_too_long" in reasons(answer="x" * 101)
    assert "answer_too_long" not in reasons(answer="Keeper of the Privy Seal of Scotland")


def test_answer_is_sentence() -> None:
    assert "answer_is_sentence" in reasons(answer="The club is based in Gainsborough.")
    assert "answer_is_sentence" in reasons(answer="The answer is Moselle")
    assert "answer_is_sentence" in reasons(answer="It was released in 1995")
    for answer in ("November 27, 2002.", "Washington, D.C.", "Lush Ltd.", "It Was a Good Day",
                   "the Slavic women accompanying their husbands in the First Balkan War."):
        assert "answer_is_sentence" not in reasons(answer=answer), answer


# --------------------------------------------------------------------------- question checks


@pytest.mark.parametrize("question", [
    "What river flows through the city described on this page?",
    "According to the passage, which river flows past the town?",
    "According to the text, which river flows past the town?",
    "Which river is mentioned in the webpage about the town?",
    "Which river flows past the town in the article above, per the above?",
    "Which river is named in the provided document?",
    "Which river flows past the town in the given text?",
    "What river is shown after you click on the second link?",
    "Which river is named behind this link to the town's tourist office?",
    "Which river is named in the links below about the town?",
    "What is the URL of the river's official website?",
    "Which river appears first in the search results for the town?",
    "Which river do you see if you scroll down the town's entry?",
    "Which river does this article say flows past the town?",
])
def test_mentions_browsing(question: str) -> None:
    assert "mentions_browsing" in reasons(question)


@pytest.mark.parametrize("question", [
    "Which guitarist of Led Zeppelin, Jimmy Page or Robert Plant, was born first?",
    "What is the link between the Moselle and the Rhine called?",
    "Which motorway that links London and Birkenhead replaced the A41 in parts?",
    "Which 2006 comedy film Click starred Adam Sandler and Kate Beckinsale?",
    "Which museum holds the Dead Sea Scrolls fragments found in 1947?",
    "Which model appeared on the pages of Vogue and Elle in 1995?",
    "According to the 2010 census, which town on the Moselle was largest?",
    "In which year was this American figure skater the national champion?",
])
def test_mentions_browsing_negatives(question: str) -> None:
    assert "mentions_browsing" not in reasons(question)


@pytest.mark.parametrize("question", [
    "", "   ", "Who is Obama?", "Moselle flows through the town.",
    "Which river flows past {town} in Germany?", "Which river flows past <answer> in Germany?",
    "Which river flows past [ENTITY] in Germany?", "Question: which river flows past the town?",
])
def test_question_malformed(question: str) -> None:
    assert "question_malformed" in reasons(question)


@pytest.mark.parametrize("question", [
    GOOD_Q, "Name the actor who played in Arrival and The Town",
    "In which year was the club founded by the brewer", "Which river flows past the town [sic] in Germany?",
    "The band had their first performance in what city?",
])
def test_question_well_formed(question: str) -> None:
    assert "question_malformed" not in reasons(question)


# --------------------------------------------------------------------------- grounding / evidence


def test_not_grounded() -> None:
    ev = "The Moselle flows past Trier. The mountain is 2,417 metres high. Rail opened on 13 March 2013."
    assert "not_grounded" not in reasons(answer="Moselle", evidence_text=ev)
    assert "not_grounded" not in reasons(answer="moselle river", evidence_text="the Moselle River, Trier")
    assert "not_grounded" not in reasons(answer="Mosselle", evidence_text=ev)  # fuzzy
    assert "not_grounded" in reasons(answer="Rhine", evidence_text=ev)
    assert is_grounded("2417 metres", ev) and is_grounded("2,417", ev)
    assert not is_grounded("2,418 metres", ev)  # numbers must match exactly
    assert is_grounded("March 13, 2013", ev)
    assert not is_grounded("March 13, 2014", ev)
    assert is_grounded("yes", ev)  # judgements are not spans
    assert "not_grounded" not in reasons(answer="Rhine")  # no evidence, no check


def test_evidence_unknown() -> None:
    known = {"https://en.wikipedia.org/wiki/Trier"}
    assert "evidence_unknown" in reasons(evidence_urls=["https://en.wikipedia.org/wiki/Bonn"], known_urls=known)
    assert "evidence_unknown" not in reasons(evidence_urls=["https://en.wikipedia.org/wiki/Trier"], known_urls=known)
    assert "evidence_unknown" not in reasons(evidence_urls=["https://en.wikipedia.org/wiki/Bonn"])


# --------------------------------------------------------------------------- real data


def test_hotpotqa_pairs_are_mostly_kept(hotpot: list[dict]) -> None:
    verdicts = [lint_qa(r["question"], r["answer"]) for r in hotpot]
    rate = sum(not v for v in verdicts) / len(verdicts)
    dropped = Counter(reason for v in verdicts for reason in v)
    assert rate >= 0.9, (rate, dropped)
    # HotpotQA's comparison questions ("A or B?") are kept by default ...
    assert "answer_in_choices" not in dropped
    # ... and can be flagged for RL-style filtering.
    flagged = sum("answer_in_choices" in lint_qa(r["question"], r["answer"], flag_choices=True) for r in hotpot)
    assert flagged >= 20
    # Answers are grounded in their own context paragraphs.
    grounded = sum(is_grounded(r["answer"], "\n".join("".join(s) for s in r["context"]["sentences"])) for r in hotpot)
    assert grounded / len(hotpot) >= 0.95


def test_hotpotqa_junk_variants_are_dropped(hotpot: list[dict]) -> None:
    base = [r for r in hotpot if not lint_qa(r["question"], r["answer"])][:50]
    for r in base:
        q, a = r["question"], r["answer"]
        assert "mentions_browsing" in lint_qa(q.rstrip(" ?") + " according to this page?", a)
        assert "error_page_leftover" in lint_qa(q, "Ray ID: 8a1f2c")
        assert "answer_option_letter" in lint_qa(q, "A")
        assert "answer_multiline" in lint_qa(q, a + "\n" + a)


@pytest.mark.parametrize(("question", "answer", "expected"), [
    ("What does the page say when you visit too quickly?", "Too Many Requests",
     {"error_page_leftover", "mentions_browsing"}),
    ("What message does the website show before letting a visitor in?", "Just a moment...", {"error_page_leftover"}),
    ("What identifier is printed at the bottom of the security notice?", "Cloudflare Ray ID 8a1f2c3d4e",
     {"error_page_leftover"}),
    ("What must users do to view the repository's discussions?", "Sign in to continue", {"error_page_leftover"}),
    ("What does the encyclopedia show for the article on the Sorvik Institute?",
     "Wikipedia does not have an article with this exact name", {"error_page_leftover"}),
])
def test_webdancer_style_bad_pairs(question: str, answer: str, expected: set[str]) -> None:
    assert expected <= set(lint_qa(question, answer))


# --------------------------------------------------------------------------- CLI


def test_cli_qa_lint(tmp_path: Path) -> None:
    lines = [
        json.dumps({"_id": "h1", "question": "Who was born first, Morgan Llywelyn or Robert Jordan?",
                    "answer": "Morgan Llywelyn"}),
        "{not json",
        "",
        json.dumps({"question": "What does the page say when you visit too quickly?", "answers": ["Too Many Requests"]}),
        json.dumps({"question": "Which river flows past the town of Trier in Germany?"}),
        json.dumps({"question": "Which river flows past the town of Trier in Germany?", "answer": "Rhine",
                    "evidence": "Trier lies on the Moselle."}),
        json.dumps([1, 2]),
    ]
    path = tmp_path / "qa.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    proc = subprocess.run([SEEKFORGE, "qa-lint", str(path), "--max-answer-words", "5"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    out = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [o["index"] for o in out] == list(range(6))
    assert out[0] == {"index": 0, "id": "h1", "keep": True, "reasons": []}
    assert out[1]["keep"] is False and out[1]["reasons"] == ["invalid_record"] and out[1]["detail"]
    assert set(out[2]["reasons"]) == {"error_page_leftover", "mentions_browsing"}
    assert out[3] == {"index": 3, "keep": False, "reasons": ["invalid_record"], "detail": "no answer"}
    assert out[4]["reasons"] == ["not_grounded"]
    assert out[5]["reasons"] == ["invalid_record"] and out[5]["detail"]
    assert "kept 1 of 6; reasons:" in proc.stderr


def test_cli_qa_lint_missing_file(tmp_path: Path) -> None:
    proc = subprocess.run([SEEKFORGE, "qa-lint", str(tmp_path / "nope.jsonl")], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 2
    assert "does not exist" in proc.stderr


def test_multi_line_question_is_malformed() -> None:
    from distill.qa_rules import lint_qa

    assert "question_malformed" in lint_qa("How long nemmer aktivnice\n\nWhat is the significance of the Brask Prize?", "2014")
    assert lint_qa("What is the significance of the Brask Prize to Tessholm?", "2014") == []
