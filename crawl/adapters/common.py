"""Helpers shared by the site adapters: decoding, URL bits, link collection, finishing.

Everything here is total: bad charsets, unparseable URLs and odd header values give a
sensible default instead of an exception, because :func:`crawl.adapters.parse_response`
promises never to raise.
"""

from __future__ import annotations

import codecs
import json
import re
import warnings
from collections.abc import Callable, Mapping
from functools import lru_cache
from urllib.parse import SplitResult, urlsplit

from bs4 import BeautifulSoup, MarkupResemblesLocatorWarning, Tag, XMLParsedAsHTMLWarning

from crawl.markdown import collapse
from crawl.page import Link, LinkKind, ParsedPage
from crawl.urls import canonicalize
from crawl.validity import check_validity, is_structured_kind

_CHARSET_IN_CT = re.compile(r"charset\s*=\s*[\"']?([A-Za-z0-9_.:\-]+)", re.IGNORECASE)
_META_CHARSET = re.compile(rb"<meta[^>]{0,200}?charset\s*=\s*[\"']?\s*([A-Za-z0-9_.:\-]+)", re.IGNORECASE)
_XML_ENCODING = re.compile(rb"<\?xml[^>]{0,100}?encoding\s*=\s*[\"']([A-Za-z0-9_.:\-]+)", re.IGNORECASE)


# Crawled bodies routinely look like XML or like a bare URL; bs4 warns about both,
# once per document, which would flood logs without telling us anything.
warnings.filterwarnings("ignore", category=XMLParsedAsHTMLWarning)
warnings.filterwarnings("ignore", category=MarkupResemblesLocatorWarning)


_XML_DECL = re.compile(r"^\s*<\?xml[^>]*>")


def make_soup(html: str, *, split_classes: bool = True) -> BeautifulSoup:
    """Parse HTML once with lxml (the only HTML parse an adapter does).

    ``split_classes=False`` keeps ``class`` as the raw string instead of a list,
    which makes bs4 parse ~30% faster on large pages; callers must then match
    classes themselves (as :mod:`.wikipedia_html` does) rather than with ``class_=``.

    A leading ``<?xml ...?>`` declaration (XHTML, or XML sent as text/html) means
    nothing to the HTML parser; dropping it also avoids bs4's per-document warning.
    """
    if html[:64].lstrip().startswith("<?xml"):
        html = _XML_DECL.sub("", html, count=1)
    if split_classes:
        return BeautifulSoup(html, "lxml")
    return BeautifulSoup(html, "lxml", multi_valued_attributes=None)


def header(headers: Mapping[str, str] | None, name: str) -> str:
    """Case-insensitive header lookup ('' when absent).

    Accepts a mapping (the documented type) and, defensively, a sequence of
    ``(name, value)`` pairs as warcio and http.client hand them out.
    """
    if not headers:
        return ""
    lname = name.lower()
    if isinstance(headers, Mapping):
        value = headers.get(name)
        if isinstance(value, str):
            return value
        pairs = headers.items()
    else:
        pairs = headers
    for pair in pairs:
        try:
            k, v = pair
        except (TypeError, ValueError):
            continue
        if isinstance(k, str) and k.lower() == lname and isinstance(v, str):
            return v
    return ""


def mime_type(headers: Mapping[str, str] | None) -> str:
    """Lower-case MIME type of the Content-Type header, without parameters."""
    return header(headers, "content-type").split(";", 1)[0].strip().lower()


def _codec(name: str | None) -> str | None:
    if not name:
        return None
    try:
        return codecs.lookup(name.strip()).name
    except (LookupError, ValueError):
        return None


def sniff_charset(headers: Mapping[str, str] | None, body: bytes) -> str:
    """Charset from the header, a BOM, ``<meta charset>`` or the XML declaration; else utf-8."""
    m = _CHARSET_IN_CT.search(header(headers, "content-type"))
    enc = _codec(m.group(1)) if m else None
    if enc:
        return enc
    if body.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if body.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    head = body[:4096]
    for rx in (_META_CHARSET, _XML_ENCODING):
        m2 = rx.search(head)
        if m2:
            enc = _codec(m2.group(1).decode("ascii", "replace"))
            if enc:
                return enc
    return "utf-8"


def decode_body(body: bytes, headers: Mapping[str, str] | None) -> str:
    """Decode ``body``; invalid bytes become U+FFFD, never an exception."""
    enc = sniff_charset(headers, body)
    if enc in ("ascii", "us-ascii"):
        enc = "utf-8"  # mislabelled UTF-8 is far more common than real 7-bit text
    try:
        return body.decode(enc, errors="replace")
    except (LookupError, ValueError):
        return body.decode("utf-8", errors="replace")


def split_url(url: str) -> SplitResult | None:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
        return parts
    except (ValueError, TypeError, AttributeError):
        return None


def host_of(url: str) -> str:
    """Lower-case host without trailing dot ('' for unparseable URLs)."""
    parts = split_url(url)
    return (parts.hostname or "").rstrip(".") if parts else ""


@lru_cache(maxsize=4096)
def _origin(base: str) -> str:
    parts = split_url(base)
    if parts and parts.scheme and parts.netloc:
        return f"{parts.scheme}://{parts.netloc}/"
    return base


def _base_key(href: str, base: str) -> str:
    """The part of ``base`` that ``href`` can depend on (raises the cache hit rate).

    ``//host/x`` and ``/x`` depend only on the base scheme and host; only relative
    paths and queries need the full base URL.
    """
    return _origin(base) if href.startswith("/") else base


@lru_cache(maxsize=100_000)
def url_parts(url: str) -> tuple[str, str, str]:
    """(host, path, query) of an absolute URL, cached: link classifiers see the same
    canonical URLs (navboxes, sidebars) on page after page."""
    parts = split_url(url)
    if parts is None:
        return "", "", ""
    return (parts.hostname or "").rstrip("."), parts.path, parts.query


@lru_cache(maxsize=200_000)
def _canon_cached(href: str, base: str) -> str | None:
    return canonicalize(href, base)


def canon(href: str, base: str) -> str | None:
    """Canonical absolute URL of ``href`` on a page at ``base`` (None if not http(s))."""
    href = href.strip()
    if not href or href.startswith("#"):
        return None
    try:
        return _canon_cached(href, _base_key(href, base))
    except Exception:  # noqa: BLE001 - a URL library bug must not kill the parse
        return None


class LinkSet:
    """Ordered links, deduplicated by (url, kind), first occurrence wins."""

    __slots__ = ("links", "_seen")

    def __init__(self) -> None:
        self.links: list[Link] = []
        self._seen: set[tuple[str, LinkKind]] = set()

    def add(self, url: str | None, kind: LinkKind, text: str = "") -> None:
        if not url:
            return
        key = (url, kind)
        if key in self._seen:
            return
        self._seen.add(key)
        self.links.append(Link(url=url, kind=kind, text=collapse(text)[:200]))


def anchor_ids(el: object) -> set[int]:
    """ids of the ``<a href>`` elements inside ``el`` (none when it is not an element): for
    telling a page's main column from its chrome by identity, not by position."""
    return {id(a) for a in el.find_all("a", href=True)} if isinstance(el, Tag) else set()


def collect_links(soup: BeautifulSoup, base: str, classify: Callable[[str, Tag], LinkKind]) -> LinkSet:
    """Every ``<a href>`` of the page as a canonical link, in page order, typed by
    ``classify(url, anchor)``; the anchor is passed so the adapter can ask where it stands."""
    links = LinkSet()
    for a in soup.find_all("a", href=True):
        href = a.get("href")
        link = canon(href, base) if isinstance(href, str) else None
        if link:
            links.add(link, classify(link, a), a.get_text())
    return links


def finish(page: ParsedPage, status: int, *, html: str | None = None) -> ParsedPage:
    """Apply :func:`crawl.validity.check_validity` unless the adapter already said invalid.

    Adapter reasons (``parse_error``, ``api_error``, ``missing_page``, ``empty_feed``, all
    declared in :mod:`crawl.drop_reasons`) are more specific than the HTTP status, so they
    win. Whether ``near_empty`` applies follows from ``page.kind``
    (:func:`crawl.validity.is_structured_kind`), so stored rows can be re-checked with the
    same verdict.
    """
    if page.valid and page.invalid_reason is None:
        structured = is_structured_kind(page.kind)
        reason = check_validity(status, page.title, page.text, html, structured=structured)
        if reason is not None:
            page.valid = False
            page.invalid_reason = reason
    else:
        page.valid = False
    return page


def compact_json(data: object, limit: int = 20_000) -> str:
    """Compact, key-sorted JSON text, truncated to ``limit`` characters."""
    text = json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)
    return text if len(text) <= limit else text[:limit] + "\u2026"


def error_detail(exc: BaseException) -> str:
    """``<Type>: <message>`` trimmed to a loggable size: the ``invalid_detail`` of a ``parse_error``."""
    msg = collapse(str(exc))[:160]
    return type(exc).__name__ + (f": {msg}" if msg else "")
