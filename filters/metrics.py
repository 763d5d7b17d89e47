"""Answer metrics: exact match and token F1, as the benchmarks score them.

Why this exists: numbers we report for agents trained on seekforge data must be
comparable with published ones, and published numbers come from two different
scorers that disagree on the same answers:

``hotpotqa`` (default)
    The official HotpotQA / SQuAD rules. Normalisation (:func:`normalize_answer`,
    shared with :mod:`distill.qa_rules` so that data filtering and scoring agree):
    lower-case, delete ASCII punctuation (``string.punctuation``), remove the
    articles a/an/the as whole words, collapse whitespace. EM: normalised strings
    equal. F1: over token *counts* (multiset intersection), precision = common /
    prediction tokens, recall = common / gold tokens. Two special cases of the
    official script are kept: when either normalised side is ``yes``, ``no`` or
    ``noanswer`` and the two differ, F1 is 0 (a yes/no answer gets no partial
    credit for sharing a token); and when nothing is shared F1 is 0 -- including
    when both sides normalise to empty (EM is 1 then: the strings are equal).
``deepresearcher``
    The reward/evaluation variant used by DeepResearcher-style RL work: lower-case,
    punctuation replaced by *spaces* (so "U.S." is two tokens), articles kept,
    F1 over token *sets*: ``2 * |P & R| / (|P| + |R|)``. No yes/no rule.

Entry points: :func:`em`, :func:`f1` (one gold answer), :func:`best_em`,
:func:`best_f1` (maximum over gold aliases), :func:`score_official` (a whole
prediction file against a HotpotQA gold file, averaged over *all* gold questions,
so a missing prediction counts as 0, as in the official evaluation).

``cover-EM`` (:func:`cover_em`, :func:`answer_tokens`)
    The correctness test of Search-R1 / ASearcher-style evaluation: the gold answer is
    *contained* in the prediction, as whole tokens. It suits answers written as
    sentences ("... is the **Epsom Derby**."), where F1 is low for a right answer. Its
    normalisation is stricter about what counts as the same token than the official
    one: Unicode accents stripped ("Pokémon" = "pokemon"), case folded, Unicode
    quotes, apostrophes, full stops and commas deleted as the official script deletes
    ASCII ones ("U.S." = "us", "2,314" = "2314", "O’Brien" = "obrien"), every other
    punctuation mark or symbol (hyphens and Unicode dashes, brackets, ``*``) a space
    ("Jean-Luc" = "jean luc"), articles dropped, and number words read as digits
    ("three" = "3", "twenty-one" = "21", "two thousand" = "2000"; "third" = "3rd").
    Which part of a long answer to test is :mod:`filters.answer_span`'s business.
"""

from __future__ import annotations

import re
import string
import unicodedata
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Final, Literal

from distill.qa_rules import normalize_answer

__all__ = [
    "METRICS",
    "Metric",
    "best_em",
    "best_f1",
    "cover_em",
    "answer_tokens",
    "contains_tokens",
    "em",
    "f1",
    "normalize_answer",
    "normalize_deepresearcher",
    "score_official",
]

Metric = Literal["hotpotqa", "deepresearcher"]

#: Metric variants by name (the ``--metric`` choices of ``seekforge score``).
METRICS: Final[tuple[str, ...]] = ("hotpotqa", "deepresearcher")

#: Normalised answers for which the official HotpotQA F1 gives no partial credit.
_YES_NO: Final = frozenset({"yes", "no", "noanswer"})

_PUNCT_TO_SPACE: Final = str.maketrans(string.punctuation, " " * len(string.punctuation))


def normalize_deepresearcher(s: str) -> str:
    """Lower-case, punctuation to spaces, collapse whitespace (articles are kept).

    Replacing punctuation by a space (instead of deleting it) is what makes this
    variant split "U.S." into "u s" and "Jean-Luc" into "jean luc".
    """
    return " ".join(s.lower().translate(_PUNCT_TO_SPACE).split())


def _check_variant(variant: str) -> None:
    if variant not in METRICS:
        raise ValueError(f"unknown metric variant {variant!r}; choose one of {', '.join(METRICS)}")


def em(pred: str, gold: str, *, variant: Metric = "hotpotqa") -> float:
    """1.0 when the normalised prediction equals the normalised gold answer, else 0.0."""
    _check_variant(variant)
    norm = normalize_answer if variant == "hotpotqa" else normalize_deepresearcher
    return float(norm(pred) == norm(gold))


def f1(pred: str, gold: str, *, variant: Metric = "hotpotqa") -> float:
    """Token F1 of one prediction against one gold answer (see the module docstring)."""
    _check_variant(variant)
    if variant == "deepresearcher":
        p, r = set(normalize_deepresearcher(pred).split()), set(normalize_deepresearcher(gold).split())
        if not p and not r:
            return 0.0
        return 2 * len(p & r) / (len(p) + len(r))
    np_, ng = normalize_answer(pred), normalize_answer(gold)
    if np_ != ng and (np_ in _YES_NO or ng in _YES_NO):
        return 0.0
    p_tokens, g_tokens = np_.split(), ng.split()
    common = sum((Counter(p_tokens) & Counter(g_tokens)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(p_tokens), common / len(g_tokens)
    return 2 * precision * recall / (precision + recall)


def best_em(pred: str, golds: Sequence[str], *, variant: Metric = "hotpotqa") -> float:
    """Best EM over gold aliases (0.0 for no aliases): any accepted answer counts."""
    if isinstance(golds, str):
        raise TypeError("golds must be a list of answers, not one string")
    return max((em(pred, g, variant=variant) for g in golds), default=0.0)


def best_f1(pred: str, golds: Sequence[str], *, variant: Metric = "hotpotqa") -> float:
    """Best F1 over gold aliases (0.0 for no aliases)."""
    if isinstance(golds, str):
        raise TypeError("golds must be a list of answers, not one string")
    return max((f1(pred, g, variant=variant) for g in golds), default=0.0)


def score_official(gold: Sequence[Mapping[str, object]], pred: Mapping[str, object], *,
                   variant: Metric = "hotpotqa") -> dict[str, float | int]:
    """Mean EM / F1 of a HotpotQA prediction file over all questions of the gold file.

    ``gold`` is the official dev file shape (a list of objects with ``_id`` and
    ``answer``), ``pred`` the official prediction shape (``{"answer": {id: text}}``;
    other keys such as ``sp`` are ignored). Averaging over the gold questions, with 0
    for a missing prediction, is what the official script does: skipping missing
    ones would reward a system for not answering. Raises ``ValueError`` on a wrong
    shape, naming what is wrong.
    """
    _check_variant(variant)
    if not isinstance(gold, Sequence) or isinstance(gold, (str, bytes)):
        raise ValueError("gold must be a list of objects with _id and answer")
    answers = pred.get("answer") if isinstance(pred, Mapping) else None
    if not isinstance(answers, Mapping):
        raise ValueError('predictions must be an object with an "answer" object mapping ids to answers')
    em_sum = f1_sum = 0.0
    for i, item in enumerate(gold):
        if not isinstance(item, Mapping) or "_id" not in item or "answer" not in item:
            raise ValueError(f"gold item {i} is not an object with _id and answer")
        if not isinstance(item["_id"], (str, int)) or isinstance(item["_id"], bool):
            raise ValueError(f"gold item {i}: _id is not a string")
        if not isinstance(item["answer"], str):
            raise ValueError(f"gold item {i} ({item['_id']}): answer is not a string")
        if item["_id"] not in answers:
            continue
        text = answers[item["_id"]]
        if not isinstance(text, str):
            raise ValueError(f"prediction for {item['_id']} is not a string")
        em_sum += em(text, item["answer"], variant=variant)
        f1_sum += f1(text, item["answer"], variant=variant)
    n = len(gold)
    return {"em": em_sum / n if n else 0.0, "f1": f1_sum / n if n else 0.0, "n": n}


# ---------------------------------------------------------------------------
# cover-EM
# ---------------------------------------------------------------------------

#: Deleted (joining what they separate), as the official script deletes ASCII punctuation:
#: full stops and commas inside numbers and abbreviations, and every kind of apostrophe.
_JOINERS: Final = frozenset(".,'`\u00b4\u2018\u2019\u02bc\u2032")
_ARTICLE_TOKENS: Final = frozenset({"a", "an", "the"})

_UNITS: Final = {w: i for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen".split())}
_TENS: Final = {w: 10 * (i + 2) for i, w in enumerate("twenty thirty forty fifty sixty seventy eighty ninety".split())}
_SCALES: Final = {"hundred": 100, "thousand": 1000}  # million / billion stay words: "2.5 million" is the usual form
_ORDINALS: Final = {w: i + 1 for i, w in enumerate(
    "first second third fourth fifth sixth seventh eighth ninth tenth eleventh twelfth thirteenth fourteenth "
    "fifteenth sixteenth seventeenth eighteenth nineteenth".split())} | {
    w: 10 * (i + 2) for i, w in enumerate(
        "twentieth thirtieth fortieth fiftieth sixtieth seventieth eightieth ninetieth".split())} | {
    "hundredth": 100, "thousandth": 1000}
_ORDINAL_DIGITS: Final = re.compile(r"^(\d+)(?:st|nd|rd|th)$")


def _ordinal(n: int) -> str:
    suffix = "th" if n % 100 in (11, 12, 13) else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _clean(s: str) -> str:
    """Accents stripped, case folded; joiners deleted, other punctuation and symbols spaces."""
    s = unicodedata.normalize("NFKD", s)
    out = []
    for ch in s:
        cat = unicodedata.category(ch)
        if cat == "Mn":  # combining accent
            continue
        if ch in _JOINERS:
            continue
        out.append(" " if cat[0] in "PSZC" else ch)
    return "".join(out).casefold()


def _numbers(tokens: list[str]) -> list[str]:
    """Runs of number words as one digit token: "twenty one" -> "21", "third" -> "3rd"."""
    out: list[str] = []
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if tok not in _UNITS and tok not in _TENS and tok not in _SCALES and tok not in _ORDINALS:
            m = _ORDINAL_DIGITS.match(tok)
            out.append(_ordinal(int(m.group(1))) if m else tok)
            i += 1
            continue
        total = current = 0
        ordinal = False
        last = ""  # "unit", "ten", "scale": two units in a row ("one two") are two numbers
        j = i
        while j < len(tokens) and not ordinal:
            t = tokens[j]
            if t in _UNITS and last in ("", "ten", "scale") and not (last == "ten" and _UNITS[t] >= 10):
                current += _UNITS[t]
                last = "unit"
            elif t in _TENS and last in ("", "scale") and current % 100 == 0:
                current += _TENS[t]
                last = "ten"
            elif t in _SCALES and last in ("unit", "ten", "") and (current or last == ""):
                scale = _SCALES[t]
                current = max(current, 1) * scale
                if scale >= 1000:
                    total, current = total + current, 0
                last = "scale"
            elif t in _ORDINALS and _ORDINALS[t] >= 100 and last in ("", "unit", "ten"):
                current = max(current, 1) * _ORDINALS[t]  # "hundredth", "one hundredth"
                ordinal = True
            elif t in _ORDINALS and _ORDINALS[t] < 100 and last in ("", "ten", "scale") and not (
                    last == "ten" and _ORDINALS[t] >= 10):
                current += _ORDINALS[t]  # "third", "twenty first", "one hundred fifth"
                ordinal = True
            elif t == "and" and last == "scale" and j + 1 < len(tokens) and (
                    tokens[j + 1] in _UNITS or tokens[j + 1] in _TENS or tokens[j + 1] in _ORDINALS):
                pass  # "one hundred and five"
            else:
                break
            j += 1
        value = total + current
        out.append(_ordinal(value) if ordinal else str(value))
        i = j
    return out


def answer_tokens(s: str) -> list[str]:
    """Tokens of ``s`` under the cover-EM normalisation (module docstring).

    >>> answer_tokens("The Third Edition, released in twenty-twenty")
    ['3rd', 'edition', 'released', 'in', '20', '20']
    >>> answer_tokens("**3 editions**") == answer_tokens("three editions")
    True
    """
    return _numbers([t for t in _clean(s).split() if t not in _ARTICLE_TOKENS])


def contains_tokens(haystack: Sequence[str], needle: Sequence[str]) -> bool:
    """``needle`` occurs in ``haystack`` as a contiguous run of whole tokens (empty: False)."""
    n = len(needle)
    if not n or n > len(haystack):
        return False
    first = needle[0]
    return any(haystack[i] == first and list(haystack[i:i + n]) == list(needle)
               for i in range(len(haystack) - n + 1))


def cover_em(pred: str, gold: str) -> float:
    """1.0 when the normalised ``gold`` occurs in the normalised ``pred`` as whole tokens.

    >>> cover_em("It is the Epsom Derby.", "epsom derby"), cover_em("Derbyshire", "derby")
    (1.0, 0.0)
    """
    return float(contains_tokens(answer_tokens(pred), answer_tokens(gold)))
