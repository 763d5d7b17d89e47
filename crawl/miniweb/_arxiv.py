"""arXiv abstract pages, category listings and an export-API Atom feed, from ``site/arxiv.yaml``.

The abs page keeps the element structure and class names of arxiv.org's own page
(``div.dateline``, ``h1.title.mathjax`` with a ``Title:`` descriptor, ``div.authors``,
``blockquote.abstract.mathjax``, the ``metatable`` with comments / subjects / cite-as
cells, the submission history), with the site header and footer but no scripts.
``arXiv:<id>`` references in comments and abstracts are links to that abstract page,
as on arxiv.org. The category listing (``/list/<cat>/recent``, a crawl root) keeps
the ``div#dlpage`` / ``dl#articles`` structure of arxiv.org's listings. The feed is
Atom 1.0 with the ``arxiv`` and ``opensearch`` namespaces, like the export API's
answer to an ``id_list`` query.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass
from html import escape
from urllib.parse import quote

CATEGORY_NAMES = {
    "cs.AI": "Artificial Intelligence",
    "cs.CL": "Computation and Language",
    "cs.DB": "Databases",
    "cs.DC": "Distributed, Parallel, and Cluster Computing",
    "cs.IR": "Information Retrieval",
    "cs.LG": "Machine Learning",
    "cs.PL": "Programming Languages",
    "cs.SE": "Software Engineering",
}
_MON = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
_DAY = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]


# Site chrome shared by the abstract and listing pages (arxiv.org's 2025 header and footer).
SITE_HEADER = """<header class="ds-site-header">
<a href="https://arxiv.org/IgnoreMe" class="is-sr-only" aria-hidden="true" tabindex="-1"></a>
<a href="https://arxiv.org/" class="ds-site-header-logo" aria-label="arXiv home"><img src="/static/browse/0.3.4/images/arxiv-logo-one-color-white.svg" alt="arXiv logo" width="85" height="38"></a>
<button id="ds-nav-toggle" class="ds-site-header-nav-toggle" type="button" aria-expanded="false" aria-controls="ds-site-header-nav">Menu</button>
<nav id="ds-site-header-nav" class="ds-site-header-nav" aria-label="Site">
<a id="arxiv-search-toggle" href="https://arxiv.org/search" aria-label="Search">Search</a>
<a href="https://arxiv.org/user/create">Submit</a>
<a href="https://info.arxiv.org/about/donate.html">Donate</a>
<span class="ds-site-header-divider" aria-hidden="true"></span>
<a href="https://arxiv.org/login" class="ds-site-header-login">Log in</a>
</nav>
</header>
<div id="arxiv-search-overlay" class="arxiv-search-overlay" hidden>
<div class="arxiv-search-panel"><form action="https://arxiv.org/search" method="GET"><label for="arxiv-search-input" class="is-sr-only">Search arXiv</label><input id="arxiv-search-input" type="search" name="query" placeholder="Search arXiv"><input type="hidden" name="searchtype" value="all"><input type="hidden" name="source" value="header"></form>
<div class="arxiv-search-hint"><a href="https://arxiv.org/search/advanced">Advanced search</a></div></div>
</div>"""

SITE_FOOTER = """<footer class="ds-site-footer">
<div class="ds-site-footer-grid">
<div class="ds-site-footer-main">
<nav class="ds-site-footer-links" aria-label="Footer">
<a href="https://info.arxiv.org/about">About</a><span class="ds-site-footer-sep">&middot;</span>
<a href="https://info.arxiv.org/help">Help</a><span class="ds-site-footer-sep">&middot;</span>
<a href="https://info.arxiv.org/help/contact.html">Contact</a><span class="ds-site-footer-sep">&middot;</span>
<a href="https://info.arxiv.org/help/subscribe">Subscribe</a><span class="ds-site-footer-sep">&middot;</span>
<a href="https://info.arxiv.org/help/license/index.html">Copyright</a><span class="ds-site-footer-sep">&middot;</span>
<a href="https://info.arxiv.org/help/policies/privacy_policy.html">Privacy</a><span class="ds-site-footer-sep">&middot;</span>
<a href="https://info.arxiv.org/help/web_accessibility.html">Accessibility</a><span class="ds-site-footer-sep">&middot;</span>
<a href="https://status.arxiv.org" target="_blank">Operational Status <span class="is-sr-only">(opens in new tab)</span></a>
</nav>
</div>
</div>
</footer>"""


@dataclass
class Version:
    when: dt.datetime  # UTC
    size: str


@dataclass
class Paper:
    id: str
    title: str
    authors: list[str]
    submitter: str
    versions: list[Version]
    primary: str
    cross: list[str]
    abstract: str
    comments: str = ""
    journal_ref: str = ""
    license: str = "http://creativecommons.org/licenses/by/4.0/"

    @property
    def url(self) -> str:
        return f"https://arxiv.org/abs/{self.id}"

    @property
    def latest(self) -> int:
        return len(self.versions)

    @property
    def categories(self) -> list[str]:
        return [self.primary, *self.cross]


def paper_from_dict(d: dict) -> Paper:
    versions = [
        Version(dt.datetime.strptime(v["date"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=dt.UTC), v["size"])
        for v in d["versions"]
    ]
    first = versions[0].when
    if d["id"][:4] != f"{first:%y%m}":
        raise ValueError(f"arXiv id {d['id']} does not match its first submission date {first:%Y-%m-%d}")
    return Paper(
        id=d["id"],
        title=" ".join(d["title"].split()),
        authors=list(d["authors"]),
        submitter=d.get("submitter", d["authors"][0]),
        versions=versions,
        primary=d["primary"],
        cross=list(d.get("cross", [])),
        abstract=" ".join(d["abstract"].split()),
        comments=" ".join(d.get("comments", "").split()),
        journal_ref=d.get("journal_ref", ""),
        license=d.get("license", "http://creativecommons.org/licenses/by/4.0/"),
    )


def _short_date(when: dt.datetime) -> str:
    return f"{when.day} {_MON[when.month - 1]} {when.year}"


def _history_date(when: dt.datetime) -> str:
    return f"{_DAY[when.weekday()]}, {when.day} {_MON[when.month - 1]} {when.year} {when:%H:%M:%S} UTC"


_URL_OR_ID = re.compile(r"(?P<url>https?://[^\s,;)]+[^\s,;).])|arXiv:(?P<id>\d{4}\.\d{4,5})\b")


def _linkify(text: str) -> str:
    """Escape text; turn bare URLs into arXiv's "this http(s) URL" links and ``arXiv:<id>``
    references into links to that abstract page, as arxiv.org does in comments and abstracts."""
    out, pos = [], 0
    for m in _URL_OR_ID.finditer(text):
        out.append(escape(text[pos : m.start()], quote=False))
        pos = m.end()
        if m.group("id"):
            pid = m.group("id")
            out.append(f'<a class="link-https" data-arxiv-id="{pid}" href="https://arxiv.org/abs/{pid}">arXiv:{pid}</a>')
            continue
        url = m.group("url")
        scheme = url.split(":", 1)[0]
        out.append(
            f'<a class="link-external link-{scheme}" href="{escape(url)}" rel="external noopener nofollow">'
            f"this {scheme} URL</a>"
        )
    out.append(escape(text[pos:], quote=False))
    return "".join(out)



def _author_query(name: str) -> str:
    parts = name.split()
    surname, initial = parts[-1], parts[0][0]
    return quote(f"{surname},+{initial}", safe=",+")


def _subject(cat: str) -> str:
    return f"{CATEGORY_NAMES[cat]} ({cat})"


def render_abs(p: Paper) -> str:
    archive = p.primary.split(".")[0]
    latest = p.versions[-1]
    vN = f"v{p.latest}"
    if p.latest == 1:
        dateline = f"[Submitted on {_short_date(p.versions[0].when)}]"
    else:
        dateline = (
            f'[Submitted on {_short_date(p.versions[0].when)} (<a href="https://arxiv.org/abs/{p.id}v1">v1</a>), '
            f"last revised {_short_date(latest.when)} (this version, {vN})]"
        )
    authors_html = ", ".join(
        f'<a href="https://arxiv.org/search/{archive}?searchtype=author&amp;query={_author_query(a)}" '
        f'rel="nofollow">{escape(a)}</a>'
        for a in p.authors
    )
    subjects = f'<span class="primary-subject">{escape(_subject(p.primary))}</span>' + "".join(
        f"; {escape(_subject(c))}" for c in p.cross
    )
    rows = []
    if p.comments:
        rows.append(
            f'<tr><td class="tablecell label">Comments:</td>\n<td class="tablecell comments mathjax">'
            f"{_linkify(p.comments)}</td></tr>"
        )
    rows.append(f'<tr><td class="tablecell label">Subjects:</td>\n<td class="tablecell subjects">{subjects}</td></tr>')
    if p.journal_ref:
        rows.append(
            f'<tr><td class="tablecell label">Journal&nbsp;reference:</td>\n'
            f'<td class="tablecell jref">{escape(p.journal_ref)}</td></tr>'
        )
    rows.append(
        f'<tr><td class="tablecell label">Cite as:</td>\n<td class="tablecell arxivid"><span class="arxivid">'
        f'<a href="https://arxiv.org/abs/{p.id}">arXiv:{p.id}</a> [{p.primary}]</span></td></tr>'
    )
    rows.append(
        f'<tr><td class="tablecell label">&nbsp;</td>\n<td class="tablecell arxividv">(or <span class="arxivid">'
        f'<a href="https://arxiv.org/abs/{p.id}{vN}">arXiv:{p.id}{vN}</a> [{p.primary}]</span> for this version)</td></tr>'
    )
    rows.append(
        f'<tr><td class="tablecell label">&nbsp;</td>\n<td class="tablecell arxivdoi">'
        f'<a href="https://doi.org/10.48550/arXiv.{p.id}" id="arxiv-doi-link">https://doi.org/10.48550/arXiv.{p.id}</a>'
        f'<div class="button-and-tooltip"><div id="more-info-desc-1" role="tooltip">arXiv-issued DOI via DataCite</div></div></td></tr>'
    )
    email_key = hashlib.sha1(f"{p.id}/{p.submitter}".encode()).hexdigest()[:8]
    history = [f'<h2>Submission history</h2> From: {escape(p.submitter)} [<a href="/show-email/{email_key}/{p.id}" rel="nofollow">view email</a>]']
    for i, v in enumerate(p.versions, start=1):
        label = f"[v{i}]"
        head = (
            f"<strong>{label}</strong>"
            if i == p.latest
            else f'<strong><a href="/abs/{p.id}v{i}" rel="nofollow">{label}</a></strong>'
        )
        history.append(f"{head}\n        {_history_date(v.when)} ({escape(v.size)})")
    history_html = "<br/>\n".join(history) + "<br/>"
    authors_plain = ", ".join(p.authors)
    cite_authors = "\n".join(
        f'<meta name="citation_author" content="{escape(a.split()[-1])}, {escape(" ".join(a.split()[:-1]))}" />'
        for a in p.authors
    )
    yymm = p.id[:4]
    prim_name = CATEGORY_NAMES[p.primary]
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<title>[{p.id}] {escape(p.title)}</title>
<!-- seekforge mini-web: fictional page written for offline tests; see crawl/miniweb/README.md -->
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" type="text/css" media="screen" href="/static/browse/0.3.4/css/arXiv.css?v=20260318" />
<link rel="canonical" href="https://arxiv.org/abs/{p.id}"/>
<meta name="description" content="Abstract page for arXiv paper {p.id}: {escape(p.title)}">
<meta property="og:type" content="website" />
<meta property="og:site_name" content="arXiv.org" />
<meta property="og:title" content="{escape(p.title)}" />
<meta property="og:url" content="https://arxiv.org/abs/{p.id}{vN}" />
<meta property="og:description" content="{escape(p.abstract)}" />
<meta name="citation_title" content="{escape(p.title)}" />
{cite_authors}
<meta name="citation_date" content="{p.versions[0].when:%Y/%m/%d}" />
<meta name="citation_online_date" content="{latest.when:%Y/%m/%d}" />
<meta name="citation_pdf_url" content="https://arxiv.org/pdf/{p.id}" />
<meta name="citation_arxiv_id" content="{p.id}" />
<meta name="citation_abstract" content="{escape(p.abstract)}" />
</head>
<body class="with-cu-identity">
<div class="flex-wrap-footer">
<a href="#content" class="ds-skip-link">Skip to main content</a>
{SITE_HEADER}
<main>
<div id="content">
<div id="abs-outer">
<div class="leftcolumn">
<div class="subheader">
<h1>Computer Science &gt; {escape(prim_name)}</h1>
</div>
<div class="header-breadcrumbs-mobile">
<strong>arXiv:{p.id}</strong> ({archive})
</div>
<div id="content-inner">
<div id="abs">
<div class="dateline">
  {dateline}</div>
<h1 class="title mathjax"><span class="descriptor">Title:</span>{escape(p.title)}</h1>
<div class="authors"><span class="descriptor">Authors:</span>{authors_html}</div>
<div id="download-button-info" hidden>View a PDF of the paper titled {escape(p.title)}, by {escape(authors_plain)}</div>
<a class="mobile-submission-download" href="/pdf/{p.id}">View PDF</a>
<blockquote class="abstract mathjax">
<span class="descriptor">Abstract:</span>{_linkify(p.abstract)}
    </blockquote>
<!--CONTEXT-->
<div class="metatable">
<table summary="Additional metadata">
{chr(10).join(rows)}
</table>
</div>
</div>
</div>
<div class="submission-history">
{history_html}
</div>
</div>
<div class="extra-services">
<div class="full-text">
<a name="other"></a>
<span class="descriptor">Full-text links:</span>
<h2>Access Paper:</h2>
<ul>
<li><a href="/pdf/{p.id}" aria-describedby="download-button-info" accesskey="f" class="abs-button download-pdf">View PDF</a></li>
<li><a href="https://arxiv.org/html/{p.id}{vN}" class="abs-button" id="latexml-download-link">HTML (experimental)</a></li>
<li><a href="/src/{p.id}" class="abs-button download-eprint">TeX Source</a></li>
</ul>
<div class="abs-license"><a href="{escape(p.license)}" title="Rights to this article" class="has_license">view license</a></div>
</div>
<div class="browse">
<h3 class="browse-context-heading">Current browse context:</h3>
<div class="current">{p.primary}</div>
<div class="prevnext">
<span class="arrow"><a class="abs-button prev-url" href="/prevnext?id={p.id}&amp;function=prev&amp;context={p.primary}" accesskey="p" title="previous in {p.primary} (accesskey p)" rel="nofollow">&lt;&nbsp;prev</a></span>
<span class="is-hidden-mobile">&nbsp; | &nbsp;</span>
<span class="arrow"><a class="abs-button next-url" href="/prevnext?id={p.id}&amp;function=next&amp;context={p.primary}" accesskey="n" title="next in {p.primary} (accesskey n)" rel="nofollow">next&nbsp;&gt;</a></span><br/>
</div>
<div class="list">
<a class="abs-button abs-button-grey abs-button-small context-new" href="/list/{p.primary}/new">new</a>
<span class="is-hidden-mobile"> | </span>
<a class="abs-button abs-button-grey abs-button-small context-recent" href="/list/{p.primary}/recent">recent</a>
<span class="is-hidden-mobile"> | </span>
<a class="abs-button abs-button-grey abs-button-small context-id" href="/list/{p.primary}/20{yymm[:2]}-{yymm[2:]}">20{yymm[:2]}-{yymm[2:]}</a>
</div>
<div class="abs-switch-cat">Change to browse by:
<div class="switch context-change"><a href="/abs/{p.id}?context={archive}">{archive}</a><br class="is-hidden-mobile"></div>
</div>
</div>
<div class="extra-ref-cite">
<h3>References &amp; Citations</h3>
<ul>
<li><a class="abs-button abs-button-small cite-ads" href="https://ui.adsabs.harvard.edu/abs/arXiv:{p.id}">NASA ADS</a></li>
<li><a class="abs-button abs-button-small cite-google-scholar" href="https://scholar.google.com/scholar_lookup?arxiv_id={p.id}" target="_blank" rel="noopener">Google Scholar</a></li>
<li><a class="abs-button abs-button-small cite-semantic-scholar" href="https://api.semanticscholar.org/arXiv:{p.id}" target="_blank" rel="noopener">Semantic Scholar</a></li>
</ul>
</div>
</div>
<div class="endorsers">
<a href="/auth/show-endorsers/{p.id}" class="endorser-who" rel="nofollow">Which authors of this paper are endorsers?</a>
</div>
</div>
</div>
</main>
{SITE_FOOTER}
</div>
</body>
</html>
"""


def _iso(when: dt.datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def render_atom(papers: list[Paper], id_list: list[str], updated: str) -> str:
    """Export-API answer to ``query?id_list=...`` (default start/max_results)."""
    by_id = {p.id: p for p in papers}
    joined = ",".join(id_list)
    feed_id = hashlib.sha1(joined.encode()).hexdigest()[:27]
    entries = []
    for pid in id_list:
        p = by_id[pid]
        cats = "\n".join(f'    <category term="{c}" scheme="http://arxiv.org/schemas/atom"/>' for c in p.categories)
        authors = "\n".join(f"    <author>\n      <name>{escape(a)}</name>\n    </author>" for a in p.authors)
        extra = ""
        if p.comments:
            extra += f"\n    <arxiv:comment>{escape(p.comments)}</arxiv:comment>"
        if p.journal_ref:
            extra += f"\n    <arxiv:journal_ref>{escape(p.journal_ref)}</arxiv:journal_ref>"
        entries.append(
            f"""  <entry>
    <id>http://arxiv.org/abs/{p.id}v{p.latest}</id>
    <title>{escape(p.title)}</title>
    <updated>{_iso(p.versions[-1].when)}</updated>
    <link href="https://arxiv.org/abs/{p.id}v{p.latest}" rel="alternate" type="text/html"/>
    <link href="https://arxiv.org/pdf/{p.id}v{p.latest}" rel="related" type="application/pdf" title="pdf"/>
    <summary>{escape(p.abstract)}</summary>
{cats}
    <published>{_iso(p.versions[0].when)}</published>{extra}
    <arxiv:primary_category term="{p.primary}"/>
{authors}
  </entry>"""
        )
    return f"""<?xml version='1.0' encoding='UTF-8'?>
<feed xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/" xmlns:arxiv="http://arxiv.org/schemas/atom" xmlns="http://www.w3.org/2005/Atom">
  <id>https://arxiv.org/api/{feed_id}</id>
  <title>arXiv Query: search_query=&amp;id_list={joined}&amp;start=0&amp;max_results=10</title>
  <updated>{updated}</updated>
  <link href="https://arxiv.org/api/query?search_query=&amp;start=0&amp;max_results=10&amp;id_list={joined}" type="application/atom+xml"/>
  <opensearch:itemsPerPage>10</opensearch:itemsPerPage>
  <opensearch:totalResults>{len(id_list)}</opensearch:totalResults>
  <opensearch:startIndex>0</opensearch:startIndex>
{chr(10).join(entries)}
</feed>
"""


# --------------------------------------------------------------------------- listings


def _list_day(when: dt.datetime) -> str:
    return f"{_DAY[when.weekday()]}, {when.day} {_MON[when.month - 1]} {when.year}"


def _author_page(name: str) -> str:
    parts = name.split()
    return f"https://arxiv.org/a/{quote(parts[-1].lower())}_{parts[0][0].lower()}_1"


def listed(papers: list[Paper], category: str) -> list[Paper]:
    """Papers of a category listing: primary or cross-listed, newest first (then by id)."""
    chosen = [p for p in papers if category in p.categories]
    return sorted(chosen, key=lambda p: (p.versions[0].when, p.id), reverse=True)


def listing_url(category: str) -> str:
    return f"https://arxiv.org/list/{category}/recent"


def render_listing(papers: list[Paper], category: str) -> str:
    """``/list/<category>/recent`` in arxiv.org's listing markup (``dl#articles`` of ``dt``
    abs links and ``dd`` metadata, one ``h3`` per day). The mini-web's arXiv is small, so
    the listing holds every paper of the category, grouped by first-submission day."""
    items = listed(papers, category)
    name = CATEGORY_NAMES[category]
    days: dict[str, list[Paper]] = {}
    for p in items:
        days.setdefault(_list_day(p.versions[0].when), []).append(p)
    blocks, n = [], 0
    for day, group in days.items():
        blocks.append(f"<h3>{day} (showing {len(group)} of {len(group)} entries )</h3>")
        for p in group:
            n += 1
            cross = f"\n          (cross-list from {p.primary})" if p.primary != category else ""
            authors = ", ".join(f'<a href="{_author_page(a)}">{escape(a)}</a>' for a in p.authors)
            comments = (
                f"\n          <div class='list-comments mathjax'><span class='descriptor'>Comments:</span>\n"
                f"            {_linkify(p.comments)}\n          </div>"
                if p.comments
                else ""
            )
            subjects = f'<span class="primary-subject">{escape(_subject(p.primary))}</span>' + "".join(
                f"; {escape(_subject(c))}" for c in p.cross
            )
            blocks.append(
                f"""<dt>
        <a name='item{n}'>[{n}]</a>
        <a href ="/abs/{p.id}" title="Abstract" id="{p.id}">
          arXiv:{p.id}
        </a>{cross}
          [<a href="/pdf/{p.id}" title="Download PDF" id="pdf-{p.id}" aria-labelledby="pdf-{p.id}">pdf</a>, <a href="https://arxiv.org/html/{p.id}v{p.latest}" title="View HTML" id="html-{p.id}" aria-labelledby="html-{p.id}" rel="noopener noreferrer">html</a>, <a href="/format/{p.id}" title="Other formats" id="oth-{p.id}" aria-labelledby="oth-{p.id}">other</a>]
      </dt>
      <dd>
        <div class='meta'>
          <div class='list-title mathjax'><span class='descriptor'>Title:</span>
            {escape(p.title)}
          </div>
          <div class='list-authors'>{authors}</div>{comments}
          <div class='list-subjects'><span class='descriptor'>Subjects:</span>
            {subjects}
          </div>
        </div>
      </dd>"""
            )
    day_links = "\n".join(
        f'<li><a href="/list/{category}/recent?skip={i}&amp;show=50">{day}</a></li>' for i, day in enumerate(days)
    )
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<title>{escape(name)}  authors/titles &quot;recent submissions&quot;</title>
<!-- seekforge mini-web: fictional page written for offline tests; see crawl/miniweb/README.md -->
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" type="text/css" media="screen" href="/static/browse/0.3.4/css/arXiv.css?v=20260318" />
<link rel="canonical" href="{listing_url(category)}"/>
</head>
<body class="with-cu-identity">
<div class="flex-wrap-footer">
<a href="#content" class="ds-skip-link">Skip to main content</a>
{SITE_HEADER}
<main>
<div id="content">
<div id='content-inner'>
<div id='dlpage'>
<h1>{escape(name)}</h1>
<h2>Authors and titles for recent submissions</h2>
<ul>
{day_links}
</ul>
<div class='paging'>Total of {len(items)} entries
</div>
<div class='morefewer'>Showing up to 50 entries per page:
<a href=/list/{category}/recent?skip=0&amp;show=25 rel="nofollow">fewer</a> |
<a href=/list/{category}/recent?skip=0&amp;show=100 rel="nofollow">more</a> |
<a href=/list/{category}/recent?skip=0&amp;show=2000 rel="nofollow">all</a>
</div>
<dl id='articles'>
{chr(10).join(blocks)}
</dl>
<div class='paging'>Total of {len(items)} entries
</div>
</div>
</div>
</div>
</main>
{SITE_FOOTER}
</div>
</body>
</html>
"""
