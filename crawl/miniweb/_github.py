"""GitHub repository / user / organisation pages and REST API JSON, from ``site/github.yaml``.

Repository pages keep the parts of github.com's markup that carry data: the
``#repository-container-header`` (owner link, name, ``#repo-network-counter`` and
``#repo-stars-counter-star`` whose ``title`` is the exact count), the sidebar "About"
cell (``p.f4`` description, homepage, ``a.topic-tag`` topics, license, stars /
watchers / forks), the Languages cell, and the README in ``article.markdown-body``;
plus the logged-out header and the footer. The API JSON uses the REST v3 field names
and order of ``GET /repos/{owner}/{repo}`` for an unauthenticated caller. Topic pages
(``/topics/<name>``, crawl roots) list the repositories tagged with the topic as
github.com does: one ``article`` card per repository with the owner and repository
links in its ``h3``, the star counter, description, topic tags and language.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass, field
from html import escape
from pathlib import Path

from ._markup import render_markdown

WEB = "https://github.com"
API = "https://api.github.com"

LANG_COLORS = {"Python": "#3572A5", "Rust": "#dea584", "Go": "#00ADD8", "Shell": "#89e051",
               "Jupyter Notebook": "#DA5B0B", "TypeScript": "#3178c6", "Other": "#ededed"}


@dataclass
class Account:
    login: str
    id: int
    type: str  # "User" | "Organization"
    name: str
    bio: str
    location: str = ""
    blog: str = ""
    company: str = ""
    followers: int = 0
    following: int = 0
    created_at: str = ""
    pinned: list[str] = field(default_factory=list)  # full names
    extra_repos: list[dict] = field(default_factory=list)  # listed repos without pages (dead ends)

    @property
    def url(self) -> str:
        return f"{WEB}/{self.login}"


@dataclass
class Repo:
    full_name: str
    id: int
    description: str
    language: str
    languages: dict[str, float]
    license: dict[str, str]
    topics: list[str]
    stars: int
    forks: int
    watchers: int  # subscribers ("watching")
    open_issues: int
    open_prs: int
    created_at: str
    updated_at: str
    pushed_at: str
    size: int
    releases: int
    latest_release: dict[str, str]
    contributors: int
    commits: int
    branches: int
    tags: int
    files: list[str]
    readme: str  # markdown-lite source
    homepage: str = ""
    default_branch: str = "main"

    @property
    def owner(self) -> str:
        return self.full_name.split("/")[0]

    @property
    def name(self) -> str:
        return self.full_name.split("/")[1]

    @property
    def url(self) -> str:
        return f"{WEB}/{self.full_name}"

    @property
    def api_url(self) -> str:
        return f"{API}/repos/{self.full_name}"


def load(data: dict, readme_dir: Path) -> tuple[list[Account], list[Repo]]:
    accounts = [Account(**a) for a in data["accounts"]]
    repos = []
    for r in data["repos"]:
        r = dict(r)
        r["readme"] = (readme_dir / r.pop("readme_file")).read_text(encoding="utf-8")
        repos.append(Repo(**r))
    return accounts, repos


def short_count(n: int) -> str:
    """How github.com abbreviates a counter: 987, 2.3k, 12.4k."""
    if n < 1000:
        return str(n)
    k = n / 1000
    return f"{k:.1f}k".replace(".0k", "k")


def _node_id(prefix: str, n: int) -> str:
    return prefix + base64.b64encode(hashlib.sha1(str(n).encode()).digest()[:9]).decode().rstrip("=")


def _head(title: str, description: str, canonical: str) -> str:
    return f"""<!DOCTYPE html>
<html lang="en" data-color-mode="auto" data-light-theme="light" data-dark-theme="dark">
<head>
<meta charset="utf-8">
<title>{escape(title)}</title>
<!-- seekforge mini-web: fictional page written for offline tests; see crawl/miniweb/README.md -->
<meta name="viewport" content="width=device-width">
<meta name="description" content="{escape(description)}">
<meta property="og:site_name" content="GitHub">
<meta property="og:type" content="object">
<meta property="og:title" content="{escape(title)}">
<meta property="og:url" content="{escape(canonical)}">
<meta property="og:description" content="{escape(description)}">
<link rel="canonical" href="{escape(canonical)}" data-turbo-transient>
</head>
<body class="logged-out env-production page-responsive" style="word-wrap: break-word;">
<div data-turbo-body class="logged-out env-production page-responsive">
<div class="position-relative header-wrapper js-header-wrapper">
<a href="#start-of-content" data-skip-target-assigned="false" class="px-2 py-4 color-bg-accent-emphasis color-fg-on-emphasis show-on-focus js-skip-to-content">Skip to content</a>
<header class="HeaderMktg header-logged-out js-details-container js-header Details f4 py-3" role="banner" data-color-mode="light">
<div class="container-xl position-relative d-flex flex-items-center flex-lg-justify-between">
<a class="mr-lg-3 color-fg-inherit flex-order-2 js-prevent-focus-on-mobile-nav" href="/" aria-label="Homepage">GitHub</a>
<nav class="HeaderMenu-nav" aria-label="Global">
<ul class="d-flex list-style-none">
<li class="HeaderMenu-item"><a class="HeaderMenu-link no-underline" href="/features">Product</a></li>
<li class="HeaderMenu-item"><a class="HeaderMenu-link no-underline" href="/solutions">Solutions</a></li>
<li class="HeaderMenu-item"><a class="HeaderMenu-link no-underline" href="/open-source">Open Source</a></li>
<li class="HeaderMenu-item"><a class="HeaderMenu-link no-underline" href="/pricing">Pricing</a></li>
</ul>
</nav>
<div class="d-flex flex-items-center">
<qbsearch-input class="search-input" data-scope="" data-custom-scopes-path="/search/custom_scopes"><button type="button" class="header-search-button placeholder input-button form-control">Search or jump to...</button></qbsearch-input>
<a href="/login" class="HeaderMenu-link HeaderMenu-link--sign-in HeaderMenu-button flex-shrink-0 no-underline d-none d-lg-inline-flex border border-lg-0 rounded px-2 py-1">Sign in</a>
<a href="/signup?ref_cta=Sign+up&amp;ref_loc=header+logged+out" class="HeaderMenu-link HeaderMenu-link--sign-up HeaderMenu-button flex-shrink-0 d-flex d-lg-inline-flex no-underline border color-border-default rounded px-2 py-1">Sign up</a>
</div>
</div>
</header>
</div>
<div id="start-of-content" class="show-on-focus"></div>
<div id="js-flash-container" class="flash-container" data-turbo-replace></div>
<div class="application-main" data-commit-hovercards-enabled data-discussion-hovercards-enabled data-issue-and-pr-hovercards-enabled data-project-hovercards-enabled>
"""


_FOOTER = """</div>
<footer class="footer pt-8 pb-6 f6 color-fg-muted p-responsive" role="contentinfo">
<h2 class="sr-only">Footer</h2>
<div class="d-flex flex-justify-center flex-items-center flex-column-reverse flex-lg-row flex-wrap flex-lg-nowrap">
<div class="d-flex flex-items-center flex-shrink-0 mx-2"><a aria-label="GitHub Homepage" class="footer-octicon mr-2" href="https://github.com">GitHub</a><span>&copy; 2026 GitHub,&nbsp;Inc.</span></div>
<nav aria-label="Footer">
<h3 class="sr-only" id="sr-footer-heading">Footer navigation</h3>
<ul class="list-style-none d-flex flex-justify-center flex-wrap mb-2 mb-lg-0" aria-labelledby="sr-footer-heading">
<li class="mx-2"><a href="https://docs.github.com/site-policy/github-terms/github-terms-of-service" class="Link--secondary Link">Terms</a></li>
<li class="mx-2"><a href="https://docs.github.com/site-policy/privacy-policies/github-privacy-statement" class="Link--secondary Link">Privacy</a></li>
<li class="mx-2"><a href="https://github.com/security" class="Link--secondary Link">Security</a></li>
<li class="mx-2"><a href="https://www.githubstatus.com/" class="Link--secondary Link">Status</a></li>
<li class="mx-2"><a href="https://docs.github.com/" class="Link--secondary Link">Docs</a></li>
<li class="mx-2"><a href="https://support.github.com?tags=dotcom-footer" class="Link--secondary Link">Contact</a></li>
<li class="mx-2"><a href="https://github.com/pricing" class="Link--secondary Link">Pricing</a></li>
</ul>
</nav>
</div>
</footer>
</div>
</body>
</html>
"""


def _repo_header(r: Repo, owner_type: str) -> str:
    hovercard = "organization" if owner_type == "Organization" else "user"
    hc_url = f"/orgs/{r.owner}/hovercard" if owner_type == "Organization" else f"/users/{r.owner}/hovercard"
    return f"""<div id="repository-container-header" class="pt-3 hide-full-screen" style="background-color: var(--page-header-bgColor, var(--color-page-header-bg));" data-turbo-replace>
<div class="d-flex flex-nowrap flex-justify-end mb-3 px-3 px-lg-5" style="gap: 1rem;">
<div class="flex-auto min-width-0 width-fit">
<div class="d-flex flex-wrap flex-items-center wb-break-word f3 text-normal">
<span class="author flex-self-stretch" itemprop="author"><a class="url fn" rel="author" data-hovercard-type="{hovercard}" data-hovercard-url="{hc_url}" href="/{r.owner}">{escape(r.owner)}</a></span>
<span class="mx-1 flex-self-stretch color-fg-muted">/</span>
<strong itemprop="name" class="mr-2 flex-self-stretch"><a data-pjax="#repo-content-pjax-container" data-turbo-frame="repo-content-turbo-frame" href="/{r.full_name}">{escape(r.name)}</a></strong>
<span></span><span class="Label Label--secondary v-align-middle mr-1">Public</span>
</div>
</div>
<div id="repository-details-container" class="flex-shrink-0" data-turbo-replace style="max-width: 70%;">
<ul class="pagehead-actions flex-shrink-0 d-none d-md-inline" style="padding: 2px 0;">
<li><a href="/login?return_to=%2F{r.owner}%2F{r.name}" rel="nofollow" aria-label="Sign in to change notifications" class="btn-sm btn">Notifications</a></li>
<li><a icon="repo-forked" id="fork-button" href="/login?return_to=%2F{r.owner}%2F{r.name}" rel="nofollow" aria-label="Sign in to fork this repository" class="btn-sm btn">Fork <span id="repo-network-counter" data-pjax-replace="true" data-turbo-replace="true" title="{r.forks:,}" data-view-component="true" class="Counter">{short_count(r.forks)}</span></a></li>
<li><div data-view-component="true" class="BtnGroup d-flex"><a href="/login?return_to=%2F{r.owner}%2F{r.name}" rel="nofollow" aria-label="Sign in to star this repository" class="tooltipped tooltipped-sw btn-sm btn"><span data-view-component="true" class="d-inline">Star</span> <span id="repo-stars-counter-star" aria-label="{r.stars} users starred this repository" data-singular-suffix="user starred this repository" data-plural-suffix="users starred this repository" data-turbo-replace="true" title="{r.stars:,}" data-view-component="true" class="Counter js-social-count">{short_count(r.stars)}</span></a></div></li>
</ul>
</div>
</div>
<nav data-pjax="#js-repo-pjax-container" aria-label="Repository" data-view-component="true" class="js-repo-nav js-sidenav-container-pjax js-responsive-underlinenav overflow-hidden UnderlineNav px-3 px-md-4 px-lg-5">
<ul data-view-component="true" class="UnderlineNav-body list-style-none">
<li data-view-component="true" class="d-inline-flex"><a id="code-tab" href="/{r.full_name}" data-tab-item="i0code-tab" aria-current="page" class="UnderlineNav-item no-wrap js-responsive-underlinenav-item js-selected-navigation-item selected"><span data-content="Code">Code</span></a></li>
<li data-view-component="true" class="d-inline-flex"><a id="issues-tab" href="/{r.full_name}/issues" data-tab-item="i1issues-tab" class="UnderlineNav-item no-wrap js-responsive-underlinenav-item js-selected-navigation-item"><span data-content="Issues">Issues</span> <span id="issues-repo-tab-count" title="{r.open_issues}" class="Counter">{r.open_issues}</span></a></li>
<li data-view-component="true" class="d-inline-flex"><a id="pull-requests-tab" href="/{r.full_name}/pulls" data-tab-item="i2pull-requests-tab" class="UnderlineNav-item no-wrap js-responsive-underlinenav-item js-selected-navigation-item"><span data-content="Pull requests">Pull requests</span> <span id="pull-requests-repo-tab-count" title="{r.open_prs}" class="Counter">{r.open_prs}</span></a></li>
<li data-view-component="true" class="d-inline-flex"><a id="actions-tab" href="/{r.full_name}/actions" data-tab-item="i3actions-tab" class="UnderlineNav-item no-wrap js-responsive-underlinenav-item js-selected-navigation-item"><span data-content="Actions">Actions</span></a></li>
<li data-view-component="true" class="d-inline-flex"><a id="security-tab" href="/{r.full_name}/security" data-tab-item="i4security-tab" class="UnderlineNav-item no-wrap js-responsive-underlinenav-item js-selected-navigation-item"><span data-content="Security">Security</span></a></li>
<li data-view-component="true" class="d-inline-flex"><a id="insights-tab" href="/{r.full_name}/pulse" data-tab-item="i5insights-tab" class="UnderlineNav-item no-wrap js-responsive-underlinenav-item js-selected-navigation-item"><span data-content="Insights">Insights</span></a></li>
</ul>
</nav>
</div>"""


def _about(r: Repo) -> str:
    topics = "\n".join(
        f'<a href="/topics/{t}" title="Topic: {t}" data-view-component="true" class="topic-tag topic-tag-link">\n  {t}\n</a>'
        for t in r.topics
    )
    homepage = (
        f'<div class="my-3 d-flex flex-items-center"><span class="flex-auto min-width-0 css-truncate css-truncate-target width-fit">'
        f'<a title="{escape(r.homepage)}" role="link" target="_blank" rel="noopener noreferrer nofollow" class="text-bold" '
        f'href="{escape(r.homepage)}">{escape(r.homepage.split("://", 1)[-1])}</a></span></div>'
        if r.homepage
        else ""
    )
    spdx = r.license["spdx_id"]
    return f"""<div class="BorderGrid-cell">
<h2 class="mb-3 h4">About</h2>
<p class="f4 my-3">
      {escape(r.description)}
    </p>
{homepage}
<h3 class="sr-only">Topics</h3>
<div class="my-3"><div class="f6">
{topics}
</div></div>
<h3 class="sr-only">Resources</h3>
<div class="mt-2"><a class="Link--muted" href="#readme-ov-file">Readme</a></div>
<h3 class="sr-only">License</h3>
<div class="mt-2"><a href="#{spdx.lower()}-1-ov-file" class="Link--muted">{escape(spdx)} license</a></div>
<div class="mt-2"><a href="/{r.full_name}/activity" data-view-component="true" class="Link Link--muted"><span class="color-fg-muted">Activity</span></a></div>
<h3 class="sr-only">Stars</h3>
<div class="mt-2"><a href="/{r.full_name}/stargazers" data-view-component="true" class="Link Link--muted"><strong>{short_count(r.stars)}</strong> stars</a></div>
<h3 class="sr-only">Watchers</h3>
<div class="mt-2"><a href="/{r.full_name}/watchers" data-view-component="true" class="Link Link--muted"><strong>{r.watchers}</strong> watching</a></div>
<h3 class="sr-only">Forks</h3>
<div class="mt-2"><a href="/{r.full_name}/forks" data-view-component="true" class="Link Link--muted"><strong>{short_count(r.forks)}</strong> forks</a></div>
</div>"""


def _languages(r: Repo) -> str:
    bars = "".join(
        f'<span style="background-color:{LANG_COLORS.get(k, "#ededed")} !important;;width: {v}%;" itemprop="keywords" '
        f'aria-label="{k} {v}" data-view-component="true" class="Progress-item color-bg-success-emphasis"></span>'
        for k, v in r.languages.items()
    )
    items = "\n".join(
        f'<li class="d-inline"><a class="d-inline-flex flex-items-center flex-nowrap Link--secondary no-underline text-small mr-3" '
        f'href="/{r.full_name}/search?l={k.lower().replace(" ", "-")}"><span class="color-fg-default text-bold mr-1">{escape(k)}</span>'
        f"<span>{v}%</span></a></li>"
        if k != "Other"
        else f'<li class="d-inline"><span class="d-inline-flex flex-items-center flex-nowrap text-small mr-3">'
        f'<span class="color-fg-default text-bold mr-1">Other</span><span>{v}%</span></span></li>'
        for k, v in r.languages.items()
    )
    return f"""<div class="BorderGrid-cell">
<h2 class="h4 mb-3">Languages</h2>
<div class="mb-2"><span data-view-component="true" class="Progress">{bars}</span></div>
<ul class="list-style-none">
{items}
</ul>
</div>"""


def render_repo(r: Repo, owner_type: str) -> str:
    title = f"GitHub - {r.full_name}: {r.description}"
    desc = f"{r.description} Sign up to contribute to {r.full_name} on GitHub."
    rel = r.latest_release
    files = "\n".join(
        f'<tr class="react-directory-row"><td class="react-directory-row-name-cell-large-screen">'
        f'<a title="{escape(f.rstrip("/"))}" class="Link--primary" '
        f'href="/{r.full_name}/{"tree" if f.endswith("/") else "blob"}/{r.default_branch}/{escape(f.rstrip("/"))}">'
        f"{escape(f.rstrip('/'))}</a></td></tr>"
        for f in r.files
    )
    return (
        _head(title, desc, r.url)
        + f"""<main id="js-repo-pjax-container">
{_repo_header(r, owner_type)}
<turbo-frame id="repo-content-turbo-frame" target="_top" data-turbo-action="advance" class="">
<div id="repo-content-pjax-container" class="repository-content">
<h1 class="sr-only">{escape(r.full_name)}</h1>
<div class="clearfix container-xl px-md-4 px-lg-5 px-3">
<div data-view-component="true" class="Layout Layout--flowRow-until-md react-repos-overview-margin Layout--sidebarPosition-end Layout--sidebarPosition-flowRow-end">
<div data-view-component="true" class="Layout-main">
<div class="file-navigation d-flex">
<a class="Link--secondary" href="/{r.full_name}/branches"><strong>{r.branches}</strong> Branches</a>
<a class="Link--secondary ml-3" href="/{r.full_name}/tags"><strong>{r.tags}</strong> Tags</a>
<a class="Link--secondary ml-auto" href="/{r.full_name}/commits/{r.default_branch}/"><strong>{r.commits:,}</strong> Commits</a>
</div>
<h2 class="sr-only" id="folders-and-files">Folders and files</h2>
<table aria-labelledby="folders-and-files" class="Table-module__Box">
<tbody>
{files}
</tbody>
</table>
<div id="readme" class="Box md js-code-block-container js-code-nav-container js-tagsearch-file Box--responsive" data-tagsearch-path="README.md" data-tagsearch-lang="Markdown">
<div class="d-flex js-sticky js-position-sticky top-0 border-top-0 border-bottom p-2 flex-items-center flex-justify-between color-bg-default rounded-top-2"><h2 class="Box-title"><a href="#readme" class="Link--primary">README</a></h2></div>
<div data-target="readme-toc.content" class="Box-body px-5 pb-5">
<article class="markdown-body entry-content container-lg" itemprop="text">{render_markdown(r.readme)}</article>
</div>
</div>
</div>
<div data-view-component="true" class="Layout-sidebar">
<div class="BorderGrid about-margin" data-pjax>
<div class="BorderGrid-row">
{_about(r)}
</div>
<div class="BorderGrid-row">
<div class="BorderGrid-cell">
<h2 class="h4 mb-3"><a href="/{r.full_name}/releases" data-view-component="true" class="Link--primary no-underline Link">Releases <span title="{r.releases}" data-view-component="true" class="Counter">{r.releases}</span></a></h2>
<a class="Link--primary d-flex no-underline" href="/{r.full_name}/releases/tag/{rel['tag']}"><div class="ml-2 min-width-0"><div class="d-flex"><span class="css-truncate css-truncate-target text-bold mr-2" style="max-width: none;">{escape(rel['name'])}</span><span title="Label: Latest" data-view-component="true" class="Label Label--success flex-shrink-0">Latest</span></div><div class="text-small color-fg-muted"><relative-time datetime="{rel['date']}T10:00:00Z" class="no-wrap">{rel['date']}</relative-time></div></div></a>
</div>
</div>
<div class="BorderGrid-row">
<div class="BorderGrid-cell">
<h2 class="h4 mb-3"><a href="/{r.full_name}/graphs/contributors" data-view-component="true" class="Link--primary no-underline Link">Contributors <span title="{r.contributors}" data-view-component="true" class="Counter">{r.contributors}</span></a></h2>
</div>
</div>
<div class="BorderGrid-row">
{_languages(r)}
</div>
</div>
</div>
</div>
</div>
</div>
</turbo-frame>
</main>
"""
        + _FOOTER
    )


def _repo_row(full_name: str, description: str, language: str, stars: int, updated: str) -> str:
    owner, name = full_name.split("/")
    return f"""<li class="Box-row">
<div class="d-flex flex-justify-between">
<div class="flex-auto">
<h3 class="wb-break-all"><a href="/{full_name}" itemprop="name codeRepository" data-hovercard-type="repository" data-hovercard-url="/{full_name}/hovercard">{escape(name)}</a>
<span class="Label Label--secondary v-align-middle ml-1 mb-1">Public</span></h3>
<p class="color-fg-muted mb-0 wb-break-word" itemprop="description">{escape(description)}</p>
<div class="f6 color-fg-muted mt-2">
<span class="ml-0 mr-3"><span class="repo-language-color" style="background-color: {LANG_COLORS.get(language, "#ededed")}"></span> <span itemprop="programmingLanguage">{escape(language)}</span></span>
<a class="Link--muted mr-3" href="/{full_name}/stargazers">{stars:,}</a>
Updated <relative-time datetime="{updated}" class="no-wrap">{updated[:10]}</relative-time>
</div>
</div>
</div>
</li>"""


def render_account(acc: Account, repos: list[Repo]) -> str:
    own = [r for r in repos if r.owner == acc.login]
    by_name = {r.full_name: r for r in repos}
    rows = [_repo_row(r.full_name, r.description, r.language, r.stars, r.pushed_at) for r in own]
    rows += [
        _repo_row(x["full_name"], x["description"], x["language"], x["stars"], x["updated"]) for x in acc.extra_repos
    ]
    pinned = []
    for full in acc.pinned:
        r = by_name[full]
        owner_span = f'<span class="owner text-normal">{escape(r.owner)}/</span>' if r.owner != acc.login else ""
        pinned.append(
            f"""<li class="mb-3 d-flex flex-content-stretch col-12 col-md-6 col-lg-6">
<div class="Box d-flex pinned-item-list-item p-3 width-full public source">
<div class="pinned-item-list-item-content">
<div class="d-flex width-full position-relative flex-items-center"><a href="/{r.full_name}" class="Link mr-1 text-bold wb-break-word" data-hydro-click-hmac="">{owner_span}<span class="repo">{escape(r.name)}</span></a></div>
<p class="pinned-item-desc color-fg-muted text-small mt-2 mb-0">{escape(r.description)}</p>
<p class="mb-0 f6 color-fg-muted"><span class="d-inline-block mr-3"><span itemprop="programmingLanguage">{escape(r.language)}</span></span>
<a href="/{r.full_name}/stargazers" class="pinned-item-meta Link--muted">{short_count(r.stars)}</a>
<a href="/{r.full_name}/forks" class="pinned-item-meta Link--muted">{short_count(r.forks)}</a></p>
</div></div></li>"""
        )
    pinned_html = (
        '<div class="js-pinned-items-reorder-container"><h2 class="f4 mb-2 text-normal">Pinned</h2>'
        '<ol class="d-flex flex-wrap list-style-none gutter-condensed mb-2 js-pinned-items-reorder-list">'
        + "\n".join(pinned)
        + "</ol></div>"
        if pinned
        else ""
    )
    if acc.type == "Organization":
        title = f"{acc.name} · GitHub"
        profile = f"""<div class="container-xl px-3 px-md-4 px-lg-5">
<div class="d-flex flex-wrap flex-items-start flex-md-items-center my-3">
<img itemprop="image" class="avatar flex-shrink-0 mb-3 mr-3 mb-md-0 mr-md-4" src="https://avatars.githubusercontent.com/u/{acc.id}?s=200&amp;v=4" width="100" height="100" alt="@{acc.login}">
<div class="flex-1">
<h1 class="h2 lh-condensed">{escape(acc.name)}</h1>
<div class="color-fg-muted"><div>{escape(acc.bio)}</div></div>
<div class="d-md-flex flex-items-center mt-2">
<div class="d-flex flex-items-center mr-3"><span itemprop="location">{escape(acc.location)}</span></div>
<div class="d-flex flex-items-center mr-3"><a class="color-fg-default" rel="nofollow me" itemprop="url" href="{escape(acc.blog)}">{escape(acc.blog.split("://", 1)[-1])}</a></div>
</div>
</div>
</div>
</div>
<div class="container-xl px-3 px-md-4 px-lg-5">
{pinned_html}
<div id="org-repositories">
<h2 class="f4 text-normal mb-2">Repositories</h2>
<ul data-filterable-for="your-repos-filter" class="org-repos repo-list Box">
{chr(10).join(rows)}
</ul>
</div>
</div>"""
    else:
        title = f"{acc.login} ({acc.name}) · GitHub"
        company = (
            f'<li class="vcard-detail pt-1" itemprop="worksFor" aria-label="Organization: {escape(acc.company)}">'
            f'<span class="p-org"><div><a class="user-mention notranslate" href="/{escape(acc.company.lstrip("@"))}">'
            f"{escape(acc.company)}</a></div></span></li>"
            if acc.company
            else ""
        )
        profile = f"""<div class="container-xl px-3 px-md-4 px-lg-5">
<div class="Layout Layout--flowRow-until-md Layout--sidebarPosition-start Layout--sidebarPosition-flowRow-start">
<div class="Layout-sidebar">
<div class="h-card mt-md-n5" itemscope itemtype="http://schema.org/Person">
<img style="height:auto;" alt="View {acc.login}'s full-sized avatar" src="https://avatars.githubusercontent.com/u/{acc.id}?v=4" width="260" height="260" class="avatar avatar-user width-full border color-bg-default">
<h1 class="vcard-names">
<span class="p-name vcard-fullname d-block overflow-hidden" itemprop="name">{escape(acc.name)}</span>
<span class="p-nickname vcard-username d-block" itemprop="additionalName">{escape(acc.login)}</span>
</h1>
<div class="p-note user-profile-bio mb-3 js-user-profile-bio f4" data-bio-text="{escape(acc.bio)}"><div>{escape(acc.bio)}</div></div>
<div class="flex-order-1 flex-md-order-none mt-2 mt-md-0"><div class="mb-3">
<a class="Link--secondary no-underline no-wrap" href="https://github.com/{acc.login}?tab=followers"><span class="text-bold color-fg-default">{acc.followers}</span> followers</a> &middot;
<a class="Link--secondary no-underline no-wrap" href="https://github.com/{acc.login}?tab=following"><span class="text-bold color-fg-default">{acc.following}</span> following</a>
</div></div>
<ul class="vcard-details">
{company}
<li class="vcard-detail pt-1" itemprop="homeLocation" show_title="false" aria-label="Home location: {escape(acc.location)}"><span class="p-label">{escape(acc.location)}</span></li>
<li itemprop="url" data-test-selector="profile-website-url" class="vcard-detail pt-1"><a rel="nofollow me" class="Link--primary" href="{escape(acc.blog)}">{escape(acc.blog.split("://", 1)[-1])}</a></li>
</ul>
</div>
</div>
<div class="Layout-main">
{pinned_html}
<div id="user-repositories-list">
<h2 class="f4 text-normal mb-2">Popular repositories</h2>
<ul data-filterable-for="your-repos-filter" class="repo-list Box">
{chr(10).join(rows)}
</ul>
</div>
</div>
</div>
</div>"""
    desc = f"{acc.name}: {len(own) + len(acc.extra_repos)} public repositories on GitHub."
    return _head(title, desc, acc.url) + f'<main id="js-pjax-container">\n{profile}\n</main>\n' + _FOOTER


def _owner_json(acc: Account) -> dict:
    u = f"{API}/users/{acc.login}"
    return {
        "login": acc.login,
        "id": acc.id,
        "node_id": _node_id("O_kgDO" if acc.type == "Organization" else "U_kgDO", acc.id),
        "avatar_url": f"https://avatars.githubusercontent.com/u/{acc.id}?v=4",
        "gravatar_id": "",
        "url": u,
        "html_url": f"{WEB}/{acc.login}",
        "followers_url": f"{u}/followers",
        "following_url": f"{u}/following{{/other_user}}",
        "gists_url": f"{u}/gists{{/gist_id}}",
        "starred_url": f"{u}/starred{{/owner}}{{/repo}}",
        "subscriptions_url": f"{u}/subscriptions",
        "organizations_url": f"{u}/orgs",
        "repos_url": f"{u}/repos",
        "events_url": f"{u}/events{{/privacy}}",
        "received_events_url": f"{u}/received_events",
        "type": acc.type,
        "user_view_type": "public",
        "site_admin": False,
    }


def render_api(r: Repo, owner: Account) -> str:
    a = r.api_url
    d: dict = {
        "id": r.id,
        "node_id": _node_id("R_kgDO", r.id),
        "name": r.name,
        "full_name": r.full_name,
        "private": False,
        "owner": _owner_json(owner),
        "html_url": r.url,
        "description": r.description,
        "fork": False,
        "url": a,
    }
    for key, suffix in [
        ("forks_url", "/forks"), ("keys_url", "/keys{/key_id}"),
        ("collaborators_url", "/collaborators{/collaborator}"), ("teams_url", "/teams"),
        ("hooks_url", "/hooks"), ("issue_events_url", "/issues/events{/number}"), ("events_url", "/events"),
        ("assignees_url", "/assignees{/user}"), ("branches_url", "/branches{/branch}"), ("tags_url", "/tags"),
        ("blobs_url", "/git/blobs{/sha}"), ("git_tags_url", "/git/tags{/sha}"), ("git_refs_url", "/git/refs{/sha}"),
        ("trees_url", "/git/trees{/sha}"), ("statuses_url", "/statuses/{sha}"), ("languages_url", "/languages"),
        ("stargazers_url", "/stargazers"), ("contributors_url", "/contributors"),
        ("subscribers_url", "/subscribers"), ("subscription_url", "/subscription"),
        ("commits_url", "/commits{/sha}"), ("git_commits_url", "/git/commits{/sha}"),
        ("comments_url", "/comments{/number}"), ("issue_comment_url", "/issues/comments{/number}"),
        ("contents_url", "/contents/{+path}"), ("compare_url", "/compare/{base}...{head}"), ("merges_url", "/merges"),
        ("archive_url", "/{archive_format}{/ref}"), ("downloads_url", "/downloads"), ("issues_url", "/issues{/number}"),
        ("pulls_url", "/pulls{/number}"), ("milestones_url", "/milestones{/number}"),
        ("notifications_url", "/notifications{?since,all,participating}"), ("labels_url", "/labels{/name}"),
        ("releases_url", "/releases{/id}"), ("deployments_url", "/deployments"),
    ]:
        d[key] = a + suffix
    d.update(
        {
            "created_at": r.created_at,
            "updated_at": r.updated_at,
            "pushed_at": r.pushed_at,
            "git_url": f"git://github.com/{r.full_name}.git",
            "ssh_url": f"git@github.com:{r.full_name}.git",
            "clone_url": f"{WEB}/{r.full_name}.git",
            "svn_url": r.url,
            "homepage": r.homepage,
            "size": r.size,
            "stargazers_count": r.stars,
            "watchers_count": r.stars,
            "language": r.language,
            "has_issues": True,
            "has_projects": False,
            "has_downloads": True,
            "has_wiki": False,
            "has_pages": False,
            "has_discussions": True,
            "forks_count": r.forks,
            "mirror_url": None,
            "archived": False,
            "disabled": False,
            "open_issues_count": r.open_issues + r.open_prs,
            "license": {
                "key": r.license["key"],
                "name": r.license["name"],
                "spdx_id": r.license["spdx_id"],
                "url": f"{API}/licenses/{r.license['key']}",
                "node_id": _node_id("MDc6TGljZW5zZ", len(r.license["key"])),
            },
            "allow_forking": True,
            "is_template": False,
            "web_commit_signoff_required": False,
            "topics": sorted(r.topics),
            "visibility": "public",
            "forks": r.forks,
            "open_issues": r.open_issues + r.open_prs,
            "watchers": r.stars,
            "default_branch": r.default_branch,
            "temp_clone_token": None,
        }
    )
    if owner.type == "Organization":
        d["organization"] = _owner_json(owner)
    d["network_count"] = r.forks
    d["subscribers_count"] = r.watchers
    return json.dumps(d, ensure_ascii=False, separators=(",", ":"))


# --------------------------------------------------------------------------- topic pages


@dataclass
class Topic:
    name: str
    display_name: str = ""
    description: str = ""  # the curated text github.com shows under the name, if any

    @property
    def url(self) -> str:
        return f"{WEB}/topics/{self.name}"


def load_topics(data: dict) -> list[Topic]:
    return [Topic(**t) for t in data.get("topics", [])]


def tagged(repos: list[Repo], topic: str) -> list[Repo]:
    """Repositories of a topic page, most stars first (github.com's "Most stars" order)."""
    return sorted((r for r in repos if topic in r.topics), key=lambda r: (-r.stars, r.full_name))


def _topic_card(r: Repo, owner: Account) -> str:
    tags = "\n".join(
        f'<a href="/topics/{t}" class="topic-tag topic-tag-link f6 mb-2" data-ga-click="Topic, repository list">{t}</a>'
        for t in r.topics
    )
    return f"""<article class="border rounded color-shadow-small color-bg-subtle my-4">
<div class="px-3">
<div class="d-flex flex-justify-between flex-items-start flex-wrap gap-2 my-3">
<div class="d-flex flex-1">
<a data-turbo="false" href="/{r.owner}"><img src="https://avatars.githubusercontent.com/u/{owner.id}?s=64&amp;v=4" width="32" height="32" class="d-none d-md-block avatar mr-3" alt="{escape(r.owner)}"></a>
<h3 class="f3 color-fg-muted text-normal lh-condensed">
<a data-turbo="false" href="/{r.owner}">{escape(r.owner)}</a> /
<a data-turbo="false" href="/{r.full_name}" class="text-bold wb-break-word">{escape(r.name)}</a>
</h3>
</div>
<div class="d-flex flex-items-center">
<a href="/login?return_to=%2F{r.owner}%2F{r.name}" rel="nofollow" data-view-component="true" class="tooltipped tooltipped-s btn-sm btn"><span data-view-component="true" class="d-inline">Star</span>
<span id="repo-stars-counter-star" aria-label="{r.stars} users starred this repository" data-turbo-replace="true" title="{r.stars:,}" data-view-component="true" class="Counter js-social-count">{short_count(r.stars)}</span></a>
</div>
</div>
</div>
<div class="color-bg-default rounded-bottom-2">
<div class="px-3 pt-3"><p class="color-fg-muted mb-0">{escape(r.description)}</p></div>
<div class="d-flex flex-wrap border-bottom color-border-muted px-3 pt-2 pb-2">
{tags}
</div>
<div class="p-3">
<ul class="d-flex f6 list-style-none color-fg-muted">
<li class="mr-4"><span class="d-inline-flex flex-items-center flex-nowrap"><span class="repo-language-color" style="background-color: {LANG_COLORS.get(r.language, "#ededed")}"></span><span itemprop="programmingLanguage">{escape(r.language)}</span></span></li>
<li class="mr-4">Updated <relative-time tense="past" datetime="{r.pushed_at}" data-view-component="true">{r.pushed_at[:10]}</relative-time></li>
</ul>
</div>
</div>
</article>"""


def render_topic(topic: Topic, repos: list[Repo], accounts: list[Account]) -> str:
    owners = {a.login: a for a in accounts}
    listed = tagged(repos, topic.name)
    name = topic.display_name or topic.name
    description = f'<p class="f3 color-fg-muted mb-0 mt-2">{escape(topic.description)}</p>' if topic.description else ""
    cards = "\n".join(_topic_card(r, owners[r.owner]) for r in listed)
    count = len(listed)
    page = f"""<main>
<div class="border-bottom color-border-muted color-bg-subtle">
<div class="container-lg p-responsive py-5">
<h1 class="h1">{escape(name)}</h1>
{description}
</div>
</div>
<div class="container-lg p-responsive d-flex flex-wrap gutter-md">
<div class="col-md-8 col-lg-9">
<div class="d-md-flex flex-justify-between flex-items-center mt-4 mb-3">
<h2 class="h3 color-fg-muted">Here {"is" if count == 1 else "are"} <span class="text-bold">{count}</span> public {"repository" if count == 1 else "repositories"} matching this topic...</h2>
</div>
<div class="d-flex flex-wrap">
<a href="/topics/{topic.name}?o=desc&amp;s=stars" class="mr-3">Most stars</a>
<a href="/topics/{topic.name}?o=desc&amp;s=updated" class="mr-3">Recently updated</a>
</div>
{cards}
</div>
<div class="col-md-4 col-lg-3">
<div class="py-4">
<h2 class="h4 mb-2">Improve this page</h2>
<p class="f5 color-fg-muted">Add a description, image, and links to the <a href="https://github.com/github/explore/tree/main/topics/{topic.name}">{escape(topic.name)}</a> topic page so that developers can more easily learn about it.</p>
</div>
</div>
</div>
</main>
"""
    title = f"{topic.name} · GitHub Topics · GitHub"
    desc = f"GitHub is where people build software. {count} public repositories match the {topic.name} topic."
    return _head(title, desc, topic.url) + page + _FOOTER
