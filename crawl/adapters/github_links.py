"""Classify github.com / api.github.com URLs (shared by the HTML and REST adapters).

``article``: content a research agent would read: users/orgs, repositories, issues,
pull requests, discussions, releases and wiki pages. ``other``: individual files and
directories (``blob`` / ``tree``) and ``.git`` clone URLs: readable, but following them
from every repo would turn a crawl into a mirror of the code. ``navigation``: GitHub's own chrome
(login, pricing, marketplace, topics, sponsors, settings, ...) and per-repo
listing/statistics pages (stargazers, forks, pulse, commits, ...). ``api``: the
REST API. Other github-owned hosts (docs, status, raw/camo content) are
``external`` / ``other``.
"""

from __future__ import annotations

from crawl.adapters.common import url_parts
from crawl.page import LinkKind

# First path segments on github.com that are product/site pages, not users.
RESERVED_TOP = frozenset(
    {
        "", "login", "logout", "join", "signup", "session", "sessions", "password_reset", "features",
        "pricing", "marketplace", "settings", "topics", "sponsors", "about", "contact", "site",
        "security", "enterprise", "team", "customer-stories", "readme", "explore", "trending",
        "collections", "events", "notifications", "new", "search", "apps", "codespaces",
        "copilot", "solutions", "resources", "partners", "premium-support", "git-guides",
        "education", "dashboard", "account", "home", "mobile", "desktop", "why-github",
        "open-source", "achievements", "stars", "watching", "issues", "pulls", "discussions",
        "organizations", "orgs", "users", "github-copilot", "nonprofit", "professional-services",
        "enterprise-trial", "mcp", "models", "accelerator", "webhooks", "status", "shop", "blog",
        "careers", "press", "newsroom", "community", "skills", "learn", "codesearch", "gist",
        "integrations", "fluidicon.png", "favicon.ico", "manifest.json", "opensearch.xml",
        "robots.txt", "sitemap.xml", "customer", "license", "terms", "privacy", "suggestions",
    }
)
# Second-level repo paths (github.com/<owner>/<repo>/<sub>) that are content.
REPO_CONTENT = frozenset({"issues", "pull", "discussions", "wiki", "releases", "commit"})
REPO_FILES = frozenset({"blob", "tree", "raw"})
# ... of which these are only content with a further id/path (the bare list is chrome).
NEEDS_TAIL = frozenset({"issues", "pull", "discussions", "blob", "tree", "releases", "commit"})

_NAV_HOSTS = frozenset(
    {
        "docs.github.com", "support.github.com", "githubstatus.com", "www.githubstatus.com",
        "services.github.com", "skills.github.com", "resources.github.com", "partner.github.com",
        "github.blog", "education.github.com", "enterprise.github.com", "lab.github.com",
        "shop.github.com", "stars.github.com", "socialimpact.github.com", "githubuniverse.com",
        "www.githubuniverse.com", "github.community", "securitylab.github.com", "github.dev",
    }
)
_CONTENT_HOSTS = frozenset(
    {
        "raw.githubusercontent.com", "avatars.githubusercontent.com", "camo.githubusercontent.com",
        "user-images.githubusercontent.com", "objects.githubusercontent.com",
        "private-user-images.githubusercontent.com", "release-assets.githubusercontent.com",
        "codeload.github.com", "github.githubassets.com",
    }
)


def classify_github_url(url: str, *, chrome_area: bool = False) -> LinkKind:
    """Kind of a canonical URL seen on a GitHub page or in a GitHub API payload.

    ``chrome_area``: the link sits in the page header/footer/nav, where even a user
    or repo link is navigation.
    """
    host, path, query = url_parts(url)
    if not host:
        return LinkKind.OTHER
    if host == "api.github.com" or host.endswith(".api.github.com"):
        return LinkKind.API
    if host in _CONTENT_HOSTS:
        return LinkKind.OTHER
    if host in _NAV_HOSTS:
        return LinkKind.NAVIGATION
    if host not in ("github.com", "www.github.com"):
        if host == "gist.github.com":
            return LinkKind.NAVIGATION if chrome_area else LinkKind.ARTICLE
        return LinkKind.NAVIGATION if chrome_area else LinkKind.EXTERNAL
    if chrome_area:
        return LinkKind.NAVIGATION
    segs = [s for s in path.split("/") if s]
    if not segs or segs[0].lower() in RESERVED_TOP:
        return LinkKind.NAVIGATION
    if len(segs) == 1:
        return LinkKind.NAVIGATION if query else LinkKind.ARTICLE  # ?tab=repositories etc.
    if len(segs) == 2:
        return LinkKind.OTHER if segs[1].endswith(".git") else LinkKind.ARTICLE
    sub = segs[2].lower()
    if sub in REPO_FILES:
        return LinkKind.OTHER
    if sub in REPO_CONTENT and (sub not in NEEDS_TAIL or len(segs) >= 4):
        return LinkKind.ARTICLE
    return LinkKind.NAVIGATION
