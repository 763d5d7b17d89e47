"""GitHub repository page (``github.com/<owner>/<repo>``) -> README markdown + repo facts.

``text`` is the rendered README (``article.markdown-body``) as markdown; when a repo
has no README the text is a short summary of the repo facts, so the page is judged
on those (a README-less repo with no description ends up ``near_empty``).
Stars/forks come from the counters' exact ``title`` attribute when present
("1,234"), else from their visible text ("1.2k").
"""

from __future__ import annotations

import re

from bs4 import BeautifulSoup, Tag

from crawl.adapters.common import LinkSet, anchor_ids, collapse, collect_links, finish, make_soup, split_url
from crawl.adapters.github_links import classify_github_url
from crawl.markdown import html_to_markdown
from crawl.page import ParsedPage

SOURCE = "github"
_COUNT = re.compile(r"^\s*([\d.,]+)\s*([kKmM]?)\s*$")
_META_DESC_SUFFIX = re.compile(r"\s*(?:-\s*)?Contribute to [^ ]+ development by creating an account on GitHub\.?\s*$")
_LICENSE_SUFFIX = re.compile(r"\s+license$", re.IGNORECASE)


def parse_count(text: str | None) -> int | None:
    """``"31"`` -> 31, ``"1,234"`` -> 1234, ``"1.2k"`` -> 1200, ``"3m"`` -> 3000000."""
    if not text:
        return None
    m = _COUNT.match(text)
    if not m:
        return None
    number, suffix = m.group(1).replace(",", ""), m.group(2).lower()
    try:
        value = float(number)
    except ValueError:
        return None
    value *= {"": 1, "k": 1_000, "m": 1_000_000}[suffix]
    return int(round(value))


def _counter(soup: BeautifulSoup, counter_id: str, href_suffix: str) -> int | None:
    el = soup.find(id=counter_id)
    if isinstance(el, Tag):
        for candidate in (el.get("title"), el.get_text()):
            value = parse_count(candidate if isinstance(candidate, str) else None)
            if value is not None:
                return value
    for a in soup.find_all("a", href=True):
        href = a.get("href")
        if isinstance(href, str) and href.endswith(href_suffix):
            strong = a.find(["strong", "span"], class_=lambda c: c is None or "text-bold" in c) or a.find("strong")
            if isinstance(strong, Tag):
                value = parse_count(strong.get_text())
                if value is not None:
                    return value
    return None


def _language(soup: BeautifulSoup) -> str:
    # bs4's stubs have no overload for find(attrs=...) without a name.
    el = soup.find(attrs={"itemprop": "programmingLanguage"})  # type: ignore[call-overload]
    if isinstance(el, Tag):
        return collapse(el.get_text())
    for h2 in soup.find_all("h2"):
        if collapse(h2.get_text()) == "Languages":
            cell = h2.parent
            span = cell.find("span", class_="text-bold") if isinstance(cell, Tag) else None
            if isinstance(span, Tag):
                return collapse(span.get_text())
    return ""


def _license(soup: BeautifulSoup) -> str:
    for svg in soup.find_all("svg", class_="octicon-law"):
        a = svg.find_parent("a")
        if isinstance(a, Tag):
            text = _LICENSE_SUFFIX.sub("", collapse(a.get_text()))
            if text:
                return text
    return ""


def _description(soup: BeautifulSoup) -> str:
    for h2 in soup.find_all("h2"):
        if collapse(h2.get_text()) == "About":
            p = h2.find_next_sibling("p")
            if isinstance(p, Tag):
                return collapse(p.get_text())
            break
    meta = soup.find("meta", attrs={"name": "description"})
    content = meta.get("content") if isinstance(meta, Tag) else None
    if isinstance(content, str):
        return _META_DESC_SUFFIX.sub("", collapse(content))
    return ""


def _chrome_ids(soup: BeautifulSoup) -> set[int]:
    """ids of links in the site header, footer and nav bars."""
    out: set[int] = set()
    for el in soup.find_all(["header", "footer", "nav"]):
        out.update(anchor_ids(el))
    for el in soup.find_all(class_=["Header", "footer", "js-header-wrapper", "AppHeader"]):
        out.update(anchor_ids(el))
    return out


def github_links(soup: BeautifulSoup, url: str) -> LinkSet:
    """The links of a github.com page, typed by :func:`classify_github_url` (site chrome apart)."""
    chrome = _chrome_ids(soup)
    return collect_links(soup, url, lambda link, a: classify_github_url(link, chrome_area=id(a) in chrome))


def full_name_from_url(url: str) -> str:
    parts = split_url(url)
    segs = [s for s in (parts.path if parts else "").split("/") if s]
    return "/".join(segs[:2]) if len(segs) >= 2 else ""


def parse_github_repo(url: str, status: int, html: str) -> ParsedPage:
    """Parse a repository landing page."""
    soup = make_soup(html)
    full_name = full_name_from_url(url)

    links = github_links(soup, url)

    readme = soup.find("article", class_="markdown-body")
    description = _description(soup)
    stars = _counter(soup, "repo-stars-counter-star", "/stargazers")
    forks = _counter(soup, "repo-network-counter", "/network/members")
    if forks is None:
        forks = _counter(soup, "repo-forks-counter", "/forks")
    topics = [collapse(t.get_text()) for t in soup.find_all("a", class_="topic-tag")]
    fields: dict[str, object] = {
        "full_name": full_name,
        "description": description,
        "stars": stars,
        "topics": [t for t in dict.fromkeys(topics) if t],
    }
    if forks is not None:
        fields["forks"] = forks
    language = _language(soup)
    if language:
        fields["language"] = language
    license_name = _license(soup)
    if license_name:
        fields["license"] = license_name
    grid = soup.find(class_="BorderGrid")
    home = grid.find("a", attrs={"role": "link"}, href=True) if isinstance(grid, Tag) else None
    if isinstance(home, Tag) and isinstance(home.get("href"), str):
        fields["homepage"] = home["href"]

    if isinstance(readme, Tag):
        for anchor in readme.find_all("a", class_="anchor"):  # heading permalink icons
            anchor.decompose()
        text = html_to_markdown(readme)
        fields["has_readme"] = True
    else:
        fields["has_readme"] = False
        summary = [f"# {full_name}"] if full_name else []
        if description:
            summary.append(description)
        text = "\n\n".join(summary)
    title = full_name or collapse(soup.title.get_text() if soup.title else "")
    page = ParsedPage(url=url, source=SOURCE, kind="repo", title=title, text=text, fields=fields, links=links.links)
    return finish(page, status, html=html)
