"""Validity rules: bot walls, error pages and empty pages are invalid with the right
reason; real articles (including one *about* CAPTCHAs) stay valid.

Synthetic pages go through :func:`crawl.adapters.parse_response`, the path real
crawls take, so the tests cover adapter + rules together; a few go straight to
:func:`crawl.validity.check_validity` to pin the rule table itself.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from crawl.adapters import parse_response
from crawl.validity import MIN_TEXT_CHARS, RULES, check_validity, is_structured_kind, text_chars
from webdata import archive

HTML = {"Content-Type": "text/html; charset=utf-8"}

# A realistic article-length paragraph (~1,900 characters) reused to build long pages.
ARTICLE_PARAGRAPH = (
    "The river basin covers a wide area of temperate forest and farmland, and its "
    "tributaries drain several mountain ranges before joining the main channel near "
    "the old market town. Early settlers built mills along the banks, and by the "
    "eighteenth century the valley supported a busy trade in wool, timber and grain. "
    "Canals were cut to bypass the rapids, and later a railway followed the same "
    "route, carrying coal from the northern pits to the coastal ports. Today the "
    "valley is known for its nature reserves, walking trails and a small museum that "
    "records the history of the mills, the canal builders and the families who worked "
    "the land for generations. Flooding remains a concern, and the regional authority "
    "maintains a network of levees, gauges and retention basins that are inspected "
    "every spring. Ecologists monitor otters, kingfishers and migrating salmon, whose "
    "numbers recovered after water quality improved in the late twentieth century. "
)


def page(title: str, body_html: str, head: str = "") -> bytes:
    """A minimal standalone HTML document."""
    return f"<!DOCTYPE html><html><head><title>{title}</title>{head}</head><body>{body_html}</body></html>".encode()


def web(body: bytes, status: int = 200, url: str = "https://example.org/some/page"):
    return parse_response(url, status, HTML, body)


# ---------------------------------------------------------------------------
# Synthetic bot walls and error pages
# ---------------------------------------------------------------------------


def test_cloudflare_just_a_moment_page_is_challenge() -> None:
    body = page(
        "Just a moment...",
        '<div id="cf-wrapper"><h1>Checking your browser before accessing example.org.</h1>'
        "<p>This process is automatic. Your browser will redirect to your requested content shortly.</p>"
        '<form id="challenge-form" class="cf-browser-verification"></form>'
        "<p>Please allow up to 5 seconds&hellip;</p><p>DDoS protection by Cloudflare</p>"
        "<p>Ray ID: 7d2a4b1c9e8f0a12</p></div>",
        head='<script src="/cdn-cgi/challenge-platform/h/g/orchestrate/jsch/v1"></script>',
    )
    p = web(body, status=200)
    assert (p.valid, p.invalid_reason) == (False, "cloudflare_challenge")


def test_cloudflare_attention_required_block_page() -> None:
    body = page(
        "Attention Required! | Cloudflare",
        "<h1>Sorry, you have been blocked</h1><p>You are unable to access example.org</p>"
        "<p>Cloudflare Ray ID: 7d2a4b1c9e8f0a12 &bull; Your IP: 203.0.113.7 &bull; "
        "Performance &amp; security by Cloudflare</p>",
    )
    assert web(body).invalid_reason == "cloudflare_challenge"


def test_ray_id_without_cloudflare_is_not_a_challenge() -> None:
    """"Ray ID" alone (e.g. a short page about a person named Ray) is not a Cloudflare signal."""
    assert check_validity(200, "Ray", "Ray ID badge holders may enter. " * 20) is None


def test_bot_walls_are_named_whatever_the_status() -> None:
    """Cloudflare serves challenges as 403/503 and rate limits come as 429: the wall
    is the informative reason, not the number."""
    body = page("429 Too Many Requests", "<h1>Too Many Requests</h1><p>Retry later.</p>")
    assert web(body, status=429).invalid_reason == "rate_limited"
    cf = page("Attention Required! | Cloudflare", "<h1>Sorry, you have been blocked</h1><p>Cloudflare Ray ID: 8a1f2c3d</p>")
    assert web(cf, status=403).invalid_reason == "cloudflare_challenge"
    assert web(cf, status=503).invalid_reason == "cloudflare_challenge"
    # a plain error page keeps its status, and soft-error rules do not override it
    # (the status is in the corpus row's `status` column; the reason is the constant)
    assert web(page("Page not found", "<p>Nothing here.</p>"), status=404).invalid_reason == "http_error"
    assert web(page("Access Denied", "<p>Access Denied</p>"), status=403).invalid_reason == "http_error"
    assert web(page("Error", "<p>oops</p>"), status=429).invalid_reason == "http_error"


def test_soft_rate_limit_served_with_200() -> None:
    body = page(
        "GitHub",
        "<h1>Whoa there!</h1><p>You have exceeded a secondary rate limit.</p>"
        "<p>Please wait a few minutes before you try again.</p>",
    )
    assert web(body).invalid_reason == "rate_limited"


def test_captcha_page() -> None:
    body = page(
        "Security check",
        "<h1>Please verify you are human</h1>"
        '<div class="g-recaptcha" data-sitekey="6Lc_aCMTAAAAABx7u2W0WPXnVbI_v6ZdbM6rYf16"></div>'
        "<p>Complete the CAPTCHA to continue to the site.</p>",
    )
    assert web(body).invalid_reason == "captcha"


def test_captcha_detected_from_html_widget_alone() -> None:
    body = page("Example", '<p>One moment.</p><div class="h-captcha" data-sitekey="x"></div>')
    assert web(body).invalid_reason == "captcha"


def test_article_about_captcha_stays_valid() -> None:
    """An encyclopedia article whose subject is CAPTCHAs must not be flagged."""
    paragraphs = "".join(f"<p>{ARTICLE_PARAGRAPH}</p>" for _ in range(3))
    body = page(
        "CAPTCHA - Wikipedia",
        '<h1 id="firstHeading">CAPTCHA</h1><div id="mw-content-text"><div class="mw-parser-output">'
        "<p>A <b>CAPTCHA</b> is a type of challenge-response test used in computing to determine "
        "whether the user is human, in order to deter bot attacks and spam. Sites ask users to "
        "verify you are human by typing distorted text, and a reCAPTCHA widget is common.</p>"
        f"{paragraphs}</div></div>",
    )
    p = parse_response("https://en.wikipedia.org/wiki/CAPTCHA", 200, HTML, body)
    assert p.title == "CAPTCHA"
    assert "challenge-response test" in p.text
    assert (p.valid, p.invalid_reason) == (True, None)


def test_login_wall() -> None:
    body = page(
        "Sign in to Example",
        "<h1>Sign in</h1><p>You must be logged in to view this page.</p>"
        "<form><input name=user><input name=pass type=password><button>Sign in</button></form>",
    )
    assert web(body).invalid_reason == "login_wall"


def test_login_wall_by_text_only() -> None:
    body = page("Example Forum", "<main><p>Please log in to continue reading this thread.</p></main>")
    assert web(body).invalid_reason == "login_wall"


def test_access_denied_page_served_with_200() -> None:
    body = page(
        "Access Denied",
        "<h1>Access Denied</h1><p>You don't have permission to access this resource on this server.</p>"
        "<p>Reference #18.4f2d3b17.1700000000.1a2b3c4d</p>",
    )
    assert web(body).invalid_reason == "access_denied"


def test_wikipedia_soft_404() -> None:
    body = page(
        "Nonexistent Thing - Wikipedia",
        '<h1 id="firstHeading">Nonexistent Thing</h1><div id="mw-content-text">'
        "<p><b>Wikipedia does not have an article with this exact name.</b> Please search for "
        "Nonexistent Thing in Wikipedia to check for alternative titles or spellings.</p>"
        + "".join(f"<p>{ARTICLE_PARAGRAPH}</p>" for _ in range(2))
        + "</div>",
    )
    p = parse_response("https://en.wikipedia.org/wiki/Nonexistent_Thing", 200, HTML, body)
    assert p.invalid_reason == "not_found"


def test_generic_page_not_found_title() -> None:
    body = page("Page not found | Example", "<h1>Oops</h1><p>The page you requested was not found.</p>")
    assert web(body).invalid_reason == "not_found"


def test_near_empty_page() -> None:
    body = page("Example Domain", "<div><h1>Example Domain</h1><p>Coming soon.</p></div>")
    p = web(body)
    assert (p.valid, p.invalid_reason) == (False, "near_empty")


def test_long_plain_page_is_valid() -> None:
    body = page("River valley", "<article><h1>River valley</h1>" + f"<p>{ARTICLE_PARAGRAPH}</p>" * 3 + "</article>")
    p = web(body)
    assert (p.valid, p.invalid_reason) == (True, None)
    assert "tributaries drain several mountain ranges" in p.text


@pytest.mark.parametrize("status", [301, 302, 400, 403, 404, 500, 503])
def test_http_error_statuses(status: int) -> None:
    body = page("River valley", f"<article><p>{ARTICLE_PARAGRAPH}</p></article>")
    assert web(body, status=status).invalid_reason == "http_error"


# ---------------------------------------------------------------------------
# The rule table itself
# ---------------------------------------------------------------------------


def test_rules_are_precompiled_and_well_formed() -> None:
    reasons = {"cloudflare_challenge", "captcha", "rate_limited", "login_wall", "access_denied", "not_found"}
    assert {r.reason for r in RULES} == reasons
    for rule in RULES:
        assert hasattr(rule.pattern, "search")
        assert rule.where in ("title", "text", "html")
        assert rule.max_length is None or rule.max_length > MIN_TEXT_CHARS


def test_length_cap_keeps_long_pages_valid() -> None:
    long_text = "Too many requests were made to the API during the incident. " + ARTICLE_PARAGRAPH * 3
    assert check_validity(200, "Incident report", long_text) is None
    assert check_validity(200, "Error", "Too many requests. Try again later.") == "rate_limited"


def test_structured_pages_are_exempt_from_near_empty_and_title_rules() -> None:
    assert check_validity(200, "London", "# London", structured=True) is None
    assert check_validity(200, "London", "# London") == "near_empty"
    # a GitHub user named "login" is not a login wall
    assert check_validity(200, "login", "# login (Some One)", structured=True) is None
    assert check_validity(200, "login", "# login (Some One)") == "login_wall"
    # ...but the status and the text rules still apply
    assert check_validity(404, "x", "# x", structured=True) == "http_error"
    api_limit = '{"message":"API rate limit exceeded for 203.0.113.7."}'
    assert check_validity(403, "", api_limit, structured=True) == "rate_limited"


def test_structured_kinds() -> None:
    for kind in ("api_repo", "api_query", "api_other", "atom_feed", "abs", "json"):
        assert is_structured_kind(kind), kind
    for kind in ("article", "repo", "web", "text"):
        assert not is_structured_kind(kind), kind


def test_text_chars_ignores_markdown_markup() -> None:
    assert text_chars("## Title\n\n- a\n- b\n\n| x | y |\n|---|---|") == len("Title a b x y")
    assert text_chars("word   word") == len("word word")


# ---------------------------------------------------------------------------
# Real pages stay valid
# ---------------------------------------------------------------------------


def _responses(name: str) -> Iterator[tuple[str, int, dict[str, str], bytes]]:
    from warcio.archiveiterator import ArchiveIterator

    with open(archive(name), "rb") as f:
        for record in ArchiveIterator(f):
            if record.rec_type != "response":
                continue
            yield (
                record.rec_headers.get_header("WARC-Target-URI"),
                int(record.http_headers.get_statuscode()),
                dict(record.http_headers.headers),
                record.content_stream().read(),
            )


@pytest.fixture(scope="module")
def modern_pages() -> list[tuple[str, int, dict[str, str], bytes]]:
    return list(_responses("pages_modern"))


def test_real_modern_pages_are_valid(modern_pages: list[tuple[str, int, dict[str, str], bytes]]) -> None:
    assert len(modern_pages) == 6
    for url, status, headers, body in modern_pages:
        p = parse_response(url, status, headers, body)
        assert (p.valid, p.invalid_reason) == (True, None), url
        assert text_chars(p.text) > 500, url
