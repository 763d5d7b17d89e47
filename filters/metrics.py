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
"""

from __future__ import annotations

import string
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Final, Literal

from distill.qa_rules import normalize_answer

__all__ = [
    "METRICS",
    "Metric",
    "best_em",
    "best_f1",
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
