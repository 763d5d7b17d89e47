"""Two tiny text formats the mini-web's sources are written in, and their HTML.

* **wikitext-lite** for the encyclopedia articles: ``[[Title|label]]`` links,
  ``[https://url label]`` external links, ``'''bold'''``/``''italic''``, ``{{r|key}}``
  footnote markers and ``{{birth|1961-03-14}}`` dates. Blocks are paragraphs,
  ``== Heading ==``, ``* list`` items and ``{| caption ... |}`` tables.
* **markdown-lite** for GitHub READMEs: ``#`` headings, paragraphs, ``-`` lists,
  fenced code, ``[text](url)``, ```code```, ``**bold**`` and ``*italic*``.

Only what the mini-web's own sources use is supported; anything else is literal
text. All text is escaped with :func:`html.escape`; markup is recognised first.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from html import escape
from urllib.parse import quote

SNAPSHOT_DATE = dt.date(2026, 11, 1)
MONTHS = [
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
]

# MediaWiki leaves these unescaped in article paths (wfUrlencode); everything else,
# including non-ASCII, is percent-encoded as UTF-8 with upper-case hex.
_WIKI_SAFE = ";:@$!*(),/~"


def wiki_slug(title: str) -> str:
    """Title as it appears in a URL path before encoding: spaces become underscores."""
    return title.strip().replace(" ", "_")


def wiki_path(title: str, mode: str = "encoded") -> str:
    """``/wiki/...`` path of an article title.

    ``mode`` ``encoded`` is what MediaWiki writes; ``raw`` keeps non-ASCII characters
    as they are (an IRI, as some hand-written pages do); ``lower`` uses lower-case
    percent-encoding. The last two exist to exercise URL canonicalisation.
    """
    slug = wiki_slug(title)
    if mode == "raw":
        return "/wiki/" + "".join(ch if ord(ch) > 127 else quote(ch, safe=_WIKI_SAFE) for ch in slug)
    encoded = quote(slug, safe=_WIKI_SAFE)
    if mode == "lower":
        encoded = re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), encoded)
    return "/wiki/" + encoded


def long_date(iso: str) -> str:
    d = dt.date.fromisoformat(iso)
    return f"{d.day} {MONTHS[d.month - 1]} {d.year}"


def age_on(born: dt.date, on: dt.date = SNAPSHOT_DATE) -> int:
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def heading_id(text: str) -> str:
    """MediaWiki-style anchor id of a heading."""
    return re.sub(r"\s+", "_", text.strip())


# --------------------------------------------------------------------------- wikitext-lite


@dataclass
class WikiContext:
    """What inline rendering needs to know about the rest of the wiki."""

    page_title: str
    ref_texts: dict[str, str]
    redirects: frozenset[str] = frozenset()  # titles that are redirects (class mw-redirect)
    ref_order: list[str] = field(default_factory=list)
    ref_uses: dict[str, int] = field(default_factory=dict)


_INLINE = re.compile(
    r"(?P<wlink>\[\[(?P<wtarget>[^\]|]+)(?:\|(?P<wlabel>[^\]]+))?\]\])"
    r"|(?P<xlink>\[(?P<xurl>https?://[^\s\]]+)(?:\s+(?P<xlabel>[^\]]+))?\])"
    r"|(?P<bold>'''(?P<btext>.+?)''')"
    r"|(?P<ital>''(?P<itext>.+?)'')"
    r"|(?P<ref>\{\{r\|(?P<rkey>[\w.-]+)\}\})"
    r"|(?P<birth>\{\{birth\|(?P<bdate>\d{4}-\d{2}-\d{2})\}\})"
    r"|(?P<br><br>)"
)


def _wiki_link(target: str, label: str | None, ctx: WikiContext) -> str:
    mode = "encoded"
    if target.startswith("~"):
        mode, target = "raw", target[1:]
    elif target.startswith("^"):
        mode, target = "lower", target[1:]
    red = target.startswith("?")
    if red:
        target = target[1:]
    title, _, anchor = target.partition("#")
    title = title.strip()
    text = label if label is not None else title
    inner = render_inline(text, ctx)
    if red:
        href = f"/w/index.php?title={quote(wiki_slug(title), safe=_WIKI_SAFE)}&action=edit&redlink=1"
        return (
            f'<a href="{escape(href)}" class="new" '
            f'title="{escape(title)} (page does not exist)">{inner}</a>'
        )
    href = wiki_path(title, mode) + (f"#{heading_id(anchor)}" if anchor else "")
    cls = ' class="mw-redirect"' if title in ctx.redirects else ""
    return f'<a href="{escape(href)}"{cls} title="{escape(title)}">{inner}</a>'


def render_inline(text: str, ctx: WikiContext) -> str:
    out: list[str] = []
    pos = 0
    for m in _INLINE.finditer(text):
        out.append(escape(text[pos : m.start()], quote=False))
        pos = m.end()
        if m.group("wlink"):
            out.append(_wiki_link(m.group("wtarget"), m.group("wlabel"), ctx))
        elif m.group("xlink"):
            url = m.group("xurl")
            label = m.group("xlabel")
            if label:
                out.append(
                    f'<a rel="nofollow" class="external text" href="{escape(url)}">'
                    f"{render_inline(label, ctx)}</a>"
                )
            else:
                out.append(
                    f'<a rel="nofollow" class="external free" href="{escape(url)}">{escape(url)}</a>'
                )
        elif m.group("bold"):
            out.append(f"<b>{render_inline(m.group('btext'), ctx)}</b>")
        elif m.group("ital"):
            out.append(f"<i>{render_inline(m.group('itext'), ctx)}</i>")
        elif m.group("ref"):
            out.append(_ref_marker(m.group("rkey"), ctx))
        elif m.group("birth"):
            born = dt.date.fromisoformat(m.group("bdate"))
            out.append(
                f'<span style="display:none">(<span class="bday">{born.isoformat()}</span>)</span> '
                f"{long_date(born.isoformat())}<span class=\"noprint ForceAgeToShow\"> "
                f"(age&#160;{age_on(born)})</span>"
            )
        elif m.group("br"):
            out.append("<br />")
    out.append(escape(text[pos:], quote=False))
    return "".join(out)


def _ref_marker(key: str, ctx: WikiContext) -> str:
    if key not in ctx.ref_texts:
        raise KeyError(f"{ctx.page_title}: reference {key!r} is used but not defined")
    if key not in ctx.ref_order:
        ctx.ref_order.append(key)
    n = ctx.ref_order.index(key) + 1
    use = ctx.ref_uses.get(key, 0)
    ctx.ref_uses[key] = use + 1
    ref_id = f"cite_ref-{n}" if use == 0 else f"cite_ref-{key}_{n}-{use}"
    return (
        f'<sup id="{ref_id}" class="reference"><a href="#cite_note-{n}">'
        f'<span class="cite-bracket">&#91;</span>{n}<span class="cite-bracket">&#93;</span></a></sup>'
    )


def render_reflist(ctx: WikiContext) -> str:
    items = []
    for n, key in enumerate(ctx.ref_order, start=1):
        text = render_inline(ctx.ref_texts[key], ctx)
        items.append(
            f'<li id="cite_note-{n}"><span class="mw-cite-backlink"><b>'
            f'<a href="#cite_ref-{n}">^</a></b></span> <span class="reference-text">'
            f'<cite class="citation cs1">{text}</cite></span></li>'
        )
    return (
        '<div class="reflist"><div class="mw-references-wrap"><ol class="references">\n'
        + "\n".join(items)
        + "\n</ol></div></div>"
    )


def _edit_section(page_title: str, heading: str, n: int) -> str:
    href = f"/w/index.php?title={quote(wiki_slug(page_title), safe=_WIKI_SAFE)}&action=edit&section={n}"
    return (
        '<span class="mw-editsection"><span class="mw-editsection-bracket">[</span>'
        f'<a href="{escape(href)}" title="Edit section: {escape(heading)}"><span>edit</span></a>'
        '<span class="mw-editsection-bracket">]</span></span>'
    )


def render_wikitext(body: str, ctx: WikiContext, reflist: Callable[[], str]) -> tuple[str, list[tuple[int, str]]]:
    """Render an article body; return (html, [(level, heading), ...]) for the TOC.

    ``{{reflist}}`` on its own line is replaced by ``reflist()`` (called late, so
    every marker in the body has been numbered).
    """
    blocks = re.split(r"\n\s*\n", body.strip())
    out: list[str] = []
    headings: list[tuple[int, str]] = []
    reflist_slot = None
    for block in blocks:
        lines = [ln.rstrip() for ln in block.strip().splitlines()]
        # a heading may be followed directly by text in the same block
        while lines and (m := re.fullmatch(r"(={2,3})\s*(.+?)\s*\1", lines[0])):
            level = len(m.group(1))
            text = m.group(2)
            headings.append((level, text))
            out.append(
                f'<div class="mw-heading mw-heading{level}"><h{level} id="{escape(heading_id(text))}">'
                f"{escape(text)}</h{level}>{_edit_section(ctx.page_title, text, len(headings))}</div>"
            )
            lines = lines[1:]
        if not lines:
            continue
        if lines == ["{{reflist}}"]:
            reflist_slot = len(out)
            out.append("")
        elif lines[0].startswith("{|"):
            out.append(_render_table(lines, ctx))
        else:
            # runs of "* " lines are lists; other consecutive lines form a paragraph
            run: list[str] = []
            for ln in [*lines, ""]:
                is_item = ln.startswith("* ")
                if run and (not ln or is_item != run[0].startswith("* ")):
                    if run[0].startswith("* "):
                        items = "".join(f"<li>{render_inline(x[2:], ctx)}</li>\n" for x in run)
                        out.append(f"<ul>\n{items}</ul>")
                    else:
                        out.append(f"<p>{render_inline(' '.join(run), ctx)}\n</p>")
                    run = []
                if ln:
                    run.append(ln)
    if reflist_slot is not None:
        out[reflist_slot] = reflist()
    return "\n".join(out), headings


def _render_table(lines: list[str], ctx: WikiContext) -> str:
    caption = lines[0][2:].strip()
    rows = []
    for ln in lines[1:]:
        if ln.startswith("|}"):
            break
        if ln.startswith("!"):
            cells = [c.strip() for c in ln[1:].split("!!")]
            rows.append("<tr>" + "".join(f'<th scope="col">{render_inline(c, ctx)}</th>' for c in cells) + "</tr>")
        elif ln.startswith("|"):
            cells = [c.strip() for c in ln[1:].split("||")]
            rows.append("<tr>" + "".join(f"<td>{render_inline(c, ctx)}</td>" for c in cells) + "</tr>")
    cap = f"<caption>{render_inline(caption, ctx)}</caption>" if caption else ""
    return f'<table class="wikitable sortable">{cap}<tbody>\n' + "\n".join(rows) + "\n</tbody></table>"


# --------------------------------------------------------------------------- markdown-lite


def _md_slug(text: str) -> str:
    s = re.sub(r"[^\w\- ]", "", text.lower()).strip()
    return re.sub(r" ", "-", s)


_MD_INLINE = re.compile(
    r"(?P<code>`(?P<ctext>[^`]+)`)"
    r"|(?P<link>\[(?P<ltext>[^\]]+)\]\((?P<lurl>[^)\s]+)\))"
    r"|(?P<bold>\*\*(?P<btext>.+?)\*\*)"
    r"|(?P<em>\*(?P<etext>[^*\s][^*]*?)\*)"
)


def md_inline(text: str) -> str:
    out: list[str] = []
    pos = 0
    for m in _MD_INLINE.finditer(text):
        out.append(escape(text[pos : m.start()], quote=False))
        pos = m.end()
        if m.group("code"):
            out.append(f"<code>{escape(m.group('ctext'), quote=False)}</code>")
        elif m.group("link"):
            url = m.group("lurl")
            rel = ' rel="nofollow"' if url.startswith("http") and "github.com" not in url else ""
            out.append(f'<a href="{escape(url)}"{rel}>{md_inline(m.group("ltext"))}</a>')
        elif m.group("bold"):
            out.append(f"<strong>{md_inline(m.group('btext'))}</strong>")
        elif m.group("em"):
            out.append(f"<em>{md_inline(m.group('etext'))}</em>")
    out.append(escape(text[pos:], quote=False))
    return "".join(out)


_LANG_SCOPE = {"python": "source-python", "shell": "source-shell", "bash": "source-shell",
               "skerry": "source-skerry", "go": "source-go", "json": "source-json", "bibtex": "text-bibtex"}


def render_markdown(src: str) -> str:
    """Render markdown-lite the way github.com wraps a README's HTML."""
    out: list[str] = []
    lines = src.strip("\n").splitlines()
    i = 0
    para: list[str] = []

    def flush_para() -> None:
        if para:
            out.append(f'<p dir="auto">{md_inline(" ".join(para))}</p>')
            para.clear()

    while i < len(lines):
        ln = lines[i]
        if ln.startswith("```"):
            flush_para()
            lang = ln[3:].strip()
            code = []
            i += 1
            while i < len(lines) and not lines[i].startswith("```"):
                code.append(lines[i])
                i += 1
            scope = _LANG_SCOPE.get(lang, "text")
            out.append(
                f'<div class="highlight highlight-{scope} notranslate position-relative overflow-auto" dir="auto">'
                f"<pre>{escape(chr(10).join(code), quote=False)}</pre></div>"
            )
        elif m := re.match(r"(#{1,3}) (.+)", ln):
            flush_para()
            level, text = len(m.group(1)), m.group(2)
            slug = _md_slug(text)
            out.append(
                f'<h{level} dir="auto"><a id="user-content-{slug}" class="anchor" aria-hidden="true" '
                f'href="#{slug}"></a>{md_inline(text)}</h{level}>'
            )
        elif ln.startswith("- "):
            flush_para()
            items = []
            while i < len(lines) and lines[i].startswith("- "):
                items.append(f"<li>{md_inline(lines[i][2:])}</li>")
                i += 1
            out.append('<ul dir="auto">\n' + "\n".join(items) + "\n</ul>")
            continue
        elif not ln.strip():
            flush_para()
        else:
            para.append(ln.strip())
        i += 1
    flush_para()
    return "\n".join(out)
