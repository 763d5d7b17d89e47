"""MediaWiki Action API JSON (``/w/api.php?...&format=json``) -> ParsedPage.

Handles ``action=query`` with ``prop=...`` (``query.pages`` as a dict keyed by page
id, or a list with ``formatversion=2``) and ``list=...`` modules (search, geosearch,
random, backlinks, categorymembers, ...), ``action=parse`` (rendered HTML, handed to
the article adapter) and ``action=opensearch`` arrays.

* one dict per page with the page's own keys (pageid, ns, title, extract,
  coordinates, imageinfo, info keys ...), where lists of ``{"ns", "title"}`` (links,
  images, categories, templates) are flattened to titles. A single-page answer (the
  usual case) puts them at the top level of ``fields``; several pages go to
  ``fields["pages"]``, so large extracts are never stored twice.
* ``fields[<list module>]``: the entries of each ``list=`` module (search snippets
  stripped of their HTML highlighting).
* ``text``: the extract(s) when present, else a short markdown listing.
* Links: page titles become ``https://<request host>/wiki/<Title_with_underscores>``,
  ``article`` for namespace 0, ``file`` for File:, ``special`` otherwise;
  langlinks are ``external``.

A response where every page is ``missing`` (and not a ``known`` shared file) is
``missing_page``; an ``error`` object is ``api_error: <code>``.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import quote

from crawl.adapters.common import LinkSet, canon, collapse, error_detail, finish, split_url
from crawl.adapters.wikipedia_html import namespace_of, parse_wikipedia_html
from crawl.drop_reasons import API_ERROR, MISSING_PAGE, PARSE_ERROR
from crawl.page import LinkKind, ParsedPage

SOURCE = "wikipedia"
_TAGS = re.compile(r"<[^>]+>")
# prop values that are lists of {"ns", "title"} records.
_TITLE_LISTS = ("links", "images", "categories", "templates", "linkshere", "transcludedin", "redirects")
# list= modules whose entries are pages.
_PAGE_LISTS = (
    "search", "geosearch", "random", "backlinks", "categorymembers", "embeddedin", "allpages",
    "prefixsearch", "recentchanges", "usercontribs", "exturlusage", "imageusage", "alllinks",
    "querypage", "mostviewed", "watchlist", "logevents", "allcategories", "pageswithprop",
)


def _wiki_url(host: str, title: str) -> str | None:
    path = quote(title.replace(" ", "_"), safe="/:_(),'!*-.~;@$&+=")
    return canon(f"https://{host}/wiki/{path}", f"https://{host}/")


def _title_kind(title: str, ns: Any) -> LinkKind:
    if ns == 6 or namespace_of(title) in ("file", "image", "media"):
        return LinkKind.FILE
    if ns == 0 or (ns is None and not namespace_of(title)):
        return LinkKind.ARTICLE
    return LinkKind.SPECIAL


def _flatten_titles(value: Any) -> Any:
    if isinstance(value, list) and all(isinstance(v, dict) and "title" in v for v in value):
        return [v["title"] for v in value]
    return value


def _pages(query: dict[str, Any]) -> list[dict[str, Any]]:
    pages = query.get("pages")
    if isinstance(pages, dict):
        return [p for p in pages.values() if isinstance(p, dict)]
    if isinstance(pages, list):
        return [p for p in pages if isinstance(p, dict)]
    return []


def _is_missing(page: dict[str, Any]) -> bool:
    missing = "missing" in page and page.get("missing") is not False
    invalid = "invalid" in page and page.get("invalid") is not False
    known = "known" in page and page.get("known") is not False
    return (missing or invalid) and not known


def _parse_action_parse(url: str, status: int, data: dict[str, Any]) -> ParsedPage:
    """``action=parse``: wrap the rendered HTML like an article page and reuse that adapter."""
    parse = data["parse"]
    title = collapse(str(parse.get("title", "")))
    html = parse.get("text")
    if isinstance(html, dict):
        html = html.get("*", "")
    if not isinstance(html, str):
        html = ""
    wrapped = (
        f'<html><body><h1 id="firstHeading">{_escape(title)}</h1>'
        f'<div id="mw-content-text">{html}</div></body></html>'
    )
    page = parse_wikipedia_html(url, status, wrapped)
    page.kind = "api_parse"
    page.fields["pageid"] = parse.get("pageid")
    return page


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def parse_wikipedia_api(url: str, status: int, text: str) -> ParsedPage:
    """Parse one Action API response body (already decoded)."""
    parts = split_url(url)
    host = ((parts.hostname or "") if parts else "").rstrip(".") or "en.wikipedia.org"
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        return ParsedPage(url=url, source=SOURCE, kind="api_query", valid=False,
                          invalid_reason=PARSE_ERROR, invalid_detail=error_detail(exc))

    links = LinkSet()
    if isinstance(data, list):  # action=opensearch: [query, [titles], [descriptions], [urls]]
        titles = data[1] if len(data) > 1 and isinstance(data[1], list) else []
        urls = data[3] if len(data) > 3 and isinstance(data[3], list) else []
        for i, t in enumerate(titles):
            target = canon(urls[i], url) if i < len(urls) and isinstance(urls[i], str) else _wiki_url(host, str(t))
            links.add(target, _title_kind(str(t), None), str(t))
        page = ParsedPage(
            url=url,
            source=SOURCE,
            kind="api_opensearch",
            title=str(data[0]) if data else "",
            text="\n".join(f"- {t}" for t in titles),
            fields={"query": data[0] if data else "", "titles": titles},
            links=links.links,
        )
        return finish(page, status)
    if not isinstance(data, dict):
        return ParsedPage(url=url, source=SOURCE, kind="api_query", valid=False, invalid_reason=PARSE_ERROR,
                          invalid_detail="unexpected JSON")

    if isinstance(data.get("parse"), dict):
        return _parse_action_parse(url, status, data)

    fields: dict[str, Any] = {}
    if isinstance(data.get("continue"), dict):
        fields["continue"] = data["continue"]
    if isinstance(data.get("error"), dict):
        err = data["error"]
        code = str(err.get("code", "unknown"))
        fields["error"] = {"code": code, "info": str(err.get("info", ""))}
        return ParsedPage(
            url=url, source=SOURCE, kind="api_query", title="", text=str(err.get("info", "")),
            fields=fields, valid=False, invalid_reason=API_ERROR, invalid_detail=code,
        )

    raw_query = data.get("query")
    query: dict[str, Any] = raw_query if isinstance(raw_query, dict) else {}
    blocks: list[str] = []
    page_dicts = _pages(query)
    out_pages: list[dict[str, Any]] = []
    for p in page_dicts:
        entry = {k: _flatten_titles(v) for k, v in p.items()}
        out_pages.append(entry)
        title = str(p.get("title", ""))
        if title and not _is_missing(p):
            links.add(_wiki_url(host, title), _title_kind(title, p.get("ns")), title)
        for key in _TITLE_LISTS:
            for item in p.get(key) or []:
                if isinstance(item, dict) and isinstance(item.get("title"), str):
                    links.add(_wiki_url(host, item["title"]), _title_kind(item["title"], item.get("ns")), item["title"])
        for ll in p.get("langlinks") or []:
            if isinstance(ll, dict) and isinstance(ll.get("url"), str):
                links.add(canon(ll["url"], url), LinkKind.EXTERNAL, str(ll.get("*", ll.get("title", ""))))
        extract = p.get("extract")
        if isinstance(extract, str) and extract.strip():
            blocks.append((f"# {title}\n\n" if title else "") + extract.strip())
        else:
            summary = [f"# {title}"] if title else []
            for key in ("links", "images", "categories", "templates", "coordinates", "langlinks", "imageinfo"):
                value = entry.get(key)
                if isinstance(value, list) and value:
                    shown = [v if isinstance(v, str) else collapse(json.dumps(v, ensure_ascii=False)) for v in value[:50]]
                    summary.append(f"{key}: " + "; ".join(shown))
            if summary:
                blocks.append("\n\n".join(summary))
    if len(out_pages) == 1:
        for k, v in out_pages[0].items():
            fields.setdefault(k, v)
    elif out_pages:
        fields["pages"] = out_pages

    for module in _PAGE_LISTS:
        entries = query.get(module)
        if not isinstance(entries, list):
            continue
        cleaned = []
        lines = []
        for e in entries:
            if not isinstance(e, dict):
                continue
            e = dict(e)
            if isinstance(e.get("snippet"), str):
                e["snippet"] = collapse(_TAGS.sub("", e["snippet"]))
            cleaned.append(e)
            entry_title = e.get("title")
            if isinstance(entry_title, str):
                links.add(_wiki_url(host, entry_title), _title_kind(entry_title, e.get("ns")), entry_title)
                lines.append(f"- {entry_title}" + (f": {e['snippet']}" if e.get("snippet") else ""))
        fields[module] = cleaned
        if lines:
            blocks.append(f"## {module}\n\n" + "\n".join(lines))
    if isinstance(query.get("searchinfo"), dict):
        fields["searchinfo"] = query["searchinfo"]
    if isinstance(query.get("normalized"), list):
        fields["normalized"] = query["normalized"]
    if isinstance(query.get("redirects"), list):
        fields["redirects"] = query["redirects"]

    titles = [str(p.get("title", "")) for p in page_dicts if p.get("title")]
    page = ParsedPage(
        url=url,
        source=SOURCE,
        kind="api_query",
        title=titles[0] if len(titles) == 1 else "; ".join(titles[:5]),
        text="\n\n".join(blocks),
        fields=fields,
        links=links.links,
    )
    if page_dicts and all(_is_missing(p) for p in page_dicts):
        page.valid = False
        page.invalid_reason = MISSING_PAGE
    return finish(page, status)
