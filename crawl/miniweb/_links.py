"""Which links of the mini-web point at content pages, and canonical URL spelling.

Used by the build (to refuse sources whose links point nowhere by accident) and by
the tests. Canonical form is w3lib's ``canonicalize_url`` (upper-case percent
escapes, sorted query, no fragment), the same normalisation the crawler applies.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

from w3lib.url import canonicalize_url

MINIWEB_HOSTS = frozenset({"en.wikipedia.org", "arxiv.org", "export.arxiv.org", "github.com", "api.github.com"})

WIKI_NAMESPACES = frozenset(
    {"Special", "Talk", "Help", "Wikipedia", "Portal", "Category", "File", "Template", "User", "Draft",
     "Module", "MediaWiki", "Image"}
)
# first path segments of github.com that are site features, not accounts
GITHUB_RESERVED = frozenset(
    {"features", "solutions", "open-source", "pricing", "login", "logout", "signup", "topics", "security",
     "search", "orgs", "users", "sponsors", "settings", "about", "enterprise", "marketplace", "explore",
     "site", "contact", "collections", "trending", "readme", "team", "customer-stories", "apps"}
)


def canonical(url: str, base: str | None = None) -> str:
    return canonicalize_url(urljoin(base, url) if base else url, keep_fragments=False)


def is_content_url(url: str) -> bool:
    """True for an absolute URL that names a page of a kind the mini-web serves."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("http", "https") or host not in MINIWEB_HOSTS:
        return False
    path = parts.path
    if host == "en.wikipedia.org":
        m = re.fullmatch(r"/wiki/([^/].*)", path)
        if not m or parts.query:
            return False
        ns = m.group(1).split(":", 1)[0] if ":" in m.group(1) else ""
        return ns.replace("%20", "_") not in WIKI_NAMESPACES and not ns.endswith("_talk")
    if host == "arxiv.org":
        return bool(re.fullmatch(r"/abs/\d{4}\.\d{4,5}", path)) and not parts.query
    if host == "export.arxiv.org":
        return path == "/api/query"
    if host == "github.com":
        segs = [s for s in path.split("/") if s]
        return 1 <= len(segs) <= 2 and segs[0] not in GITHUB_RESERVED and not parts.query
    if host == "api.github.com":
        return bool(re.fullmatch(r"/repos/[^/]+/[^/]+", path))
    return False


class _HrefParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("a", "link"):
            for k, v in attrs:
                if k == "href" and v:
                    self.hrefs.append(v)


def hrefs(html_text: str) -> list[str]:
    p = _HrefParser()
    p.feed(html_text)
    return p.hrefs


def content_links(html_text: str, base: str) -> set[str]:
    """Canonical absolute URLs of the content pages a page links to (itself excluded)."""
    out = set()
    me = canonical(base)
    for h in hrefs(html_text):
        if h.startswith(("#", "mailto:", "javascript:")):
            continue
        u = canonical(h, base)
        if u != me and is_content_url(u):
            out.add(u)
    return out
