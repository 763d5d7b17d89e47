"""GitHub user / organisation page (``github.com/<login>``) -> who they are + their repos.

Profiles are the hubs of GitHub's link graph (person -> repos -> papers), so the
text lists the repositories with their descriptions and the links to them are
``article`` links. Works for the user layout (``.h-card``, ``.p-name``, ``.p-note``)
and the organisation layout (``h1`` + description under it, ``#org-repositories``).
"""

from __future__ import annotations

from bs4 import Tag

from crawl.adapters.common import canon, collapse, finish, make_soup, split_url
from crawl.adapters.github_html import github_links, parse_count
from crawl.adapters.github_links import classify_github_url
from crawl.page import LinkKind, ParsedPage

SOURCE = "github"


def _text_of(el: object) -> str:
    return collapse(el.get_text(" ")) if isinstance(el, Tag) else ""


def _repos(main: Tag, page_url: str) -> list[dict[str, object]]:
    """Repositories listed on the page (pinned + lists), first mention wins."""
    repos: dict[str, dict[str, object]] = {}
    for a in main.find_all("a", href=True):
        link = canon(str(a["href"]), page_url)
        if not link:
            continue
        parts = split_url(link)
        segs = [s for s in (parts.path if parts else "").split("/") if s]
        if len(segs) != 2 or classify_github_url(link) != LinkKind.ARTICLE:
            continue
        name = "/".join(segs)
        if name in repos:
            continue
        item = a.find_parent(["li", "article"]) or a.parent
        desc_el = item.find("p", class_=lambda c: bool(c) and ("desc" in c or "color-fg-muted" in c)) if isinstance(item, Tag) else None
        # bs4's stubs have no overload for find(attrs=...) without a name.
        lang_el = (item.find(attrs={"itemprop": "programmingLanguage"})  # type: ignore[call-overload]
                   if isinstance(item, Tag) else None)
        stars = None
        if isinstance(item, Tag):
            for s in item.find_all("a", href=True):
                if str(s["href"]).endswith("/stargazers"):
                    stars = parse_count(_text_of(s))
                    break
        repos[name] = {"full_name": name, "url": link, "description": _text_of(desc_el),
                       "language": _text_of(lang_el), "stars": stars}
    return list(repos.values())


def parse_github_profile(url: str, status: int, html: str) -> ParsedPage:
    soup = make_soup(html)
    parts = split_url(url)
    login = ([s for s in (parts.path if parts else "").split("/") if s] or [""])[0]
    main = soup.find("main") or soup.body or soup
    links = github_links(soup, url)

    is_user = main.find(class_="h-card") is not None
    name = _text_of(main.find(class_="p-name")) or _text_of(main.find("h1")) or login
    bio = _text_of(main.find(class_="p-note"))
    if not bio and not is_user:
        h1 = main.find("h1")
        sib = h1.find_next_sibling("div") if isinstance(h1, Tag) else None
        bio = _text_of(sib)
    # bs4's stubs have no overload for find(attrs=...) without a name.
    location = _text_of(main.find(attrs={"itemprop": ["location", "homeLocation"]}))  # type: ignore[call-overload]
    followers = None
    for a in main.find_all("a", href=True):
        if str(a["href"]).endswith("tab=followers"):
            followers = parse_count(_text_of(a.find("span")) or None)
            break
    repos = _repos(main, url) if isinstance(main, Tag) else []

    fields: dict[str, object] = {"login": login, "name": name, "type": "User" if is_user else "Organization",
                                 "bio": bio, "repositories": repos}
    if location:
        fields["location"] = location
    if followers is not None:
        fields["followers"] = followers
    lines = [f"# {name} (@{login})" if name != login else f"# @{login}"]
    if bio:
        lines.append(bio)
    if location:
        lines.append(f"Location: {location}")
    if repos:
        lines.append("## Repositories")
        lines.append("\n".join(
            f"- {r['full_name']}" + (f": {r['description']}" if r["description"] else "")
            + (f" ({r['language']})" if r["language"] else "") for r in repos
        ))
    kind = "user" if is_user else "org"
    page = ParsedPage(url=url, source=SOURCE, kind=kind, title=name, text="\n\n".join(lines), fields=fields,
                      links=links.links)
    return finish(page, status, html=html)
