"""Site adapters: one HTTP response -> one :class:`crawl.page.ParsedPage`.

:func:`parse_response` picks an adapter by host, path and content type:

=============================================  ==================================================
arxiv.org ``/abs/<id>``                        :mod:`.arxiv_abs` (``kind="abs"``)
arxiv.org ``/list/<cat>/recent|new|...``       :mod:`.arxiv_listing` (``listing``)
arxiv.org ``/search/?query=...``               :mod:`.arxiv_listing` (``listing``)
export.arxiv.org ``/api/...`` / Atom           :mod:`.arxiv_atom` (``atom_feed``)
github.com ``/<owner>/<repo>``                 :mod:`.github_html` (``repo``)
github.com ``/<login>``                        :mod:`.github_profile` (``user`` / ``org``)
github.com ``/topics/<topic>``                 :mod:`.github_listing` (``listing``)
github.com ``/orgs/<org>/repositories``        :mod:`.github_listing` (``listing``)
github.com ``/<login>?tab=repositories``       :mod:`.github_listing` (``listing``)
api.github.com (JSON)                          :mod:`.github_api` (``api_*``; lists ``api_list``)
``*.wikipedia.org`` ``/w/api.php``             :mod:`.wikipedia_api` (``api_*``)
``*.wikipedia.org`` ``Category:``/``Portal:``  :mod:`.wikipedia_listing` (``listing``)
``*.wikipedia.org`` HTML                       :mod:`.wikipedia_html` (``article``)
anything else                                  :mod:`.generic` (trafilatura / JSON / text)
=============================================  ==================================================

``listing`` pages are the hubs a crawl is seeded with: their item links (papers,
repositories, articles) are ``article`` links, so the frontier follows them (see
:mod:`.listing`).

It decodes the body (header charset, then BOM / ``<meta charset>`` / XML
declaration, else UTF-8 with replacement), never raises (any adapter exception
becomes ``valid=False, invalid_reason="parse_error"`` with the exception in ``invalid_detail``), and every adapter ends
with the validity rules of :mod:`crawl.validity`.
"""

from __future__ import annotations

from collections.abc import Mapping

from crawl.adapters.arxiv_abs import parse_arxiv_abs
from crawl.adapters.arxiv_atom import parse_arxiv_atom, parse_arxiv_atom_entries
from crawl.adapters.arxiv_listing import parse_arxiv_listing, parse_arxiv_search
from crawl.adapters.common import decode_body, error_detail, mime_type, split_url
from crawl.adapters.generic import looks_binary, parse_generic_html, parse_generic_json, parse_plain_text
from crawl.adapters.github_api import parse_github_api
from crawl.adapters.github_html import parse_github_repo
from crawl.adapters.github_links import RESERVED_TOP
from crawl.adapters.github_listing import parse_github_repositories, parse_github_topic
from crawl.adapters.github_profile import parse_github_profile
from crawl.adapters.wikipedia_api import parse_wikipedia_api
from crawl.adapters.wikipedia_html import parse_wikipedia_html
from crawl.adapters.wikipedia_listing import listing_namespace, parse_wikipedia_listing
from crawl.drop_reasons import BINARY_CONTENT, EMPTY_BODY, HTTP_ERROR, PARSE_ERROR
from crawl.page import ParsedPage

__all__ = ["parse_response", "source_of", "parse_arxiv_atom_entries"]

_ARXIV_HOSTS = frozenset({"arxiv.org", "www.arxiv.org", "export.arxiv.org"})
_GITHUB_HOSTS = frozenset({"github.com", "www.github.com", "api.github.com"})
_JSON_TYPES = ("application/json", "text/json", "application/vnd.github", "application/problem+json")
_XML_TYPES = ("application/atom+xml", "application/xml", "text/xml", "application/rss+xml")
_HTML_TYPES = ("text/html", "application/xhtml+xml")


def _host(url: str) -> str:
    parts = split_url(url)
    return ((parts.hostname or "") if parts else "").rstrip(".").lower()


def source_of(url: str) -> str:
    """``"arxiv"`` | ``"github"`` | ``"wikipedia"`` | ``"web"`` by host."""
    host = _host(url)
    if host in _ARXIV_HOSTS:
        return "arxiv"
    if host in _GITHUB_HOSTS:
        return "github"
    if host == "wikipedia.org" or host.endswith(".wikipedia.org"):
        return "wikipedia"
    return "web"


def _sniff(mime: str, text: str) -> str:
    """``"json"`` | ``"xml"`` | ``"html"`` | ``"text"`` from the MIME type, else the body."""
    if mime.startswith(_JSON_TYPES) or mime.endswith("+json"):
        return "json"
    if mime.startswith(_XML_TYPES) or (mime.endswith("+xml") and not mime.startswith("application/xhtml")):
        return "xml"
    if mime.startswith(_HTML_TYPES):
        return "html"
    head = text[:512].lstrip("\ufeff \t\r\n")
    if head.startswith(("{", "[")):
        return "json"
    if head.startswith("<?xml") and "<html" not in text[:2048].lower():
        return "xml"
    if head.startswith("<") or "<html" in text[:2048].lower():
        return "html"
    return "text" if (not mime or mime.startswith("text/")) else "other"


def _is_profile_path(path: str, query: str) -> bool:
    segs = [s for s in path.split("/") if s]
    return len(segs) == 1 and segs[0].lower() not in RESERVED_TOP and not query


def _is_repo_path(path: str) -> bool:
    segs = [s for s in path.split("/") if s]
    return len(segs) == 2 and segs[0].lower() not in RESERVED_TOP


def _is_arxiv_list_path(path: str) -> bool:
    segs = [s for s in path.split("/") if s]
    return len(segs) == 3 and segs[0] == "list"


def _github_listing(path: str, query: str) -> str:
    """``"topic"`` / ``"repositories"`` for github.com listing roots, else ''."""
    segs = [s for s in path.split("/") if s]
    if len(segs) == 2 and segs[0].lower() == "topics":
        return "topic"
    if len(segs) == 3 and segs[0].lower() == "orgs" and segs[2] == "repositories":
        return "repositories"
    if len(segs) == 1 and segs[0].lower() not in RESERVED_TOP and "tab=repositories" in query.split("&"):
        return "repositories"
    return ""


def _dispatch(url: str, status: int, headers: Mapping[str, str], body: bytes) -> ParsedPage:
    source = source_of(url)
    host = _host(url)
    parts = split_url(url)
    path = parts.path if parts else ""
    mime = mime_type(headers)
    text = decode_body(body, headers)
    fmt = _sniff(mime, text)

    if source == "arxiv":
        if host == "export.arxiv.org" or path.startswith("/api/") or fmt == "xml":
            return parse_arxiv_atom(url, status, body)
        if path.startswith("/abs/") and fmt == "html":
            return parse_arxiv_abs(url, status, text)
        if _is_arxiv_list_path(path) and fmt == "html":
            return parse_arxiv_listing(url, status, text)
        if path.startswith("/search") and fmt == "html":
            return parse_arxiv_search(url, status, text)
    elif source == "github":
        if host == "api.github.com" and fmt in ("json", "text", "other"):
            return parse_github_api(url, status, text)
        listing = _github_listing(path, parts.query if parts else "") if host != "api.github.com" else ""
        if listing and fmt == "html":
            return (parse_github_topic if listing == "topic" else parse_github_repositories)(url, status, text)
        if host != "api.github.com" and fmt == "html" and _is_repo_path(path):
            return parse_github_repo(url, status, text)
        if host != "api.github.com" and fmt == "html" and _is_profile_path(path, parts.query if parts else ""):
            return parse_github_profile(url, status, text)
    elif source == "wikipedia":
        if path.startswith("/w/api.php") or fmt == "json":
            return parse_wikipedia_api(url, status, text)
        if fmt == "html" and listing_namespace(url):
            return parse_wikipedia_listing(url, status, text)
        if fmt == "html":
            return parse_wikipedia_html(url, status, text)

    if fmt == "json":
        return parse_generic_json(url, status, text, source)
    if fmt == "html" or fmt == "xml":
        return parse_generic_html(url, status, text, source)
    if fmt == "text":
        return parse_plain_text(url, status, text, source)
    if looks_binary(text):
        return ParsedPage(url=url, source=source, kind="binary", valid=False, invalid_reason=BINARY_CONTENT)
    return parse_plain_text(url, status, text, source)


def parse_response(url: str, status: int, headers: Mapping[str, str], body: bytes) -> ParsedPage:
    """Parse one HTTP response; never raises.

    Empty bodies are ``empty_body`` (or ``http_error`` for error statuses);
    adapter crashes are ``parse_error`` with ``invalid_detail="<Type>: <message>"``.
    """
    source = "web"
    try:
        source = source_of(url)
        if body is None or not bytes(body).strip():
            reason = HTTP_ERROR if status >= 300 else EMPTY_BODY
            return ParsedPage(url=url, source=source, kind="empty", valid=False, invalid_reason=reason)
        return _dispatch(url, status, headers or {}, bytes(body))
    except Exception as exc:  # noqa: BLE001 - the contract is "never raises"
        return ParsedPage(url=url, source=source, kind="error", valid=False,
                          invalid_reason=PARSE_ERROR, invalid_detail=error_detail(exc))
