"""Render the mini-web's sources and pack them into ``miniweb.warc.gz``.

Usage::

    python -m crawl.miniweb.build            # rewrite crawl/miniweb/miniweb.warc.gz
    python -m crawl.miniweb.build --out x.warc.gz
    python -m crawl.miniweb.build --check    # exit 1 if the committed archive is stale

The output is byte-for-byte reproducible: records are written in a fixed order with a
fixed ``WARC-Date`` and record ids derived from the URL (uuid5), and warcio's gzip
members carry no timestamp. Before writing, every link from a mini-web page to a
mini-web content URL is checked: it must be in the archive or declared as an
intentional dead end in ``site/dead_links.txt``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import hashlib
import io
import json
import logging
import sys
import uuid
from dataclasses import dataclass
from email.utils import format_datetime
from pathlib import Path

import yaml
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from . import ARCHIVE_PATH, SITE_DIR, _arxiv, _github, _special, _wikipedia
from ._links import canonical, content_links, is_content_url
from ._markup import wiki_path

log = logging.getLogger(__name__)

WARC_DATE = "2026-11-01T00:00:00Z"
SNAPSHOT = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
HTTP_DATE = format_datetime(SNAPSHOT, usegmt=True)
REASONS = {200: "OK", 301: "Moved Permanently", 403: "Forbidden", 404: "Not Found", 429: "Too Many Requests"}
ROBOTS_HOSTS = ["en.wikipedia.org", "arxiv.org", "export.arxiv.org", "github.com", "api.github.com"]


@dataclass(frozen=True)
class Resource:
    """One HTTP response of the mini-web."""

    url: str  # canonical, percent-encoded
    status: int
    headers: tuple[tuple[str, str], ...]  # without Content-Length (added when packed)
    body: bytes
    kind: str

    def header(self, name: str) -> str | None:
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None


def _http_date(when: dt.datetime) -> str:
    return format_datetime(when.astimezone(dt.UTC), usegmt=True)


def _parse_ts(value: str) -> dt.datetime:
    value = value.replace("Z", "+00:00")
    if " " in value and "T" not in value:
        value = value.replace(" ", "T") + ("" if "+" in value else ":00+00:00")
    return dt.datetime.fromisoformat(value)


def _etag(body: bytes, weak: bool = True) -> str:
    tag = hashlib.sha1(body).hexdigest()
    return f'W/"{tag}"' if weak else f'"{tag}"'


def _wiki_headers(body: bytes, modified: dt.datetime | None, revision: int | None) -> tuple[tuple[str, str], ...]:
    h = [
        ("Date", HTTP_DATE),
        ("Server", "mw-web.eqiad.main-6c9d8f7b5-k2p4x"),
        ("Content-Type", "text/html; charset=UTF-8"),
        ("Content-Language", "en"),
        ("Vary", "Accept-Encoding,Cookie"),
    ]
    if modified is not None:
        h.append(("Last-Modified", _http_date(modified)))
        h.append(("ETag", f'W/"{revision}/{hashlib.sha1(body).hexdigest()[:20]}"'))
    h.append(("Cache-Control", "private, s-maxage=0, max-age=0, must-revalidate"))
    return tuple(h)


def _load_yaml(name: str) -> dict:
    return yaml.safe_load((SITE_DIR / name).read_text(encoding="utf-8"))


def dead_links(site_dir: Path = SITE_DIR) -> set[str]:
    """Declared intentional dead ends (canonical URLs)."""
    out = set()
    for line in (site_dir / "dead_links.txt").read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            out.add(canonical(line))
    return out


def collect(site_dir: Path = SITE_DIR) -> list[Resource]:
    """Render every page of the mini-web, in archive order."""
    res: list[Resource] = []

    for host in ROBOTS_HOSTS:
        body = (site_dir / "robots" / f"{host}.txt").read_bytes()
        res.append(
            Resource(
                f"https://{host}/robots.txt",
                200,
                (
                    ("Date", HTTP_DATE),
                    ("Content-Type", "text/plain; charset=utf-8"),
                    ("Last-Modified", "Tue, 06 Oct 2026 09:00:00 GMT"),
                    ("ETag", _etag(body, weak=False)),
                    ("Cache-Control", "public, max-age=3600"),
                ),
                body,
                "robots",
            )
        )

    # ---- Wikipedia
    extra = _load_yaml("extra.yaml")
    redirects = {r["from"]: r["to"] for r in extra["redirects"]}
    navboxes = _wikipedia.parse_navboxes((site_dir / "wikipedia" / "_navboxes.txt").read_text(encoding="utf-8"))
    articles = _wikipedia.load_articles(site_dir / "wikipedia")
    titles = [a.title for a in articles]
    if len(set(titles)) != len(titles):
        raise ValueError("two article sources share a title")
    for art in sorted(articles, key=lambda a: a.url):
        body = _wikipedia.render_article(art, navboxes, frozenset(redirects)).encode("utf-8")
        modified = _parse_ts(art.modified)
        res.append(Resource(art.url, 200, _wiki_headers(body, modified, art.revision), body, "wikipedia_article"))
    categories, portals = _wikipedia.load_lists(_load_yaml("wikipedia/_lists.yaml"))
    for cat in categories:
        body = _wikipedia.render_category(cat, articles, categories, frozenset(redirects)).encode("utf-8")
        res.append(Resource(cat.url, 200, _wiki_headers(body, _parse_ts(cat.modified), cat.revision), body,
                            "wikipedia_category"))
    for portal in portals:
        body = _wikipedia.render_portal(portal, frozenset(redirects)).encode("utf-8")
        res.append(Resource(portal.url, 200, _wiki_headers(body, _parse_ts(portal.modified), portal.revision), body,
                            "wikipedia_portal"))
    for src, dst in redirects.items():
        if dst not in titles:
            raise ValueError(f"redirect {src!r} points to {dst!r}, which has no article")
        target = _wikipedia.HOST + wiki_path(dst)
        body = _special.redirect_page(target).encode("utf-8")
        headers: tuple[tuple[str, str], ...] = (
            ("Date", HTTP_DATE),
            ("Server", "mw-web.eqiad.main-6c9d8f7b5-k2p4x"),
            ("Content-Type", "text/html; charset=utf-8"),
            ("Location", target),
            ("Cache-Control", "private, s-maxage=0, max-age=0, must-revalidate"),
        )
        res.append(Resource(_wikipedia.HOST + wiki_path(src), 301, headers, body, "redirect"))
    for title in extra["missing_articles"]:
        body = _wikipedia.render_missing(title).encode("utf-8")
        res.append(Resource(_wikipedia.HOST + wiki_path(title), 404, _wiki_headers(body, None, None), body, "not_found"))

    # ---- arXiv
    ax = _load_yaml("arxiv.yaml")
    papers = [_arxiv.paper_from_dict(d) for d in ax["papers"]]
    for p in sorted(papers, key=lambda p: p.id):
        body = _arxiv.render_abs(p).encode("utf-8")
        headers = (
            ("Date", HTTP_DATE),
            ("Server", "Apache"),
            ("Content-Type", "text/html; charset=utf-8"),
            ("Last-Modified", _http_date(p.versions[-1].when)),
            ("ETag", _etag(body, weak=False)),
            ("Cache-Control", "max-age=3600"),
            ("Vary", "Accept-Encoding"),
        )
        res.append(Resource(p.url, 200, headers, body, "arxiv_abs"))
    for category in ax["listings"]:
        body = _arxiv.render_listing(papers, category).encode("utf-8")
        latest = max(p.versions[-1].when for p in _arxiv.listed(papers, category))
        headers = (
            ("Date", HTTP_DATE),
            ("Server", "Apache"),
            ("Content-Type", "text/html; charset=utf-8"),
            ("Last-Modified", _http_date(latest)),
            ("ETag", _etag(body, weak=False)),
            ("Cache-Control", "max-age=3600"),
            ("Vary", "Accept-Encoding"),
        )
        res.append(Resource(_arxiv.listing_url(category), 200, headers, body, "arxiv_listing"))
    for feed in ax["feeds"]:
        ids = feed["id_list"]
        body = _arxiv.render_atom(papers, ids, feed["updated"]).encode("utf-8")
        url = canonical("https://export.arxiv.org/api/query?id_list=" + ",".join(ids))
        latest = max(p.versions[-1].when for p in papers if p.id in ids)
        headers = (
            ("Date", HTTP_DATE),
            ("Server", "Apache"),
            ("Content-Type", "application/atom+xml; charset=UTF-8"),
            ("Last-Modified", _http_date(latest)),
            ("ETag", _etag(body, weak=False)),
            ("Access-Control-Allow-Origin", "*"),
        )
        res.append(Resource(url, 200, headers, body, "arxiv_atom"))

    # ---- GitHub
    gh = _load_yaml("github.yaml")
    accounts, repos = _github.load(gh, site_dir / "github")
    acc_by_login = {a.login: a for a in accounts}
    gh_html = [
        ("Server", "GitHub.com"),
        ("Content-Type", "text/html; charset=utf-8"),
        ("Vary", "X-PJAX, X-PJAX-Container, Turbo-Visit, Turbo-Frame, Accept-Encoding, Accept, X-Requested-With"),
        ("Cache-Control", "max-age=0, private, must-revalidate"),
    ]
    for acc in accounts:
        body = _github.render_account(acc, repos).encode("utf-8")
        newest = max([_parse_ts(r.pushed_at) for r in repos if r.owner == acc.login] or [_parse_ts(acc.created_at)])
        headers = (("Date", HTTP_DATE), *gh_html, ("Last-Modified", _http_date(newest)), ("ETag", _etag(body)))
        res.append(Resource(acc.url, 200, headers, body, "github_account"))
    for r in repos:
        owner = acc_by_login[r.owner]
        body = _github.render_repo(r, owner.type).encode("utf-8")
        headers = (("Date", HTTP_DATE), *gh_html, ("Last-Modified", _http_date(_parse_ts(r.pushed_at))), ("ETag", _etag(body)))
        res.append(Resource(r.url, 200, headers, body, "github_repo"))
    for topic in _github.load_topics(gh):
        members = _github.tagged(repos, topic.name)
        if not members:
            raise ValueError(f"topic page {topic.name!r} lists no repository: no repo has that topic")
        body = _github.render_topic(topic, repos, accounts).encode("utf-8")
        newest = max(_parse_ts(r.pushed_at) for r in members)
        headers = (("Date", HTTP_DATE), *gh_html, ("Last-Modified", _http_date(newest)), ("ETag", _etag(body)))
        res.append(Resource(topic.url, 200, headers, body, "github_topic"))
    for i, r in enumerate(repos):
        body = _github.render_api(r, acc_by_login[r.owner]).encode("utf-8")
        headers = (
            ("Date", HTTP_DATE),
            ("Server", "github.com"),
            ("Content-Type", "application/json; charset=utf-8"),
            ("Cache-Control", "public, max-age=60, s-maxage=60"),
            ("Vary", "Accept,Accept-Encoding, Accept, X-Requested-With"),
            ("ETag", _etag(hashlib.sha256(body).hexdigest().encode())),
            ("Last-Modified", _http_date(_parse_ts(r.updated_at))),
            ("X-GitHub-Media-Type", "github.v3; format=json"),
            ("X-GitHub-Api-Version-Selected", "2022-11-28"),
            ("Access-Control-Allow-Origin", "*"),
            ("X-RateLimit-Limit", "60"),
            ("X-RateLimit-Remaining", str(59 - i)),
            ("X-RateLimit-Reset", "1793502000"),
            ("X-RateLimit-Resource", "core"),
            ("X-RateLimit-Used", str(i + 1)),
        )
        res.append(Resource(r.api_url, 200, headers, body, "github_api"))

    # ---- pages a crawler must reject
    for ch in extra["challenges"]:
        host = ch["url"].split("/")[2]
        body = _special.challenge_page(host, ch["ray_id"]).encode("utf-8")
        headers = (
            ("Date", HTTP_DATE),
            ("Content-Type", "text/html; charset=UTF-8"),
            ("Server", "cloudflare"),
            ("CF-RAY", f"{ch['ray_id']}-AMS"),
            ("Cache-Control", "private, max-age=0, no-store, no-cache, must-revalidate, post-check=0, pre-check=0"),
            ("Expires", "Thu, 01 Jan 1970 00:00:01 GMT"),
            ("Referrer-Policy", "same-origin"),
            ("X-Frame-Options", "SAMEORIGIN"),
        )
        res.append(Resource(canonical(ch["url"]), 403, headers, body, "challenge"))
    for rl in extra["rate_limited"]:
        body = _special.rate_limited_page().encode("utf-8")
        headers = (
            ("Date", HTTP_DATE),
            ("Server", "GitHub.com"),
            ("Content-Type", "text/html; charset=utf-8"),
            ("Retry-After", str(rl["retry_after"])),
            ("Cache-Control", "no-cache"),
        )
        res.append(Resource(canonical(rl["url"]), 429, headers, body, "rate_limited"))

    _check(res, dead_links(site_dir))
    return res


def _links_of(r: Resource) -> set[str]:
    if r.kind == "github_api":
        d = json.loads(r.body)
        return {canonical(u) for u in (d["html_url"], d["owner"]["html_url"]) if is_content_url(canonical(u))}
    if (r.header("Content-Type") or "").startswith("text/html"):
        return content_links(r.body.decode("utf-8"), r.url)
    return set()


def link_graph(resources: list[Resource]) -> dict[str, set[str]]:
    """url -> canonical content URLs it links to."""
    return {r.url: _links_of(r) for r in resources}


def _check(resources: list[Resource], dead: set[str]) -> None:
    urls = [r.url for r in resources]
    problems = []
    if len(set(urls)) != len(urls):
        problems.append("duplicate URLs: " + ", ".join(sorted({u for u in urls if urls.count(u) > 1})))
    for u in urls:
        if canonical(u) != u:
            problems.append(f"URL is not in canonical form: {u} (canonical: {canonical(u)})")
    present = set(urls)
    linked: set[str] = set()
    for src, targets in link_graph(resources).items():
        linked |= targets
        for t in sorted(targets - present - dead):
            problems.append(f"{src} links to {t}, which is neither in the archive nor in dead_links.txt")
    for d in sorted(dead & present):
        problems.append(f"dead_links.txt lists {d}, but the archive has it")
    for d in sorted(dead - linked):
        problems.append(f"dead_links.txt lists {d}, but no page links to it")
    if problems:
        raise ValueError("mini-web sources are inconsistent:\n  " + "\n  ".join(problems))


def _record_id(kind: str, url: str) -> str:
    return f"<urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, kind + ':' + url)}>"


def write_warc(resources: list[Resource], out: Path) -> None:
    buf = io.BytesIO()
    writer = WARCWriter(buf, gzip=True)
    info = (
        b"software: seekforge crawl.miniweb.build\r\n"
        b"format: WARC File Format 1.1\r\n"
        b"description: fictional mini-web (Wikipedia, arXiv and GitHub shaped pages) for offline crawls\r\n"
        b"isPartOf: seekforge-miniweb\r\n"
    )
    writer.write_record(
        writer.create_warc_record(
            "",
            "warcinfo",
            payload=io.BytesIO(info),
            length=len(info),
            warc_content_type="application/warc-fields",
            warc_headers_dict={
                "WARC-Date": WARC_DATE,
                "WARC-Record-ID": _record_id("warcinfo", ARCHIVE_PATH.name),
                "WARC-Filename": ARCHIVE_PATH.name,
            },
        )
    )
    for r in resources:
        headers = [*r.headers, ("Content-Length", str(len(r.body)))]
        http = StatusAndHeaders(f"{r.status} {REASONS[r.status]}", headers, protocol="HTTP/1.1")
        rec = writer.create_warc_record(
            r.url,
            "response",
            payload=io.BytesIO(r.body),
            length=len(r.body),
            http_headers=http,
            warc_headers_dict={"WARC-Date": WARC_DATE, "WARC-Record-ID": _record_id("response", r.url)},
        )
        writer.write_record(rec)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_bytes(buf.getvalue())
    tmp.replace(out)


def same_archive(a: bytes, b: bytes) -> bool:
    """Equal archives; compared uncompressed, since another zlib (zlib-ng, say) may
    compress the same records to different bytes."""
    return a == b or gzip.decompress(a) == gzip.decompress(b)


def build(out: Path = ARCHIVE_PATH, site_dir: Path = SITE_DIR) -> list[Resource]:
    resources = collect(site_dir)
    write_warc(resources, out)
    return resources


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m crawl.miniweb.build", description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=ARCHIVE_PATH, help="where to write the WARC (default: %(default)s)")
    ap.add_argument("--check", action="store_true", help="do not write; exit 1 if --out differs from a fresh build")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.check:
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            fresh = Path(tmp) / args.out.name
            build(fresh)
            same = args.out.exists() and same_archive(fresh.read_bytes(), args.out.read_bytes())
        log.info("%s is %s", args.out, "up to date" if same else "STALE: run python -m crawl.miniweb.build")
        return 0 if same else 1
    resources = build(args.out)
    data = args.out.read_bytes()
    kinds: dict[str, int] = {}
    for r in resources:
        kinds[r.kind] = kinds.get(r.kind, 0) + 1
    log.info(
        "wrote %s: %d responses (%s), %d bytes, sha256 %s",
        args.out,
        len(resources),
        ", ".join(f"{k} {n}" for k, n in kinds.items()),
        len(data),
        hashlib.sha256(data).hexdigest(),
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
