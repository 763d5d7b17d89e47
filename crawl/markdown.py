"""HTML (a BeautifulSoup subtree) -> markdown, for main content an adapter isolated.

Adapters know their site and strip its chrome first; this module only renders what
is left: headings, paragraphs, lists (nested), tables (pipe tables), code blocks and
block quotes. Link targets, images and inline emphasis are dropped on purpose: the
text feeds LLM training and retrieval, links are returned separately by the adapters,
and ``**`` noise around every bold lead term helps nobody.

One pass over the subtree, no re-parsing; the only super-linear risk is nested tables
(each row is checked against its own table), which real pages keep shallow.
"""

from __future__ import annotations

import re

from bs4 import NavigableString, Tag

__all__ = ["Renderer", "html_to_markdown", "inline_text", "plain_text", "collapse"]

# Never rendered: executable, media, form controls, document metadata.
SKIP_TAGS = frozenset(
    {
        "script", "style", "noscript", "template", "svg", "math", "img", "picture", "video",
        "audio", "source", "track", "iframe", "object", "embed", "canvas", "map", "area",
        "button", "input", "select", "option", "textarea", "link", "meta", "head", "title",
        "base",
    }
)
HEADINGS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}
# Elements that start a new block (paragraph break before and after).
BLOCK_TAGS = frozenset(
    {
        "p", "div", "section", "article", "main", "header", "footer", "aside", "nav", "figure",
        "figcaption", "center", "dt", "dd", "dl", "details", "summary", "address", "fieldset",
        "legend", "li", "caption", "body", "html", "form", "hgroup", "tbody", "thead", "tfoot",
        "tr", "td", "th", "label",
    }
)

_WS = re.compile(r"\s+")
_SPACES = re.compile(r"[^\S\n]+")
_NL_SPACES = re.compile(r" ?\n ?")
_MANY_NL = re.compile(r"\n{3,}")


def collapse(text: str | None) -> str:
    """All whitespace runs (incl. NBSP) to one space, stripped ('' for None); the adapters'
    one whitespace rule (they import it through :mod:`crawl.adapters.common`)."""
    return _WS.sub(" ", text).strip() if text else ""


class Renderer:
    """Accumulates finished blocks plus the inline run of the current paragraph.

    Adapters that need to intercept some children (e.g. section headings) drive
    :meth:`visit` themselves and read :attr:`blocks` after :meth:`flush`.
    """

    __slots__ = ("blocks", "inline", "flat_tables")

    def __init__(self, flat_tables: bool = False) -> None:
        self.blocks: list[str] = []
        self.inline: list[str] = []
        # Inside a table cell or heading a nested table is just text: a pipe table
        # inside a pipe table cell cannot be represented.
        self.flat_tables = flat_tables

    def flush(self) -> None:
        if not self.inline:
            return
        s = _SPACES.sub(" ", "".join(self.inline))
        s = _NL_SPACES.sub("\n", s).strip()
        self.inline.clear()
        if s:
            self.blocks.append(s)

    def walk(self, node: Tag) -> None:
        for child in node.children:
            self.visit(child)

    def visit(self, child: object) -> None:
        if type(child) is NavigableString:
            self.inline.append(_WS.sub(" ", child))
            return
        if not isinstance(child, Tag):
            return  # comments, doctype, CDATA, processing instructions
        name = child.name
        if name in SKIP_TAGS:
            return
        level = HEADINGS.get(name)
        if level is not None:
            self.flush()
            text = inline_text(child)
            if text:
                self.blocks.append("#" * level + " " + text)
        elif name == "br":
            self.inline.append("\n")
        elif name in ("ul", "ol"):
            self.flush()
            rendered = _render_list(child, 0)
            if rendered:
                self.blocks.append(rendered)
        elif name == "table":
            self.flush()
            rendered = plain_text(child) if self.flat_tables else _render_table(child)
            if rendered:
                self.blocks.append(rendered)
        elif name == "pre":
            self.flush()
            code = child.get_text().strip("\n")
            if code.strip():
                self.blocks.append("```\n" + code + "\n```")
        elif name == "blockquote":
            self.flush()
            sub = Renderer()
            sub.walk(child)
            sub.flush()
            if sub.blocks:
                quoted = "\n\n".join(sub.blocks)
                self.blocks.append("\n".join("> " + line if line else ">" for line in quoted.split("\n")))
        elif name == "code" or name == "kbd" or name == "samp" or name == "tt":
            code = collapse(child.get_text())
            if code:
                self.inline.append("`" + code + "`")
        elif name == "hr":
            self.flush()
        elif name in BLOCK_TAGS:
            self.flush()
            self.walk(child)
            self.flush()
        else:  # inline element: a, span, b, i, sup, sub, abbr, small, ...
            self.walk(child)


def _render_list(lst: Tag, depth: int) -> str:
    ordered = lst.name == "ol"
    indent = "  " * depth
    lines: list[str] = []
    n = 0
    for li in lst.children:
        if not isinstance(li, Tag):
            continue
        if li.name in ("ul", "ol"):  # malformed: list directly inside list
            nested = _render_list(li, depth + 1)
            if nested:
                lines.append(nested)
            continue
        if li.name != "li":
            continue
        n += 1
        marker = f"{n}." if ordered else "-"
        sub = Renderer()
        for c in li.children:
            if isinstance(c, Tag) and c.name in ("ul", "ol"):
                sub.flush()
                nested = _render_list(c, depth + 1)
                if nested:
                    sub.blocks.append("\x00" + nested)  # marker: already indented
            else:
                sub.visit(c)
        sub.flush()
        first = True
        for block in sub.blocks:
            if block.startswith("\x00"):
                lines.append(block[1:])
                continue
            text = block.replace("\n", " ")
            if first:
                lines.append(f"{indent}{marker} {text}")
                first = False
            else:
                lines.append(f"{indent}  {text}")
    return "\n".join(lines)


def _render_table(table: Tag) -> str:
    rows: list[list[str]] = []
    for tr in table.find_all("tr"):
        if tr.find_parent("table") is not table:
            continue  # row of a nested table: rendered inside its cell
        cells = [
            inline_text(cell).replace("|", "\\|")
            for cell in tr.children
            if isinstance(cell, Tag) and cell.name in ("td", "th")
        ]
        if any(cells):
            rows.append(cells)
    if not rows:
        return ""
    width = max(len(r) for r in rows)
    if width == 1:  # one-column layout table: plain lines read better
        return "\n".join(r[0] for r in rows if r[0])
    for r in rows:
        r.extend([""] * (width - len(r)))
    out = ["| " + " | ".join(rows[0]) + " |", "|" + "---|" * width]
    out.extend("| " + " | ".join(r) + " |" for r in rows[1:])
    return "\n".join(out)


def inline_text(node: Tag) -> str:
    """Text of ``node`` on one line (blocks and line breaks joined by spaces)."""
    sub = Renderer(flat_tables=True)
    sub.walk(node)
    sub.flush()
    return collapse(" ".join(sub.blocks))


def plain_text(node: Tag) -> str:
    """Plain text of ``node`` without markdown markup, whitespace collapsed."""
    parts: list[str] = []
    _plain(node, parts)
    return collapse("".join(parts))


def _plain(node: Tag, parts: list[str]) -> None:
    for child in node.children:
        if type(child) is NavigableString:
            parts.append(child)
        elif isinstance(child, Tag):
            name = child.name
            if name in SKIP_TAGS:
                continue
            if name == "br" or name in BLOCK_TAGS or name in HEADINGS or name in ("ul", "ol", "table"):
                parts.append(" ")
                _plain(child, parts)
                parts.append(" ")
            else:
                _plain(child, parts)


def html_to_markdown(node: Tag) -> str:
    """Render a subtree as markdown blocks separated by blank lines.

    Pathologically deep trees (thousands of nested tags) fall back to plain text
    instead of raising ``RecursionError``.
    """
    r = Renderer()
    try:
        r.walk(node)
        r.flush()
    except RecursionError:
        return collapse(node.get_text(" "))
    return _MANY_NL.sub("\n\n", "\n\n".join(r.blocks)).strip()
