"""Cheap rule checks for question/answer pairs (no LLM): is this pair worth keeping?

Why this exists: synthesized multi-hop QA (WebDancer's CRAWLQA / E2HQA and ours) is
built by teacher LLMs from crawled pages, and a known defect of such data is pairs
generated from pages that were never content: Cloudflare interstitials, 403/404/429
pages, login walls. Other cheap-to-catch defects are answers that leak into the
question, answers that are option letters or whole sentences, questions that talk
about "this page" (meaningless to an agent that must find the page itself), template
leftovers and answers that are not in the evidence they were drawn from. All of these
can be detected with regular expressions and one fuzzy match, fast enough to run on
every record of a large file, and on anybody's QA file (see ``seekforge qa-lint``).

Entry points:

* :func:`lint_qa` -- sorted unique reason codes (empty list: keep the pair);
* :func:`normalize_answer` -- the HotpotQA / SQuAD answer normalisation;
* :func:`answer_kind` -- ``number`` / ``date`` / ``yes_no`` / ``entity`` / ``other``.

Reason codes (:data:`REASONS`):

``error_page_leftover``
    Question or answer quotes an error, bot-wall, rate-limit or login page
    (:data:`ERROR_PAGE_RULES`, plus :data:`ERROR_ANSWERS` for whole answers).
``answer_leaked``
    The normalised answer occurs, as whole words, in the normalised question.
    Yes/no answers never count. An answer that is one of the alternatives the
    question offers ("Who was born first, A or B?") is *not* counted here: such
    comparison questions are a legitimate, common type (about a quarter of HotpotQA),
    they give the agent a choice, not the answer. Callers who want them out (e.g. for
    RL, where a two-way choice can be guessed) pass ``flag_choices=True`` and get
    ``answer_in_choices`` for them.
``answer_in_choices``
    Only with ``flag_choices=True``: see above.
``answer_empty``
    Nothing to match: blank, punctuation only, only an article, or a placeholder /
    refusal such as "N/A", "unknown", "not mentioned" (:data:`PLACEHOLDER_ANSWERS`).
``answer_multiline``
    The answer contains a line break.
``answer_whitespace``
    Leading/trailing whitespace, a tab, or two spaces in a row: exact-match rewards
    and string comparisons downstream should not depend on invisible characters.
``answer_option_letter``
    The answer is an option label ("A", "(b)", "C)", "Option D"), or the question
    lists lettered options and the answer starts with one ("B) Lyon").
``answer_too_long``
    More than ``max_answer_words`` words or ``max_answer_chars`` characters: short
    answers are what makes exact-match / F1 rewards meaningful.
``answer_is_sentence``
    The answer is a full sentence rather than a span: it ends with "." or "!" and has
    a finite auxiliary/copula ("is", "was", "has", "will" ...), or it starts like
    "The answer is ..." / "It was ...". Deliberately conservative: long noun phrases
    that end with a period ("the Slavic women accompanying ... War.") are real
    HotpotQA answers and are left to ``answer_too_long``.
``mentions_browsing``
    The question refers to a page, the source or the act of browsing ("this page",
    "according to the passage", "click", "the search results") (:data:`BROWSING_RULES`).
``question_malformed``
    Empty; fewer than :data:`MIN_QUESTION_WORDS` words; not a question (no "?" and no
    interrogative / imperative opening); or template leftovers ("{", "}",
    "<answer>", "[ENTITY]", a "Question:" prefix).
``not_grounded``
    Only with ``evidence_text``: the answer is not found in the evidence (see
    :func:`is_grounded`).
``evidence_unknown``
    Only with both ``evidence_urls`` and ``known_urls``: an evidence URL is not known.

False positives, the trade-off: the error-page rules match *phrases* that block pages
print ("Too Many Requests", "Ray ID", "checking your browser", "403 Forbidden",
"enable JavaScript"), never bare words that real questions use. "Cloudflare" (a
company), "CAPTCHA" and "rate limit" (research topics on arXiv, API facts on GitHub)
and bare status codes ("403" is a fine numeric answer, "415" an area code) count only
in the context a block page gives them ("Cloudflare Ray ID", "complete the CAPTCHA",
"rate limit exceeded", "Error 429", "429 Too Many Requests"). What remains is a
handful of phrases that a real question could quote ("What HTTP status code means too
many requests?"): such questions are rare in encyclopedic / research multi-hop QA, and
dropping one costs little, while keeping a block-page pair teaches an agent to answer
with block-page text. So those phrases are flagged wherever they occur.
"""

from __future__ import annotations

import re
from collections.abc import Container, Sequence
from typing import Final, Literal

from rapidfuzz import fuzz

from crawl.drop_reasons import (
    ANSWER_EMPTY,
    ANSWER_IN_CHOICES,
    ANSWER_IS_SENTENCE,
    ANSWER_LEAKED,
    ANSWER_MULTILINE,
    ANSWER_OPTION_LETTER,
    ANSWER_TOO_LONG,
    ANSWER_WHITESPACE,
    ERROR_PAGE_LEFTOVER,
    EVIDENCE_UNKNOWN,
    MENTIONS_BROWSING,
    NOT_GROUNDED,
    QUESTION_MALFORMED,
)

AnswerKind = Literal["number", "date", "yes_no", "entity", "other"]

#: Every reason code :func:`lint_qa` can return (see the module docstring), declared in
#: :mod:`crawl.drop_reasons` (stage ``qa_rules``).
REASONS: Final[tuple[str, ...]] = (
    ANSWER_EMPTY,
    ANSWER_IN_CHOICES,
    ANSWER_IS_SENTENCE,
    ANSWER_LEAKED,
    ANSWER_MULTILINE,
    ANSWER_OPTION_LETTER,
    ANSWER_TOO_LONG,
    ANSWER_WHITESPACE,
    ERROR_PAGE_LEFTOVER,
    EVIDENCE_UNKNOWN,
    MENTIONS_BROWSING,
    NOT_GROUNDED,
    QUESTION_MALFORMED,
)

#: Questions with fewer words than this are malformed ("Who is Obama?" says too little
#: to be a multi-hop research question).
MIN_QUESTION_WORDS: Final = 4

#: Fuzzy-match threshold (rapidfuzz ``partial_ratio``, 0-100) for grounding.
GROUNDING_MIN_SCORE: Final = 90


# ---------------------------------------------------------------------------
# Normalisation
# ---------------------------------------------------------------------------

# ASCII punctuation, exactly Python's ``string.punctuation`` (what the official
# SQuAD / HotpotQA scripts remove); ``str.translate`` deletes it in one C pass.
_PUNCT = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"
_DELETE_PUNCT = str.maketrans("", "", _PUNCT)
_ARTICLES = re.compile(r"\b(?:a|an|the)\b")


def normalize_answer(s: str) -> str:
    """Lower-case, drop ASCII punctuation, drop articles a/an/the, collapse whitespace.

    The normalisation of the official SQuAD / HotpotQA evaluation, so that exact-match
    decisions here agree with how the data is scored. Punctuation is deleted, not
    replaced by a space ("2,314" -> "2314", "U.S." -> "us"), as the official script does.
    """
    s = s.lower().translate(_DELETE_PUNCT)
    s = _ARTICLES.sub(" ", s)
    return " ".join(s.split())


def _rx(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


# ---------------------------------------------------------------------------
# Rule tables
# ---------------------------------------------------------------------------

#: (label, pattern) pairs for ``error_page_leftover``, matched case-insensitively on
#: the raw question and answer. Labels only document / debug (see
#: :func:`error_page_hits`); the reason code is the same for all.
ERROR_PAGE_RULES: Final[tuple[tuple[str, re.Pattern[str]], ...]] = tuple(
    (label, _rx(pattern))
    for label, pattern in (
        # Cloudflare: the footer "Ray ID: 8a1f..." and the challenge titles. The bare
        # brand is a company name, so it counts only next to block-page words.
        ("cloudflare", r"\bray id\b"
                       r"|\battention required\b"
                       r"|\bjust a moment(?:\.\.\.|…)"
                       r"|\bcloudflare\b.{0,40}\b(?:ray|challenge|security check|error \d{3}|blocked)\b"
                       r"|\b(?:performance (?:&|and) security|ddos protection|blocked|protected) by cloudflare\b"),
        # Browser / human checks. Bare "captcha" is a research topic, so only the
        # imperative forms and the widget names.
        ("human_check", r"\bchecking (?:your browser|if the site connection is secure)\b"
                        r"|\bverify(?:ing)? (?:that )?you are (?:a )?human\b"
                        r"|\bare you a robot\b|\bi'?m not a robot\b"
                        r"|\bunusual traffic from your (?:computer|network)\b"
                        r"|\b(?:re|h)captcha\b"
                        r"|\b(?:solve|complete|enter|fill in|type|pass) (?:the |a |this )?captcha\b"
                        r"|\bcaptcha (?:challenge|verification|required|page)\b"),
        # Rate limits: the 429 page text, and "rate limit" only in its error forms.
        ("rate_limit", r"\btoo many requests\b"
                       r"|\brate[ -]?limit(?:ed|ing)? (?:exceeded|reached)\b"
                       r"|\b(?:you have|you've) been rate[ -]?limited\b|\byou are being rate[ -]?limited\b"
                       r"|\bexceeded (?:a |the |your )?(?:secondary |api )?rate[ -]?limit\b"),
        # HTTP status codes: never bare numbers, only with the words around them.
        ("http_status", r"\b(?:error|http(?: error| status)?|status code)\s*:?\s*[45]\d\d\b"
                        r"|\b[45]\d\d\s*[-:]?\s*(?:bad request|unauthori[sz]ed|forbidden|not found|too many requests"
                        r"|internal server error|bad gateway|service unavailable|gateway time-?out)\b"),
        ("access_denied", r"\baccess (?:denied|forbidden)\b"
                          r"|\byou don'?t have permission to access\b"
                          r"|\brequest (?:was )?blocked\b|\byou(?: have|'ve) been blocked\b"),
        ("not_found", r"\bpage not found\b"
                      r"|\bdoes not have an article with this exact name\b"
                      r"|\bthe (?:page|resource|file) you (?:requested|were looking for|are looking for)\b"
                      r"|\bthis page (?:doesn'?t|does not) exist\b"),
        ("javascript_wall", r"\b(?:enable|turn on|activate|allow) javascript\b"
                            r"|\bjavascript is (?:disabled|required|not enabled|turned off)\b"),
        ("login_wall", r"\b(?:sign|log) ?in to (?:continue|view|access|see|read)\b"
                       r"|\byou must be (?:logged|signed) in\b|\blogin required\b|\bplease (?:sign|log) ?in\b"),
        ("server_error", r"\bservice (?:temporarily )?unavailable\b|\bbad gateway\b|\bgateway time-?out\b"
                         r"|\binternal server error\b|\bsite can'?t be reached\b"),
    )
)
_ERROR_PAGE_ANY = re.compile("|".join(f"(?:{p.pattern})" for _, p in ERROR_PAGE_RULES), re.IGNORECASE)

#: Whole answers (after :func:`normalize_answer`) that are block-page titles. Kept
#: short: "Forbidden", "Error" or "Blocked" are also titles of films and songs.
ERROR_ANSWERS: Final[frozenset[str]] = frozenset({
    "not found", "unauthorized", "unauthorised", "access denied", "security check", "captcha",
    "just moment", "attention required", "please wait", "sign in", "log in", "login required",
})

#: Whole answers (normalised) that say "no answer": a teacher's refusal or a blank.
PLACEHOLDER_ANSWERS: Final[frozenset[str]] = frozenset({
    "na", "none", "null", "nil", "nan", "unknown", "no answer", "not mentioned",
    "not specified", "not provided", "not available", "not applicable", "cannot be determined",
    "can not be determined", "insufficient information", "i dont know", "unanswerable",
})

#: (label, pattern) pairs for ``mentions_browsing``, matched case-insensitively on the
#: question. "page" itself is matched lower-case only ``(?-i:...)`` so that "Jimmy Page"
#: or a work titled "The Page" is not a reference to a web page.
BROWSING_RULES: Final[tuple[tuple[str, re.Pattern[str]], ...]] = tuple(
    (label, _rx(pattern))
    for label, pattern in (
        ("page_reference", r"\b(?:this|that|the|current|above|following|linked|given|provided|same) (?:web ?)?(?-i:page)\b"
                           r"|\b(?:the|this) web ?page\b"
                           r"|\b(?:wikipedia|arxiv|github) (?:(?-i:page)|article|entry)\b"),
        ("source_reference", r"\b(?:this|the above|the following|the given|the provided|the attached|the linked|the current) "
                             r"(?:article|document|passage|text|paragraph|snippet|excerpt|source|context|website|web site|screenshot)\b"),
        ("according_to", r"\baccording to (?:the|this|that|these) (?:text|passage|document|website|web ?site|web ?page|page|article"
                         r"|source|sources|context|paragraph|snippet|excerpt|search results?|information|results)\b"),
        ("above", r"\b(?:the|mentioned|described|shown|listed|given) above\b"),
        ("provided", r"\bthe provided\b|\bin the given\b"),
        # "the link" / "this link", not the verb ("roads that link A and B") nor
        # "the link between A and B"; plural only with a pointer ("the links below").
        ("link_url", r"\burls?\b|\b(?:the|this) (?:hyper)?link\b(?! between| with)"
                     r"|\b(?:the|these|those) (?:hyper)?links (?:above|below|provided|given|on (?:the|this) (?-i:page))\b"),
        ("click_scroll", r"\bclick(?:s|ed|ing)? (?:on|here|the|this|that|through)\b|\bscroll(?:s|ed|ing)? (?:down|up|through|to)\b"),
        ("search_results", r"\b(?:the|these|those|your|above) search results?\b|\bsearch results? (?:above|below|page)\b"),
        ("browsing_verbs", r"\b(?:visit|visiting|open|opening|navigate|navigating|browse|browsing|load|loading) "
                           r"(?:the|this|that) (?:(?-i:page)|web ?page|website|web site|url|link)\b"),
    )
)
_BROWSING_ANY = re.compile("|".join(f"(?:{p.pattern})" for _, p in BROWSING_RULES), re.IGNORECASE)

# Template leftovers in a question: braces, tags like <answer>, placeholders like
# [ENTITY] / [MASK], a "Question:" prefix a teacher copied from its prompt.
_TEMPLATE_LEFTOVER = re.compile(
    r"[{}]"
    r"|</?\s*(?:answer|question|entity|context|think|doc|document|passage|placeholder|evidence)\b[^>]*>"
    r"|^\s*(?:question|q)\s*\d*\s*[:：]",
    re.IGNORECASE,
)
# Placeholders must be upper-case ("[ENTITY]", "[MASK]"); "[sic]" is fine.
_UPPER_PLACEHOLDER = re.compile(r"\[[A-Z][A-Z0-9_ ]{1,30}\]")

# First words that make a sentence a question (or a task) even without "?".
_QUESTION_OPENERS: Final = frozenset(
    "what which who whom whose when where why how whether "
    "is are was were do does did can could will would should shall may might must has have had "
    "name find identify list give tell determine state provide specify".split()
)
_WH_WORDS: Final = frozenset("what which who whom whose when where why how".split())

_OPTION_LABEL = re.compile(
    r"^\s*(?:(?:option|choice|answer)\s*[:\-]?\s*)?[(\[]?[A-Ha-h][)\]]?\s*[.:)]?\s*$", re.IGNORECASE
)
_OPTION_PREFIX = re.compile(r"^\s*(?:(?:option|choice)\s*)?[(\[]?([A-Ha-h])(?:[)\]]|[.:)])\s*", re.IGNORECASE)
# Lettered options inside a question: "A) Paris", "(B) Lyon", "c. Nice".
_QUESTION_OPTION = re.compile(r"(?:^|[\s:;,])[(\[]?([A-Ea-e])[)\].:]\s+\S")

_FINITE_VERB = re.compile(
    r"\b(?:is|are|was|were|has|have|had|will|would|can|could|does|did|do|may|might|must|should|shall"
    r"|isn't|aren't|wasn't|weren't|hasn't|haven't|doesn't|didn't)\b",
    re.IGNORECASE,
)
# "The answer is X", "Answer: X", "It was released in ..." (the verb in lower case, so
# that titles such as "It Was a Good Day" or "They Were Expendable" stay spans).
_SENTENCE_OPENING = re.compile(
    r"^\s*(?:(?i:the (?:correct |final )?answer (?:is|was)\b|answer\s*:)"
    r"|(?:[Ii]t|[Hh]e|[Ss]he|[Tt]hey) (?:is|was|are|were|has|had) )"
)
# A final "." that is part of an abbreviation or initial ("D.C.", "Jr.", "Ltd.").
_ABBREVIATION_END = re.compile(r"(?:\b[A-Za-z]\.|\b(?:jr|sr|st|ltd|inc|co|corp|dr|mr|mrs|ms|no|vs|etc)\.)$", re.IGNORECASE)

_BAD_WHITESPACE = re.compile(r"\t| {2,}")


# ---------------------------------------------------------------------------
# Answer kinds and numbers
# ---------------------------------------------------------------------------

_MONTH = (r"(?:january|february|march|april|may|june|july|august|september|october|november|december"
          r"|jan|feb|mar|apr|jun|jul|aug|sept|sep|oct|nov|dec)\.?")
_FULL_MONTHS: Final = frozenset(
    "january february march april may june july august september october november december".split()
)
_MONTH_WORD = re.compile(r"\b" + _MONTH.removesuffix(r"\.?") + r"\b", re.IGNORECASE)
_ORD = r"(?:st|nd|rd|th)?"
_DATE = _rx(
    r"^(?:(?:in|on|c\.|circa|ca\.)\s+)?(?:"
    rf"\d{{1,2}}{_ORD}\s+{_MONTH},?\s+\d{{3,4}}"           # 16 Mar 2021
    rf"|{_MONTH}\s+\d{{1,2}}{_ORD},?\s+\d{{3,4}}"          # March 13, 2013
    rf"|{_MONTH},?\s+\d{{3,4}}"                            # March 2021
    rf"|\d{{1,2}}{_ORD}\s+{_MONTH}|{_MONTH}\s+\d{{1,2}}{_ORD}"  # 16 March / March 16
    r"|1\d{3}|20\d{2}|\d{4}s|\d{4}\s*[-–]\s*\d{2,4}"      # 2019, 1990s, 2013-14
    r"|\d{4}-\d{2}(?:-\d{2})?|\d{1,2}/\d{1,2}/\d{2,4}"    # ISO, 12/31/2019
    r"|\d{1,4}\s*(?:ad|bc|bce|ce)|(?:ad|bc)\s*\d{1,4}"    # 1066 AD, BC 44
    r"|(?:(?:early|mid|late)[- ])?\d{1,2}(?:st|nd|rd|th)[- ]century(?:\s+(?:ad|bc|bce|ce))?"
    r")\.?$"
)
_NUMBER_WORDS = (r"(?:zero|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen"
                 r"|fifteen|sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy"
                 r"|eighty|ninety|hundred|thousand|million|billion|dozen)")
# A number, optionally qualified ("about", "almost"), with currency / percent, and
# up to three lower-case unit words ("2,417 metres", "25 laps", "575 acres (2.08 km²)").
# Upper-case tails ("1984 Summer Olympics", "One Raffles Place") make it an entity.
_NUMBER = re.compile(
    r"^(?:(?:about|around|approximately|approx\.|almost|nearly|over|under|more than|less than|at least"
    r"|roughly|some|circa|c\.|~|≈)\s*)?"
    r"[-+−]?[$€£¥]?\s?(?:(?:\d{1,3}(?:[,\u202f\u00a0]\d{3})+|\d+)(?:\.\d+)?|\.\d+|(?i:" + _NUMBER_WORDS + r"))"
    r"\s?(?:%|[$€£¥])?(?:\s+[^\sA-Z][^\s]*){0,3}$"
)
# Digit groups, with thousands separators ("2,314", "2 314" with a narrow space).
_DIGITS = re.compile(r"\d{1,3}(?:[,\u202f\u00a0]\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?")
_DIGIT_SEPARATORS = str.maketrans("", "", ",\u202f\u00a0")

_STOPWORDS: Final = frozenset(
    "of the and for in on at to a an de la le von van der du des del da di y et from with by or".split()
)


def _numbers(text: str) -> set[str]:
    """Numbers in ``text`` as canonical digit strings ("2,314" and "2314" -> "2314", "07" -> "7")."""
    out: set[str] = set()
    for m in _DIGITS.finditer(text):
        s = m.group().translate(_DIGIT_SEPARATORS)
        out.add(s if "." in s else str(int(s)))
    return out


def answer_kind(answer: str) -> AnswerKind:
    """Classify an answer for metadata: ``number``, ``date``, ``yes_no``, ``entity`` or ``other``.

    Why: downstream rewards and analyses treat kinds differently (numbers and dates
    must match exactly, entities fuzzily). Decisions: a bare four-digit number from
    1000 to 2099 is a ``date`` (years dominate in QA data); a number followed by up to
    three lower-case words is a ``number`` ("2,417 metres", "25 laps"); a number
    followed by capitalised words is an ``entity`` ("1984 Summer Olympics"); a full
    month name alone is a ``date``. ``entity`` means capitalised words (a name).
    """
    s = answer.strip().strip("\"'“”‘’")
    norm = normalize_answer(s)
    if norm in ("yes", "no"):
        return "yes_no"
    if not norm:
        return "other"
    if _DATE.match(s) or norm in _FULL_MONTHS:
        return "date"
    if _NUMBER.match(s):
        return "number"
    words = [w.strip("\"'“”‘’()[],.;:") for w in s.split()]
    words = [w for w in words if w]
    if words and words[0].lower() == "the":
        words = words[1:]
    if not words or not (words[0][:1].isupper() or words[0][:1].isdigit()):
        return "other"
    content = [w for w in words if w.lower() not in _STOPWORDS]
    upper = sum(1 for w in content if w[:1].isupper())
    capitalised = upper + sum(1 for w in content if w[:1].isdigit())
    return "entity" if upper and capitalised * 2 >= len(content) and len(words) <= 10 else "other"


# ---------------------------------------------------------------------------
# Individual checks (public where callers may want them alone)
# ---------------------------------------------------------------------------


def error_page_hits(text: str) -> list[str]:
    """Labels of :data:`ERROR_PAGE_RULES` that match ``text`` (for debugging / reports)."""
    return [label for label, rx in ERROR_PAGE_RULES if rx.search(text)]


def has_error_page_leftover(question: str, answer: str) -> bool:
    """True when question or answer carries error / bot-wall / login page text."""
    if _ERROR_PAGE_ANY.search(question) or _ERROR_PAGE_ANY.search(answer):
        return True
    return normalize_answer(answer) in ERROR_ANSWERS


def mentions_browsing(question: str) -> bool:
    """True when the question refers to a page, the source text or browsing actions.

    Why: the agent trained on the pair starts from the question alone; "this page" has
    no referent for it, and such questions come from teachers that saw the page.
    """
    return _BROWSING_ANY.search(question) is not None


_LIST_COMMA = re.compile(r",(?=\s)")


def _question_tokens(question: str) -> tuple[list[str], list[bool]]:
    """Normalised question words, and for each whether it sits next to a list separator.

    Commas followed by a space are kept as separators (they split "A, B or C"),
    everything else is normalised exactly like :func:`normalize_answer`.
    """
    s = _LIST_COMMA.sub(" \x00 ", question.lower())
    s = _ARTICLES.sub(" ", s.translate(_DELETE_PUNCT))
    raw = s.split()
    words: list[str] = []
    sep_before: list[bool] = []
    pending = False
    for tok in raw:
        if tok == "\x00":
            pending = True
            continue
        words.append(tok)
        sep_before.append(pending)
        pending = False
    return words, sep_before


_CHOICE_CUE = re.compile(r"\b(?:among|between|which of|which one|of the two)\b|^\s*(?:of the|which|who|what)\b[^,?]*,", re.IGNORECASE)


def leak_kind(question: str, answer: str) -> Literal["leaked", "choice"] | None:
    """How the answer appears in the question: ``leaked``, ``choice`` or None (absent).

    ``choice``: every occurrence of the answer is an item of an explicit list of
    alternatives, i.e. next to "or" (or next to "and" / a list comma when the question
    asks to choose: "Among A and B, who ...", "Which is older, A or B?"). Any other
    occurrence is a leak. Yes/no answers are never leaked.
    """
    a = normalize_answer(answer).split()
    if not a or a in (["yes"], ["no"]):
        return None
    words, sep_before = _question_tokens(question)
    n, k = len(words), len(a)
    if k > n:
        return None
    has_or = "or" in words
    cue = has_or or _CHOICE_CUE.search(question) is not None
    found = False
    for i in range(n - k + 1):
        if words[i:i + k] != a:
            continue
        found = True
        before = words[i - 1] if i > 0 else ""
        after = words[i + k] if i + k < n else ""
        comma = sep_before[i] or (i + k < n and sep_before[i + k])
        is_choice = before == "or" or after == "or" or (
            cue and (before == "and" or after == "and" or (comma and (has_or or "and" in words)))
        )
        if not is_choice:
            return "leaked"
    return "choice" if found else None


def is_question_malformed(question: str) -> bool:
    """True for empty / too short / non-question text, several lines (two questions
    glued together, or generation garbage before the question), or template leftovers."""
    q = question.strip()
    words = q.split()
    if len(words) < MIN_QUESTION_WORDS or "\n" in q:
        return True
    if _TEMPLATE_LEFTOVER.search(q) or _UPPER_PLACEHOLDER.search(q):
        return True
    if q.endswith("?"):
        return False
    first = [w.strip("\"'“”‘’()[],.;:").lower() for w in words[:3]]
    if first[0] in _QUESTION_OPENERS:
        return False
    # "In which year ...", "For what ..." without the question mark.
    return not any(w in _WH_WORDS for w in first[1:])


def _answer_option_letter(question: str, answer: str) -> bool:
    if _OPTION_LABEL.match(answer):
        return True
    m = _OPTION_PREFIX.match(answer)
    if m is None:
        return False
    letters = {x.upper() for x in _QUESTION_OPTION.findall(question)}
    return len(letters) >= 2 and m.group(1).upper() in letters


def is_sentence(answer: str) -> bool:
    """True for an answer that is a full sentence rather than a span (see module doc)."""
    s = answer.strip()
    if _SENTENCE_OPENING.match(s):
        return True
    if not s.endswith((".", "!")) or _ABBREVIATION_END.search(s):
        return False
    return len(s.split()) >= 3 and _FINITE_VERB.search(s) is not None


def is_grounded(answer: str, evidence_text: str) -> bool:
    """True when ``answer`` can be found in ``evidence_text``.

    Rules, in order: yes/no answers are judgements, not spans (grounded); every number
    in the answer must occur in the evidence as the same digits (thousands separators
    ignored: "2,314" == "2314"), because a fuzzy match would accept 1952 for 1953;
    then the normalised answer as whole words in the normalised evidence; then, for
    numbers and dates, the numbers (and a month name, for dates) are enough, since
    "13 March 2013" and "March 13, 2013" are the same date; else rapidfuzz
    ``partial_ratio`` >= :data:`GROUNDING_MIN_SCORE` on normalised strings (small
    spelling / diacritic differences).
    """
    a = normalize_answer(answer)
    if not a or a in ("yes", "no"):
        return True
    ev = normalize_answer(evidence_text)
    nums = _numbers(answer)
    if nums:
        if not nums <= _numbers(evidence_text):
            return False
    if f" {a} " in f" {ev} ":
        return True
    if nums:
        kind = answer_kind(answer)
        if kind == "number":
            return True
        if kind == "date":
            ev_months = {m.group()[:3] for m in _MONTH_WORD.finditer(ev)}
            return all(m.group().lower()[:3] in ev_months for m in _MONTH_WORD.finditer(answer))
    return fuzz.partial_ratio(a, ev, score_cutoff=GROUNDING_MIN_SCORE) >= GROUNDING_MIN_SCORE


# ---------------------------------------------------------------------------
# The linter
# ---------------------------------------------------------------------------


def lint_qa(
    question: str,
    answer: str,
    *,
    evidence_text: str | None = None,
    evidence_urls: Sequence[str] | None = None,
    known_urls: Container[str] | None = None,
    max_answer_words: int = 12,
    max_answer_chars: int = 100,
    flag_choices: bool = False,
) -> list[str]:
    """Reason codes why a QA pair should be dropped, sorted and unique; [] means keep.

    See the module docstring for each code. ``evidence_text`` enables
    ``not_grounded``; ``evidence_urls`` with ``known_urls`` enables
    ``evidence_unknown`` (URLs are compared as given: canonicalise both sides first);
    ``flag_choices`` reports answers that are one of the question's alternatives as
    ``answer_in_choices``.
    """
    reasons: set[str] = set()
    add = reasons.add

    if has_error_page_leftover(question, answer):
        add(ERROR_PAGE_LEFTOVER)
    if mentions_browsing(question):
        add(MENTIONS_BROWSING)
    if is_question_malformed(question):
        add(QUESTION_MALFORMED)

    stripped = answer.strip()
    norm = normalize_answer(answer)
    option_letter = _answer_option_letter(question, answer)
    if option_letter:
        add(ANSWER_OPTION_LETTER)
    if (not any(ch.isalnum() for ch in stripped) or norm in PLACEHOLDER_ANSWERS
            or (not norm and not option_letter)):
        add(ANSWER_EMPTY)
    if "\n" in answer or "\r" in answer:
        add(ANSWER_MULTILINE)
    if answer != stripped or _BAD_WHITESPACE.search(answer):
        add(ANSWER_WHITESPACE)
    if len(stripped.split()) > max_answer_words or len(stripped) > max_answer_chars:
        add(ANSWER_TOO_LONG)
    if stripped and is_sentence(stripped):
        add(ANSWER_IS_SENTENCE)

    leak = leak_kind(question, answer)
    if leak == "leaked":
        add(ANSWER_LEAKED)
    elif leak == "choice" and flag_choices:
        add(ANSWER_IN_CHOICES)

    if evidence_text is not None and norm and not is_grounded(answer, evidence_text):
        add(NOT_GROUNDED)
    if evidence_urls is not None and known_urls is not None:
        urls = [evidence_urls] if isinstance(evidence_urls, str) else evidence_urls
        if any(u not in known_urls for u in urls):
            add(EVIDENCE_UNKNOWN)

    return sorted(reasons)


__all__ = [
    "AnswerKind",
    "BROWSING_RULES",
    "ERROR_ANSWERS",
    "ERROR_PAGE_RULES",
    "GROUNDING_MIN_SCORE",
    "MIN_QUESTION_WORDS",
    "PLACEHOLDER_ANSWERS",
    "REASONS",
    "answer_kind",
    "error_page_hits",
    "has_error_page_leftover",
    "is_grounded",
    "is_question_malformed",
    "is_sentence",
    "leak_kind",
    "lint_qa",
    "mentions_browsing",
    "normalize_answer",
]
