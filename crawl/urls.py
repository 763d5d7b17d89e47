"""URL canonicalisation: one spelling per page.

The same page reaches us as ``1916%E2%80%9317_X``, ``1916%e2%80%9317_X`` and
``1916–17_X``, with or without ``:443``, ``#section`` or ``?utm_source=``. The visited
set, the corpus' unique key and the WARC replay index all use :func:`canonicalize`,
so those spellings are one page everywhere. w3lib (Scrapy's URL library) does the
percent-encoding, dot-segment, IDNA and query-order normalisation; we add default
ports and tracking parameters, which it leaves alone.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

from w3lib.url import canonicalize_url

ALLOWED_SCHEMES = frozenset({"http", "https"})
DEFAULT_PORTS = {"http": 80, "https": 443}

# Parameters that identify a click, not a resource.
TRACKING_PARAMS = frozenset(
    {
        "fbclid", "gclid", "dclid", "gbraid", "wbraid", "msclkid", "yclid", "mc_cid", "mc_eid",
        "_ga", "_gl", "igshid", "ref_src", "ref_url", "spm", "si", "trk", "mkt_tok",
    }
)
TRACKING_PREFIXES = ("utm_", "pk_", "hsa_", "oly_")


def _is_tracking(name: str) -> bool:
    low = name.lower()
    return low in TRACKING_PARAMS or low.startswith(TRACKING_PREFIXES)


def canonicalize(url: str, base: str | None = None) -> str | None:
    """Return the canonical absolute form of ``url`` (resolved against ``base``).

    Returns None for anything that is not an absolute http(s) URL with a host
    (``mailto:``, ``javascript:``, ``file:``, fragments-only, garbage), so callers
    can drop links without a try/except.
    """
    if not url:
        return None
    url = url.strip()
    try:
        if base:
            url = urljoin(base, url)
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in ALLOWED_SCHEMES or not parts.hostname:
            return None
        port = parts.port  # raises ValueError on a bad port
    except ValueError:
        return None
    host = parts.hostname.rstrip(".")
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    netloc = host if port in (None, DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        kept = [(k, v) for k, v in pairs if not _is_tracking(k)]
        if len(kept) != len(pairs):
            query = urlencode(kept)
    rebuilt = urlunsplit((scheme, netloc, parts.path or "/", query, ""))
    try:
        return canonicalize_url(rebuilt, keep_fragments=False)
    except (ValueError, UnicodeError):
        return None


def host_of(url: str) -> str:
    """Lower-case host of an absolute URL ('' when there is none)."""
    try:
        return (urlsplit(url).hostname or "").rstrip(".")
    except ValueError:
        return ""


def registered_site(host: str) -> str:
    """Coarse site key for same-site policies: the last two DNS labels.

    ``en.wikipedia.org`` and ``upload.wikimedia.org`` differ; ``export.arxiv.org`` and
    ``arxiv.org`` share ``arxiv.org``; ``api.github.com`` and ``github.com`` share
    ``github.com``. Good enough for the three sites we target without a PSL download.
    """
    labels = host.split(".")
    return ".".join(labels[-2:]) if len(labels) >= 2 else host
