"""GitHub user / org pages and link kinds that keep a crawl from mirroring code."""

from __future__ import annotations

import pytest

from crawl.adapters import parse_response
from crawl.adapters.github_links import classify_github_url
from crawl.miniweb import ARCHIVE_PATH
from crawl.page import LinkKind
from crawl.warc import WarcIndex


@pytest.fixture(scope="module")
def miniweb() -> WarcIndex:
    return WarcIndex([ARCHIVE_PATH])


def parse(index: WarcIndex, url: str):  # type: ignore[no-untyped-def]
    rec = index.get(url)
    assert rec is not None, url
    return parse_response(url, rec.status, {k.lower(): v for k, v in rec.headers}, rec.payload)


def test_org_page_lists_repositories_as_article_links(miniweb: WarcIndex) -> None:
    page = parse(miniweb, "https://github.com/sorvik-institute")
    assert (page.kind, page.valid, page.title) == ("org", True, "Sorvik Institute")
    repos = {r["full_name"]: r for r in page.fields["repositories"]}
    assert {"sorvik-institute/tidewell", "sorvik-institute/cairnqa", "sorvik-institute/citecheck"} <= repos.keys()
    assert repos["sorvik-institute/cairnqa"]["stars"] == 611
    articles = {link.url for link in page.links if link.kind == LinkKind.ARTICLE}
    assert "https://github.com/sorvik-institute/citecheck" in articles
    assert "https://github.com/login" not in articles and "https://github.com/pricing" not in articles
    assert "sorvik-institute/citecheck: Score how faithfully" in page.text


def test_user_page_fields(miniweb: WarcIndex) -> None:
    page = parse(miniweb, "https://github.com/mcastellan")
    assert (page.kind, page.title) == ("user", "Mira Castellan")
    assert page.fields["followers"] == 812 and page.fields["location"] == "Tessholm, Arvenland"
    assert "mcastellan/hopwalk" in {r["full_name"] for r in page.fields["repositories"]}


def test_rate_limited_profile_stays_invalid(miniweb: WarcIndex) -> None:
    page = parse(miniweb, "https://github.com/lhartvik")
    assert not page.valid and page.invalid_reason in ("rate_limited", "http_error")


@pytest.mark.parametrize(
    "url,kind",
    [
        ("https://github.com/o/r", LinkKind.ARTICLE),
        ("https://github.com/o", LinkKind.ARTICLE),
        ("https://github.com/o/r/issues/12", LinkKind.ARTICLE),
        ("https://github.com/o/r/blob/main/README.md", LinkKind.OTHER),
        ("https://github.com/o/r/tree/main/docs", LinkKind.OTHER),
        ("https://github.com/o/r.git", LinkKind.OTHER),
        ("https://github.com/o/r/stargazers", LinkKind.NAVIGATION),
        ("https://github.com/login", LinkKind.NAVIGATION),
        ("https://api.github.com/repos/o/r", LinkKind.API),
    ],
)
def test_github_link_kinds(url: str, kind: LinkKind) -> None:
    assert classify_github_url(url) == kind
