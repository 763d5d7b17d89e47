"""Is a parsed page real content, or an error / bot-wall / empty page?

Crawls of public sites return many pages that look fine to HTTP (status 200) but
carry no content: Cloudflare interstitials, CAPTCHAs, soft rate limits, login walls,
soft-404s. Such pages must never become training text, but they stay in the corpus
(``valid=False`` plus a short reason) so crawl accounting can see them.

The rules are data: :data:`RULES` is a table of (reason, pattern, where, max_length)
checked in order; the first hit wins. ``max_length`` makes a rule apply only to
*short* pages (by main-text length), which is what keeps an encyclopedia article
*about* CAPTCHAs or rate limiting valid while a 300-character "verify you are human"
page is not. Patterns are compiled once at import.

Order of checks in :func:`check_validity`:

1. Bot-wall rules (``over_status=True``: Cloudflare, CAPTCHA, rate limit, login
   wall). They name the wall whatever the status it came with: Cloudflare serves its
   challenge as 403/503, rate limits come as 429 or as a 200 page, and "blocked by a
   bot wall" is what crawl accounting needs to know.
2. HTTP status: ``http_error`` for 3xx that reached an adapter and for >= 400 (the
   status itself is in the corpus row's ``status`` column).
3. The remaining rules (soft errors served with 200: access denied, soft-404).
4. ``near_empty``: fewer than :data:`MIN_TEXT_CHARS` characters of words in the main
   text, unless the caller says the page is ``structured`` (API JSON / Atom records
   whose value is in their fields, not their prose; see :func:`is_structured_kind`,
   which the adapters use to decide).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from crawl.drop_reasons import (
    ACCESS_DENIED,
    CAPTCHA,
    CLOUDFLARE_CHALLENGE,
    HTTP_ERROR,
    LOGIN_WALL,
    NEAR_EMPTY,
    NOT_FOUND,
    RATE_LIMITED,
)

Where = Literal["title", "text", "html"]

# Main text shorter than this (characters of words, markdown punctuation ignored) is
# "near empty": a stub, a blank template, or a page whose content is rendered by JS.
MIN_TEXT_CHARS = 200

# Short-page thresholds (characters of main text) for the content rules.
_SHORT = 2_000  # bot walls and error pages carry a sentence or two of text
_TITLE_SHORT = 3_000  # a title-only signal still needs the body to be small-ish


@dataclass(frozen=True, slots=True)
class Rule:
    """One content rule: ``pattern`` found in ``where`` -> page invalid with ``reason``.

    ``max_length``: apply only when the main text is at most this many characters
    (None: always). ``where="html"`` rules only run when the caller passes raw HTML.
    ``over_status``: checked before the HTTP status (bot walls), else after it.
    """

    reason: str
    pattern: re.Pattern[str]
    where: Where
    max_length: int | None
    over_status: bool = False


def _rx(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


RULES: tuple[Rule, ...] = (
    # Cloudflare / generic JS challenge interstitials.
    Rule(CLOUDFLARE_CHALLENGE, _rx(r"^\s*(just a moment\.\.\.|attention required!?( \| cloudflare)?)\s*$"), "title", None, over_status=True),
    Rule(CLOUDFLARE_CHALLENGE, _rx(r"checking your browser|cf-browser-verification|\bcf_chl_|enable javascript and cookies to continue"), "text", _SHORT, over_status=True),
    Rule(CLOUDFLARE_CHALLENGE, _rx(r"cf-browser-verification|\bcf_chl_opt\b|challenge-platform/h/|checking your browser before accessing"), "html", _SHORT, over_status=True),
    # "Ray ID" alone is common in Cloudflare *error* pages; require the brand too.
    # Anchored (\A) so the look-ahead runs once, not at every offset.
    Rule(CLOUDFLARE_CHALLENGE, re.compile(r"\A(?=.*\bcloudflare\b).*\bray id\b", re.IGNORECASE | re.DOTALL), "text", _SHORT, over_status=True),
    Rule(CLOUDFLARE_CHALLENGE, re.compile(r"\A(?=.*\bcloudflare\b).*\bray id\b", re.IGNORECASE | re.DOTALL), "html", _SHORT, over_status=True),
    # CAPTCHAs / human verification. Title rules are length-capped too: the
    # Wikipedia article titled "CAPTCHA" is long and must stay valid.
    Rule(CAPTCHA, _rx(r"^\W*(captcha|security check|are you a robot|verify you are (a )?human|human verification|robot check|bot verification)\b"), "title", _TITLE_SHORT, over_status=True),
    Rule(CAPTCHA, _rx(r"\bcaptcha\b|verify (that )?you are (a )?human|are you a robot|not a robot|unusual traffic from your (computer|network)"), "text", _SHORT, over_status=True),
    Rule(CAPTCHA, _rx(r"g-recaptcha|\bh-captcha\b|hcaptcha\.com|cf-turnstile|captcha-delivery\.com"), "html", _SHORT, over_status=True),
    # Soft rate limits (hard ones arrive as HTTP 429 and are caught by status).
    Rule(RATE_LIMITED, _rx(r"^\W*(too many requests|rate limit(ed| exceeded)|slow down)\b"), "title", _TITLE_SHORT, over_status=True),
    Rule(RATE_LIMITED, _rx(r"too many requests|rate limit exceeded|exceeded a secondary rate limit|you have been rate.?limited"), "text", _SHORT, over_status=True),
    # Login walls.
    Rule(LOGIN_WALL, _rx(r"^\s*(sign in|log ?in|sign-in)\b"), "title", _SHORT, over_status=True),
    Rule(LOGIN_WALL, _rx(r"(sign|log) ?in to continue|you must be (logged|signed) in|please (log|sign) ?in to (view|continue|access|see)|login required|authentication required"), "text", _SHORT, over_status=True),
    # Access denied pages served with 200 (WAFs, geo blocks).
    Rule(ACCESS_DENIED, _rx(r"^\s*(access denied|403 forbidden|forbidden|error 403)\b"), "title", _SHORT),
    Rule(ACCESS_DENIED, _rx(r"^\W*access denied\b|you don'?t have permission to access"), "text", _SHORT),
    # Soft 404s.
    Rule(NOT_FOUND, _rx(r"page not found|^\s*404\b|\b404 not found\b|^\s*not found\s*$"), "title", _TITLE_SHORT),
    Rule(NOT_FOUND, _rx(r"wikipedia does not have an article with this exact name"), "text", None),
    Rule(NOT_FOUND, _rx(r"the page you (requested|were looking for|are looking for) (was|could) not (be )?found"), "text", _SHORT),
)

_WALL_RULES = tuple(r for r in RULES if r.over_status)
_SOFT_RULES = tuple(r for r in RULES if not r.over_status)

# Page kinds (ParsedPage.kind) whose value lies in structured fields rather than
# prose: API records, Atom feeds, JSON documents, arXiv abstract pages, and listing
# pages (an arXiv category listing, a GitHub topic, a Wikipedia category: their value
# is the list of items they link to, judged by the adapters as ``empty_listing``).
# Their text is a short rendering of those fields, so near_empty does not apply.
STRUCTURED_KINDS = frozenset({"atom_feed", "abs", "json", "listing"})

# Page kinds that are hubs: lists of links to other records (crawl roots such as
# arXiv listings, GitHub topics and repository lists, Wikipedia categories and
# portals, and REST API lists). A crawler follows them; a question writer should not
# use them as evidence, since their text only repeats titles of the pages they list.
LISTING_KINDS = frozenset({"listing", "api_list"})


def is_structured_kind(kind: str) -> bool:
    """True for page kinds exempt from ``near_empty`` (``api_*`` and :data:`STRUCTURED_KINDS`).

    Code that re-checks stored rows should pass
    ``structured=is_structured_kind(row["kind"])`` to agree with the adapters.
    """
    return kind.startswith("api_") or kind in STRUCTURED_KINDS


def is_listing_kind(kind: str) -> bool:
    """True for hub pages (:data:`LISTING_KINDS`): follow their links, do not quote them."""
    return kind in LISTING_KINDS


# Markdown punctuation that does not count as words for near_empty.
_MD_PUNCT = re.compile(r"[#*_>`|=~\[\]]+|-{3,}|^\s*(?:[-+]|\d+\.)\s", re.MULTILINE)


def text_chars(text: str) -> int:
    """Characters of words in ``text``: markdown markup dropped, whitespace runs as one."""
    return len(" ".join(_MD_PUNCT.sub(" ", text).split()))


def check_validity(
    status: int,
    title: str,
    text: str,
    html: str | None = None,
    *,
    structured: bool = False,
) -> str | None:
    """Return None for a valid page, else a declared drop reason (see module doc).

    ``structured=True`` marks pages whose value lies in structured fields (API
    records): they are exempt from ``near_empty`` and from the title rules, while the
    text rules (an API "rate limit exceeded" message) still apply.
    """
    # API records' "titles" are record names (a GitHub user may be called "login"),
    # so title rules only apply to real pages.
    title = "" if structured else (title or "")
    text = text or ""
    reason = _first_match(_WALL_RULES, title, text, html)
    if reason is not None:
        return reason
    if status >= 300:
        return HTTP_ERROR
    reason = _first_match(_SOFT_RULES, title, text, html)
    if reason is not None:
        return reason
    if not structured and text_chars(text) < MIN_TEXT_CHARS:
        return NEAR_EMPTY
    return None


def _first_match(rules: tuple[Rule, ...], title: str, text: str, html: str | None) -> str | None:
    n = len(text)
    for rule in rules:
        if rule.max_length is not None and n > rule.max_length:
            continue
        if rule.where == "title":
            hay = title
        elif rule.where == "text":
            hay = text
        else:
            if html is None:
                continue
            hay = html
        if hay and rule.pattern.search(hay):
            return rule.reason
    return None
