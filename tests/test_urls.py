from __future__ import annotations

import pytest

from crawl.urls import canonicalize, registered_site

WIKI = "https://en.wikipedia.org/wiki/"


@pytest.mark.parametrize(
    "a,b",
    [
        (WIKI + "1916%E2%80%9317_Illinois", WIKI + "1916–17_Illinois"),
        (WIKI + "1916%e2%80%9317_Illinois", WIKI + "1916–17_Illinois"),
        ("HTTPS://EN.Wikipedia.ORG:443/wiki/Austin,_Texas", WIKI + "Austin,_Texas"),
        ("http://example.com:80/a/../b/?b=2&a=1", "http://example.com/b/?a=1&b=2"),
        (WIKI + "X#History", WIKI + "X"),
        ("https://github.com/o/r?utm_source=x&utm_medium=y&fbclid=z&tab=readme", "https://github.com/o/r?tab=readme"),
        ("https://example.com", "https://example.com/"),
        (WIKI + "Men%27s", WIKI + "Men's"),
    ],
)
def test_same_page_same_canonical_url(a: str, b: str) -> None:
    assert canonicalize(a) == canonicalize(b)
    assert canonicalize(a) is not None


def test_canonical_form_is_percent_encoded_utf8() -> None:
    assert canonicalize(WIKI + "1916–17_X") == WIKI + "1916%E2%80%9317_X"


def test_non_default_port_and_ipv6_kept() -> None:
    assert canonicalize("http://example.com:8080/x") == "http://example.com:8080/x"
    assert canonicalize("http://[::1]:8080/x") == "http://[::1]:8080/x"


@pytest.mark.parametrize(
    "url", ["mailto:a@b.c", "javascript:alert(1)", "file:///etc/passwd", "ftp://x.org/f", "", "http://", "http://a.com:99999/"]
)
def test_rejects_non_http_and_garbage(url: str) -> None:
    assert canonicalize(url) is None


def test_relative_and_protocol_relative_resolution() -> None:
    base = WIKI + "Andy_Roddick"
    assert canonicalize("//en.wikipedia.org/wiki/Omaha,_Nebraska", base) == WIKI + "Omaha,_Nebraska"
    assert canonicalize("/wiki/US_Open_(tennis)", base) == WIKI + "US_Open_(tennis)"
    assert canonicalize("#cite_note-1", base) == base


def test_registered_site_groups_api_hosts() -> None:
    assert registered_site("api.github.com") == registered_site("github.com")
    assert registered_site("export.arxiv.org") == registered_site("arxiv.org")
    assert registered_site("en.wikipedia.org") != registered_site("upload.wikimedia.org")
