"""GitHub topic pages and repository lists -> ``kind="listing"`` (crawl roots).

Supported roots (``fields["listing"]``):

==========================================  =======================  ==============================
URL                                         listing                  items
==========================================  =======================  ==============================
``github.com/topics/<topic>``               ``github_topic``         ``article`` cards, ``h3 a``
                                                                     ``[href="/owner/repo"]``
``github.com/orgs/<org>/repositories``      ``github_repositories``  rows with a repo link in
``github.com/<user>?tab=repositories``                               ``h3`` / ``itemprop=name
                                                                     codeRepository``, or the
                                                                     React app's embedded JSON
==========================================  =======================  ==============================

Every item becomes an ``article`` link to ``https://github.com/<owner>/<repo>``;
other links are typed by :func:`crawl.adapters.github_links.classify_github_url`
(owners are ``article``, topic tags, language filters and "Load more" pagination
are navigation). REST API lists (``api.github.com/search/repositories``,
``/orgs/<o>/repos``, ``/users/<u>/repos``) are :mod:`.github_api` (``api_list``),
whose ``html_url`` links are ``article`` links too.

The organisation page renders its repository list in the browser from JSON in a
``<script data-target="react-app.embeddedData">`` block; that JSON is read when the
server-rendered rows are missing, so a plain HTTP fetch still yields the items.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from bs4 import BeautifulSoup, Tag

from crawl.adapters.common import canon, collapse, make_soup, split_url
from crawl.adapters.github_html import github_links, parse_count
from crawl.adapters.github_links import classify_github_url
from crawl.adapters.listing import ListItem, listing_page, render
from crawl.page import LinkKind, ParsedPage

SOURCE = "github"
_TOTAL = re.compile(r"Here (?:are|is)\s+([\d,.]+[kKmM]?)\s+public repositor", re.IGNORECASE)
_STARRED = re.compile(r"([\d,]+)\s+users? starred")


def _segs(url: str) -> list[str]:
    parts = split_url(url)
    return [s for s in (parts.path if parts else "").split("/") if s]


def repo_url(href: str, page_url: str) -> str | None:
    """Canonical ``https://github.com/<owner>/<repo>`` if ``href`` names a repository."""
    link = canon(href, page_url)
    if link is None or len(_segs(link)) != 2 or classify_github_url(link) != LinkKind.ARTICLE:
        return None
    return link


def _text(el: object) -> str:
    return collapse(el.get_text(" ")) if isinstance(el, Tag) else ""


def _stars(card: Tag) -> int | None:
    counter = card.find(id="repo-stars-counter-star")
    if isinstance(counter, Tag):
        for value in (counter.get("title"), counter.get_text()):
            n = parse_count(value if isinstance(value, str) else None)
            if n is not None:
                return n
    # bs4's stubs have no overload for find(attrs=...) without a name.
    for el in card.find_all(attrs={"aria-label": _STARRED}):  # type: ignore[call-overload]
        m = _STARRED.search(str(el.get("aria-label")))
        if m:
            return int(m.group(1).replace(",", ""))
    for a in card.find_all("a", href=True):
        if str(a["href"]).endswith("/stargazers"):
            n = parse_count(_text(a))
            if n is not None:
                return n
    return None


def _description(card: Tag, heading: Tag) -> str:
    # bs4's stubs have no overload for find(attrs=...) without a name.
    el = card.find(attrs={"itemprop": "description"})  # type: ignore[call-overload]
    if isinstance(el, Tag):
        return _text(el)
    for p in card.find_all("p"):
        if heading in p.parents or p is heading:
            continue
        text = _text(p)
        if text:
            return text
    return ""


def _card_item(card: Tag, heading: Tag, url: str) -> ListItem:
    full_name = "/".join(_segs(url))
    # bs4's stubs have no overload for find(attrs=...) without a name.
    lang = card.find(attrs={"itemprop": "programmingLanguage"})  # type: ignore[call-overload]
    updated = card.find("relative-time")
    extra: dict[str, Any] = {"full_name": full_name, "stars": _stars(card), "language": _text(lang),
                             "topics": [t for t in dict.fromkeys(_text(a) for a in card.select("a.topic-tag")) if t]}
    if isinstance(updated, Tag) and updated.get("datetime"):
        extra["updated_at"] = str(updated["datetime"])
    return ListItem(url, full_name, _description(card, heading), extra)


def _html_items(main: Tag, page_url: str) -> list[ListItem]:
    """Repositories rendered as HTML rows or cards: a heading (or ``codeRepository``
    anchor) whose last repository link names the item; the card is its ``article``/``li``."""
    items: list[ListItem] = []
    headings = main.find_all("h3") + main.find_all("a", attrs={"itemprop": re.compile(r"\bcodeRepository\b")})
    for heading in headings:
        anchors = [heading] if heading.name == "a" else heading.find_all("a", href=True)
        repos = [u for u in (repo_url(str(a.get("href", "")), page_url) for a in anchors) if u]
        if not repos:
            continue
        card = heading.find_parent(["article", "li"]) or heading.parent
        if isinstance(card, Tag):
            items.append(_card_item(card, heading, repos[-1]))
    return items


def _json_repos(node: Any) -> Iterator[list[dict[str, Any]]]:
    """Lists of repository-shaped dicts anywhere in the embedded JSON, outermost first."""
    stack = [node]
    while stack:
        cur = stack.pop()
        if isinstance(cur, dict):
            stack.extend(reversed(list(cur.values())))
        elif isinstance(cur, list):
            dicts = [x for x in cur if isinstance(x, dict)]
            if dicts and all(isinstance(d.get("name"), str) for d in dicts) and any(
                k in dicts[0] for k in ("owner", "starsCount", "stargazerCount", "repositoryId", "primaryLanguage")
            ):
                yield dicts
            else:
                stack.extend(reversed(cur))


def _owner(d: dict[str, Any], default: str) -> str:
    owner = d.get("owner")
    if isinstance(owner, dict):
        owner = owner.get("login")
    return owner if isinstance(owner, str) and owner else default


def _embedded_items(soup: BeautifulSoup, page_url: str, default_owner: str) -> list[ListItem]:
    items: list[ListItem] = []
    for script in soup.find_all("script", attrs={"type": "application/json"}):
        if "embeddedData" not in str(script.get("data-target", "")):
            continue
        try:
            data = json.loads(script.string or "")
        except (ValueError, RecursionError):
            continue
        for repos in _json_repos(data):
            for d in repos:
                owner = _owner(d, default_owner)
                url = repo_url(f"/{owner}/{d['name']}", page_url) if owner else None
                if url is None:
                    continue
                lang = d.get("primaryLanguage")
                stars = d.get("starsCount", d.get("stargazerCount"))
                extra: dict[str, Any] = {
                    "full_name": f"{owner}/{d['name']}", "stars": stars if isinstance(stars, int) else None,
                    "language": lang.get("name", "") if isinstance(lang, dict) else "",
                    "topics": [t for t in d.get("allTopics") or d.get("topics") or [] if isinstance(t, str)]}
                desc = d.get("description")
                items.append(ListItem(url, extra["full_name"], desc if isinstance(desc, str) else "", extra))
            if items:
                return items
    return items


def _h1(main: Tag) -> Tag | None:
    h1 = main.find("h1")
    return h1 if isinstance(h1, Tag) else None


def parse_github_topic(url: str, status: int, html: str) -> ParsedPage:
    """``github.com/topics/<topic>``: the repositories tagged with a topic."""
    soup = make_soup(html)
    main = soup.find("main") or soup.body or soup
    topic = (_segs(url) + ["", ""])[1]
    items = _html_items(main, url) if isinstance(main, Tag) else []
    h1 = _h1(main) if isinstance(main, Tag) else None
    name = _text(h1) or topic
    description = ""
    if h1 is not None:
        for p in h1.find_all_next("p", limit=3):
            text = _text(p)
            if text and not _TOTAL.search(text) and p.find_parent(["article", "li"]) is None:
                description = text
                break
    total = _TOTAL.search(_text(main))
    fields: dict[str, Any] = {"topic": topic, "name": name, "description": description}
    if total:
        fields["total_repositories"] = parse_count(total.group(1))
    of_total = f" of {fields['total_repositories']}" if "total_repositories" in fields else ""
    intro = "\n\n".join(x for x in (description, f"{len(items)} repositories listed{of_total}.") if x)
    title = f"Topic: {name}"
    text = render(title, intro, [("", items)])
    return listing_page(url, status, source=SOURCE, listing="github_topic", title=title, text=text, items=items,
                        links=github_links(soup, url).links, fields=fields, html=html)


def parse_github_repositories(url: str, status: int, html: str) -> ParsedPage:
    """``github.com/orgs/<org>/repositories`` or ``github.com/<user>?tab=repositories``."""
    soup = make_soup(html)
    main = soup.find("main") or soup.body or soup
    segs = _segs(url)
    owner = segs[1] if segs[:1] == ["orgs"] and len(segs) > 1 else (segs[0] if segs else "")
    items = _html_items(main, url) if isinstance(main, Tag) else []
    if not items:
        items = _embedded_items(soup, url, owner)
    h1 = _h1(main) if isinstance(main, Tag) else None
    name = _text(main.find(class_="p-name") if isinstance(main, Tag) else None) or _text(h1) or owner
    title = f"Repositories of {name}" if name else "Repositories"
    text = render(title, f"{len(items)} repositories listed.", [("", items)])
    return listing_page(url, status, source=SOURCE, listing="github_repositories", title=title, text=text,
                        items=items, links=github_links(soup, url).links, fields={"owner": owner, "name": name}, html=html)
