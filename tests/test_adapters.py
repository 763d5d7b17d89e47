"""Site adapters on real recorded responses (../shared/webdata/*.warc.gz) and on
hostile input.

Each archive is read once per module; pages are parsed once and shared. The 2014
Wikipedia archive (608 pages, 90 MB) is read fully (fast) but only a deterministic
sample of 31 pages is parsed. Without the recorded data beside the repository, tests skip
with a message naming the missing file, or fail under CI (tests/webdata.py).
"""

from __future__ import annotations

import random
import re
from urllib.parse import unquote

import pytest

from crawl.adapters import parse_arxiv_atom_entries, parse_response, source_of
from crawl.adapters.arxiv_atom import AtomParseError
from crawl.adapters.github_html import parse_count
from crawl.adapters.github_links import classify_github_url
from crawl.adapters.wikipedia_html import classify_wikipedia_link, namespace_of
from crawl.page import LinkKind, ParsedPage
from webdata import archive

HTML = {"Content-Type": "text/html; charset=utf-8"}
JSON = {"Content-Type": "application/json; charset=utf-8"}
ATOM = {"Content-Type": "application/atom+xml; charset=UTF-8"}

Record = tuple[str, int, dict[str, str], bytes]

# Strings that only site chrome produces; none may reach a page's main text.
WIKI_CHROME = (
    "Jump to navigation", "Jump to content", "Jump to search", "Edit links", "[edit]",
    "Navigation menu", "Personal tools", "From Wikipedia, the free encyclopedia",
    "Retrieved from", "This page was last edited", "Privacy policy", "Create account",
    "What links here", "Cite this page", "[citation needed]",
)


# ---------------------------------------------------------------------------
# Archive loading (once per module)
# ---------------------------------------------------------------------------


def read_archive(name: str) -> list[Record]:
    """All response records of ``name``.warc.gz as (url, status, headers, body)."""
    path = archive(name)
    from warcio.archiveiterator import ArchiveIterator

    out: list[Record] = []
    with open(path, "rb") as f:
        for record in ArchiveIterator(f):
            if record.rec_type != "response":
                continue
            out.append(
                (
                    record.rec_headers.get_header("WARC-Target-URI"),
                    int(record.http_headers.get_statuscode()),
                    dict(record.http_headers.headers),
                    record.content_stream().read(),
                )
            )
    return out


def parse_all(records: list[Record]) -> list[tuple[Record, ParsedPage]]:
    return [(r, parse_response(*r)) for r in records]


def first(parsed: list[tuple[Record, ParsedPage]], url: str) -> ParsedPage:
    for (u, *_), page in parsed:
        if u == url:
            return page
    raise AssertionError(f"{url} not in archive")


def kinds_of(page: ParsedPage, url: str) -> set[str]:
    return {str(link.kind) for link in page.links if link.url == url}


@pytest.fixture(scope="module")
def modern() -> dict[str, ParsedPage]:
    return {url: page for (url, *_), page in parse_all(read_archive("pages_modern"))}


@pytest.fixture(scope="module")
def atom() -> list[tuple[Record, ParsedPage]]:
    return parse_all(read_archive("arxiv_api"))


@pytest.fixture(scope="module")
def gh_api() -> list[tuple[Record, ParsedPage]]:
    return parse_all(read_archive("github_api"))


@pytest.fixture(scope="module")
def wiki_api() -> list[tuple[Record, ParsedPage]]:
    return parse_all(read_archive("wikipedia_api"))


@pytest.fixture(scope="module")
def wiki2014() -> dict[str, ParsedPage]:
    """Andy_Roddick plus every 20th page of the 2014 archive (31 pages)."""
    records = read_archive("wikipedia_2014")
    assert len(records) == 608
    sample = [r for r in records if r[0].endswith("/wiki/Andy_Roddick")] + records[::20][:30]
    return {r[0]: parse_response(*r) for r in sample}


# ---------------------------------------------------------------------------
# Wikipedia, recorded article pages
# ---------------------------------------------------------------------------

MODERN_WIKI = [
    (
        "https://en.wikipedia.org/wiki/Mozilla",
        "Mozilla",
        "Mozilla is a free-software community, created in 1998 by members of Netscape.",
        "History",
    ),
    (
        "https://en.wikipedia.org/wiki/New_Zealand",
        "New Zealand",
        "is a sovereign island country in the southwestern Pacific Ocean.",
        "Etymology",
    ),
    (
        "https://en.wikipedia.org/wiki/Hermitian_matrix",
        "Hermitian matrix",
        "is a complex square matrix that is equal to its own conjugate transpose",
        "Properties",
    ),
    (
        "https://en.wikipedia.org/wiki/T-distributed_stochastic_neighbor_embedding",
        "t-distributed stochastic neighbor embedding",
        "is a machine learning algorithm for visualization developed by Laurens van der Maaten and Geoffrey Hinton.",
        "Details",
    ),
]


@pytest.mark.parametrize(("url", "title", "lead_phrase", "section"), MODERN_WIKI)
def test_modern_wikipedia_title_lead_and_sections(
    modern: dict[str, ParsedPage], url: str, title: str, lead_phrase: str, section: str
) -> None:
    p = modern[url]
    assert (p.source, p.kind, p.valid) == ("wikipedia", "article", True)
    assert p.title == title
    assert lead_phrase in p.fields["lead"]
    assert p.text.startswith(p.fields["lead"])  # lead paragraphs come first
    assert f"\n## {section}\n" in p.text
    assert section in p.fields["sections"]
    assert "References" in p.fields["sections"]  # listed, but ...
    for dropped in ("## References", "## External links", "## See also"):
        assert dropped not in p.text  # ... dropped from the text


@pytest.mark.parametrize("url", [row[0] for row in MODERN_WIKI])
def test_modern_wikipedia_has_no_chrome(modern: dict[str, ParsedPage], url: str) -> None:
    text = modern[url].text
    for chrome in WIKI_CHROME:
        assert chrome not in text, chrome
    assert re.search(r"\[\d+\]", text) is None  # reference markers
    assert "Contents\n" not in text  # TOC


def test_mozilla_infobox_and_links(modern: dict[str, ParsedPage]) -> None:
    p = modern["https://en.wikipedia.org/wiki/Mozilla"]
    assert p.fields["infobox"]["Founded"] == "February 28, 1998"
    assert p.fields["infobox"]["Founder"] == "Netscape Communications Corporation"
    assert "Founded" not in p.text  # the infobox is a field, not text
    assert "article" in kinds_of(p, "https://en.wikipedia.org/wiki/Netscape")
    # sidebar / header links are navigation, never article
    assert kinds_of(p, "https://en.wikipedia.org/wiki/Main_Page") == {"navigation"}
    # links inside navboxes go to related articles (this one appears only in the Mozilla navbox)
    assert kinds_of(p, "https://en.wikipedia.org/wiki/Mozilla_Sunbird") == {"article"}
    # edit links
    edits = [link.url for link in p.links if link.kind == LinkKind.EDIT]
    assert edits and all("action=edit" in u or "index.php" in u for u in edits)
    # fragment-only links ("#History", "#mw-head") are not links at all
    assert not any("#" in link.url for link in p.links)


def test_hermitian_math_is_kept_as_tex(modern: dict[str, ParsedPage]) -> None:
    text = modern["https://en.wikipedia.org/wiki/Hermitian_matrix"].text
    assert "$$\\langle w,Av\\rangle =\\langle Aw,v\\rangle ,$$" in text
    assert "If the conjugate transpose of a matrix $A$ is denoted by $A^{\\mathsf {H}}$" in text


def test_no_namespaced_article_links_on_modern_pages(modern: dict[str, ParsedPage]) -> None:
    for url, *_ in MODERN_WIKI:
        for link in modern[url].links:
            if link.kind == LinkKind.ARTICLE:
                title = unquote(link.url.split("/wiki/", 1)[1])
                assert link.url.startswith("https://en.wikipedia.org/wiki/"), link
                assert namespace_of(title) == "", link


# ---------------------------------------------------------------------------
# Wikipedia 2014 "action=render" dumps
# ---------------------------------------------------------------------------


def test_andy_roddick_links_and_infobox(wiki2014: dict[str, ParsedPage]) -> None:
    p = wiki2014["https://en.wikipedia.org/wiki/Andy_Roddick"]
    assert (p.title, p.valid) == ("Andy Roddick", True)
    assert p.fields["infobox"]["Full name"] == "Andrew Stephen Roddick"
    assert p.fields["infobox"]["Turned pro"] == "2000"
    articles = {link.url for link in p.links if link.kind == LinkKind.ARTICLE}
    assert len(articles) > 300
    assert "https://en.wikipedia.org/wiki/Omaha,_Nebraska" in articles
    assert "https://en.wikipedia.org/wiki/US_Open_(tennis)" in articles
    assert "https://en.wikipedia.org/wiki/Andy_Roddick_career_statistics" in articles  # "Main article:" hatnote
    for link in p.links:
        if link.kind == LinkKind.ARTICLE:
            assert namespace_of(unquote(link.url.split("/wiki/", 1)[1])) == "", link
    assert kinds_of(p, "https://en.wikipedia.org/wiki/File:Roddick_2012.jpg") == {"file"}
    assert kinds_of(p, "https://en.wikipedia.org/wiki/Special:BookSources/0-595-30785-X") == {"special"}
    assert kinds_of(p, "https://en.wikipedia.org/wiki/Template_talk:World_TeamTennis") == {"special"}
    # only linked from the bottom navboxes: related articles, followed by the crawl
    assert kinds_of(p, "https://en.wikipedia.org/wiki/Olivier_Rochus") == {"article"}
    # red links are edit links
    assert kinds_of(p, "https://en.wikipedia.org/w/index.php?action=edit&redlink=1&title=Pat_Serret") == {"edit"}


def test_andy_roddick_text(wiki2014: dict[str, ParsedPage]) -> None:
    p = wiki2014["https://en.wikipedia.org/wiki/Andy_Roddick"]
    assert p.text.startswith('Andrew Stephen "Andy" Roddick (born August 30, 1982) is a retired American')
    assert "\n## Early life\n\nRoddick was born in Omaha, Nebraska, to Jerry and Blanche Roddick." in p.text
    assert "\n### Juniors\n" in p.text
    assert "| Australian Open | A | 3R | W |" in p.text  # tables survive as pipe tables
    assert "Persondata" not in p.text and "Roddick, Andrew Stephen" not in p.text  # hidden table
    assert "Full name" not in p.text  # infobox is not text
    assert "## References" not in p.text
    assert re.search(r"\[\d+\]", p.text) is None


def test_wiki2014_sample(wiki2014: dict[str, ParsedPage]) -> None:
    assert len(wiki2014) == 31
    for url, p in wiki2014.items():
        expected = unquote(url.split("/wiki/", 1)[1]).replace("_", " ")
        assert p.title == expected.replace("&amp;", "&"), url
        assert (p.valid, p.invalid_reason) == (True, None), url
        assert "[edit]" not in p.text
        articles = [link for link in p.links if link.kind == LinkKind.ARTICLE]
        assert len(articles) >= 5, url
        assert all(namespace_of(unquote(a.url.split("/wiki/", 1)[1])) == "" for a in articles), url
        assert len({(link.url, link.kind) for link in p.links}) == len(p.links)  # deduped


# ---------------------------------------------------------------------------
# Wikipedia, synthetic current (Vector 2022) layout
# ---------------------------------------------------------------------------

VECTOR_2022 = """<!DOCTYPE html><html><head><title>Example topic - Wikipedia</title></head><body>
<a class="mw-jump-link" href="#bodyContent">Jump to content</a>
<div class="vector-header-container"><header class="vector-header">
 <a href="/wiki/Main_Page" class="mw-logo">Wikipedia</a>
 <a href="/wiki/Special:Search">Search</a>
 <a href="/w/index.php?title=Special:CreateAccount&amp;returnto=Example_topic">Create account</a>
</header></div>
<div class="mw-page-container"><nav id="vector-toc" class="vector-toc"><div class="vector-toc-title">Contents</div>
 <a href="#History">History</a></nav>
<main id="content" class="mw-body">
<h1 id="firstHeading" class="firstHeading mw-first-heading"><span class="mw-page-title-main">Example topic</span></h1>
<div id="p-lang-btn"><a href="https://www.wikidata.org/wiki/Special:EntityPage/Q1#sitelinks-wikipedia">Edit links</a></div>
<div id="bodyContent" class="vector-body"><div id="siteSub">From Wikipedia, the free encyclopedia</div>
<div id="mw-content-text" class="mw-body-content"><div class="mw-content-ltr mw-parser-output" lang="en" dir="ltr">
<div class="shortdescription nomobile noexcerpt noprint searchaux" style="display:none">Short description here</div>
<div role="note" class="hatnote navigation-not-searchable">For the other topic, see <a href="/wiki/Other_topic">Other topic</a>.</div>
<table class="infobox vcard"><tbody>
 <tr><th colspan="2" class="infobox-above">Example topic</th></tr>
 <tr><td colspan="2" class="infobox-image"><span typeof="mw:File"><a href="/wiki/File:Example.jpg" class="mw-file-description"><img src="//upload.wikimedia.org/x.jpg"></a></span></td></tr>
 <tr><th scope="row" class="infobox-label">Founded</th><td class="infobox-data">3 March 1901<sup id="cite_ref-1" class="reference"><a href="#cite_note-1">[1]</a></sup></td></tr>
 <tr><th scope="row" class="infobox-label">Headquarters</th><td class="infobox-data"><a href="/wiki/Springfield">Springfield</a></td></tr>
</tbody></table>
<style>.mw-parser-output .hatnote{font-style:italic}</style>
<meta property="mw:PageProp/toc" />
<p><b>Example topic</b> is a well-documented subject used to test the parser, first described in <a href="/wiki/Springfield" title="Springfield">Springfield</a> by early surveyors.<sup id="cite_ref-2" class="reference"><a href="#cite_note-2"><span class="cite-bracket">[</span>2<span class="cite-bracket">]</span></a></sup> It has been studied for over a century.<sup class="noprint Inline-Template Template-Fact">[<i><a href="/wiki/Wikipedia:Citation_needed">citation needed</a></i>]</sup></p>
<p>A second lead paragraph mentions <a href="//en.wikipedia.org/wiki/Protocol_relative">a protocol-relative link</a> and <a href="/wiki/Talk:Example_topic">its talk page</a>.</p>
<div class="mw-heading mw-heading2"><h2 id="History">History</h2><span class="mw-editsection"><span class="mw-editsection-bracket">[</span><a href="/w/index.php?title=Example_topic&amp;action=edit&amp;section=1"><span>edit</span></a><span class="mw-editsection-bracket">]</span></span></div>
<figure class="mw-default-size" typeof="mw:File/Thumb"><a href="/wiki/File:Map.png" class="mw-file-description"><img src="//upload.wikimedia.org/map.png"></a><figcaption>A map caption that must not appear</figcaption></figure>
<p>The history section talks about the <a href="/wiki/Founding_event">founding event</a> in detail.</p>
<div class="mw-heading mw-heading3"><h3 id="Later_years">Later years</h3><span class="mw-editsection">[<a href="/w/index.php?title=Example_topic&amp;action=edit&amp;section=2">edit</a>]</span></div>
<ul><li>First item about <a href="/wiki/Category:Things">a category</a></li><li>Second item<ul><li>Nested item</li></ul></li></ul>
<div class="mw-heading mw-heading2"><h2 id="See_also">See also</h2></div>
<ul><li><a href="/wiki/Related_topic">Related topic</a></li></ul>
<div class="mw-heading mw-heading2"><h2 id="References">References</h2></div>
<div class="reflist"><ol class="references"><li id="cite_note-1">A reference text that must not appear. <a href="https://example.com/source">Source</a></li></ol></div>
<div class="mw-heading mw-heading2"><h2 id="External_links">External links</h2></div>
<ul><li><a rel="nofollow" class="external text" href="https://example.com/official">Official website</a></li></ul>
<div class="navbox" role="navigation"><table class="nowraplinks"><tr><th><a href="/wiki/Navbox_only_topic">Navbox only topic</a></th></tr>
<tr><td><a href="/wiki/Template:Example_navbox">v</a> <a href="/wiki/Template_talk:Example_navbox">t</a> <a href="/w/index.php?title=Template:Example_navbox&amp;action=edit">e</a></td></tr></table></div>
</div></div>
<div id="catlinks" class="catlinks"><a href="/wiki/Help:Category">Categories</a>: <a href="/wiki/Category:Examples">Examples</a></div>
</div></main>
<footer id="footer"><a href="https://foundation.wikimedia.org/wiki/Special:MyLanguage/Policy:Privacy_policy">Privacy policy</a>
<a href="/wiki/Wikipedia:About">About Wikipedia</a><a href="https://www.wikimediafoundation.org/">Wikimedia Foundation</a></footer>
</div></body></html>"""


@pytest.fixture(scope="module")
def vector2022() -> ParsedPage:
    return parse_response("https://en.wikipedia.org/wiki/Example_topic", 200, HTML, VECTOR_2022.encode())


def test_vector2022_text(vector2022: ParsedPage) -> None:
    p = vector2022
    assert p.title == "Example topic"
    assert p.fields["lead"] == (
        "Example topic is a well-documented subject used to test the parser, first described in "
        "Springfield by early surveyors. It has been studied for over a century."
    )
    assert p.text.startswith(p.fields["lead"] + "\n\nA second lead paragraph mentions a protocol-relative link")
    assert "\n\n## History\n\nThe history section talks about the founding event in detail.\n\n### Later years\n\n" in p.text
    assert "- Second item\n  - Nested item" in p.text
    assert p.fields["sections"] == ["History", "Later years", "See also", "References", "External links"]
    assert p.fields["infobox"] == {"Founded": "3 March 1901", "Headquarters": "Springfield"}
    for absent in (
        "Jump to content", "Edit links", "[edit]", "edit]", "Contents", "map caption", "reference text",
        "Official website", "Related topic", "Navbox only", "citation needed", "Short description",
        "From Wikipedia", "Privacy policy", "Categories", ".mw-parser-output", "For the other topic",
    ):
        assert absent not in p.text, absent


def test_vector2022_links(vector2022: ParsedPage) -> None:
    p = vector2022
    w = "https://en.wikipedia.org/wiki/"
    expected = {
        w + "Springfield": {"article"},  # infobox + body, deduped
        w + "Other_topic": {"article"},  # hatnote
        w + "Protocol_relative": {"article"},
        w + "Founding_event": {"article"},
        w + "Related_topic": {"article"},  # dropped from text, kept as a link
        w + "Navbox_only_topic": {"article"},
        w + "Main_Page": {"navigation"},
        w + "Talk:Example_topic": {"special"},
        w + "Category:Things": {"special"},
        w + "Category:Examples": {"special"},
        w + "Special:Search": {"special"},
        w + "Template_talk:Example_navbox": {"special"},
        w + "File:Example.jpg": {"file"},
        w + "File:Map.png": {"file"},
        "https://example.com/official": {"external"},
        "https://www.wikimediafoundation.org/": {"navigation"},  # footer
    }
    for url, kinds in expected.items():
        assert kinds_of(p, url) == kinds, url
    edit = [link.url for link in p.links if link.kind == LinkKind.EDIT]
    assert "https://en.wikipedia.org/w/index.php?action=edit&section=1&title=Example_topic" in edit
    assert not any("#" in link.url for link in p.links)
    assert len(p.links) == len({(link.url, link.kind) for link in p.links})
    # first-seen order: the header logo link precedes the body links
    urls = [link.url for link in p.links]
    assert urls.index(w + "Main_Page") < urls.index(w + "Springfield") < urls.index(w + "Founding_event")


def test_nested_infoboxes_are_read_and_removed_once() -> None:
    body = (
        b"<h1 id=firstHeading>Topic</h1><div id=mw-content-text><table class=infobox>"
        b"<tr><th>Outer</th><td>1</td></tr><tr><td colspan=2><table class='infobox infobox-subbox'>"
        b"<tr><th>Inner</th><td>2<sup class=reference>[3]</sup></td></tr></table></td></tr></table>"
        + b"<p>Topic is described here in enough words to count as an article paragraph. </p>" * 5
        + b"</div>"
    )
    p = parse_response("https://en.wikipedia.org/wiki/Topic", 200, {}, body)
    assert p.fields["infobox"] == {"Outer": "1", "Inner": "2"}
    assert "Outer" not in p.text and "Inner" not in p.text
    assert p.valid


@pytest.mark.parametrize(
    ("url", "in_content", "in_chrome", "expected"),
    [
        ("https://en.wikipedia.org/wiki/Paris", True, False, "article"),
        ("https://en.wikipedia.org/wiki/Paris", False, False, "navigation"),
        ("https://en.wikipedia.org/wiki/Paris", True, True, "navigation"),
        ("https://en.wikipedia.org/wiki/Star_Wars:_A_New_Hope", True, False, "article"),
        ("https://en.wikipedia.org/wiki/Image:Foo.png", True, False, "file"),
        ("https://en.wikipedia.org/wiki/file:Foo.png", True, False, "file"),
        ("https://upload.wikimedia.org/wikipedia/commons/a/a9/Foo.jpg", True, False, "file"),
        ("https://en.wikipedia.org/wiki/User_talk:Someone", True, False, "special"),
        ("https://en.wikipedia.org/wiki/Wikipedia_talk:Manual_of_Style", True, False, "special"),
        ("https://en.wikipedia.org/wiki/Portal:Tennis", True, False, "special"),
        ("https://en.wikipedia.org/wiki/Module:Citation", True, False, "special"),
        ("https://en.wikipedia.org/w/index.php?action=history&title=Paris", True, False, "edit"),
        ("https://en.wikipedia.org/w/index.php?title=Paris&veaction=edit", False, False, "edit"),
        ("https://en.wikipedia.org/w/index.php?search=x&title=Special%3ASearch", False, False, "special"),
        ("https://en.wikipedia.org/w/api.php?action=query", True, False, "api"),
        ("https://de.wikipedia.org/wiki/Paris", False, False, "navigation"),
        ("https://de.wikipedia.org/wiki/Paris", True, False, "external"),
        ("https://www.example.com/", True, False, "external"),
        ("https://www.example.com/", False, False, "navigation"),
    ],
)
def test_classify_wikipedia_link(url: str, in_content: bool, in_chrome: bool, expected: str) -> None:
    assert classify_wikipedia_link(url, "en.wikipedia.org", in_content, in_chrome, False) == expected


# ---------------------------------------------------------------------------
# GitHub repository page
# ---------------------------------------------------------------------------


def test_github_repo_page(modern: dict[str, ParsedPage]) -> None:
    p = modern["https://github.com/golemfactory/yapapi"]
    assert (p.source, p.kind, p.valid, p.title) == ("github", "repo", True, "golemfactory/yapapi")
    f = p.fields
    assert f["full_name"] == "golemfactory/yapapi"
    assert f["description"] == "Python high-level API for Golem."
    assert f["stars"] == 31 and isinstance(f["stars"], int)
    assert f["forks"] == 13
    assert f["language"] == "Python"
    assert f["topics"] == ["golem"]
    assert f["license"] == "LGPL-3.0"
    assert p.text.startswith("# Golem Python API\n\n## What's Golem and yapapi?\n\n")
    assert "Golem is a global, open-source, decentralized supercomputer that anyone can access." in p.text
    assert "```\npip install yapapi\n```" in p.text
    for chrome in ("Sign in", "Sign up", "Pricing", "Skip to content", "You must be signed in", "Notifications",
                   "Latest commit", "Terms", "Marketplace", "octicon"):
        assert chrome not in p.text, chrome


def test_github_repo_page_links(modern: dict[str, ParsedPage]) -> None:
    p = modern["https://github.com/golemfactory/yapapi"]
    assert kinds_of(p, "https://github.com/golemfactory/goth") == {"article"}
    assert kinds_of(p, "https://github.com/golemfactory/yapapi/pull/954") == {"article"}
    assert kinds_of(p, "https://github.com/pricing") == {"navigation"}
    assert kinds_of(p, "https://github.com/topics/golem") == {"navigation"}
    assert kinds_of(p, "https://github.com/golemfactory/yapapi/stargazers") == {"navigation"}
    assert kinds_of(p, "https://pypi.org/project/yapapi/") == {"external"}
    assert kinds_of(p, "https://docs.github.com/") == {"navigation"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [("31", 31), ("1,234", 1234), ("1.2k", 1200), ("12k", 12000), ("3.4m", 3400000), (" 7 ", 7), ("", None), ("n/a", None)],
)
def test_parse_count(text: str, expected: int | None) -> None:
    assert parse_count(text) == expected


def _repo_page(counter: str) -> bytes:
    return (
        "<html><head><title>GitHub - acme/widget</title></head><body><header><a href='/login'>Sign in</a></header>"
        f"<main>{counter}<div class='BorderGrid'><h2>About</h2><p class='f4 my-3'>Widgets.</p></div>"
        "<article class='markdown-body'><h1><a class='anchor' href='#w'></a>Widget</h1>"
        + "<p>Widget makes widgets from wood, metal and a great deal of patience. </p>" * 6
        + "</article></main></body></html>"
    ).encode()


def test_github_star_counter_prefers_exact_title() -> None:
    exact = _repo_page('<span id="repo-stars-counter-star" title="1,234" class="Counter">1.2k</span>')
    rounded = _repo_page('<span id="repo-stars-counter-star" class="Counter">1.2k</span>')
    p1 = parse_response("https://github.com/acme/widget", 200, HTML, exact)
    p2 = parse_response("https://github.com/acme/widget", 200, HTML, rounded)
    assert (p1.fields["stars"], p2.fields["stars"]) == (1234, 1200)
    assert p1.fields["description"] == "Widgets."
    assert p1.text.startswith("# Widget\n\nWidget makes widgets")
    assert kinds_of(p1, "https://github.com/login") == {"navigation"}


def test_github_repo_without_readme_is_judged_on_its_summary() -> None:
    body = (
        b"<html><head><title>GitHub - acme/empty</title></head><body><main>"
        b"<div class='BorderGrid'><h2>About</h2><p class='f4 my-3'>Nothing here yet.</p></div></main></body></html>"
    )
    p = parse_response("https://github.com/acme/empty", 200, HTML, body)
    assert (p.kind, p.fields["has_readme"], p.fields["stars"]) == ("repo", False, None)
    assert p.text == "# acme/empty\n\nNothing here yet."
    assert (p.valid, p.invalid_reason) == (False, "near_empty")


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://github.com/torvalds", "article"),
        ("https://github.com/torvalds/linux", "article"),
        ("https://github.com/torvalds/linux/issues/12", "article"),
        ("https://github.com/torvalds/linux/blob/master/README", "other"),  # file views: readable, not followed by default
        ("https://github.com/torvalds/linux/issues", "navigation"),
        ("https://github.com/torvalds/linux/network/members", "navigation"),
        ("https://github.com/login?return_to=%2Ftorvalds", "navigation"),
        ("https://github.com/features/actions", "navigation"),
        ("https://github.com/marketplace", "navigation"),
        ("https://github.com/sponsors/torvalds", "navigation"),
        ("https://github.com/settings/profile", "navigation"),
        ("https://api.github.com/repos/torvalds/linux", "api"),
        ("https://raw.githubusercontent.com/torvalds/linux/master/README", "other"),
        ("https://kernel.org/", "external"),
    ],
)
def test_classify_github_url(url: str, expected: str) -> None:
    assert classify_github_url(url) == expected


# ---------------------------------------------------------------------------
# arXiv abstract page and Atom API
# ---------------------------------------------------------------------------


def test_arxiv_abs_page(modern: dict[str, ParsedPage]) -> None:
    p = modern["https://arxiv.org/abs/1902.02534"]
    assert (p.source, p.kind, p.valid) == ("arxiv", "abs", True)
    f = p.fields
    title = "Crowdsourcing open citations with CROCI -- An analysis of the current status of open citations, and a proposal"
    assert f["arxiv_id"] == "1902.02534"
    assert p.title == f["title"] == title
    assert f["authors"] == ["Ivan Heibi", "Silvio Peroni", "David Shotton"]
    assert f["abstract"].startswith("In this paper, we analyse the current availability of open citations data")
    assert f["abstract"].endswith("CROCI, the Crowdsourced Open Citations Index.")
    assert f["categories"] == ["cs.DL"]
    assert f["submitted"] == "7 Feb 2019"
    assert [v["version"] for v in f["versions"]] == ["v1", "v2"]
    assert p.text.startswith(f"# {title}\n\nAuthors: Ivan Heibi, Silvio Peroni, David Shotton")
    for chrome in ("Title:", "Abstract:", "Donate", "Log in", "Bibliographic Explorer", "endorsers", "BibTeX"):
        assert chrome not in p.text, chrome
    assert kinds_of(p, "https://arxiv.org/pdf/1902.02534") == {"other"}
    assert kinds_of(p, "http://opencitations.net/index/coci") == {"external"}
    assert kinds_of(p, "https://arxiv.org/list/cs.DL/new") == {"navigation"}
    assert kinds_of(p, "https://arxiv.org/search/cs?query=Heibi%2C+I&searchtype=author") == {"navigation"}


def test_arxiv_abs_falls_back_to_citation_meta() -> None:
    """A layout change that loses the visible blocks still yields the core fields."""
    body = (
        b'<html><head><title>[2101.00001] A Paper</title>'
        b'<meta name="citation_title" content="A Paper About Things" />'
        b'<meta name="citation_author" content="Doe, Jane" /><meta name="citation_author" content="Roe, Richard" />'
        b'<meta name="citation_date" content="2021/01/01" /><meta name="citation_arxiv_id" content="2101.00001" />'
        b'<meta name="citation_abstract" content="We study things and find that they are interesting." />'
        b"</head><body><main><p>New layout.</p></main></body></html>"
    )
    p = parse_response("https://arxiv.org/abs/2101.00001", 200, HTML, body)
    assert p.valid, p.invalid_reason
    f = p.fields
    assert (f["arxiv_id"], f["title"], f["submitted"]) == ("2101.00001", "A Paper About Things", "2021/01/01")
    assert f["authors"] == ["Jane Doe", "Richard Roe"]
    assert f["abstract"] == "We study things and find that they are interesting."


def test_arxiv_abs_error_pages() -> None:
    body = b"<html><head><title>arXiv Error</title></head><body><h1>Article identifier '9999.99999' not recognized</h1></body></html>"
    assert parse_response("https://arxiv.org/abs/9999.99999", 404, HTML, body).invalid_reason == "http_error"
    p = parse_response("https://arxiv.org/abs/9999.99999", 200, HTML, body)
    assert (p.valid, p.invalid_reason, p.invalid_detail) == (False, "missing_fields", "title,abstract")
    wall = b"<html><head><title>Just a moment...</title></head><body><p>Checking your browser</p></body></html>"
    assert parse_response("https://arxiv.org/abs/2101.00001", 200, HTML, wall).invalid_reason == "cloudflare_challenge"


def _feed(atom: list[tuple[Record, ParsedPage]], id_list: str) -> ParsedPage:
    for (url, *_), page in atom:
        if f"id_list={id_list}&" in url:
            return page
    raise AssertionError(id_list)


def test_every_arxiv_atom_entry_has_core_fields(atom: list[tuple[Record, ParsedPage]]) -> None:
    assert len(atom) == 20
    entries = [e for _, p in atom for e in p.fields.get("entries", [])]
    assert len(entries) == 221
    for e in entries:
        assert e["id"] and e["arxiv_id"] and e["title"] and e["abstract"], e
        assert e["authors"] and all(isinstance(a, str) and a for a in e["authors"]), e
        assert e["id_url"].startswith("http") and e["id"] in e["id_url"]
        assert "  " not in e["title"] and "\n" not in e["abstract"]  # whitespace collapsed


def test_arxiv_atom_specific_entries(atom: list[tuple[Record, ParsedPage]]) -> None:
    p = _feed(atom, "astro-ph%2F0601001")
    assert (p.kind, p.valid, p.fields["total_results"]) == ("atom_feed", True, 1)
    (e,) = p.fields["entries"]
    assert e["id"] == "astro-ph/0601001v1" and e["arxiv_id"] == "astro-ph/0601001"
    assert e["authors"] == ["Andrew Gould", "Susan Dorsher", "B. Scott Gaudi", "Andrzej Udalski"]
    assert e["journal_ref"] == "ActaAstron.56:1-50,2006"
    assert (e["primary_category"], e["categories"]) == ("astro-ph", ["astro-ph"])
    assert e["published"] == "2006-01-02T14:57:58Z"
    assert e["pdf_url"] == "https://arxiv.org/pdf/astro-ph/0601001v1"
    assert kinds_of(p, "https://arxiv.org/abs/astro-ph/0601001") == {"article"}

    q = _feed(atom, "1707.08567")
    (e2,) = q.fields["entries"]
    assert len(e2["authors"]) == 34 and e2["comment"].startswith("44 pages")
    assert "## Proceedings of Workshop AEW10: Concepts in Information Theory and Communications" in q.text


def test_arxiv_atom_search_feed(atom: list[tuple[Record, ParsedPage]]) -> None:
    big = next(p for (u, *_), p in atom if "max_results=100" in u and "search_query=testing" in u)
    assert big.fields["total_results"] == 214881
    assert len(big.fields["entries"]) == 100
    assert sum(1 for link in big.links if link.kind == LinkKind.ARTICLE) == 100
    assert any(e.get("doi") for e in big.fields["entries"])


def test_arxiv_atom_error_and_empty_feeds(atom: list[tuple[Record, ParsedPage]]) -> None:
    err = _feed(atom, "abc")
    assert (err.valid, err.invalid_reason, err.invalid_detail) == (False, "api_error", "incorrect id format for abc")
    empty = _feed(atom, "0000.0000")
    assert (empty.valid, empty.invalid_reason, empty.fields["entries"]) == (False, "empty_feed", [])


def test_parse_arxiv_atom_entries_direct(atom: list[tuple[Record, ParsedPage]]) -> None:
    body = next(r[3] for r, _ in atom if "id_list=1605.08386&" in r[0])
    (e,) = parse_arxiv_atom_entries(body)
    assert e["arxiv_id"] == "1605.08386" and e["title"] == "Heat-bath random walks with Markov bases"
    with pytest.raises(AtomParseError):
        parse_arxiv_atom_entries(b"<feed><entry>")


# ---------------------------------------------------------------------------
# GitHub REST API
# ---------------------------------------------------------------------------


def test_every_github_api_record_parses(gh_api: list[tuple[Record, ParsedPage]]) -> None:
    api = [(r, p) for r, p in gh_api if source_of(r[0]) == "github"]
    assert len(api) >= 880
    for (url, status, _, body), p in api:
        assert p.source == "github" and p.kind.startswith("api_"), url
        if body.strip():
            assert p.invalid_reason != "parse_error", (url, p.invalid_detail)
        if status < 300:
            assert p.valid, (url, p.invalid_reason)
        else:
            assert p.invalid_reason == "http_error", url


def test_every_github_api_repo_has_name_description_stars(gh_api: list[tuple[Record, ParsedPage]]) -> None:
    repos = [p for _, p in gh_api if p.kind == "api_repo"]
    assert len(repos) >= 55
    for p in repos:
        f = p.fields
        assert isinstance(f["name"], str) and f["name"], p.url
        assert isinstance(f["description"], str), p.url
        assert isinstance(f["stars"], int) and not isinstance(f["stars"], bool), p.url
        assert f["full_name"].endswith("/" + f["name"]) or f["full_name"] == f["name"], p.url
    items = [i for _, p in gh_api if p.kind == "api_list" for i in p.fields["items"] if i["type"] == "repo"]
    assert items and all(isinstance(i["stars"], int) for i in items)


def test_github_api_specific_records(gh_api: list[tuple[Record, ParsedPage]]) -> None:
    repo = first(gh_api, "https://api.github.com/repos/PyGithub/PyGithub")
    assert repo.kind == "api_repo"
    assert {k: repo.fields[k] for k in ("full_name", "stars", "forks", "language", "license", "owner")} == {
        "full_name": "PyGithub/PyGithub", "stars": 5996, "forks": 1628, "language": "Python",
        "license": "LGPL-3.0", "owner": "PyGithub",
    }
    assert repo.fields["description"] == "Typed interactions with the GitHub API v3"
    assert kinds_of(repo, "https://github.com/PyGithub/PyGithub") == {"article"}
    assert kinds_of(repo, "https://api.github.com/repos/PyGithub/PyGithub/issues") == {"api"}

    legacy = first(gh_api, "https://api.github.com/repositories/3544490")  # 2012 payload, no full_name
    assert (legacy.kind, legacy.fields["full_name"], legacy.fields["stars"]) == ("api_repo", "jacquev6/PyGithub", 13)

    readme = first(gh_api, "https://api.github.com/repos/PyGithub/PyGithub/readme")
    assert readme.kind == "api_readme"
    assert readme.text.startswith("# PyGitHub\n") and readme.fields["readme"] == readme.text
    assert "pip install PyGithub" in readme.text

    user = first(gh_api, "https://api.github.com/users/nvie")
    assert (user.kind, user.fields["login"], user.fields["name"]) == ("api_user", "nvie", "Vincent Driessen")

    pr = first(gh_api, "https://api.github.com/repos/PyGithub/PyGithub/pulls/3370")
    assert (pr.kind, pr.fields["number"], pr.fields["is_pull_request"]) == ("api_issue", 3370, True)
    assert pr.title == "Bump actions/setup-python from 5 to 6"

    repos = first(gh_api, "https://api.github.com/user/repos")
    assert repos.kind == "api_list" and repos.fields["items"][0]["type"] == "repo"

    search = first(gh_api, "https://api.github.com/search/code?q=%22profile+%3D+black%22+in%3Afile+language%3Atoml&per_page=5")
    assert search.kind == "api_list" and search.fields["list_key"] == "items" and search.fields["total_count"] >= 1

    other = first(gh_api, "https://api.github.com/rate_limit")
    assert (other.kind, other.fields["keys"]) == ("api_other", ["rate", "resources"])

    missing = first(gh_api, "https://api.github.com/repos/jacquev6/Xxx")
    assert (missing.valid, missing.invalid_reason, missing.fields["message"]) == (False, "http_error", "Not Found")


# ---------------------------------------------------------------------------
# Wikipedia Action API
# ---------------------------------------------------------------------------

API = "https://en.wikipedia.org/w/api.php?format=json&redirects=1&action=query&"


def test_every_wikipedia_api_record_parses(wiki_api: list[tuple[Record, ParsedPage]]) -> None:
    assert len(wiki_api) == 101
    reasons = sorted((p.invalid_reason, p.invalid_detail) for _, p in wiki_api if not p.valid)
    assert reasons == [("api_error", "search-title-disabled"), ("missing_page", ""), ("missing_page", "")]
    for (url, *_), p in wiki_api:
        assert (p.source, p.kind) == ("wikipedia", "api_query"), url


def test_wikipedia_api_specific_records(wiki_api: list[tuple[Record, ParsedPage]]) -> None:
    london = first(wiki_api, API + "prop=coordinates&titles=London&colimit=10&coprimary=primary&coprop=globe")
    assert (london.title, london.fields["pageid"]) == ("London", 17867)
    assert london.fields["coordinates"][0]["lat"] == 51.50722222
    assert kinds_of(london, "https://en.wikipedia.org/wiki/London") == {"article"}

    extract = first(wiki_api, API + "prop=extracts&titles=Python_%28programming_language%29&explaintext=1&exsectionformat=wiki")
    assert extract.text.startswith(
        "# Python (programming language)\n\nPython is a high-level, general-purpose programming language."
    )
    assert extract.fields["extract"].startswith("Python is a high-level")

    links = first(wiki_api, API + "prop=links&titles=Python_%28programming_language%29&pllimit=500")
    assert "ABC (programming language)" in links.fields["links"]
    assert kinds_of(links, "https://en.wikipedia.org/wiki/ABC_(programming_language)") == {"article"}
    assert links.fields["continue"]["plcontinue"].startswith("23862|")

    backlinks = first(wiki_api, API + "list=backlinks&bltitle=Python_%28programming_language%29&bllimit=500")
    assert len(backlinks.fields["backlinks"]) == 500
    assert kinds_of(backlinks, "https://en.wikipedia.org/wiki/Talk:AWK") == {"special"}
    assert kinds_of(backlinks, "https://en.wikipedia.org/wiki/Ackermann_function") == {"article"}

    search = first(wiki_api, API + "list=search&srsearch=Python+programming&srnamespace=0&srlimit=3&srsort=relevance")
    assert [e["title"] for e in search.fields["search"]][:2] == ["Python (programming language)", "History of Python"]
    assert "<span" not in search.text and search.fields["searchinfo"]["totalhits"] == 6045

    images = first(wiki_api, API + "prop=images&titles=Python_%28programming_language%29&imlimit=10&imdir=ascending")
    assert kinds_of(images, "https://en.wikipedia.org/wiki/File:Commons-logo.svg") == {"file"}

    shared_file = next(p for (u, *_), p in wiki_api if "Python-logo-notext.svg&iiprop=url%7Csize" in u)
    assert shared_file.valid and shared_file.fields["imageinfo"][0]["width"] == 110  # "missing" but "known"

    missing = next(p for (u, *_), p in wiki_api if "NonExistentPage_WikiAPI_Test_12345" in u)
    assert (missing.valid, missing.invalid_reason) == (False, "missing_page")


def test_wikipedia_api_error_object() -> None:
    body = b'{"error":{"code":"badvalue","info":"Unrecognized value for parameter \\"action\\": nope."}}'
    p = parse_response("https://de.wikipedia.org/w/api.php?action=nope&format=json", 200, JSON, body)
    assert (p.valid, p.invalid_reason, p.invalid_detail, p.fields["error"]["code"]) == (False, "api_error", "badvalue",
                                                                                         "badvalue")


def test_wikipedia_api_list_form_uses_request_host() -> None:
    body = b'{"query":{"pages":[{"pageid":1,"ns":0,"title":"Zug","links":[{"ns":0,"title":"Kanton Zug"}]}]}}'
    p = parse_response("https://de.wikipedia.org/w/api.php?action=query&prop=links&titles=Zug&format=json&formatversion=2", 200, JSON, body)
    assert p.valid and p.title == "Zug"
    assert kinds_of(p, "https://de.wikipedia.org/wiki/Kanton_Zug") == {"article"}


# ---------------------------------------------------------------------------
# HTML -> markdown helper
# ---------------------------------------------------------------------------


def test_markdown_rendering() -> None:
    from bs4 import BeautifulSoup

    from crawl.markdown import html_to_markdown

    html = (
        "<div><h2>Title <small>x</small></h2><p>Line one<br>line two &amp; <code>a  b</code></p>"
        "<ol><li>first</li><li>second<ul><li>inner</li></ul></li></ol>"
        "<table><tr><th>k</th><th>v</th></tr><tr><td>a|b</td><td><table><tr><td>n1</td><td>n2</td></tr></table></td></tr></table>"
        "<blockquote><p>quoted</p></blockquote><pre>x = 1\n  y = 2</pre>"
        "<script>var no = 1;</script><style>.no{}</style><img alt='no'><!-- no --></div>"
    )
    md = html_to_markdown(BeautifulSoup(html, "lxml").div)
    assert md == (
        "## Title x\n\nLine one\nline two & `a b`\n\n1. first\n2. second\n  - inner\n\n"
        "| k | v |\n|---|---|\n| a\\|b | n1 n2 |\n\n> quoted\n\n```\nx = 1\n  y = 2\n```"
    )


def test_markdown_survives_very_deep_nesting() -> None:
    from bs4 import BeautifulSoup

    from crawl.markdown import html_to_markdown

    soup = BeautifulSoup("<div>" * 5000 + "deep text" + "</div>" * 5000, "lxml")
    assert "deep text" in html_to_markdown(soup.body)


# ---------------------------------------------------------------------------
# Dispatch and hostile input
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://arxiv.org/abs/1902.02534", "arxiv"),
        ("http://export.arxiv.org/api/query?id_list=1", "arxiv"),
        ("https://github.com/a/b", "github"),
        ("https://api.github.com/repos/a/b", "github"),
        ("https://en.wikipedia.org/wiki/X", "wikipedia"),
        ("https://de.m.wikipedia.org/wiki/X", "wikipedia"),
        ("https://wikipedia.org.evil.com/wiki/X", "web"),
        ("https://gist.github.com/x", "web"),
        ("not a url", "web"),
        ("http://[::1", "web"),
    ],
)
def test_source_of(url: str, expected: str) -> None:
    assert source_of(url) == expected


SITES = [
    ("https://en.wikipedia.org/wiki/Foo", HTML),
    ("https://en.wikipedia.org/w/api.php?action=query&format=json", JSON),
    ("https://arxiv.org/abs/1234.56789", HTML),
    ("http://export.arxiv.org/api/query?id_list=1234.56789", ATOM),
    ("https://github.com/acme/widget", HTML),
    ("https://api.github.com/repos/acme/widget", JSON),
    ("https://example.org/page", HTML),
    ("https://example.org/data.json", JSON),
    ("https://example.org/file", {"Content-Type": "application/octet-stream"}),
    ("https://example.org/nothing", {}),
]


def _garbage() -> list[bytes]:
    rng = random.Random(1234)
    return [
        b"",
        b"   \n\t ",
        rng.randbytes(5000),
        b"\xff\xfe\xfa\xfb" * 500,
        b"<html><body><p>unterminated <b>bold <div><table><tr><td>cell",
        b"{\"not\": json,,, ]",
        b"<?xml version='1.0'?><feed xmlns='http://www.w3.org/2005/Atom'><entry><title>x",
        b"\x00" * 1000,
        b"<div>" * 3000 + b"deep" + b"</div>" * 3000,
        b"null",
        b"[1, 2, {\"a\": [3]}]",
    ]


@pytest.mark.parametrize(("url", "headers"), SITES)
def test_never_raises_on_garbage(url: str, headers: dict[str, str]) -> None:
    for body in _garbage():
        for status in (200, 404):
            p = parse_response(url, status, headers, body)
            assert isinstance(p, ParsedPage)
            assert p.url == url
            if status == 404:
                assert not p.valid
            if not body.strip():
                assert (p.valid, p.invalid_reason) == (False, "empty_body" if status == 200 else "http_error")
            if body.startswith(b"\x00"):
                assert not p.valid


def test_generic_web_page() -> None:
    body = (
        b'<html><head><title>Fallback title</title><meta property="og:title" content="River Guide"></head><body>'
        b"<nav><a href='/'>Home</a><a href='https://twitter.com/x'>Twitter</a></nav><article><h1>River Guide</h1>"
        b"<p>The river rises in the hills and flows for ninety kilometres through farmland and forest.</p>"
        b"<p>Anglers come for trout in spring, and canoeists for the long, calm stretches in summer.</p>"
        b"<p>A footpath follows the bank from the old bridge to the estuary, with benches every mile.</p>"
        b"<p>See <a href='/maps/upper'>the upper river map</a> or the <a href='https://example.net/tides'>tide tables</a>.</p>"
        b"</article><footer>Copyright 2024</footer></body></html>"
    )
    p = parse_response("https://rivers.example.org/guide", 200, HTML, body)
    assert (p.source, p.kind, p.title, p.valid) == ("web", "web", "River Guide", True)
    assert "Anglers come for trout in spring" in p.text
    assert "Copyright 2024" not in p.text
    assert kinds_of(p, "https://rivers.example.org/maps/upper") == {"other"}
    assert kinds_of(p, "https://example.net/tides") == {"external"}
    assert kinds_of(p, "https://twitter.com/x") == {"external"}


def test_generic_json_and_binary() -> None:
    j = parse_response("https://data.example.org/x.json", 200, JSON, b'{"name": "x", "values": [1, 2]}')
    assert (j.kind, j.title, j.fields["keys"], j.valid) == ("json", "x", ["name", "values"], True)
    pdf = parse_response("https://arxiv.org/pdf/1902.02534", 200, {"Content-Type": "application/pdf"}, b"%PDF-1.5\n\x00\x01\x02" * 100)
    assert (pdf.valid, pdf.invalid_reason) == (False, "binary_content")


def test_malformed_payloads_are_parse_errors() -> None:
    bad = b'{"query": {"pages": '
    for url, headers in (
        ("https://api.github.com/repos/a/b", JSON),
        ("https://en.wikipedia.org/w/api.php?action=query&format=json", JSON),
        ("http://export.arxiv.org/api/query?id_list=1", ATOM),
    ):
        p = parse_response(url, 200, headers, bad if "arxiv" not in url else b"<feed><entry>")
        assert (p.valid, p.invalid_reason) == (False, "parse_error"), (url, p.invalid_reason)
        assert p.invalid_detail and ":" in p.invalid_detail, p.invalid_detail  # "<Type>: <message>"


def test_invalid_utf8_is_replaced_not_raised() -> None:
    body = (
        b"<html><head><title>Caf\xe9 \xff\xfe review</title></head><body><article>"
        + b"<p>The caf\xc3\xa9 serves coffee \xed\xa0\x80 and cake every day of the week, to locals and visitors alike.</p>"
        + b"<p>Its owners roast the beans themselves in a small drum roaster behind the counter each morning.</p>"
        + b"<p>Reviewers praise the lemon tart, the quiet terrace and the friendly staff who remember regulars.</p>"
        + b"</article></body></html>"
    )
    p = parse_response("https://example.org/cafe", 200, HTML, body)
    assert p.title == "Caf\ufffd \ufffd\ufffd review"
    assert "The café serves coffee" in p.text
    assert p.valid


def test_charset_from_meta_when_header_has_none() -> None:
    body = (
        b'<html><head><meta charset="iso-8859-1"><title>Caf\xe9</title></head><body><article>'
        + b"<p>Le caf\xe9 est ouvert tous les jours de la semaine, du matin jusqu'au soir tard.</p>"
        + b"<p>Les propri\xe9taires torr\xe9fient eux-m\xeames le caf\xe9 chaque matin derri\xe8re le comptoir.</p>"
        + b"</article></body></html>"
    )
    p = parse_response("https://example.org/cafe", 200, {"Content-Type": "text/html"}, body)
    assert p.title == "Café"
    assert "Le café est ouvert" in p.text


def test_truncated_wikipedia_page_still_parses() -> None:
    body = VECTOR_2022.encode()[:2600]  # cut inside the first lead paragraph's successor
    p = parse_response("https://en.wikipedia.org/wiki/Example_topic", 200, HTML, body)
    assert p.title == "Example topic"
    assert p.fields["lead"].startswith("Example topic is a well-documented subject")
    assert p.invalid_reason == "near_empty"  # what survived is too short to keep


def test_truncated_real_page(modern: dict[str, ParsedPage]) -> None:
    for url, status, headers, body in read_archive("pages_modern")[:1]:
        p = parse_response(url, status, headers, body[: len(body) // 5])  # cut mid-article
        assert p.title == modern[url].title
        assert p.fields["lead"] == modern[url].fields["lead"]
        assert len(p.text) < len(modern[url].text)
