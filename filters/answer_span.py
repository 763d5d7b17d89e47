"""Is a final answer right? Find what the answer asserts, then test it with cover-EM.

Why this exists: strong teachers answer in sentences ("The notable race ... is the **Epsom
Derby**, won by the horse **Santa Claus**, ...") while references are short entities. Token
F1 of such an answer against the reference is far below any usable threshold even when the
answer is right, so without a judge every real trajectory was dropped. Cover-EM (the
reference contained in the prediction as whole tokens, as Search-R1 and ASearcher score) fixes
that, but applied to a whole long answer it rewards a page dump that names every candidate.
So the test runs on the *spans* that carry the answer, and only falls back to the whole text
under a length cap.

Candidate spans, in order, taken from the *answer sentence* (the first sentence, after an
"Answer:" label, that has any of the marked spans below; the first sentence when none has):

``bold``
    ``**x**``, ``__x__``, ``<b>x</b>``, ``<strong>x</strong>``: what the model emphasised.
``quote``
    ``"x"``, ``“x”``, ``‘x’`` and ``'x'`` when it looks like a title (starts with a capital
    or a digit; not an apostrophe inside a word): film, book and song titles.
``copula``
    What follows "is", "was", "are" or "were" up to the end of its clause (a comma,
    semicolon, colon, bracket, spaced dash or the end of the sentence): "... the husband
    was James Dougherty".
``text``
    The whole answer (fallback), only when the answer sentence bolds nothing: a model that
    emphasised its answer is judged by what it emphasised.

Only the answer sentence is searched for marked spans because a long answer goes on to
bold the figures of its explanation ("**5** dwarf planets", "**1990**"): a number reference
would be found in any of them. The first assertion is the answer; a model that asserts a
wrong answer and mentions the right one later ("was **Parva**. Before that the band was
called **Runston Parva**") is wrong.

The test per span (:func:`answer_correct`) against each reference form (the reference,
every alias, and the forms of :func:`reference_forms`):

* contiguous whole-token containment under :func:`filters.metrics.answer_tokens` (accents,
  case, Unicode quotes and dashes, articles; "three" = "3");
* for a reference of three or more tokens, containment in any order within a span of at
  most three tokens per reference token ("the discharge of ballast water" for "ballast
  water discharge"); shorter references are names, whose word order matters;
* no lists: an answer sentence that bolds more than three spans ("It could be **A**, **B**,
  **C** or **D**") is judged by its first bold span only;
* length caps. A marked span may be at most ``max(span_max_tokens, 4 x reference
  tokens)`` long (12 by default: a clause, not a paragraph); the whole-text fallback at most
  ``max(text_max_tokens, 8 x reference tokens)`` (32 by default). The fallback is the strict
  one: a one- or two-sentence answer that contains the reference is accepted, a
  several-paragraph answer must say its answer in a marked span, because a long text that
  mentions every candidate would otherwise pass;
* yes/no references are never matched by containment ("no" occurs in most sentences):
  the answer must *start* with the same yes/no, or a marked span of the answer sentence
  must be exactly that word ("The answer is **no**").

Finally the old rule stays a sufficient condition: a whole answer whose token F1 (the
recorded metric) reaches ``f1_threshold`` is correct (``how="f1"``), so short answers keep
their previous verdicts. F1 and EM of the whole answer are returned as recorded figures,
comparable with published numbers; they no longer decide.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from filters.metrics import Metric, answer_tokens, best_em, best_f1, contains_tokens

__all__ = ["AnswerMatch", "MatchSettings", "Span", "answer_correct", "answer_sentence", "answer_spans",
           "reference_forms"]

_YES_NO: Final = frozenset({"yes", "no"})

_BOLD: Final = re.compile(r"\*\*(?!\s)(.+?)(?<!\s)\*\*|__(?!\s)(.+?)(?<!\s)__|<(b|strong)>(.+?)</\3>",
                          re.IGNORECASE | re.DOTALL)
_QUOTE: Final = re.compile(r'"([^"\n]{1,200})"|“([^”\n]{1,200})”|‘([^’\n]{1,200})’|«([^»\n]{1,200})»'
                           r"|(?<!\w)'([^'\n]{1,200})'(?!\w)")
_COPULA: Final = re.compile(r"\b(?:is|was|are|were)\b\s+(.+?)\s*(?=[,;:!?()\[\]—–]|\s-\s|\.(?:\s|$)|\n|$)",
                            re.IGNORECASE)
_LABEL: Final = re.compile(r"^\s*(?:#+\s*)?(\*\*|__)?\s*(?:the\s+)?(?:final\s+|short\s+)?answer\s*(?:\1)?\s*"
                           r"(?:[:：]\s*(?:\1(?=\s))?|$)", re.IGNORECASE)
_BULLET: Final = re.compile(r"^\s*[-*+>]\s+")
_SENTENCE_END: Final = re.compile(r"[.!?](?=\s|$)")
#: Words whose full stop does not end a sentence.
_ABBREVIATIONS: Final = frozenset(
    "mr mrs ms dr st mt jr sr vs no nos co inc ltd corp prof gen col lt sgt capt fr rev ft approx est "
    "vol ch fig ed eds jan feb mar apr jun jul aug sep sept oct nov dec".split())
#: Where a disambiguating suffix starts in a Wikipedia-style reference: "Troll (Internet)",
#: "The Archers - Radio Soap". Unspaced hyphens are part of names ("Arakhamia-Grant").
_DISAMBIGUATOR: Final = re.compile(r"\s*[(\[]|\s+[-–—]\s+")


@dataclass(frozen=True, slots=True)
class MatchSettings:
    """Caps of :func:`answer_correct` (module docstring: why each exists)."""

    span_max_tokens: int = 12  # a marked span longer than this (and 4 tokens per reference token) is not an answer
    span_tokens_per_reference_token: int = 4
    text_max_tokens: int = 32  # the whole-text fallback: about two sentences
    text_tokens_per_reference_token: int = 8
    unordered_min_reference_tokens: int = 3  # word order may differ only for descriptive references
    unordered_tokens_per_reference_token: int = 3
    descriptor_min_tokens: int = 2  # a reference's leading/trailing words restating the question, at least this many
    max_bold_spans: int = 3  # an answer sentence bolding more is a list of candidates


@dataclass(frozen=True, slots=True)
class Span:
    kind: str  # "bold" | "quote" | "copula" | "text"
    text: str


@dataclass(frozen=True, slots=True)
class AnswerMatch:
    """The rule verdict on one final answer.

    ``how`` names what matched: a span kind (``bold``, ``quote``, ``copula``, ``text``),
    ``yes_no``, or ``f1`` (the whole answer's F1 reached the threshold); "" when nothing did.
    ``span`` is the matched span, or the answer's leading candidate (what it seems to
    assert) when nothing matched. ``gold`` is the reference form that matched ("" when
    none). ``f1`` / ``em`` are the whole answer's best scores over reference and aliases
    under the configured metric: recorded, not deciding.
    """

    correct: bool
    span: str
    how: str
    f1: float
    em: float
    gold: str = ""


def _strip_label(line: str) -> str:
    line = _BULLET.sub("", line, count=1)
    m = _LABEL.match(line)
    return line[m.end():] if m else line


def _sentences(line: str) -> list[str]:
    """``line`` cut at sentence ends, not at abbreviations, initials or inside bold."""
    out: list[str] = []
    start = 0
    for m in _SENTENCE_END.finditer(line):
        before = line[start:m.start()]
        word = re.split(r"[\s*_(\"“]+", before)[-1].lower() if before.strip() else ""
        if m.group() == "." and ((len(word) == 1 and word.isalpha()) or word in _ABBREVIATIONS
                                 or "." in word):  # "J.", "Dr.", "U.S."
            continue
        if before.count("**") % 2 or before.count("__") % 2:
            continue
        out.append(line[start:m.end()].strip())
        start = m.end()
    if line[start:].strip():
        out.append(line[start:].strip())
    return out


def _marked(sentence: str) -> list[Span]:
    spans = [Span("bold", next(g for g in (m.group(1), m.group(2), m.group(4)) if g is not None))
             for m in _BOLD.finditer(sentence)]
    for m in _QUOTE.finditer(sentence):
        text = next(g for g in m.groups() if g is not None)
        if m.group(5) is not None and not (text[:1].isupper() or text[:1].isdigit()):
            continue  # 'x' only when title-like
        spans.append(Span("quote", text))
    spans += [Span("copula", m.group(1)) for m in _COPULA.finditer(sentence) if m.group(1).strip()]
    return spans


def _lead(answer: str) -> tuple[str, str]:
    """(first sentence, answer sentence) of ``answer``, both after any "Answer:" label."""
    first = ""
    for raw in answer.splitlines():
        line = _strip_label(raw.strip())
        if not any(ch.isalnum() for ch in line):
            continue
        for sentence in _sentences(line):
            if not any(ch.isalnum() for ch in sentence):
                continue
            first = first or sentence
            if _marked(sentence):
                return first, sentence
    return first, first


def answer_sentence(answer: str) -> str:
    """The sentence that states the answer: after any "Answer:" label or heading, the first
    sentence that has a marked span (bold, quote, copula), else the first sentence."""
    return _lead(answer)[1]


def answer_spans(answer: str, settings: MatchSettings | None = None) -> list[Span]:
    """Candidate spans in the order they are tried: the answer sentence's bold, quoted and
    copula spans, then the whole text -- unless the answer sentence bolds something (the
    model emphasised its answer: that is what is judged). A sentence bolding more than
    ``max_bold_spans`` spans is a list of candidates, not an answer: only its first counts."""
    s = settings or MatchSettings()
    marked = _marked(answer_sentence(answer))
    bold = [sp for sp in marked if sp.kind == "bold"]
    if len(bold) > s.max_bold_spans:
        marked = [bold[0], *(sp for sp in marked if sp.kind != "bold")]
    return marked if bold else [*marked, Span("text", answer.strip())]


def answer_key(answer: str, settings: MatchSettings | None = None) -> str:
    """What the answer states, for comparing rollouts with each other (majority voting): a
    leading yes / no, else the first candidate span, else the whole text. Two sentences that
    bold the same entity ("... is **ricin**." / "**Ricin** was used ...") give the same key."""
    spans = answer_spans(answer, settings)
    yes_no = _leading_yes_no(answer, spans)
    if yes_no:
        return yes_no
    return spans[0].text if spans else answer.strip()


def _leading_yes_no(answer: str, spans: Sequence[Span]) -> str:
    """"yes" / "no" when the answer starts with it ("No, the number is ...") or a marked span
    of its sentence is exactly that word ("The answer is **no**"); the start first. A span
    merely starting with it does not count: "There is no evidence ..." is not an answer."""
    head = answer_tokens(_lead(answer)[0])[:1]
    if head and head[0] in _YES_NO:
        return head[0]
    for sp in spans:
        toks = answer_tokens(sp.text) if sp.kind != "text" else []
        if len(toks) == 1 and toks[0] in _YES_NO:
            return toks[0]
    return ""


def reference_forms(golds: Sequence[str], question: str = "", settings: MatchSettings | None = None) -> list[str]:
    """Every form a right answer may take: each gold answer, then (when different and not
    empty) the gold without a disambiguating suffix ("Troll (Internet)" -> "Troll", "The
    Archers - Radio Soap" -> "The Archers"), and without leading or trailing words that
    restate the question ("jim douglas race car driver" for "Who is the race car driver
    ...?" -> "jim douglas"). The last needs ``descriptor_min_tokens`` such words (a phrase,
    not a stray shared word) and leaves the words the question does not contain, so it never
    reduces a reference to something the question already says."""
    s = settings or MatchSettings()
    q = set(answer_tokens(question)) if question else set()
    forms: list[str] = []
    seen: set[tuple[str, ...]] = set()

    def add(form: str) -> None:
        form = " ".join(form.split())
        key = tuple(answer_tokens(form))
        if key and key not in seen:
            seen.add(key)
            forms.append(form)

    for gold in golds:
        add(gold)
        add(_DISAMBIGUATOR.split(gold, maxsplit=1)[0])
    if q:
        for form in list(forms):
            toks = answer_tokens(form)
            lo, hi = 0, len(toks)
            while lo < hi and toks[lo] in q:
                lo += 1
            while hi > lo and toks[hi - 1] in q:
                hi -= 1
            lo = lo if lo >= s.descriptor_min_tokens else 0
            hi = hi if len(toks) - hi >= s.descriptor_min_tokens else len(toks)
            if (lo or hi < len(toks)) and lo < hi:
                add(" ".join(toks[lo:hi]))
    return forms


def _covers(span: list[str], ref: list[str], kind: str, s: MatchSettings) -> bool:
    r = len(ref)
    if kind == "text":
        cap = max(s.text_max_tokens, s.text_tokens_per_reference_token * r)
    else:
        cap = max(s.span_max_tokens, s.span_tokens_per_reference_token * r)
    if len(span) > cap:
        return False
    if contains_tokens(span, ref):
        return True
    return (kind != "text" and r >= s.unordered_min_reference_tokens
            and len(span) <= s.unordered_tokens_per_reference_token * r and not Counter(ref) - Counter(span))


def answer_correct(answer: str, golds: Sequence[str], *, question: str = "", settings: MatchSettings | None = None,
                   f1_threshold: float | None = None, metric: Metric = "hotpotqa") -> AnswerMatch:
    """The rule verdict on ``answer`` against ``golds`` (reference first, then aliases).

    ``question`` enables the question-restating reference forms (:func:`reference_forms`);
    ``f1_threshold`` (None: off) keeps the old F1 rule as a sufficient condition; ``metric``
    picks the F1 / EM variant recorded. Raises ``TypeError`` for a bare string ``golds``.

    >>> answer_correct("The race is the **Epsom Derby**, won by Santa Claus.", ["Epsom Derby"]).how
    'bold'
    >>> answer_correct("The guidelines have had **3 editions** since 2009.", ["Three editions"]).how
    'bold'
    >>> answer_correct("No, it is not.", ["Yes"]).correct
    False
    """
    if isinstance(golds, str):
        raise TypeError("golds must be a list of answers, not one string")
    s = settings or MatchSettings()
    golds = [g for g in golds if g and g.strip()]
    f1 = best_f1(answer, golds, variant=metric)
    em = best_em(answer, golds, variant=metric)
    spans = answer_spans(answer, s)
    lead = next((sp.text for sp in spans if sp.kind != "text"), answer_sentence(answer))
    forms = [(form, answer_tokens(form)) for form in reference_forms(golds, question, s)]
    yes_no = [(form, ref) for form, ref in forms if len(ref) == 1 and ref[0] in _YES_NO]
    others = [(form, ref) for form, ref in forms if not (len(ref) == 1 and ref[0] in _YES_NO)]
    if yes_no:
        said = _leading_yes_no(answer, spans)
        for form, ref in yes_no:
            if said == ref[0]:
                return AnswerMatch(True, said, "yes_no", f1, em, form)
    for sp in spans:
        toks = answer_tokens(sp.text)
        for form, ref in others:
            if _covers(toks, ref, sp.kind, s):
                return AnswerMatch(True, sp.text, sp.kind, f1, em, form)
    if f1_threshold is not None and golds and f1 >= f1_threshold:
        return AnswerMatch(True, answer.strip(), "f1", f1, em, "")
    return AnswerMatch(False, lead, "", f1, em, "")
