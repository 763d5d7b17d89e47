"""arXiv listing pages -> ``kind="listing"``: the roots a crawl of arXiv starts from.

Supported roots (``fields["listing"]``):

=============================================  ================  =========================
URL                                            listing           items
=============================================  ================  =========================
``arxiv.org/list/<cat>/recent|new|pastweek``   ``arxiv_list``    ``dl > dt`` abs link +
(also ``/list/<cat>/<YYYY-MM>``, ``?skip=``)                      ``dd`` title/authors
``arxiv.org/search/?query=...&searchtype=...`` ``arxiv_search``  ``li.arxiv-result``
=============================================  ================  =========================

Abstract pages rarely link to each other, so without these a crawl seeded with a
category never reaches a paper. Each item becomes an ``article`` link to
``https://arxiv.org/abs/<id>`` (unversioned, like every other abs link we emit);
the page's other links are typed by :func:`crawl.adapters.arxiv_abs.classify_arxiv_link`
(pagination, ``pastweek``/``new`` switches and author searches are navigation, PDFs
``other``). Listings from before the 2024 redesign (``span.list-identifier``) and
after it (``dt > a[title=Abstract]``) both parse; the export API's Atom feeds are
:mod:`.arxiv_atom` (their entries are ``article`` links too). Author pages
(``/a/<id>``) are not supported.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs, unquote

from bs4 import BeautifulSoup, Tag

from crawl.adapters.arxiv_abs import ARXIV_ID, arxiv_links, bare_id
from crawl.adapters.common import canon, collapse, make_soup, split_url
from crawl.adapters.listing import ListItem, listing_page, render
from crawl.page import ParsedPage

SOURCE = "arxiv"
_ABS_HREF = re.compile(rf"/abs/({ARXIV_ID})(v\d+)?/?(?:[?#].*)?$")
_LIST_PATH = re.compile(r"^/list/([^/]+)/([^/]+?)/?$")
_DESCRIPTOR = re.compile(r"^\s*(Title|Authors?|Comments|Subjects|Journal-ref|Abstract)\s*:\s*", re.IGNORECASE)
_TOTAL = re.compile(r"Total of\s+([\d,]+)\s+entr", re.IGNORECASE)
_SHOWING = re.compile(r"of\s+([\d,]+)\s+results", re.IGNORECASE)
_LESS = re.compile(r"\s*\u25b3\s*Less\s*$")


def abs_id(href: str) -> str:
    """Bare arXiv id of an ``/abs/`` href ('' when it is not one)."""
    parts = split_url(href)
    m = _ABS_HREF.search(unquote(parts.path if parts else href))
    return bare_id(m.group(1)) if m else ""


def _text(el: object) -> str:
    """Visible text of ``el`` without its ``Title:``-style descriptor."""
    if not isinstance(el, Tag):
        return ""
    for d in el.find_all(class_="descriptor"):
        d.extract()
    return _DESCRIPTOR.sub("", collapse(el.get_text(" ")))


def _int(text: str) -> int | None:
    return int(text.replace(",", "")) if text else None


def _main(soup: BeautifulSoup) -> Tag | None:
    for el in (soup.find(id="dlpage"), soup.find(id="content-inner"), soup.find(id="content"), soup.find("main")):
        if isinstance(el, Tag):
            return el
    return None


def _list_items(main: Tag, url: str) -> list[ListItem]:
    items: list[ListItem] = []
    for dt in main.find_all("dt"):
        anchors = [a for a in dt.find_all("a", href=True) if abs_id(str(a["href"]))]
        if not anchors:
            continue
        a = next((x for x in anchors if x.get("title") == "Abstract"), anchors[0])
        arxiv_id = abs_id(str(a["href"]))
        target = canon(f"https://arxiv.org/abs/{arxiv_id}", url)
        dd = dt.find_next_sibling(["dd", "dt"])
        dd = dd if isinstance(dd, Tag) and dd.name == "dd" else None
        title = _text(dd.find(class_="list-title")) if dd else ""
        authors = [collapse(x.get_text()) for x in dd.select(".list-authors a")] if dd else []
        subjects = _text(dd.find(class_="list-subjects")) if dd else ""
        primary = _text(dd.find(class_="primary-subject")) if dd else ""
        comments = _text(dd.find(class_="list-comments")) if dd else ""
        day = dt.find_previous("h3")
        authors = [x for x in authors if x]
        extra: dict[str, object] = {"arxiv_id": arxiv_id, "authors": authors}
        for key, value in (("subjects", subjects), ("primary_subject", primary), ("comments", comments),
                           ("section", _text(day) if isinstance(day, Tag) else "")):
            if value:
                extra[key] = value
        if target:
            items.append(ListItem(target, title or f"arXiv:{arxiv_id}", ", ".join(authors), extra))
    return items


def parse_arxiv_listing(url: str, status: int, html: str) -> ParsedPage:
    """A category listing (``/list/<cat>/<period>``)."""
    soup = make_soup(html)
    main = _main(soup)
    links = arxiv_links(soup, url, "", main)
    items = _list_items(main, url) if main is not None else []
    parts = split_url(url)
    m = _LIST_PATH.match(unquote(parts.path)) if parts else None
    h1_el, h2_el = (main.find("h1"), main.find("h2")) if main is not None else (None, None)
    h1 = collapse(h1_el.get_text()) if isinstance(h1_el, Tag) else ""
    h2 = collapse(h2_el.get_text()) if isinstance(h2_el, Tag) else ""
    title = ": ".join(x for x in (h1, h2) if x) or collapse(soup.title.get_text() if soup.title else "")
    paging = main.find(class_="paging") if main is not None else None
    total = _TOTAL.search(collapse(paging.get_text())) if isinstance(paging, Tag) else None
    fields: dict[str, object] = {"category": m.group(1) if m else "", "period": m.group(2) if m else ""}
    if total:
        fields["total_entries"] = _int(total.group(1))
    of_total = f" of {fields['total_entries']}" if "total_entries" in fields else ""
    intro = f"{len(items)} papers listed{of_total}."
    text = render(title, intro, [("", items)])
    return listing_page(url, status, source=SOURCE, listing="arxiv_list", title=title, text=text, items=items,
                        links=links.links, fields=fields, html=html)


def _search_items(main: Tag, url: str) -> list[ListItem]:
    items: list[ListItem] = []
    for li in main.select("li.arxiv-result"):
        a = next((x for x in li.select("p.list-title a[href]") if abs_id(str(x["href"]))), None)
        if a is None:
            continue
        arxiv_id = abs_id(str(a["href"]))
        target = canon(f"https://arxiv.org/abs/{arxiv_id}", url)
        title_el = li.select_one("p.title")  # search hits are <span>s inside words: no separator
        title = collapse(title_el.get_text()) if title_el is not None else ""
        authors = [x for x in (collapse(y.get_text()) for y in li.select("p.authors a")) if x]
        full = li.select_one("span.abstract-full")
        abstract = _LESS.sub("", collapse(full.get_text(" "))) if full is not None else ""
        extra: dict[str, object] = {"arxiv_id": arxiv_id, "authors": authors,
                                    "categories": [collapse(t.get_text()) for t in li.select("div.tags span.tag")]}
        if abstract:
            extra["abstract"] = abstract
        if target:
            items.append(ListItem(target, title or f"arXiv:{arxiv_id}", ", ".join(authors), extra))
    return items


def parse_arxiv_search(url: str, status: int, html: str) -> ParsedPage:
    """A search result page (``/search/?query=...&searchtype=...``)."""
    soup = make_soup(html)
    main = soup.find("main") or soup.find(id="main-container") or soup.body
    main = main if isinstance(main, Tag) else None
    links = arxiv_links(soup, url, "", main)
    items = _search_items(main, url) if main is not None else []
    parts = split_url(url)
    query = parse_qs(parts.query if parts else "")
    heading = soup.find("h1", class_="title")
    heading_text = collapse(heading.get_text(" ")) if isinstance(heading, Tag) else ""
    total = _SHOWING.search(heading_text)
    fields: dict[str, object] = {"query": (query.get("query") or [""])[0],
                                 "searchtype": (query.get("searchtype") or [""])[0]}
    if total:
        fields["total_results"] = _int(total.group(1))
    title = heading_text or collapse(soup.title.get_text() if soup.title else "")
    text = render(title, "", [("", items)])
    return listing_page(url, status, source=SOURCE, listing="arxiv_search", title=title, text=text, items=items,
                        links=links.links, fields=fields, html=html)
