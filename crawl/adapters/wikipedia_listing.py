"""Wikipedia categories and portals -> ``kind="listing"`` (crawl roots).

Supported roots (``fields["listing"]``):

=============================================  =======================  =========================
URL                                            listing                  items
=============================================  =======================  =========================
``/wiki/Category:<Name>`` (and its             ``wikipedia_category``   members in ``#mw-pages``,
``/w/index.php?title=Category:..&pagefrom=``                            subcategories in
continuation pages)                                                     ``#mw-subcategories``
``/wiki/Portal:<Name>`` (and subpages)         ``wikipedia_portal``     the article links of the
                                                                        portal's content
=============================================  =======================  =========================

The article adapter (:mod:`.wikipedia_html`) reads only the parser output, and a
category's member lists sit *outside* it (MediaWiki appends them after the page's
own text), so on its own it typed every member as navigation and every subcategory
as ``special``: a crawl seeded with a category stopped there. Here the lists are
taken out of the tree first, the rest goes through the article adapter (title,
description, chrome links), and then

* members in the main namespace (and portals listed as members) are ``article``
  links, subcategories too: a crawl walks down the category tree to the articles;
* members in other namespaces (templates, user and project pages) and files keep
  their usual kind; the "(next page)" continuation is an ``edit``-kind index.php link.

A portal's links to articles are already ``article`` links (they sit in the parser
output); the portal only changes kind, so it is judged as a listing. Both layouts
seen in our data parse: today's (``div.mw-category`` groups, CategoryTree items)
and the 2014 one (a table of columns with ``h3`` initials).
"""

from __future__ import annotations

from urllib.parse import parse_qs, unquote

from bs4 import Tag

from crawl.adapters.common import LinkSet, canon, collapse, make_soup, split_url, url_parts
from crawl.adapters.listing import ListItem, listing_page, render
from crawl.adapters.wikipedia_html import classify_wikipedia_link, namespace_of, parse_wikipedia_soup
from crawl.page import LinkKind, ParsedPage

SOURCE = "wikipedia"
# Block id -> namespaces whose pages listed there are followed ("" = articles).
_BLOCKS = {"mw-subcategories": frozenset({"category"}), "mw-pages": frozenset({"", "portal"}),
           "mw-category-media": frozenset()}


def page_title(url: str) -> str:
    """Title named by a ``/wiki/<title>`` or ``/w/index.php?title=<title>`` URL ('' if neither)."""
    parts = split_url(url)
    if parts is None:
        return ""
    if parts.path.startswith("/wiki/"):
        return unquote(parts.path[6:]).replace("_", " ")
    if parts.path in ("/w/index.php", "/index.php"):
        return (parse_qs(parts.query).get("title") or [""])[0].replace("_", " ")
    return ""


def listing_namespace(url: str) -> str:
    """``"category"`` / ``"portal"`` for the pages this module parses, else ''."""
    ns = namespace_of(page_title(url))
    return ns if ns in ("category", "portal") else ""


def _member(url: str) -> str | None:
    """Namespace of a ``/wiki/`` target ('' for articles), None for anything else."""
    _host, path, query = url_parts(url)
    if not path.startswith("/wiki/") or query:
        return None
    return namespace_of(unquote(path[6:]))


def _block_links(block: Tag, page_url: str, host: str, follow: frozenset[str]) -> tuple[LinkSet, list[ListItem]]:
    """Links of one generated list; members in a ``follow`` namespace are items and ``article``."""
    links, items = LinkSet(), []
    for a in block.find_all("a", href=True):
        url = canon(str(a["href"]), page_url)
        if url is None:
            continue
        ns = _member(url)
        text = collapse(a.get_text())
        if ns is not None and ns in follow and url_parts(url)[0] == host:
            links.add(url, LinkKind.ARTICLE, text)
            section = a.find_previous("h3")
            extra = {"namespace": ns or "main"}
            if isinstance(section, Tag) and block in section.parents:
                extra["section"] = collapse(section.get_text()) or " "
            holder = a.parent if isinstance(a.parent, Tag) and a.parent.name == "bdi" else a
            count = holder.find_next_sibling("span")  # CategoryTree: "(1 C, 30 P)"
            detail = collapse(count.get_text()).strip("\u200e()") if isinstance(count, Tag) else ""
            items.append(ListItem(url, text or page_title(url), detail, extra))
        else:
            links.add(url, classify_wikipedia_link(url, host, True, False, False), text)
    return links, items


def parse_wikipedia_category(url: str, status: int, html: str) -> ParsedPage:
    """A category page: its subcategories, then its pages, as items (see module doc)."""
    soup = make_soup(html, split_classes=False)
    host = url_parts(url)[0]
    blocks = {bid: el.extract() for bid in _BLOCKS if isinstance(el := soup.find(id=bid), Tag)}
    base = parse_wikipedia_soup(url, status, html, soup)
    links = LinkSet()
    for link in base.links:
        links.add(link.url, link.kind, link.text)
    found: dict[str, list[ListItem]] = {}
    for bid, block in blocks.items():
        block_links, items = _block_links(block, url, host, _BLOCKS[bid])
        for link in block_links.links:
            links.add(link.url, link.kind, link.text)
        found[bid] = items
    name = page_title(url).split(":", 1)[-1].strip() or base.title
    subcats, pages = found.get("mw-subcategories", []), found.get("mw-pages", [])
    title = base.title or f"Category:{name}"
    text = render(title, base.text, [("Subcategories", subcats), (f'Pages in category "{name}"', pages)])
    fields = {"category": name, "subcategories": len(subcats), "pages": len(pages),
              "description": base.fields.get("lead", "")}
    return listing_page(url, status, source=SOURCE, listing="wikipedia_category", title=title, text=text,
                        items=subcats + pages, links=links.links, fields=fields, html=html)


def parse_wikipedia_portal(url: str, status: int, html: str) -> ParsedPage:
    """A portal: the articles its boxes link, in page order, as items."""
    base = parse_wikipedia_soup(url, status, html, make_soup(html, split_classes=False))
    items = [ListItem(link.url, link.text or page_title(link.url))
             for link in base.links if link.kind == LinkKind.ARTICLE]
    title = base.title or page_title(url)
    text = render(title, base.text, [])
    fields = {"portal": page_title(url).split(":", 1)[-1].strip(), "sections": base.fields.get("sections", [])}
    return listing_page(url, status, source=SOURCE, listing="wikipedia_portal", title=title, text=text,
                        items=items, links=base.links, fields=fields, html=html)


def parse_wikipedia_listing(url: str, status: int, html: str) -> ParsedPage:
    """Category or portal page, by the namespace its URL names."""
    if listing_namespace(url) == "category":
        return parse_wikipedia_category(url, status, html)
    return parse_wikipedia_portal(url, status, html)
