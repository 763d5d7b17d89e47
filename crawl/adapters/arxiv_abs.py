"""arXiv abstract page (``arxiv.org/abs/<id>``) -> ParsedPage with paper metadata.

The visible page (``h1.title``, ``div.authors``, ``blockquote.abstract``, the
metadata table) is the primary source; the ``citation_*`` meta tags arXiv emits for
Google Scholar are the fallback, so a layout change on either side still yields the
core fields (id, title, authors, abstract).
"""

from __future__ import annotations

import re
from urllib.parse import unquote

from bs4 import BeautifulSoup, Tag

from crawl.adapters.common import LinkSet, anchor_ids, collapse, collect_links, finish, make_soup, split_url, url_parts
from crawl.drop_reasons import MISSING_FIELDS, NEAR_EMPTY
from crawl.markdown import plain_text
from crawl.page import LinkKind, ParsedPage
from crawl.validity import check_validity

SOURCE = "arxiv"

# New-style (2104.12255, 0704.0001) and old-style (astro-ph/0601001, math.GT/0309136) ids.
ARXIV_ID = r"(?:\d{4}\.\d{4,5}|[a-z\-]+(?:\.[A-Z]{2})?/\d{7})"
_ABS_PATH = re.compile(rf"^/abs/({ARXIV_ID})(v\d+)?/?$")
_VERSION = re.compile(r"v\d+$")
_CATEGORY = re.compile(r"\(([a-z\-]+(?:\.[A-Za-z\-]+)?)\)")
_SUBMITTED = re.compile(r"Submitted on\s+([^(\]]+?)\s*(?:\(|\])")
_VERSION_LINE = re.compile(r"\[(v\d+)\]\s*(.+?UTC)\s*(?:\(([^)]*)\))?")
_DESCRIPTOR = re.compile(r"^\s*(Title|Authors?|Abstract)\s*:\s*", re.IGNORECASE)

# arxiv.org paths that are site chrome.
_NAV_PREFIXES = (
    "/a/", "/search", "/list/", "/prevnext", "/user", "/login", "/logout", "/help", "/about",
    "/year/", "/archive/", "/catchup", "/show-email", "/auth", "/new", "/corr", "/IgnoreMe",
    "/multi", "/tb/", "/trackback",
)
_OTHER_PREFIXES = ("/pdf/", "/html/", "/format/", "/src/", "/ps/", "/e-print/", "/dvi/")


def bare_id(arxiv_id: str) -> str:
    """``1707.08567v1`` -> ``1707.08567``."""
    return _VERSION.sub("", arxiv_id.strip())


def classify_arxiv_link(url: str, own_id: str, in_main: bool) -> LinkKind:
    """Kind of a canonical link found on an arXiv page."""
    host, raw_path, query = url_parts(url)
    if not host:
        return LinkKind.OTHER
    if host == "export.arxiv.org" and raw_path.startswith("/api"):
        return LinkKind.API
    if host in ("arxiv.org", "www.arxiv.org", "export.arxiv.org"):
        path = unquote(raw_path)
        m = _ABS_PATH.match(path)
        if m:
            if query:  # ?context=cs and similar browse switches
                return LinkKind.NAVIGATION
            if m.group(1) == own_id:
                return LinkKind.OTHER  # a version of this same paper
            return LinkKind.ARTICLE
        if path.startswith(_OTHER_PREFIXES):
            return LinkKind.OTHER
        return LinkKind.NAVIGATION
    if host.endswith("arxiv.org"):  # info.arxiv.org, static.arxiv.org, status pages
        return LinkKind.NAVIGATION
    return LinkKind.EXTERNAL if in_main else LinkKind.NAVIGATION


def _meta_all(soup: BeautifulSoup, name: str) -> list[str]:
    contents = (m.get("content") for m in soup.find_all("meta", attrs={"name": name}))
    return [collapse(c) for c in contents if isinstance(c, str) and c.strip()]


def _strip_descriptor(tag: Tag) -> str:
    for d in tag.find_all(class_="descriptor"):
        d.decompose()
    return _DESCRIPTOR.sub("", plain_text(tag))


def _cell(soup: BeautifulSoup, cls: str) -> Tag | None:
    cell = soup.find("td", class_=cls)
    return cell if isinstance(cell, Tag) else None


def arxiv_links(soup: BeautifulSoup, url: str, arxiv_id: str, main: object) -> LinkSet:
    """The links of an arXiv page, typed by :func:`classify_arxiv_link` (``main``: the main column)."""
    in_main = anchor_ids(main)
    return collect_links(soup, url, lambda link, a: classify_arxiv_link(link, arxiv_id, id(a) in in_main))


def parse_arxiv_abs(url: str, status: int, html: str) -> ParsedPage:
    """Parse an arXiv ``/abs/`` page into id/title/authors/abstract/categories/dates."""
    soup = make_soup(html)
    parts = split_url(url)
    m = _ABS_PATH.match(unquote(parts.path)) if parts else None
    metas = _meta_all(soup, "citation_arxiv_id")
    arxiv_id = bare_id(metas[0]) if metas else (m.group(1) if m else "")

    # Links first, on the untouched tree: main column vs. header/footer/sidebar.
    links = arxiv_links(soup, url, arxiv_id, soup.find(id="abs") or soup.find(id="content-inner") or soup.find("main"))

    h1 = soup.find("h1", class_="title")
    title = _strip_descriptor(h1) if isinstance(h1, Tag) else ""
    if not title:
        title = (_meta_all(soup, "citation_title") or [""])[0]

    authors_div = soup.find("div", class_="authors")
    authors = [collapse(a.get_text()) for a in authors_div.find_all("a")] if isinstance(authors_div, Tag) else []
    authors = [a for a in authors if a]
    if not authors:  # meta tags are "Last, First"
        authors = [" ".join(reversed([p.strip() for p in n.split(",", 1)])) for n in _meta_all(soup, "citation_author")]

    bq = soup.find("blockquote", class_="abstract")
    abstract = _strip_descriptor(bq) if isinstance(bq, Tag) else ""
    if not abstract:
        abstract = (_meta_all(soup, "citation_abstract") or [""])[0]

    categories: list[str] = []
    subjects = _cell(soup, "subjects")
    if subjects is not None:
        primary = subjects.find(class_="primary-subject")
        if isinstance(primary, Tag):
            categories.extend(_CATEGORY.findall(primary.get_text()))
        for code in _CATEGORY.findall(subjects.get_text()):
            if code not in categories:
                categories.append(code)

    submitted = ""
    dateline = soup.find(class_="dateline")
    if isinstance(dateline, Tag):
        sm = _SUBMITTED.search(collapse(dateline.get_text()))
        if sm:
            submitted = sm.group(1).strip()
    if not submitted:
        submitted = (_meta_all(soup, "citation_date") or [""])[0]

    fields: dict[str, object] = {
        "arxiv_id": arxiv_id,
        "title": title,
        "authors": authors,
        "abstract": abstract,
        "categories": categories,
        "submitted": submitted,
    }
    history = soup.find(class_="submission-history")
    if isinstance(history, Tag):
        versions = [
            {"version": v, "date": collapse(d), "size": collapse(s or "")}
            for v, d, s in _VERSION_LINE.findall(collapse(history.get_text(" ")))
        ]
        if versions:
            fields["versions"] = versions
    for key, cls in (("doi", "doi"), ("journal_ref", "jref"), ("comments", "comments")):
        cell = _cell(soup, cls)
        if cell is not None:
            value = plain_text(cell)
            if value:
                fields[key] = value
    arxiv_doi = _cell(soup, "arxivdoi")
    if arxiv_doi is not None:
        a = arxiv_doi.find("a")
        if isinstance(a, Tag):
            fields["arxiv_doi"] = collapse(a.get_text())

    parts_md = [f"# {title}" if title else ""]
    if authors:
        parts_md.append("Authors: " + ", ".join(authors))
    meta_line = []
    if arxiv_id:
        meta_line.append(f"arXiv:{arxiv_id}")
    if categories:
        meta_line.append("Categories: " + ", ".join(categories))
    if submitted:
        meta_line.append(f"Submitted: {submitted}")
    if meta_line:
        parts_md.append(" | ".join(meta_line))
    if abstract:
        parts_md.append("## Abstract\n\n" + abstract)
    if "comments" in fields:
        parts_md.append(f"Comments: {fields['comments']}")
    text = "\n\n".join(p for p in parts_md if p)

    page = ParsedPage(url=url, source=SOURCE, kind="abs", title=title, text=text, fields=fields, links=links.links)
    missing = [k for k, v in (("arxiv_id", arxiv_id), ("title", title), ("abstract", abstract)) if not v]
    if missing:
        # Not a paper page (error, bot wall, withdrawn id): prefer the content rules'
        # verdict, which can say *why*, over a bare list of missing fields.
        html_title = collapse(soup.title.get_text()) if soup.title is not None else ""
        reason = check_validity(status, title or html_title, text, html)
        page.valid = False
        if reason in (None, NEAR_EMPTY):
            page.invalid_reason, page.invalid_detail = MISSING_FIELDS, ",".join(missing)
        else:
            page.invalid_reason = reason
        return page
    return finish(page, status, html=html)
