"""Wikipedia article HTML -> ParsedPage (all skins seen in our data).

Handles the current Vector layout (``div.mw-heading`` wrappers, ``#vector-toc``,
"Jump to content"), the 2016-2020 layout (``span.mw-headline`` inside ``h2``,
``#toc``, "Jump to navigation") and the bare 2014 ``action=render`` dumps
(``h1#firstHeading`` + ``div#mw-content-text`` and nothing else). All share
``#mw-content-text`` as the content root, which is what we key on.

Text decisions (the markdown in ``text``):

* lead paragraphs first, then ``## Section`` / ``### Subsection`` with their prose,
  lists and tables;
* dropped everywhere: infobox (kept as ``fields["infobox"]``), navboxes and sidebars,
  TOC, hatnotes, maintenance boxes, reference markers and ``[citation needed]``,
  edit links, images and captions, coordinates, hidden (``display:none``) spans;
* dropped sections (with their subsections): References, Notes, Footnotes,
  Citations, Sources, Works cited, Further reading, External links and See also.
  "See also" is only a list of titles; its targets stay in ``links``. The section
  titles still appear in ``fields["sections"]`` (all h2-h6 headings in order).
* math is kept as ``$TeX$`` from the formula's alt text.

Links are classified before any cleanup, on the untouched tree, by where they sit:
in the content (navboxes included: they list related articles) -> ``article``;
site chrome (header, sidebar, footer) -> ``navigation``; edit sections -> ``edit``.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs, unquote

from bs4 import BeautifulSoup, NavigableString, Tag

from crawl.adapters.common import LinkSet, canon, collapse, finish, make_soup, split_url, url_parts
from crawl.markdown import HEADINGS, Renderer, inline_text, plain_text
from crawl.page import LinkKind, ParsedPage

SOURCE = "wikipedia"

# Namespaces whose pages are not articles (lower-case, spaces as underscores), plus
# the long interwiki prefixes. One-letter interwiki aliases (``c:``, ``q:``) are left
# out on purpose: "C: The Contra Adventure" and "Q: Are We Not Men?" are articles.
FILE_NAMESPACES = frozenset({"file", "image", "media"})
NAMESPACES = frozenset(
    {
        "special", "talk", "user", "wikipedia", "wp", "project", "help", "category",
        "template", "portal", "module", "mediawiki", "draft", "book", "timedtext",
        "education_program", "gadget", "gadget_definition", "topic", "event",
        "wikt", "wiktionary", "commons", "meta", "mw", "wikisource", "wikiquote",
        "wikibooks", "wikinews", "wikiversity", "wikivoyage", "wikidata", "wikispecies",
    }
)

# Containers inside the content area whose links are navigation, not article links:
# page furniture (contents, categories, maintenance notices, authority control).
# Hatnotes ("Main article: X") are not here: they point at the most related articles
# of all. Nor are navboxes, sidebars and succession boxes: their links go from this
# article to related articles (teammates, the season's other matches), which is
# exactly what a WebWalker-style crawl follows.
# They are still dropped from the text (see DROP_CLASSES).
NAV_CLASSES = frozenset(
    {
        "navbox-styles", "toc", "vector-toc",
        "catlinks", "portal", "portalbox", "sistersitebox", "mw-authority-control",
        "authority-control", "metadata", "ambox", "tmbox", "ombox",
        "cmbox", "fmbox", "imbox", "mbox-small",
    }
)

# Elements removed from the text (classes / ids / tags).
DROP_CLASSES = frozenset(
    {
        "infobox", "navbox", "vertical-navbox", "navbox-styles", "sidebar", "toc", "vector-toc",
        "mw-editsection", "reflist", "references", "refbegin", "mw-references-wrap", "reference",
        "hatnote", "dablink", "rellink", "metadata", "ambox", "tmbox", "ombox", "cmbox", "fmbox",
        "imbox", "mbox-small", "noprint", "mw-empty-elt", "thumb", "thumbinner", "thumbcaption",
        "gallery", "mw-gallery-traditional", "mw-gallery-packed", "mw-jump-link", "mw-indicators",
        "catlinks", "printfooter", "persondata", "geo-default", "geo-dms", "geo-dec", "geo",
        "coordinates", "mw-cite-backlink", "shortdescription", "navigation-not-searchable",
        "portal", "portalbox", "sistersitebox", "side-box", "mw-authority-control",
        "authority-control", "Inline-Template", "mw-kartographer-maplink", "magnify",
        "floatright", "floatleft", "locmap", "Z3988", "mw-file-description", "mwe-math-fallback-image-inline",
        "mw-editsection-bracket", "stub", "asbox", "box-Multiple_issues",
        "vector-body-before-content", "mw-hidden-catlinks", "noexcerpt",
    }
)
DROP_IDS = frozenset(
    {
        "toc", "coordinates", "siteSub", "contentSub", "contentSub2", "jump-to-nav", "catlinks",
        "persondata", "mw-navigation", "footer", "vector-toc", "mw-head", "mw-panel", "stub",
    }
)
DROP_TAGS = frozenset({"style", "script", "noscript", "link", "meta", "img", "figure", "audio", "video", "map", "gallery"})

# Trailing apparatus sections, dropped from the text with their subsections.
DROP_SECTIONS = frozenset(
    {
        "references", "reference", "notes", "note", "footnotes", "citations", "sources",
        "works cited", "further reading", "external links", "external link", "see also",
        "notes and references", "references and notes", "general references",
        "explanatory notes", "citation notes", "bibliographical notes", "notes and citations",
        "general and cited sources", "cited sources", "reference notes", "related links",
    }
)

_DISPLAYSTYLE = re.compile(r"^\{\\displaystyle\s*(.*)\}$", re.DOTALL)
_DISPLAY_NONE = re.compile(r"display\s*:\s*none", re.IGNORECASE)
_TITLE_SUFFIX = re.compile(r"\s+[-\u2013\u2014]\s+Wikipedia.*$")
_EDIT_ACTIONS = ("action=", "veaction=", "diff=", "oldid=", "redlink=")


def namespace_of(title: str) -> str:
    """Lower-case namespace prefix of a page title ('' for articles).

    ``Star Wars: A New Hope`` is an article: only known prefixes and ``*_talk``
    count as namespaces.
    """
    if ":" not in title:
        return ""
    prefix = title.split(":", 1)[0].strip().lower().replace(" ", "_")
    if prefix in FILE_NAMESPACES or prefix in NAMESPACES or prefix.endswith("_talk"):
        return prefix
    return ""


def classify_wikipedia_link(url: str, page_host: str, in_content: bool, in_chrome: bool, in_edit: bool) -> LinkKind:
    """Kind of a canonical link found on a Wikipedia page (see module doc)."""
    if in_edit:
        return LinkKind.EDIT
    host, path, query = url_parts(url)
    if not host:
        return LinkKind.OTHER
    navigational = in_chrome or not in_content
    if host == "upload.wikimedia.org":
        return LinkKind.FILE
    if host.endswith((".wikipedia.org", ".wikimedia.org", ".wiktionary.org", ".mediawiki.org")) or host == page_host:
        if path.startswith("/wiki/"):
            title = unquote(path[6:])
            ns = namespace_of(title)
            if ns in FILE_NAMESPACES:
                return LinkKind.FILE
            if query and any(a in query for a in _EDIT_ACTIONS):
                return LinkKind.EDIT
            if ns:
                return LinkKind.SPECIAL
            if host != page_host or not title:
                return LinkKind.NAVIGATION if navigational else LinkKind.EXTERNAL
            return LinkKind.NAVIGATION if navigational else LinkKind.ARTICLE
        if path.startswith("/w/index.php") or path == "/index.php":
            titles = parse_qs(query).get("title") or []
            if titles and namespace_of(titles[0]) == "special" and not any(a in query for a in _EDIT_ACTIONS):
                return LinkKind.SPECIAL
            return LinkKind.EDIT
        if path.startswith(("/w/api.php", "/api/")):
            return LinkKind.API
        if host != page_host and not navigational:
            return LinkKind.EXTERNAL
        return LinkKind.NAVIGATION if navigational else LinkKind.OTHER
    return LinkKind.NAVIGATION if navigational else LinkKind.EXTERNAL


def _classes(tag: Tag) -> list[str]:
    """Class tokens of ``tag`` (the soup keeps ``class`` as one string, see make_soup)."""
    cls = tag.attrs.get("class")
    if not cls:
        return []
    return cls.split() if isinstance(cls, str) else cls


def _with_class(name: str):
    """A bs4 ``find`` filter: elements having class token ``name``."""
    return lambda tag: name in _classes(tag)


def _has_class(tag: Tag, classes: frozenset[str]) -> bool:
    for c in _classes(tag):
        if c in classes:
            return True
    return False


def _is_droppable(tag: Tag, classes: list[str]) -> bool:
    """Should ``tag`` (with class tokens ``classes``) be removed from the text?"""
    if tag.name in DROP_TAGS:
        return True
    attrs = tag.attrs
    if attrs.get("id") in DROP_IDS:
        return True
    for c in classes:
        if c in DROP_CLASSES:
            return True
    style = attrs.get("style")
    return bool(style) and isinstance(style, str) and _DISPLAY_NONE.search(style) is not None


def _content_root(soup: BeautifulSoup) -> Tag | None:
    content = soup.find(id="mw-content-text")
    if not isinstance(content, Tag):
        return None
    for child in content.children:
        if isinstance(child, Tag) and _has_class(child, _PARSER_OUTPUT):
            return child
    return content


_PARSER_OUTPUT = frozenset({"mw-parser-output"})
_MATH = "mwe-math-element"
_EDITSECTION = "mw-editsection"
_INFOBOX = "infobox"
_NAV_IDS = frozenset({"toc", "catlinks"})


class _Scan:
    """What one walk over the document found (see :func:`_scan`)."""

    __slots__ = ("links", "drops", "maths", "infoboxes")

    def __init__(self) -> None:
        self.links = LinkSet()
        self.drops: list[Tag] = []  # outermost droppable elements in the content
        self.maths: list[Tag] = []  # outermost math elements in the content
        self.infoboxes: list[Tag] = []


def _scan(soup: BeautifulSoup, content: Tag | None, page_url: str, page_host: str) -> _Scan:
    """One pre-order walk: classify every link by where it sits, and record the
    elements the text cleanup will remove (outermost only, so nothing is removed
    twice). Iterative, so deep documents cannot hit the recursion limit.

    Infoboxes are recorded separately, not as drops, so the junk *inside* them
    (reference markers, hidden spans) is removed before their rows are read.
    """
    out = _Scan()
    # (node, in_content, in_chrome, in_edit, suppressed: inside a drop or a formula)
    stack: list[tuple[Tag, bool, bool, bool, bool]] = [(soup, False, False, False, False)]
    pop, push = stack.pop, stack.append
    while stack:
        node, inc, chrome, edit, supp = pop()
        if node is content:
            inc = True
        elif inc:
            classes = _classes(node)
            if not chrome and (
                any(c in NAV_CLASSES for c in classes) or node.attrs.get("id") in _NAV_IDS
            ):
                chrome = True
            if not edit and _EDITSECTION in classes:
                edit = True
            if not supp:
                if _MATH in classes or (node.name == "img" and "tex" in classes):
                    out.maths.append(node)
                    supp = True
                elif node.name == "table" and _INFOBOX in classes:
                    out.infoboxes.append(node)
                elif _is_droppable(node, classes):
                    out.drops.append(node)
                    supp = True
        if node.name == "a":
            href = node.attrs.get("href")
            if isinstance(href, str):
                url = canon(href, page_url)
                if url is not None:
                    kind = classify_wikipedia_link(url, page_host, inc, chrome, edit)
                    out.links.add(url, kind, node.get_text())
        children = [c for c in node.contents if isinstance(c, Tag)]
        for c in reversed(children):
            push((c, inc, chrome, edit, supp))
    return out


def _replace_math(soup: BeautifulSoup, maths: list[Tag]) -> None:
    """Math formulas -> ``$TeX$`` (inline) or a ``$$TeX$$`` paragraph (display).

    TeX comes from the MathML ``alttext`` or the fallback image's ``alt``; 2014
    pages use ``img.tex`` with the TeX in ``alt``.
    """
    for el in maths:
        tex: object = ""
        if el.name == "img":
            tex = el.attrs.get("alt") or ""
        else:
            m = el.find("math")
            if isinstance(m, Tag):
                tex = m.attrs.get("alttext") or ""
            if not tex:
                img = el.find("img")
                if isinstance(img, Tag):
                    tex = img.attrs.get("alt") or ""
        tex = tex if isinstance(tex, str) else ""
        mm = _DISPLAYSTYLE.match(tex.strip())
        tex = collapse(mm.group(1) if mm else tex)
        if not tex:
            el.decompose()
        elif el.name == "div" or el.find(_with_class("mwe-math-mathml-display")) is not None:
            block = soup.new_tag("p")
            block.string = f"$${tex}$$"
            el.replace_with(block)
        else:
            el.replace_with(NavigableString(f"${tex}$"))


def _infobox(box: Tag) -> dict[str, str]:
    """``{th text: td text}`` for the label/value rows of an infobox table."""
    out: dict[str, str] = {}
    for tr in box.find_all("tr"):
        th = tr.find("th", recursive=False)
        td = tr.find("td", recursive=False)
        if not isinstance(th, Tag) or not isinstance(td, Tag):
            continue
        key = plain_text(th).replace("\ufeff", "").strip()
        value = collapse(plain_text(td).replace("\ufeff", ""))
        if key and value and key not in out:
            out[key] = value
    return out


def _heading_of(tag: Tag) -> tuple[int, str] | None:
    """(level, title) if ``tag`` is a section heading (plain hN or a mw-heading wrapper)."""
    level = HEADINGS.get(tag.name)
    if level is None and tag.name == "div" and _has_class(tag, frozenset({"mw-heading"})):
        inner = tag.find(list(HEADINGS))
        if isinstance(inner, Tag):
            level = HEADINGS[inner.name]
            tag = inner
    if level is None:
        return None
    headline = tag.find(_with_class("mw-headline"))
    title = inline_text(headline if isinstance(headline, Tag) else tag)
    return level, title


def _top_level_blocks(root: Tag):
    """Children of the content root, with <section> wrappers flattened."""
    for child in root.children:
        if isinstance(child, Tag) and child.name == "section":
            yield from _top_level_blocks(child)
        else:
            yield child


def _render_body(root: Tag) -> tuple[str, str, list[str]]:
    """(markdown, first lead paragraph, section titles) of a cleaned content root.

    One renderer runs over the top-level children so that bare inline runs between
    blocks (common around display math) stay one paragraph; headings are intercepted
    to drop apparatus sections.
    """
    r = Renderer()
    sections: list[str] = []
    lead = ""
    skip_level = 0  # >0 while inside a dropped section of that level
    seen_heading = False
    for child in _top_level_blocks(root):
        head = _heading_of(child) if isinstance(child, Tag) else None
        if head is not None:
            level, title = head
            if level == 1:
                continue
            r.flush()
            seen_heading = True
            if title:
                sections.append(title)
            if skip_level and level <= skip_level:
                skip_level = 0
            if not skip_level and title.lower().strip(" :") in DROP_SECTIONS:
                skip_level = level
            if not skip_level and title:
                r.blocks.append("#" * level + " " + title)
            continue
        if skip_level:
            continue
        if not seen_heading and not lead and isinstance(child, Tag) and child.name == "p":
            r.flush()
            n = len(r.blocks)
            r.visit(child)
            if len(r.blocks) > n:
                lead = r.blocks[n]
            continue
        r.visit(child)
    r.flush()
    return "\n\n".join(r.blocks), lead, sections


def parse_wikipedia_html(url: str, status: int, html: str) -> ParsedPage:
    """Parse one Wikipedia article page (any of the supported layouts)."""
    return parse_wikipedia_soup(url, status, html, make_soup(html, split_classes=False))


def parse_wikipedia_soup(url: str, status: int, html: str, soup: BeautifulSoup) -> ParsedPage:
    """:func:`parse_wikipedia_html` on a tree already parsed with ``make_soup(html,
    split_classes=False)`` (the category adapter takes its member lists out first).
    The tree is modified: dropped elements are removed from it."""
    parts = split_url(url)
    page_host = ((parts.hostname or "") if parts else "").rstrip(".")

    h1 = soup.find(id="firstHeading")
    title = collapse(h1.get_text()) if isinstance(h1, Tag) else ""
    if not title and soup.title is not None:
        title = _TITLE_SUFFIX.sub("", collapse(soup.title.get_text()))

    content = _content_root(soup)
    scan = _scan(soup, content, url, page_host)

    text, lead, infobox = "", "", {}
    sections: list[str] = []
    if content is not None:
        _replace_math(soup, scan.maths)
        for tag in scan.drops:
            tag.decompose()
        if scan.infoboxes:
            infobox = _infobox(scan.infoboxes[0])
            for box in reversed(scan.infoboxes):  # nested boxes first
                box.decompose()
        text, lead, sections = _render_body(content)

    path_title = unquote(parts.path[6:]) if parts and parts.path.startswith("/wiki/") else ""
    page = ParsedPage(
        url=url,
        source=SOURCE,
        kind="special_page" if namespace_of(path_title) else "article",
        title=title,
        text=text,
        fields={"lead": lead, "sections": sections, "infobox": infobox},
        links=scan.links.links,
    )
    return finish(page, status, html=html)
