"""arXiv export API Atom feed (``export.arxiv.org/api/query``) -> one ParsedPage.

One feed holds N entries; the page's ``fields["entries"]`` lists them and ``text``
renders them all. arXiv reports API errors as a 200/400 feed with a single entry
titled "Error" whose id points at ``/api/errors``: that becomes
``invalid_reason="api_error"`` with the message in ``invalid_detail``. A well-formed feed with no entries is
``empty_feed`` (the id does not exist, or the query matched nothing).

As a crawl root (an ``id_list`` or ``search_query`` answer), each entry's abstract page
(``https://arxiv.org/abs/<id>``, unversioned, the site of ``export.arxiv.org``) is an
``article`` link the frontier follows; PDFs are ``other`` and DOIs ``external``.

Parsing uses lxml.etree with entity resolution and network access disabled.
"""

from __future__ import annotations

import re

from lxml import etree

from crawl.adapters.arxiv_abs import bare_id
from crawl.adapters.common import LinkSet, canon, collapse, error_detail, finish
from crawl.drop_reasons import API_ERROR, EMPTY_FEED, PARSE_ERROR
from crawl.page import LinkKind, ParsedPage

SOURCE = "arxiv"
NS = {
    "a": "http://www.w3.org/2005/Atom",
    "arxiv": "http://arxiv.org/schemas/atom",
    "opensearch": "http://a9.com/-/spec/opensearch/1.1/",
}
_ABS_URL = re.compile(r"^https?://(?:export\.)?arxiv\.org/abs/(.+)$")
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False, recover=False)


class AtomParseError(ValueError):
    """The body is not a well-formed Atom/XML document."""


def _text(el: etree._Element, path: str) -> str:
    found = el.find(path, NS)
    return collapse(found.text) if found is not None and found.text else ""


def _parse_root(xml: bytes | str) -> etree._Element:
    if isinstance(xml, str):
        xml = xml.encode("utf-8")
    try:
        root = etree.fromstring(xml, _PARSER)
    except (etree.XMLSyntaxError, ValueError) as exc:
        raise AtomParseError(str(exc)) from exc
    if root is None:
        raise AtomParseError("empty document")
    return root


def _entry(el: etree._Element) -> dict[str, object]:
    id_url = _text(el, "a:id")
    m = _ABS_URL.match(id_url)
    versioned = m.group(1) if m else id_url
    entry: dict[str, object] = {
        "id": versioned,
        "arxiv_id": bare_id(versioned),
        "id_url": id_url,
        "title": _text(el, "a:title"),
        "authors": [collapse(n.text) for n in el.findall("a:author/a:name", NS) if n.text and n.text.strip()],
        "abstract": _text(el, "a:summary"),
        "published": _text(el, "a:published"),
        "updated": _text(el, "a:updated"),
        "categories": [c.get("term") for c in el.findall("a:category", NS) if c.get("term")],
    }
    primary = el.find("arxiv:primary_category", NS)
    entry["primary_category"] = primary.get("term", "") if primary is not None else ""
    for key, path in (("doi", "arxiv:doi"), ("journal_ref", "arxiv:journal_ref"), ("comment", "arxiv:comment")):
        value = _text(el, path)
        if value:
            entry[key] = value
    for link in el.findall("a:link", NS):
        href = link.get("href") or ""
        if link.get("title") == "pdf" and href:
            entry["pdf_url"] = href
        elif link.get("rel") == "alternate" and href:
            entry["abs_url"] = href
    return entry


def _is_error_entry(entry: dict[str, object]) -> bool:
    return entry.get("title") == "Error" and "/api/errors" in str(entry.get("id_url", ""))


def parse_arxiv_atom_entries(xml: bytes | str) -> list[dict[str, object]]:
    """Entries of an arXiv Atom feed as dicts (error entries included, marked by title "Error").

    Raises :class:`AtomParseError` for malformed XML; callers that must not raise
    use :func:`parse_arxiv_atom`.
    """
    root = _parse_root(xml)
    return [_entry(e) for e in root.findall("a:entry", NS)]


def _render(entries: list[dict[str, object]]) -> str:
    blocks: list[str] = []
    for e in entries:
        lines = [f"## {e['title']}"]
        meta = [f"arXiv:{e['id']}"]
        if e.get("primary_category"):
            meta.append(str(e["primary_category"]))
        if e.get("published"):
            meta.append(f"published {str(e['published'])[:10]}")
        lines.append(" | ".join(meta))
        if e["authors"]:
            lines.append("Authors: " + ", ".join(e["authors"]))  # type: ignore[arg-type]
        if e["abstract"]:
            lines.append(str(e["abstract"]))
        blocks.append("\n\n".join(lines))
    return "\n\n".join(blocks)


def parse_arxiv_atom(url: str, status: int, body: bytes) -> ParsedPage:
    """Parse one export-API response; never raises."""
    try:
        root = _parse_root(body)
    except AtomParseError as exc:
        return ParsedPage(url=url, source=SOURCE, kind="atom_feed", valid=False,
                          invalid_reason=PARSE_ERROR, invalid_detail=error_detail(exc))
    if etree.QName(root).localname != "feed":
        return ParsedPage(
            url=url, source=SOURCE, kind="atom_feed", valid=False, invalid_reason=PARSE_ERROR,
            invalid_detail="not an Atom feed",
        )
    entries = [_entry(e) for e in root.findall("a:entry", NS)]
    total_text = _text(root, "opensearch:totalResults")
    try:
        total = int(total_text)
    except ValueError:
        total = len(entries)
    feed_title = _text(root, "a:title")

    errors = [e for e in entries if _is_error_entry(e)]
    entries = [e for e in entries if not _is_error_entry(e)]
    links = LinkSet()
    for e in entries:
        arxiv_id = str(e["arxiv_id"])
        if arxiv_id:
            links.add(canon(f"https://arxiv.org/abs/{arxiv_id}", url), LinkKind.ARTICLE, str(e["title"]))
        if e.get("pdf_url"):
            links.add(canon(str(e["pdf_url"]), url), LinkKind.OTHER, "pdf")
        if e.get("doi"):
            links.add(canon(f"https://doi.org/{e['doi']}", url), LinkKind.EXTERNAL, "doi")

    title = str(entries[0]["title"]) if len(entries) == 1 else feed_title
    page = ParsedPage(
        url=url,
        source=SOURCE,
        kind="atom_feed",
        title=title,
        text=_render(entries),
        fields={"entries": entries, "total_results": total, "feed_title": feed_title},
        links=links.links,
    )
    if errors:
        page.valid = False
        page.invalid_reason = API_ERROR
        page.invalid_detail = str(errors[0]["abstract"] or "unknown")[:200]
        page.fields["error"] = errors[0]["abstract"]
    elif not entries:
        page.valid = False
        page.invalid_reason = EMPTY_FEED
    return finish(page, status)
