"""Encyclopedia articles: parse the ``site/wikipedia/*.txt`` sources, render full pages.

The page chrome follows the structure of today's en.wikipedia.org (Vector 2022 skin):
a "Jump to content" link, the header with main menu and search, the sidebar table of
contents, ``h1#firstHeading``, the language button with "Edit links", the page
toolbar, ``div#mw-content-text > div.mw-parser-output`` holding the infobox, lead,
``div.mw-heading`` section headings with edit links, ``sup.reference`` markers, the
reference list and navboxes, then categories and the footer. No scripts or styles.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from urllib.parse import quote

from ._markup import (
    MONTHS,
    WikiContext,
    heading_id,
    render_inline,
    render_reflist,
    render_wikitext,
    wiki_path,
    wiki_slug,
)

HOST = "https://en.wikipedia.org"
NAMESPACE_IDS = {"Category": 14, "Portal": 100}  # the namespaces the mini-web has pages in, besides articles


def revision_of(title: str) -> int:
    """A stable, plausible revision id for a page, derived from its title."""
    return 1_250_000_000 + int(hashlib.sha1(title.encode()).hexdigest(), 16) % 90_000_000


@dataclass
class Article:
    title: str
    short: str
    modified: str  # "YYYY-MM-DD HH:MM" UTC
    body: str
    categories: list[str] = field(default_factory=list)
    navboxes: list[str] = field(default_factory=list)
    hatnote: str = ""
    infobox_title: str = ""
    infobox_class: str = ""
    infobox_subheader: str = ""
    infobox_rows: list[tuple[str, str, str]] = field(default_factory=list)  # (kind, label, value)
    image: tuple[str, str] | None = None  # (file name, caption)
    refs: dict[str, str] = field(default_factory=dict)
    source: str = ""

    @property
    def url(self) -> str:
        return HOST + wiki_path(self.title)

    @property
    def revision(self) -> int:
        return revision_of(self.title)

    @property
    def wikidata(self) -> str:
        return f"Q{130_000_000 + int(hashlib.sha1(b'wd' + self.title.encode()).hexdigest(), 16) % 9_000_000}"


def parse_article(text: str, source: str = "") -> Article:
    """Parse one article source: ``key: value`` header lines, ``---``, then the body."""
    head, sep, body = text.partition("\n---\n")
    if not sep:
        raise ValueError(f"{source}: missing '---' line between header and body")
    fields: dict[str, str] = {}
    rows: list[tuple[str, str, str]] = []
    refs: dict[str, str] = {}
    for raw in head.splitlines():
        line = raw.rstrip()
        if not line or line.startswith("//"):
            continue
        if line.startswith("| "):
            label, _, value = line[2:].partition(" | ")
            rows.append(("row", label.strip(), value.strip()))
        elif line.startswith("# "):
            rows.append(("header", line[2:].strip(), ""))
        elif m := re.match(r"ref ([\w.-]+): (.+)", line):
            refs[m.group(1)] = m.group(2).strip()
        elif m := re.match(r"([\w-]+): (.*)", line):
            fields[m.group(1)] = m.group(2).strip()
        else:
            raise ValueError(f"{source}: cannot parse header line {line!r}")
    image = None
    if "image" in fields:
        name, _, caption = fields["image"].partition(" | ")
        image = (name.strip(), caption.strip())
    return Article(
        title=fields["title"],
        short=fields.get("short", ""),
        modified=fields["modified"],
        body=body,
        categories=[c.strip() for c in fields.get("categories", "").split(";") if c.strip()],
        navboxes=[n.strip() for n in fields.get("navboxes", "").split(",") if n.strip()],
        hatnote=fields.get("hatnote", ""),
        infobox_title=fields.get("infobox", ""),
        infobox_class=fields.get("infobox-class", ""),
        infobox_subheader=fields.get("infobox-subheader", ""),
        infobox_rows=rows,
        image=image,
        refs=refs,
        source=source,
    )


@dataclass
class Navbox:
    key: str
    title: str
    groups: list[tuple[str, str]]  # (group label, wikitext list separated by " · ")


def parse_navboxes(text: str) -> dict[str, Navbox]:
    boxes: dict[str, Navbox] = {}
    current: Navbox | None = None
    for raw in text.splitlines():
        line = raw.rstrip()
        if not line or line.startswith("//"):
            continue
        if m := re.match(r"navbox: ([\w-]+) \| (.+)", line):
            current = Navbox(m.group(1), m.group(2).strip(), [])
            boxes[current.key] = current
        elif line.startswith("| ") and current is not None:
            label, _, items = line[2:].partition(" | ")
            current.groups.append((label.strip(), items.strip()))
        else:
            raise ValueError(f"navboxes: cannot parse line {line!r}")
    return boxes


def load_articles(directory: Path) -> list[Article]:
    arts = []
    for path in sorted(directory.glob("*.txt")):
        if path.name.startswith("_"):
            continue
        arts.append(parse_article(path.read_text(encoding="utf-8"), source=path.name))
    return arts


# --------------------------------------------------------------------------- rendering


def _infobox(art: Article, ctx: WikiContext) -> str:
    if not art.infobox_title:
        return ""
    cls = "infobox " + art.infobox_class if art.infobox_class else "infobox"
    rows = [f'<tr><th colspan="2" class="infobox-above">{render_inline(art.infobox_title, ctx)}</th></tr>']
    if art.infobox_subheader:
        rows.append(
            f'<tr><td colspan="2" class="infobox-subheader">{render_inline(art.infobox_subheader, ctx)}</td></tr>'
        )
    if art.image:
        name, caption = art.image
        file_href = "/wiki/File:" + quote(wiki_slug(name), safe="(),")
        thumb = "//upload.wikimedia.org/wikipedia/commons/thumb/" + quote(wiki_slug(name)) + "/250px-" + quote(
            wiki_slug(name)
        )
        rows.append(
            f'<tr><td colspan="2" class="infobox-image"><span class="mw-default-size" typeof="mw:File/Frameless">'
            f'<a href="{escape(file_href)}" class="mw-file-description"><img src="{escape(thumb)}" '
            f'decoding="async" width="250" height="180" class="mw-file-element" alt="" /></a></span>'
            f'<div class="infobox-caption">{render_inline(caption, ctx)}</div></td></tr>'
        )
    for kind, label, value in art.infobox_rows:
        if kind == "header":
            rows.append(f'<tr><th colspan="2" class="infobox-header">{render_inline(label, ctx)}</th></tr>')
        else:
            rows.append(
                f'<tr><th scope="row" class="infobox-label">{render_inline(label, ctx)}</th>'
                f'<td class="infobox-data">{render_inline(value, ctx)}</td></tr>'
            )
    return f'<table class="{escape(cls)}"><tbody>\n' + "\n".join(rows) + "\n</tbody></table>"


def _navbox(box: Navbox, ctx: WikiContext) -> str:
    label_id = "Navbox_" + heading_id(box.title)
    rows = [
        f'<tr><th scope="col" class="navbox-title" colspan="2"><div id="{escape(label_id)}" '
        f'style="font-size:114%;margin:0 4em">{render_inline(box.title, ctx)}</div></th></tr>'
    ]
    for i, (group, items) in enumerate(box.groups):
        parity = "odd" if i % 2 == 0 else "even"
        lis = "".join(f"<li>{render_inline(item.strip(), ctx)}</li>" for item in items.split(" · "))
        rows.append(
            f'<tr><th scope="row" class="navbox-group" style="width:1%">{render_inline(group, ctx)}</th>'
            f'<td class="navbox-list-with-group navbox-list navbox-{parity}" style="width:100%;padding:0">'
            f'<div style="padding:0 0.25em"><ul>{lis}</ul></div></td></tr>'
        )
    return (
        f'<div role="navigation" class="navbox" aria-labelledby="{escape(label_id)}" style="padding:3px">'
        f'<table class="nowraplinks hlist navbox-inner" style="border-spacing:0;background:transparent;color:inherit">'
        f"<tbody>" + "".join(rows) + "</tbody></table></div>"
    )


def _toc(headings: list[tuple[int, str]]) -> str:
    items = [
        '<li id="toc-mw-content-text" class="vector-toc-list-item vector-toc-level-1">'
        '<a href="#" class="vector-toc-link"><div class="vector-toc-text">(Top)</div></a></li>'
    ]
    n = 0
    for level, text in headings:
        if level != 2:
            continue
        n += 1
        hid = escape(heading_id(text))
        items.append(
            f'<li id="toc-{hid}" class="vector-toc-list-item vector-toc-level-1">'
            f'<a class="vector-toc-link" href="#{hid}"><div class="vector-toc-text">'
            f'<span class="vector-toc-numb">{n}</span><span>{escape(text)}</span></div></a></li>'
        )
    return "\n".join(items)


_MAIN_MENU = [
    ("n-mainpage-description", "/wiki/Main_Page", "Main page", "Go to the main page [z]"),
    ("n-contents", "/wiki/Wikipedia:Contents", "Contents", "Browse articles by topic"),
    ("n-currentevents", "/wiki/Portal:Current_events", "Current events", "Articles about recent news"),
    ("n-randompage", "/wiki/Special:Random", "Random article", "Open a random article [x]"),
    ("n-aboutsite", "/wiki/Wikipedia:About", "About Wikipedia", "About this encyclopedia"),
    ("n-contactpage", "//en.wikipedia.org/wiki/Wikipedia:Contact_us", "Contact us", "Contact details"),
]
_CONTRIBUTE = [
    ("n-help", "/wiki/Help:Contents", "Help", "Help with reading and editing"),
    ("n-introduction", "/wiki/Help:Introduction", "Learn to edit", "A first editing tutorial"),
    ("n-portal", "/wiki/Wikipedia:Community_portal", "Community portal", "Noticeboard for editors"),
    ("n-recentchanges", "/wiki/Special:RecentChanges", "Recent changes", "The latest edits [r]"),
    ("n-upload", "/wiki/Wikipedia:File_upload_wizard", "Upload file", "Upload images or other media"),
]


def _menu(portlet_id: str, heading: str, items: list[tuple[str, str, str, str]]) -> str:
    lis = "\n".join(
        f'<li id="{i}" class="mw-list-item"><a href="{escape(h)}" title="{escape(t)}"><span>{escape(x)}</span></a></li>'
        for i, h, x, t in items
    )
    return (
        f'<div id="{portlet_id}" class="vector-menu mw-portlet mw-portlet-{portlet_id[2:]}">'
        f'<div class="vector-menu-heading">{escape(heading)}</div><div class="vector-menu-content">'
        f'<ul class="vector-menu-content-list">\n{lis}\n</ul></div></div>'
    )


def render_page(
    *,
    title: str,
    path_slug: str,
    content_html: str,
    headings: list[tuple[int, str]],
    categories: list[str],
    modified: str | None,
    revision: int | None,
    wikidata: str | None,
    short: str = "",
    after_content: str = "",
) -> str:
    """Wrap parser output in the full page chrome.

    A title in a namespace (``Category:X``, ``Portal:X``) gets that namespace's tab,
    body class and split heading; ``after_content`` goes after the parser output inside
    ``#mw-content-text``, where MediaWiki puts a category's member lists.
    """
    esc_title = escape(title)
    slug_q = quote(path_slug, safe=";:@$!*(),/~")
    ns_name, _, main_title = title.partition(":") if title.split(":", 1)[0] in NAMESPACE_IDS else ("", "", title)
    ns_id = NAMESPACE_IDS.get(ns_name, 0)
    if ns_name:
        heading = (f'<span class="mw-page-title-namespace">{escape(ns_name)}</span><span class="mw-page-title-separator">:'
                   f'</span><span class="mw-page-title-main">{escape(main_title)}</span>')
        talk = f"{ns_name}_talk:{quote(wiki_slug(main_title), safe=';:@$!*(),/~')}"
        tab = (f'<li id="ca-nstab-{ns_name.lower()}" class="selected vector-tab-noicon mw-list-item"><a href="/wiki/{slug_q}" '
               f'title="View the {ns_name.lower()} page [c]"><span>{escape(ns_name)}</span></a></li>\n'
               f'<li id="ca-talk" class="vector-tab-noicon mw-list-item"><a href="/wiki/{talk}" rel="discussion" '
               f'title="Discuss improvements to the content page [t]"><span>Talk</span></a></li>')
    else:
        heading = f'<span class="mw-page-title-main">{esc_title}</span>'
        tab = (f'<li id="ca-nstab-main" class="selected vector-tab-noicon mw-list-item"><a href="/wiki/{slug_q}" '
               f'title="The article [c]"><span>Article</span></a></li>\n'
               f'<li id="ca-talk" class="vector-tab-noicon mw-list-item"><a href="/wiki/Talk:{slug_q}" rel="discussion" '
               f'title="Discussion of this article [t]"><span>Talk</span></a></li>')
    plus_q = quote(path_slug.replace("_", " "), safe="").replace("%20", "+")
    lastmod = ""
    if modified:
        day, clock = modified.split(" ")
        y, mo, d = (int(p) for p in day.split("-"))
        lastmod = (
            f'<li id="footer-info-lastmod"> This page was last edited on {d} {MONTHS[mo - 1]} {y}, at {clock}'
            '<span class="anonymous-show">&#160;(UTC)</span>.</li>\n'
        )
    cats = "".join(
        f'<li><a href="{escape(wiki_path("Category:" + c))}" title="Category:{escape(c)}">{escape(c)}</a></li>'
        for c in categories
    )
    catlinks = (
        '<div id="catlinks" class="catlinks" data-mw="interface"><div id="mw-normal-catlinks" class="mw-normal-catlinks">'
        f'<a href="/wiki/Help:Category" title="Help:Category">Categories</a>: <ul>{cats}</ul></div></div>'
        if categories
        else '<div id="catlinks" class="catlinks catlinks-allhidden" data-mw="interface"></div>'
    )
    permalink = (
        f'<li id="t-permalink" class="mw-list-item"><a href="/w/index.php?title={slug_q}&amp;oldid={revision}" '
        f'title="Link to this exact revision"><span>Permanent link</span></a></li>'
        if revision
        else ""
    )
    wd = (
        f'<li id="t-wikibase" class="wb-otherproject-link wb-otherproject-wikibase-dataitem mw-list-item">'
        f'<a href="https://www.wikidata.org/wiki/Special:EntityPage/{wikidata}" title="The Wikidata entry '
        f'for this page [g]"><span>Wikidata item</span></a></li>'
        if wikidata
        else ""
    )
    edit_links = (
        f'<div class="after-portlet after-portlet-lang"><span class="wb-langlinks-edit wb-langlinks-link">'
        f'<a href="https://www.wikidata.org/wiki/Special:EntityPage/{wikidata}#sitelinks-wikipedia" '
        f'title="Edit interlanguage links" class="wbc-editpage">Edit links</a></span></div>'
        if wikidata
        else ""
    )
    printfooter = (
        f'<div class="printfooter" data-nosnippet="">Retrieved from "<a dir="ltr" '
        f'href="https://en.wikipedia.org/w/index.php?title={slug_q}&amp;oldid={revision}">'
        f'https://en.wikipedia.org/w/index.php?title={slug_q}&amp;oldid={revision}</a>"</div>'
        if revision
        else ""
    )
    shortdesc = (
        f'<div class="shortdescription nomobile noexcerpt noprint searchaux" style="display:none">{escape(short)}</div>\n'
        if short
        else ""
    )
    return f"""<!DOCTYPE html>
<html class="client-nojs vector-feature-language-in-header-enabled vector-feature-toc-pinned-clientpref-1" lang="en" dir="ltr">
<head>
<meta charset="UTF-8">
<title>{esc_title} - Wikipedia</title>
<!-- seekforge mini-web: fictional page written for offline tests; see crawl/miniweb/README.md -->
<meta name="generator" content="MediaWiki 1.46.0-wmf.2">
<meta name="referrer" content="origin-when-cross-origin">
<meta name="robots" content="max-image-preview:standard">
<meta name="viewport" content="width=1120">
<meta property="og:title" content="{esc_title} - Wikipedia">
<meta property="og:type" content="website">
<link rel="icon" href="/static/favicon/wikipedia.ico">
<link rel="search" type="application/opensearchdescription+xml" href="/w/rest.php/v1/search" title="Wikipedia (en)">
<link rel="license" href="https://creativecommons.org/licenses/by-sa/4.0/deed.en">
<link rel="canonical" href="https://en.wikipedia.org/wiki/{slug_q}">
</head>
<body class="skin--responsive skin-vector skin-vector-search-vue mediawiki ltr sitedir-ltr mw-hide-empty-elt ns-{ns_id} ns-subject page-{escape(slug_q)} rootpage-{escape(slug_q)} skin-vector-2022 action-view">
<a class="mw-jump-link" href="#bodyContent">Jump to content</a>
<div class="vector-header-container">
<header class="vector-header mw-header no-font-mode-scale">
<div class="vector-header-start">
<nav class="vector-main-menu-landmark" aria-label="Site">
<div id="vector-main-menu-dropdown" class="vector-dropdown vector-main-menu-dropdown vector-button-flush-left vector-button-flush-right" title="Main menu">
<label for="vector-main-menu-dropdown-checkbox" class="vector-dropdown-label"><span class="vector-dropdown-label-text">Main menu</span></label>
<div class="vector-dropdown-content">
<div id="vector-main-menu" class="vector-main-menu vector-pinnable-element">
<div class="vector-pinnable-header"><div class="vector-pinnable-header-label">Main menu</div></div>
{_menu("p-navigation", "Navigation", _MAIN_MENU)}
{_menu("p-interaction", "Contribute", _CONTRIBUTE)}
</div></div></div>
</nav>
<a href="/wiki/Main_Page" class="mw-logo"><span class="mw-logo-container skin-invert"><strong class="mw-logo-wordmark">Wikipedia</strong><span class="mw-logo-tagline">The Free Encyclopedia</span></span></a>
</div>
<div class="vector-header-end">
<div id="p-search" role="search" class="vector-search-box-vue vector-search-box-collapses vector-search-box-show-thumbnail vector-search-box-auto-expand-width vector-search-box">
<a href="/wiki/Special:Search" class="cdx-button cdx-button--fake-button cdx-button--icon-only search-toggle" title="Search Wikipedia [f]"><span>Search</span></a>
<form action="/w/index.php" id="searchform" class="cdx-search-input cdx-search-input--has-end-button">
<div id="simpleSearch" class="cdx-search-input__input-wrapper"><input class="cdx-text-input__input" type="search" name="search" placeholder="Search Wikipedia" aria-label="Search Wikipedia" autocapitalize="sentences" title="Search Wikipedia [f]" id="searchInput"><input type="hidden" name="title" value="Special:Search"></div>
<button class="cdx-button cdx-search-input__end-button">Search</button>
</form>
</div>
<nav class="vector-user-links" aria-label="Personal tools">
<div id="p-vector-user-menu-overflow" class="vector-menu mw-portlet"><div class="vector-menu-content"><ul class="vector-menu-content-list">
<li id="pt-sitesupport-2" class="user-links-collapsible-item mw-list-item"><a href="https://donate.wikimedia.org/?wmf_source=donate&amp;wmf_medium=sidebar&amp;wmf_campaign=en.wikipedia.org&amp;uselang=en" class=""><span>Donate</span></a></li>
<li id="pt-createaccount-2" class="user-links-collapsible-item mw-list-item"><a href="/w/index.php?title=Special:CreateAccount&amp;returnto={plus_q}" title="Creating an account is optional"><span>Create account</span></a></li>
<li id="pt-login-2" class="user-links-collapsible-item mw-list-item"><a href="/w/index.php?title=Special:UserLogin&amp;returnto={plus_q}" title="Logging in is optional [o]"><span>Log in</span></a></li>
</ul></div></div>
</nav>
</div>
</header>
</div>
<div class="mw-page-container">
<div class="mw-page-container-inner">
<div class="vector-sitenotice-container"><div id="siteNotice"></div></div>
<div class="vector-column-start">
<div class="vector-main-menu-container"></div>
<nav id="mw-panel-toc" aria-label="Contents" data-event-name="ui.sidebar-toc" class="mw-table-of-contents-container vector-toc-landmark">
<div id="vector-toc-pinned-container" class="vector-pinned-container">
<div id="vector-toc" class="vector-toc vector-pinnable-element">
<div class="vector-pinnable-header vector-toc-pinnable-header"><h2 class="vector-pinnable-header-label">Contents</h2></div>
<ul class="vector-toc-contents" id="mw-panel-toc-list">
{_toc(headings)}
</ul>
</div></div>
</nav>
</div>
<div class="mw-content-container">
<main id="content" class="mw-body">
<header class="mw-body-header vector-page-titlebar no-font-mode-scale">
<h1 id="firstHeading" class="firstHeading mw-first-heading">{heading}</h1>
<div id="p-lang-btn" class="vector-dropdown mw-portlet mw-portlet-lang">
<label id="p-lang-btn-label" for="p-lang-btn-checkbox" class="vector-dropdown-label cdx-button cdx-button--fake-button cdx-button--action-progressive cdx-button--weight-quiet"><span class="vector-dropdown-label-text">Add languages</span></label>
<div class="vector-dropdown-content"><div class="vector-menu-content"><ul class="vector-menu-content-list"></ul>
{edit_links}
</div></div>
</div>
</header>
<div class="vector-page-toolbar">
<div class="vector-page-toolbar-container">
<div id="left-navigation">
<nav aria-label="Namespaces">
<div id="p-associated-pages" class="vector-menu vector-menu-tabs mw-portlet mw-portlet-associated-pages"><div class="vector-menu-content"><ul class="vector-menu-content-list">
{tab}
</ul></div></div>
</nav>
</div>
<div id="right-navigation" class="vector-collapsible">
<nav aria-label="Views">
<div id="p-views" class="vector-menu vector-menu-tabs mw-portlet mw-portlet-views"><div class="vector-menu-content"><ul class="vector-menu-content-list">
<li id="ca-view" class="selected vector-tab-noicon mw-list-item"><a href="/wiki/{slug_q}"><span>Read</span></a></li>
<li id="ca-edit" class="vector-tab-noicon mw-list-item"><a href="/w/index.php?title={slug_q}&amp;action=edit" title="Edit this page [e]"><span>Edit</span></a></li>
<li id="ca-history" class="vector-tab-noicon mw-list-item"><a href="/w/index.php?title={slug_q}&amp;action=history" title="Earlier versions of this page [h]"><span>View history</span></a></li>
</ul></div></div>
</nav>
<nav class="vector-page-tools-landmark" aria-label="Page tools">
<div id="vector-page-tools" class="vector-page-tools vector-pinnable-element">
<div id="p-tb" class="vector-menu mw-portlet mw-portlet-tb"><div class="vector-menu-heading">Tools</div><div class="vector-menu-content"><ul class="vector-menu-content-list">
<li id="t-whatlinkshere" class="mw-list-item"><a href="/wiki/Special:WhatLinksHere/{slug_q}" title="Pages that link here [j]"><span>What links here</span></a></li>
<li id="t-recentchangeslinked" class="mw-list-item"><a href="/wiki/Special:RecentChangesLinked/{slug_q}" rel="nofollow" title="Recent edits to linked pages [k]"><span>Related changes</span></a></li>
{permalink}
<li id="t-info" class="mw-list-item"><a href="/w/index.php?title={slug_q}&amp;action=info" title="Details of this page"><span>Page information</span></a></li>
<li id="t-cite" class="mw-list-item"><a href="/w/index.php?title=Special:CiteThisPage&amp;page={slug_q}" title="How to cite this page"><span>Cite this page</span></a></li>
{wd}
</ul></div></div>
</div>
</nav>
</div>
</div>
</div>
<div id="bodyContent" class="vector-body" aria-labelledby="firstHeading" data-mw-ve-target-container>
<div class="vector-body-before-content"><div class="mw-indicators"></div>
<div id="siteSub" class="noprint">From Wikipedia, the free encyclopedia</div>
</div>
<div id="contentSub"><div id="mw-content-subtitle"></div></div>
<div id="mw-content-text" class="mw-body-content"><div class="mw-content-ltr mw-parser-output" lang="en" dir="ltr">{shortdesc}{content_html}
</div>{after_content}
<noscript><img src="https://en.wikipedia.org/wiki/Special:CentralAutoLogin/start?type=1x1&amp;usesul3=1" alt="" width="1" height="1" style="border: none; position: absolute;"></noscript>
</div>
{printfooter}
{catlinks}
</div>
</main>
</div>
<div class="mw-footer-container">
<footer id="footer" class="mw-footer">
<ul id="footer-info">
{lastmod}<li id="footer-info-copyright">Text is licensed under the <a rel="nofollow" class="external text" href="https://en.wikipedia.org/wiki/Wikipedia:Text_of_the_Creative_Commons_Attribution-ShareAlike_4.0_International_License">Creative Commons Attribution-ShareAlike 4.0 License</a>; further terms may apply. See the <a class="external text" href="https://foundation.wikimedia.org/wiki/Special:MyLanguage/Policy:Terms_of_Use">Terms of Use</a> and the <a class="external text" href="https://foundation.wikimedia.org/wiki/Special:MyLanguage/Policy:Privacy_policy">Privacy Policy</a>.</li>
</ul>
<ul id="footer-places">
<li id="footer-places-privacy"><a href="https://foundation.wikimedia.org/wiki/Special:MyLanguage/Policy:Privacy_policy">Privacy policy</a></li>
<li id="footer-places-about"><a href="/wiki/Wikipedia:About">About Wikipedia</a></li>
<li id="footer-places-disclaimers"><a href="/wiki/Wikipedia:General_disclaimer">Disclaimers</a></li>
<li id="footer-places-contact"><a href="//en.wikipedia.org/wiki/Wikipedia:Contact_us">Contact Wikipedia</a></li>
<li id="footer-places-wm-codeofconduct"><a href="https://foundation.wikimedia.org/wiki/Special:MyLanguage/Policy:Universal_Code_of_Conduct">Code of Conduct</a></li>
<li id="footer-places-developers"><a href="https://developer.wikimedia.org">Developers</a></li>
<li id="footer-places-statslink"><a href="https://stats.wikimedia.org/#/en.wikipedia.org">Statistics</a></li>
<li id="footer-places-cookiestatement"><a href="https://foundation.wikimedia.org/wiki/Special:MyLanguage/Policy:Cookie_statement">Cookie statement</a></li>
<li id="footer-places-mobileview"><a href="//en.m.wikipedia.org/w/index.php?title={slug_q}&amp;mobileaction=toggle_view_mobile" class="noprint stopMobileRedirectToggle">Mobile view</a></li>
</ul>
</footer>
</div>
</div>
</div>
</body>
</html>
"""


def render_article(art: Article, navboxes: dict[str, Navbox], redirects: frozenset[str]) -> str:
    ctx = WikiContext(page_title=art.title, ref_texts=art.refs, redirects=redirects)
    parts: list[str] = []
    if art.hatnote:
        parts.append(f'<div role="note" class="hatnote navigation-not-searchable">{render_inline(art.hatnote, ctx)}</div>')
    parts.append(_infobox(art, ctx))
    body_html, headings = render_wikitext(art.body, ctx, lambda: render_reflist(ctx))
    # the TOC marker sits after the lead, as MediaWiki emits it
    first_heading = body_html.find('<div class="mw-heading')
    if first_heading > 0:
        body_html = body_html[:first_heading] + '<meta property="mw:PageProp/toc" />\n' + body_html[first_heading:]
    parts.append(body_html)
    if ctx.ref_order and "{{reflist}}" not in art.body:
        raise ValueError(f"{art.source}: uses references but has no {{{{reflist}}}} line")
    unused = set(art.refs) - set(ctx.ref_order)
    if unused:
        raise ValueError(f"{art.source}: references defined but never cited: {sorted(unused)}")
    for key in art.navboxes:
        parts.append(_navbox(navboxes[key], ctx))
    return render_page(
        title=art.title,
        path_slug=wiki_slug(art.title),
        content_html="\n".join(p for p in parts if p),
        headings=headings,
        categories=art.categories,
        modified=art.modified,
        revision=art.revision,
        wikidata=art.wikidata,
        short=art.short,
    )


def render_missing(title: str) -> str:
    """The page en.wikipedia.org serves (with status 404) for a title without an article."""
    slug = wiki_slug(title)
    slug_q = quote(slug, safe=";:@$!*(),/~")
    body = f"""<div class="noarticletext mw-content-ltr" dir="ltr" lang="en">
<table id="noarticletext" class="plainlinks fmbox fmbox-system" role="presentation"><tbody><tr><td class="mbox-text">
<p><b>Wikipedia does not have an article with this exact name.</b> The title may be spelled differently: <a class="external text" href="https://en.wikipedia.org/w/index.php?search={slug_q}&amp;title=Special%3ASearch&amp;fulltext=1">search for <i>{escape(title)}</i></a>.</p>
<ul>
<li>To write this article, <a href="/w/index.php?title=Special:UserLogin&amp;returnto={slug_q}">log in or create an account</a> first.</li>
<li>See which pages <a href="/wiki/Special:WhatLinksHere/{slug_q}" title="Special:WhatLinksHere/{escape(slug)}">link to this title</a>.</li>
<li>A page created a moment ago can take a little while to appear.</li>
<li>An article that used to be here may have been removed: see the <a class="external text" href="https://en.wikipedia.org/w/index.php?title=Special:Log/delete&amp;page={slug_q}">deletion log</a>.</li>
</ul>
</td></tr></tbody></table>
</div>"""
    return render_page(
        title=title,
        path_slug=slug,
        content_html=body,
        headings=[],
        categories=[],
        modified=None,
        revision=None,
        wikidata=None,
    )


# --------------------------------------------------------------------------- categories and portals


@dataclass
class Category:
    name: str
    parents: list[str]
    modified: str  # "YYYY-MM-DD HH:MM" UTC
    main: str = ""  # the category's main article, sorted first
    text: str = ""  # description, wikitext-lite

    @property
    def title(self) -> str:
        return f"Category:{self.name}"

    @property
    def url(self) -> str:
        return HOST + wiki_path(self.title)

    @property
    def revision(self) -> int:
        return revision_of(self.title)


@dataclass
class Portal:
    name: str
    modified: str
    boxes: list[dict]  # {heading, text?, more?, items?}
    categories: list[str] = field(default_factory=list)

    @property
    def title(self) -> str:
        return f"Portal:{self.name}"

    @property
    def url(self) -> str:
        return HOST + wiki_path(self.title)

    @property
    def revision(self) -> int:
        return revision_of(self.title)


def load_lists(data: dict) -> tuple[list[Category], list[Portal]]:
    """Categories and portals declared in ``site/wikipedia/_lists.yaml`` (parsed)."""
    return [Category(**c) for c in data["categories"]], [Portal(**p) for p in data["portals"]]


def sort_key(art: Article, category: Category) -> str:
    """MediaWiki's sort key: blank for the main article, "Surname, Given" for people."""
    if art.title == category.main:
        return " "
    if any(re.fullmatch(r"\d{4} births", c) for c in art.categories):
        *given, surname = art.title.split()
        return f"{surname}, {' '.join(given)}"
    return art.title


def _groups(entries: list[tuple[str, str]]) -> str:
    """``(sort key, item html)`` pairs -> ``div.mw-category-group`` blocks under initials."""
    groups: dict[str, list[str]] = {}
    for key, html in sorted(entries, key=lambda e: e[0]):
        initial = key[:1].upper() if key.strip() else "&#160;"
        groups.setdefault(initial, []).append(html)
    return "".join(
        f'<div class="mw-category-group"><h3>{initial}</h3>\n<ul>' + "\n".join(f"<li>{h}</li>" for h in items) + "</ul></div>"
        for initial, items in groups.items()
    )


def members(category: Category, articles: list[Article], categories: list[Category]) -> tuple[list[Category], list[Article]]:
    """(subcategories, pages) of a category, from the parents / categories declared."""
    subs = [c for c in categories if category.name in c.parents]
    pages = [a for a in articles if category.name in a.categories]
    return subs, pages


def render_category(category: Category, articles: list[Article], categories: list[Category],
                    redirects: frozenset[str]) -> str:
    """A category page: description, then the generated lists of subcategories and pages."""
    ctx = WikiContext(page_title=category.title, ref_texts={}, redirects=redirects)
    subs, pages = members(category, articles, categories)
    if not subs and not pages:
        raise ValueError(f"Category:{category.name} has no pages and no subcategories")
    intro = []
    if category.main:
        intro.append(
            '<div role="note" class="hatnote navigation-not-searchable">The main article for this '
            '<a href="/wiki/Help:Categories" title="Help:Categories">category</a> is '
            f"<b>{render_inline(f'[[{category.main}]]', ctx)}</b>.</div>"
        )
    if category.text:
        intro.append(f"<p>{render_inline(category.text, ctx)}\n</p>")
    blocks = []
    if subs:
        entries = []
        for sub in subs:
            s_subs, s_pages = members(sub, articles, categories)
            counts = ", ".join(x for x in (f"{len(s_subs)} C" if s_subs else "", f"{len(s_pages)} P" if s_pages else "") if x)
            tip = (f"Contains {len(s_subs)} subcategor{'y' if len(s_subs) == 1 else 'ies'}, "
                   f"{len(s_pages)} page{'' if len(s_pages) == 1 else 's'}, and 0 files")
            bullet = ('<span class="CategoryTreeBullet"><a class="CategoryTreeToggle" data-ct-title="'
                      f'{escape(wiki_slug(sub.name))}" aria-expanded="false"></a> </span>') if s_subs else '<span class="CategoryTreeEmptyBullet"></span>'
            entries.append((sub.name, (
                f'<div class="CategoryTreeSection"><div class="CategoryTreeItem">{bullet} <bdi dir="ltr">'
                f'<a href="{escape(wiki_path(sub.title))}" title="{escape(sub.title)}">{escape(sub.name)}</a></bdi> '
                f'<span title="{tip}" dir="ltr">&#8206;({counts})</span></div>'
                '<div class="CategoryTreeChildren" style="display:none"></div></div>'
            )))
        n = len(subs)
        head = ("This category has only the following subcategory." if n == 1
                else f"This category has the following {n} subcategories, out of {n} total.")
        blocks.append(
            f'<div id="mw-subcategories">\n<h2>Subcategories</h2>\n<p>{head}\n</p><div lang="en" dir="ltr" '
            f'class="mw-content-ltr"><div class="mw-category mw-category-columns">{_groups(entries)}</div></div>\n</div>'
        )
    if pages:
        entries = [(sort_key(a, category), render_inline(f"[[{a.title}]]", ctx)) for a in pages]
        n = len(pages)
        head = ("This category contains only the following page." if n == 1
                else f"The following {n} pages are in this category, out of {n} total. This list may not reflect recent changes.")
        blocks.append(
            f'<div id="mw-pages">\n<h2>Pages in category "{escape(category.name)}"</h2>\n<p>{head}\n</p>'
            f'<div lang="en" dir="ltr" class="mw-content-ltr"><div class="mw-category mw-category-columns">'
            f"{_groups(entries)}</div></div>\n</div>"
        )
    return render_page(
        title=category.title,
        path_slug=wiki_slug(category.title),
        content_html="\n".join(intro),
        headings=[],
        categories=category.parents,
        modified=category.modified,
        revision=category.revision,
        wikidata=None,
        after_content='<div class="mw-category-generated" lang="en" dir="ltr">' + "".join(blocks) + "</div>",
    )


_BOX_HEADER = ('<div class="box-header-title-container flex-columns-noflex" style="clear:both;border:1px solid #a3b0bf;'
               'background:#cee0f2;padding:.2em;">\n<div class="mw-heading mw-heading2"><h2 id="{id}" style="font-size:120%;">'
               "{heading}</h2></div></div>")
_BOX_BODY = '<div class="box-body" style="padding:.4em .6em;border:1px solid #a3b0bf;border-top:0;">\n{body}\n</div>'


def render_portal(portal: Portal, redirects: frozenset[str]) -> str:
    """A single-page portal: boxes of prose ("Introduction", "Selected article") and of
    article lists in two flex columns, then a box linking the portal's categories."""
    ctx = WikiContext(page_title=portal.title, ref_texts={}, redirects=redirects)
    boxes = []
    for box in portal.boxes:
        if "items" in box:
            body = '<div class="hlist">\n<ul>' + "\n".join(
                f"<li>{render_inline(f'[[{t}]]', ctx)}</li>" for t in box["items"]) + "</ul>\n</div>"
        else:
            body = f"<p>{render_inline(box['text'], ctx)}\n</p>"
            if box.get("more"):
                more = render_inline(f"[[{box['more']}|Read more...]]", ctx)
                body += f'\n<div class="noprint" style="font-weight:bold;text-align:right;">{more}</div>'
        heading = box["heading"]
        boxes.append(_BOX_HEADER.format(id=escape(heading_id(heading)), heading=escape(heading)) + "\n"
                     + _BOX_BODY.format(body=body))
    cats = "".join(
        '<div class="CategoryTreeSection"><div class="CategoryTreeItem"><span class="CategoryTreeBullet"></span> '
        f'<bdi dir="ltr"><a href="{escape(wiki_path("Category:" + c))}" title="Category:{escape(c)}">{escape(c)}</a>'
        "</bdi></div></div>"
        for c in portal.categories
    )
    boxes.append(_BOX_HEADER.format(id="Categories", heading="Categories") + "\n"
                 + _BOX_BODY.format(body=f'<div class="CategoryTreeTag" data-ct-mode="10">{cats}</div>'))
    half = (len(boxes) + 1) // 2
    column = '<div class="flex-columns-column" style="flex:1 1 0;min-width:18em;margin:0 5px;">\n{}\n</div>'
    content = ('<div class="flex-columns-container" style="display:flex;flex-wrap:wrap;margin:0 -5px;">\n'
               + column.format("\n".join(boxes[:half])) + "\n" + column.format("\n".join(boxes[half:])) + "\n</div>")
    return render_page(
        title=portal.title,
        path_slug=wiki_slug(portal.title),
        content_html=content,
        headings=[(2, b["heading"]) for b in portal.boxes] + [(2, "Categories")],
        categories=["All portals", *(f"{c} portals" for c in portal.categories)],
        modified=portal.modified,
        revision=portal.revision,
        wikidata=None,
    )
