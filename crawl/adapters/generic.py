"""Fallback for sites without a dedicated adapter (``source="web"`` and friends).

HTML goes through trafilatura (main-content extraction, markdown output, no link
markup); the title comes from ``og:title`` / ``<title>``; links from every
``<a href>``, ``external`` for another host and ``other`` for the same host (we know
nothing about an unknown site's structure, so nothing is ``article``). The document
is parsed once with lxml and the tree handed to trafilatura, which copies it before
cleaning.

JSON bodies get a compact rendering (``kind="json"``), plain text is kept as is, and
anything binary (NULs, mostly control bytes) is ``binary_content``.
"""

from __future__ import annotations

import json
import re

import trafilatura
from lxml import html as lxml_html

from crawl.adapters.common import LinkSet, canon, collapse, compact_json, error_detail, finish, host_of
from crawl.drop_reasons import BINARY_CONTENT, EMPTY_BODY, PARSE_ERROR
from crawl.page import LinkKind, ParsedPage

_BINARY_PROBE = 4096
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\ufffd]")


def looks_binary(text: str) -> bool:
    """True when the decoded sample is mostly control characters / replacement chars."""
    sample = text[:_BINARY_PROBE]
    if not sample:
        return False
    if "\x00" in sample:
        return True
    return len(_CONTROL.findall(sample)) > 0.1 * len(sample)


def _title(tree: lxml_html.HtmlElement) -> str:
    for xp in ('//meta[@property="og:title"]/@content', "//title/text()", "//h1//text()"):
        try:
            found = tree.xpath(xp)
        except Exception:  # noqa: BLE001 - malformed trees
            continue
        text = collapse(" ".join(str(x) for x in found[:1]))
        if text:
            return text
    return ""


def parse_generic_html(url: str, status: int, html: str, source: str = "web") -> ParsedPage:
    """Extract main text + links from any HTML page."""
    if looks_binary(html):
        return ParsedPage(url=url, source=source, kind="web", valid=False, invalid_reason=BINARY_CONTENT)
    try:
        tree = lxml_html.document_fromstring(html)
    except Exception as exc:  # noqa: BLE001 - lxml raises several types on junk
        if not html.strip():
            return ParsedPage(url=url, source=source, kind="web", valid=False, invalid_reason=EMPTY_BODY)
        return ParsedPage(url=url, source=source, kind="web", valid=False,
                          invalid_reason=PARSE_ERROR, invalid_detail=error_detail(exc))

    page_host = host_of(url)
    links = LinkSet()
    for a in tree.iter("a"):
        href = a.get("href")
        if not href:
            continue
        target = canon(href, url)
        if target is None:
            continue
        kind = LinkKind.OTHER if host_of(target) == page_host else LinkKind.EXTERNAL
        links.add(target, kind, a.text_content())

    title = _title(tree)
    try:
        text = trafilatura.extract(
            tree, url=url, output_format="markdown", include_links=False, include_images=False,
            include_comments=False, with_metadata=False,
        ) or ""
    except Exception:  # noqa: BLE001 - trafilatura on hostile markup; keep the page, no text
        text = ""
    page = ParsedPage(url=url, source=source, kind="web", title=title, text=text.strip(), links=links.links)
    return finish(page, status, html=html)


def parse_generic_json(url: str, status: int, text: str, source: str = "web") -> ParsedPage:
    """Any JSON document: compact text rendering plus its top-level keys."""
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        return ParsedPage(url=url, source=source, kind="json", valid=False,
                          invalid_reason=PARSE_ERROR, invalid_detail=error_detail(exc))
    keys = sorted(str(k) for k in data) if isinstance(data, dict) else []
    title = ""
    if isinstance(data, dict):
        for key in ("title", "name", "full_name", "login"):
            if isinstance(data.get(key), str):
                title = data[key]
                break
    page = ParsedPage(url=url, source=source, kind="json", title=title, text=compact_json(data), fields={"keys": keys})
    return finish(page, status)


def parse_plain_text(url: str, status: int, text: str, source: str = "web") -> ParsedPage:
    """text/plain, markdown, CSV ...: the text is the content."""
    if looks_binary(text):
        return ParsedPage(url=url, source=source, kind="text", valid=False, invalid_reason=BINARY_CONTENT)
    page = ParsedPage(url=url, source=source, kind="text", title="", text=text.strip())
    return finish(page, status)
