"""The embedded mini-web: archive freshness, markup contracts, link integrity, facts.

Reads ``crawl/miniweb/miniweb.warc.gz`` as a crawler would (warcio) and checks the
promises its README makes: the archive is what its sources build, pages carry the
real sites' structure, links resolve unless declared dead, numbers agree between
pages, and every question chain in CHAINS.md is walkable.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from warcio.archiveiterator import ArchiveIterator

from crawl.miniweb import ARCHIVE_PATH, SEED_URLS
from crawl.miniweb import build as mw_build
from crawl.miniweb._links import canonical, content_links, is_content_url

CHAINS_MD = ARCHIVE_PATH.with_name("CHAINS.md")
WIKI = "https://en.wikipedia.org/wiki/"
SEASON = WIKI + "2019%E2%80%9320_Marrick_Athletic_F.C._season"


@dataclass
class Rec:
    url: str
    status: int
    headers: dict[str, str]  # lower-cased names
    body: bytes
    warc: dict[str, str]

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")

    def soup(self) -> BeautifulSoup:
        return BeautifulSoup(self.body, "lxml")


@pytest.fixture(scope="module")
def archive() -> dict[str, Rec]:
    recs: dict[str, Rec] = {}
    with ARCHIVE_PATH.open("rb") as fh:
        for r in ArchiveIterator(fh):
            if r.rec_type != "response":
                continue
            url = r.rec_headers.get_header("WARC-Target-URI")
            assert url not in recs, f"duplicate record for {url}"
            recs[url] = Rec(
                url=url,
                status=int(r.http_headers.get_statuscode()),
                headers={k.lower(): v for k, v in r.http_headers.headers},
                body=r.content_stream().read(),
                warc=dict(r.rec_headers.headers),
            )
    return recs


@pytest.fixture(scope="module")
def texts(archive: dict[str, Rec]) -> dict[str, str]:
    """Visible text of every 200 response."""
    return {u: _visible_text(r) for u, r in archive.items() if r.status == 200}


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    """url -> content URLs it links to, from a fresh render of the sources."""
    return mw_build.link_graph(mw_build.collect())


def _ok(archive: dict[str, Rec], pred=lambda u: True) -> list[Rec]:
    return [r for r in archive.values() if r.status == 200 and pred(r.url)]


def _wiki_articles(archive: dict[str, Rec]) -> list[Rec]:
    """Encyclopedia articles (main namespace): not the category and portal pages."""
    return _ok(archive, lambda u: u.startswith(WIKI) and is_content_url(u))


def _visible_text(rec: Rec) -> str:
    if rec.headers["content-type"].startswith("text/html"):
        soup = rec.soup()
        for t in soup(["script", "style", "head"]):
            t.decompose()
        return " ".join(soup.get_text(" ").split())
    return rec.text


# --------------------------------------------------------------------------- the archive


def test_committed_archive_equals_fresh_build(tmp_path: Path) -> None:
    fresh = tmp_path / "miniweb.warc.gz"
    mw_build.build(fresh)
    committed = ARCHIVE_PATH.read_bytes()
    new = fresh.read_bytes()
    assert gzip.decompress(new) == gzip.decompress(committed), (
        "crawl/miniweb/miniweb.warc.gz is stale: run `python -m crawl.miniweb.build` and commit it"
    )
    if new != committed:
        # Not hiding anything: the records were compared above and are identical; only the
        # deflate bytes differ, which depends on the zlib build, not on this repo.
        pytest.skip("same records, different gzip bytes: this zlib compresses differently from the committer's")


def test_build_is_reproducible(tmp_path: Path) -> None:
    a, b = tmp_path / "a.warc.gz", tmp_path / "b.warc.gz"
    mw_build.build(a)
    mw_build.build(b)
    assert a.read_bytes() == b.read_bytes()


def test_archive_is_small() -> None:
    assert ARCHIVE_PATH.stat().st_size < 1_000_000


def test_warc_records_are_well_formed(archive: dict[str, Rec]) -> None:
    ids = set()
    for rec in archive.values():
        assert rec.url.isascii(), rec.url
        assert rec.url == canonical(rec.url), f"{rec.url} is not canonical"
        assert rec.warc["WARC-Date"] == mw_build.WARC_DATE
        ids.add(rec.warc["WARC-Record-ID"])
        assert int(rec.headers["content-length"]) == len(rec.body), rec.url
        ctype = rec.headers["content-type"]
        assert "charset=" in ctype.lower(), f"{rec.url}: {ctype}"
        assert "date" in rec.headers
        if rec.status == 200 and is_content_url(rec.url):
            assert "etag" in rec.headers and "last-modified" in rec.headers, rec.url
    assert len(ids) == len(archive)


def test_has_forty_plus_content_pages(archive: dict[str, Rec]) -> None:
    content = {r.url for r in _ok(archive, is_content_url)}
    assert len(content) >= 40
    assert len(_wiki_articles(archive)) >= 20
    assert len(_ok(archive, lambda u: u.startswith("https://arxiv.org/abs/"))) >= 10
    assert len(_ok(archive, lambda u: u.startswith(("https://github.com/", "https://api.github.com/repos/")))) >= 10


def test_seed_urls_are_archived(archive: dict[str, Rec]) -> None:
    assert set(SEED_URLS) == {"wikipedia", "arxiv", "github"}
    for source, urls in SEED_URLS.items():
        assert urls, source
        for u in urls:
            assert u in archive and archive[u].status == 200, u


def test_urls_agree_with_the_crawler_canonicalizer(archive: dict[str, Rec]) -> None:
    from crawl import urls
    for u in archive:
        assert urls.canonicalize(u) == u
    for spelling in (
        "https://en.wikipedia.org/wiki/2019–20_Marrick_Athletic_F.C._season",
        "https://en.wikipedia.org/wiki/2019%e2%80%9320_Marrick_Athletic_F.C._season",
        "https://en.wikipedia.org:443/wiki/2019%E2%80%9320_Marrick_Athletic_F.C._season#Season_summary",
    ):
        assert urls.canonicalize(spelling) == SEASON


# --------------------------------------------------------------------------- links


def test_every_wiki_article_links_three_others(archive: dict[str, Rec]) -> None:
    articles = {r.url for r in _wiki_articles(archive)}
    for rec in _wiki_articles(archive):
        body = str(rec.soup().select_one("#mw-content-text div.mw-parser-output"))
        linked = content_links(body, rec.url) & articles
        assert len(linked) >= 3, f"{rec.url} links only {sorted(linked)}"


def test_internal_links_resolve_or_are_declared_dead(archive: dict[str, Rec], graph: dict[str, set[str]]) -> None:
    dead = mw_build.dead_links()
    assert dead, "the mini-web should have some dead ends"
    assert not dead & set(archive), "a declared dead link is archived"
    linked = set().union(*graph.values())
    missing = {(src, t) for src, ts in graph.items() for t in ts if t not in archive and t not in dead}
    assert not missing
    assert dead <= linked, f"declared but never linked: {sorted(dead - linked)}"
    # the links the build inspected are the ones in the archive
    for src in graph:
        assert src in archive


def test_cross_site_links(graph: dict[str, set[str]]) -> None:
    wiki_to_arxiv = any(t.startswith("https://arxiv.org/abs/") for s, ts in graph.items() if s.startswith(WIKI) for t in ts)
    wiki_to_gh = any(t.startswith("https://github.com/") for s, ts in graph.items() if s.startswith(WIKI) for t in ts)
    gh_to_arxiv = any(t.startswith("https://arxiv.org/abs/") for s, ts in graph.items() if s.startswith("https://github.com/") for t in ts)
    arxiv_to_gh = any(t.startswith("https://github.com/") for s, ts in graph.items() if s.startswith("https://arxiv.org/") for t in ts)
    assert wiki_to_arxiv and wiki_to_gh and gh_to_arxiv and arxiv_to_gh


def test_en_dash_title_is_linked_three_ways(archive: dict[str, Rec]) -> None:
    assert SEASON in archive and archive[SEASON].status == 200
    hrefs = [a["href"] for r in _wiki_articles(archive) for a in r.soup().select("a[href]")]
    assert "/wiki/2019–20_Marrick_Athletic_F.C._season" in hrefs  # raw UTF-8
    assert "/wiki/2019%e2%80%9320_Marrick_Athletic_F.C._season" in hrefs  # lower-case escapes
    assert "/wiki/2019%E2%80%9320_Marrick_Athletic_F.C._season" in hrefs  # what MediaWiki writes
    for h in ("/wiki/2019–20_Marrick_Athletic_F.C._season", "/wiki/2019%e2%80%9320_Marrick_Athletic_F.C._season"):
        assert canonical(h, WIKI + "Marrick") == SEASON


# --------------------------------------------------------------------------- markup contracts


def test_wikipedia_article_markup(archive: dict[str, Rec]) -> None:
    for rec in _wiki_articles(archive):
        soup = rec.soup()
        assert soup.select_one("a.mw-jump-link").get_text() == "Jump to content"
        assert soup.select_one("#vector-main-menu #p-navigation")
        assert soup.select_one("a.wbc-editpage").get_text() == "Edit links"
        assert soup.select_one("footer#footer #footer-info-lastmod")
        h1 = soup.select_one("h1#firstHeading")
        po = soup.select_one("div#mw-content-text > div.mw-parser-output")
        assert h1 and po, rec.url
        title = h1.get_text(strip=True)
        box = po.select_one("table.infobox")
        assert box and len(box.select("tr > th.infobox-label + td.infobox-data")) >= 3, rec.url
        assert 2 <= len(po.select("div.mw-heading.mw-heading2 > h2")) <= 8, rec.url
        assert po.select("div.mw-heading2 > span.mw-editsection a[href*='action=edit']")
        assert po.select("sup.reference a[href^='#cite_note-']") and po.select("ol.references > li")
        assert po.select_one("div.navbox"), rec.url
        lead = po.find("p", recursive=False)
        assert lead.find("b"), f"{rec.url}: lead does not open with the bold subject"
        # prose length, without infobox, tables, navboxes and references
        for t in po.select("table, div.navbox, div.reflist, div.shortdescription"):
            t.extract()
        words = len(po.get_text(" ").split())
        assert 250 <= words <= 700, f"{title}: {words} words"


def test_arxiv_abs_markup(archive: dict[str, Rec]) -> None:
    pages = _ok(archive, lambda u: u.startswith("https://arxiv.org/abs/"))
    for rec in pages:
        soup = rec.soup()
        pid = rec.url.rsplit("/", 1)[1]
        assert soup.title.get_text().startswith(f"[{pid}] ")
        title = soup.select_one("h1.title.mathjax")
        assert title.select_one("span.descriptor").get_text() == "Title:"
        authors = soup.select("div.authors > a")
        assert authors and all("searchtype=author" in a["href"] for a in authors)
        abstract = soup.select_one("blockquote.abstract.mathjax")
        assert abstract.select_one("span.descriptor").get_text() == "Abstract:"
        assert len(abstract.get_text().split()) > 60
        assert soup.select_one("td.tablecell.subjects span.primary-subject")
        assert re.search(r"\[Submitted on \d{1,2} \w{3} \d{4}", soup.select_one("div.dateline").get_text())
        assert soup.select_one("td.tablecell.comments")
        assert soup.select_one(f'td.tablecell.arxivid a[href="https://arxiv.org/abs/{pid}"]')
        assert soup.select_one("div.submission-history")
        assert soup.select_one("header.ds-site-header") and soup.select_one("footer.ds-site-footer")


def test_arxiv_atom_feed(archive: dict[str, Rec]) -> None:
    feeds = _ok(archive, lambda u: u.startswith("https://export.arxiv.org/api/query"))
    assert len(feeds) == 1
    rec = feeds[0]
    assert rec.headers["content-type"].startswith("application/atom+xml")
    ns = {"a": "http://www.w3.org/2005/Atom", "arxiv": "http://arxiv.org/schemas/atom",
          "opensearch": "http://a9.com/-/spec/opensearch/1.1/"}
    root = ET.fromstring(rec.body)
    assert root.tag == "{http://www.w3.org/2005/Atom}feed"
    entries = root.findall("a:entry", ns)
    assert int(root.findtext("opensearch:totalResults", namespaces=ns)) == len(entries) >= 3
    for e in entries:
        m = re.fullmatch(r"http://arxiv.org/abs/(\d{4}\.\d{5})v(\d+)", e.findtext("a:id", namespaces=ns))
        abs_page = archive[f"https://arxiv.org/abs/{m.group(1)}"].soup()
        h1 = abs_page.select_one("h1.title")
        h1.select_one("span.descriptor").extract()
        assert e.findtext("a:title", namespaces=ns) == h1.get_text()
        names = [a.findtext("a:name", namespaces=ns) for a in e.findall("a:author", ns)]
        assert names == [a.get_text() for a in abs_page.select("div.authors > a")]
        primary = e.find("arxiv:primary_category", ns).get("term")
        assert f"({primary})" in abs_page.select_one("span.primary-subject").get_text()
        published = dt.datetime.strptime(e.findtext("a:published", namespaces=ns), "%Y-%m-%dT%H:%M:%SZ")
        assert f"Submitted on {published.day} {published:%b %Y}" in abs_page.select_one("div.dateline").get_text()


def _star_count(soup: BeautifulSoup) -> int:
    return int(soup.select_one("#repo-stars-counter-star")["title"].replace(",", ""))


def test_github_repo_pages_match_api_json(archive: dict[str, Rec]) -> None:
    apis = _ok(archive, lambda u: u.startswith("https://api.github.com/repos/"))
    assert len(apis) >= 5
    for api in apis:
        assert api.headers["content-type"].startswith("application/json")
        d = json.loads(api.body)
        page = archive[d["html_url"]]
        assert page.status == 200
        soup = page.soup()
        assert _star_count(soup) == d["stargazers_count"], d["full_name"]
        assert int(soup.select_one("#repo-network-counter")["title"].replace(",", "")) == d["forks_count"]
        assert soup.select_one("p.f4").get_text(strip=True) == d["description"]
        assert sorted(a.get_text(strip=True) for a in soup.select("a.topic-tag")) == d["topics"]
        assert soup.select_one("span.color-fg-default.text-bold.mr-1").get_text() == d["language"]
        assert f"{d['license']['spdx_id']} license" in page.text
        assert soup.select_one("span.author a").get_text() == d["owner"]["login"]
        assert soup.select_one("strong[itemprop=name] a").get_text() == d["name"]
        assert d["full_name"] == f"{d['owner']['login']}/{d['name']}"
        assert soup.select_one("article.markdown-body h1")
        assert d["created_at"] <= d["pushed_at"] <= "2026-11-01" and d["updated_at"] <= "2026-11-01"
        assert soup.select_one("a.show-on-focus") and soup.select_one("footer.footer")


def test_github_account_pages_list_consistent_counts(archive: dict[str, Rec]) -> None:
    stars = {json.loads(r.body)["full_name"]: json.loads(r.body)["stargazers_count"]
             for r in _ok(archive, lambda u: u.startswith("https://api.github.com/repos/"))}
    accounts = _ok(archive, lambda u: re.fullmatch(r"https://github\.com/[\w-]+", u) is not None)
    assert len(accounts) >= 2
    for rec in accounts:
        for row in rec.soup().select("li.Box-row"):
            full = row.select_one("a[itemprop~=codeRepository]")["href"].strip("/")
            if full in stars:
                assert int(row.select_one("a[href$='/stargazers']").get_text().replace(",", "")) == stars[full]


def test_pages_a_crawler_must_reject(archive: dict[str, Rec], graph: dict[str, set[str]]) -> None:
    kinds = {r.status: r for r in archive.values() if r.status != 200}
    challenge = kinds[403]
    assert "Attention Required! | Cloudflare" in challenge.text and "Ray ID" in challenge.text
    assert challenge.headers["server"] == "cloudflare" and "cf-ray" in challenge.headers
    limited = kinds[429]
    assert int(limited.headers["retry-after"]) > 0 and "Too Many Requests" in limited.text
    missing = kinds[404]
    assert missing.url.startswith(WIKI)
    assert "Wikipedia does not have an article with this exact name" in missing.text
    redirect = kinds[301]
    location = redirect.headers["location"]
    assert location.startswith("https://") and archive[location].status == 200
    # each is linked from somewhere, so a crawl meets it
    linked = set().union(*graph.values())
    for rec in (challenge, limited, missing, redirect):
        assert rec.url in linked, rec.url


def test_robots_allow_content_and_disallow_machinery(archive: dict[str, Rec]) -> None:
    import protego
    hosts = {"en.wikipedia.org", "arxiv.org", "export.arxiv.org", "github.com", "api.github.com"}
    rules = {}
    for host in hosts:
        rec = archive[f"https://{host}/robots.txt"]
        assert rec.status == 200 and rec.headers["content-type"].startswith("text/plain")
        rules[host] = protego.Protego.parse(rec.text)
    for rec in archive.values():
        if is_content_url(rec.url):
            host = rec.url.split("/")[2]
            assert rules[host].can_fetch(rec.url, "seekforge"), f"robots.txt blocks {rec.url}"
    assert not rules["en.wikipedia.org"].can_fetch("https://en.wikipedia.org/w/index.php?title=X&action=edit", "seekforge")
    assert not rules["en.wikipedia.org"].can_fetch("https://en.wikipedia.org/wiki/Special:Random", "seekforge")
    assert not rules["arxiv.org"].can_fetch("https://arxiv.org/search/cs?query=x", "seekforge")
    assert not rules["github.com"].can_fetch("https://github.com/search?q=x", "seekforge")


# --------------------------------------------------------------------------- facts


def test_people_lead_dates_match_infobox(archive: dict[str, Rec]) -> None:
    checked = 0
    for rec in _wiki_articles(archive):
        soup = rec.soup()
        bday = soup.select_one("table.infobox span.bday")
        if not bday:
            continue
        born = dt.date.fromisoformat(bday.get_text())
        lead = soup.select_one("div.mw-parser-output > p").get_text()
        assert f"(born {born.day} {born:%B %Y})" in lead, rec.url
        checked += 1
    assert checked >= 6


def test_release_history_matches_papers(archive: dict[str, Rec]) -> None:
    readme = archive["https://github.com/sorvik-institute/tidewell"].soup().select_one("article.markdown-body").get_text()
    dateline = archive["https://arxiv.org/abs/2103.08841"].soup().select_one("div.dateline").get_text()
    assert "0.1.0 (16 March 2021)" in readme and "Submitted on 16 Mar 2021" in dateline
    article = _visible_text(archive[WIKI + "Tidewell_(software)"])
    for fact in ("16 March 2021", "18 January 2022", "14 June 2023", "2 September 2026"):
        assert fact in article and fact in readme
    # papers describing 1.0 and 2.0 precede or accompany those releases
    assert "Submitted on 11 Jan 2022" in archive["https://arxiv.org/abs/2201.03390"].text
    assert "Submitted on 20 Jun 2023" in archive["https://arxiv.org/abs/2306.11802"].text


def test_shared_numbers_agree(texts: dict[str, str]) -> None:
    facts = {
        "12,480": [WIKI + "CairnQA", "https://arxiv.org/abs/2204.06632", "https://github.com/sorvik-institute/cairnqa"],
        "88.3": [WIKI + "CairnQA", "https://arxiv.org/abs/2204.06632", "https://github.com/sorvik-institute/cairnqa"],
        "41.7": [WIKI + "CairnQA", WIKI + "Tidewell_(software)", "https://arxiv.org/abs/2306.11802"],
        "2,417": [WIKI + "Kaldberg", WIKI + "Arvenland"],
        "388": [WIKI + "Velde_(river)", WIKI + "Arvenland"],
        "1642": [WIKI + "University_of_Tessholm", WIKI + "Tessholm"],
        "11 October 2004": [WIKI + "Skerry_(programming_language)", WIKI + "Rune_Ahlgren", "https://github.com/skerry-lang/skerry"],
        "431,000": [WIKI + "Marrick"],
        "71 points": [SEASON, WIKI + "Henrik_Maaske"],
    }
    for fact, urls in facts.items():
        for u in urls:
            assert fact in texts[u], f"{fact!r} missing on {u}"


# --------------------------------------------------------------------------- CHAINS.md


@dataclass
class Chain:
    key: str
    question: str
    answer: str
    hops: int
    steps: list[tuple[list[str], bool]]  # (urls on the step line, reached by search)


def _parse_chains() -> list[Chain]:
    text = CHAINS_MD.read_text(encoding="utf-8")
    chains = []
    for block in re.split(r"^### ", text, flags=re.M)[1:]:
        head, *lines = block.strip().splitlines()
        key, _, question = head.partition(". ")
        m = re.match(r"\*\*Answer:\*\* (.+?) · \*\*Hops:\*\* (\d+)$", lines[0])
        assert m, f"{key}: bad answer line {lines[0]!r}"
        steps = [
            (re.findall(r"<(https?://[^>]+)>", ln), "(by search)" in ln)
            for ln in lines[1:]
            if re.match(r"\d+\. <", ln)
        ]
        chains.append(Chain(key, question, m.group(1), int(m.group(2)), steps))
    return chains


def test_chains_are_walkable(archive: dict[str, Rec], texts: dict[str, str], graph: dict[str, set[str]]) -> None:
    chains = _parse_chains()
    assert len(chains) >= 15
    assert len({c.key for c in chains}) == len(chains)
    for c in chains:
        assert 2 <= c.hops <= 4 and len(c.steps) == c.hops, c.key
        on_path = []
        for urls, _ in c.steps:
            for u in urls:
                assert u in archive and archive[u].status == 200, f"{c.key}: {u} is not an archived page"
                on_path.append(texts[u])
        assert any(c.answer in t for t in on_path), f"{c.key}: answer {c.answer!r} appears on no page of its path"
        for (prev, _), (cur, by_search) in pairwise(c.steps):
            if not by_search:
                assert cur[0] in graph[prev[0]], f"{c.key}: {prev[0]} does not link {cur[0]}"
        assert c.answer.lower() not in c.question.lower(), f"{c.key}: the question gives the answer away"
