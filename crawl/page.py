"""What a parsed page looks like, independent of the site it came from.

Adapters turn one HTTP response into a :class:`ParsedPage`; the crawler adds fetch
provenance (depth, root, status, timestamps) when it builds a corpus row. Keeping
this type free of fetch concerns lets `seekforge parse` run adapters on any WARC.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class LinkKind(StrEnum):
    """Why a link exists; only ``article`` links are followed by default.

    ``article``: content-to-content link (Wikipedia article, arXiv abs page, GitHub
    repo/user/issue), and a listing page's link to each item it lists (an arXiv
    listing's papers, a GitHub topic's repositories, a Wikipedia category's members
    and subcategories), which is how a crawl gets past its root. ``navigation``: site
    chrome, menus, footers. ``edit``/``special``/``file``: MediaWiki action,
    Special:/Talk:/Help: pages, media. ``external``: a different site. ``api``: machine
    endpoints (REST / Atom). ``other``: none of these.
    """

    ARTICLE = "article"
    NAVIGATION = "navigation"
    EDIT = "edit"
    SPECIAL = "special"
    FILE = "file"
    EXTERNAL = "external"
    API = "api"
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class Link:
    url: str  # absolute, canonical (crawl.urls.canonicalize)
    kind: LinkKind
    text: str = ""

    def to_dict(self) -> dict[str, str]:
        return {"url": self.url, "kind": str(self.kind), "text": self.text}


@dataclass(slots=True)
class ParsedPage:
    """Clean content of one response.

    ``text`` is markdown of the main content only (no navigation chrome); ``fields``
    holds site-specific structured values (arXiv id/authors, GitHub stars, Wikipedia
    infobox ...) as JSON-serialisable data. ``valid`` is False for error, bot-block and
    near-empty pages, with ``invalid_reason`` saying why (a declared constant of
    :mod:`crawl.drop_reasons`) and ``invalid_detail`` what varies (the exception of a
    ``parse_error``, the code of an ``api_error``); such pages stay in the corpus for
    accounting but are never used downstream.
    """

    url: str
    source: str  # "arxiv" | "github" | "wikipedia" | "web"
    kind: str  # adapter-specific page kind, e.g. "article", "abs", "atom_feed", "repo", "api_repo"
    title: str = ""
    text: str = ""
    fields: dict[str, Any] = field(default_factory=dict)
    links: list[Link] = field(default_factory=list)
    valid: bool = True
    invalid_reason: str | None = None
    invalid_detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        # Shallow on purpose: dataclasses.asdict deep-copies ``fields`` (6-7 ms on a
        # large article), and this runs once per page on the parse workers.
        return {
            "url": self.url, "source": self.source, "kind": self.kind, "title": self.title, "text": self.text,
            "fields": self.fields, "links": [link.to_dict() for link in self.links], "valid": self.valid,
            "invalid_reason": self.invalid_reason, "invalid_detail": self.invalid_detail,
        }
