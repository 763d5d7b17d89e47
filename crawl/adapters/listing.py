"""Listing pages: the hub pages a crawl starts from, as one ``kind="listing"`` page.

A person seeding a crawl names hubs, not articles: an arXiv category listing, a
GitHub topic, an organisation's repositories, a Wikipedia category or portal. Their
value is the list of items they link to, so the site adapters reduce each to
:class:`ListItem` records and hand them here, which

* makes every item link an ``article`` link (the frontier follows only those), on
  top of the page's other links as the site's classifier typed them;
* renders the text as a short markdown list (title, then one line of detail), so a
  visit or a search hit shows what the hub holds;
* stores the items in ``fields["items"]`` and the listing's type in
  ``fields["listing"]`` (``arxiv_list``, ``arxiv_search``, ``github_topic``,
  ``github_repositories``, ``wikipedia_category``, ``wikipedia_portal``);
* judges validity: bot walls, error statuses and soft 404s as for any page
  (:func:`crawl.validity.check_validity`), then ``empty_listing`` when no item was
  found (a layout change, or a query that matched nothing). ``near_empty`` does not
  apply: ``listing`` is a structured kind (:data:`crawl.validity.STRUCTURED_KINDS`).

``listing`` is also in :data:`crawl.validity.LISTING_KINDS`: downstream stages can
tell hubs from content and keep them out of QA evidence.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from crawl.adapters.common import LinkSet, collapse
from crawl.drop_reasons import EMPTY_LISTING, NEAR_EMPTY
from crawl.page import Link, LinkKind, ParsedPage
from crawl.validity import check_validity

KIND = "listing"
MAX_ITEMS = 5_000  # a category can list thousands of members; the page stays bounded
MAX_DETAIL = 300


@dataclass(frozen=True, slots=True)
class ListItem:
    """One entry of a listing: where it points, its name, one line about it."""

    url: str  # canonical absolute URL of the item's own page
    title: str
    detail: str = ""  # authors, description ... (one line)
    extra: dict[str, Any] = field(default_factory=dict)  # site facts: stars, categories, arxiv_id ...

    def to_dict(self) -> dict[str, Any]:
        return {"url": self.url, "title": self.title, "detail": self.detail, **self.extra}


def unique_items(items: Iterable[ListItem]) -> list[ListItem]:
    """First item per URL, in page order, at most :data:`MAX_ITEMS`."""
    seen: dict[str, ListItem] = {}
    for item in items:
        if item.url and item.url not in seen:
            seen[item.url] = item
            if len(seen) >= MAX_ITEMS:
                break
    return list(seen.values())


def item_links(links: Iterable[Link], items: list[ListItem]) -> list[Link]:
    """``links`` with every item URL typed ``article`` (added when the page had no anchor
    for it, as with repositories embedded as JSON). Other links keep their kind."""
    targets = {item.url: item for item in items}
    out = LinkSet()
    for link in links:
        out.add(link.url, LinkKind.ARTICLE if link.url in targets else link.kind, link.text)
    for item in items:
        out.add(item.url, LinkKind.ARTICLE, item.title)
    return out.links


def render(title: str, intro: str, sections: list[tuple[str, list[ListItem]]]) -> str:
    """Markdown: ``# title``, the intro, then per section ``## heading`` and one line per item."""
    blocks = [f"# {title}"] if title else []
    if intro:
        blocks.append(intro)
    for heading, items in sections:
        if not items:
            continue
        if heading:
            blocks.append(f"## {heading}")
        lines = []
        for item in items:
            detail = collapse(item.detail)[:MAX_DETAIL]
            lines.append(f"- {item.title}" + (f": {detail}" if detail else ""))
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def listing_page(
    url: str,
    status: int,
    *,
    source: str,
    listing: str,
    title: str,
    text: str,
    items: list[ListItem],
    links: Iterable[Link],
    fields: dict[str, Any] | None = None,
    html: str | None = None,
) -> ParsedPage:
    """Build and judge a listing page (see module doc)."""
    items = unique_items(items)
    page = ParsedPage(
        url=url,
        source=source,
        kind=KIND,
        title=title,
        text=text,
        fields={"listing": listing, **(fields or {}), "items": [i.to_dict() for i in items], "item_count": len(items)},
        links=item_links(links, items),
    )
    # All content rules (walls, status, soft 404) but not near_empty: a listing is
    # judged by its items, and a category with three members is still a good root.
    reason = check_validity(status, title, text, html)
    if reason == NEAR_EMPTY:
        reason = None
    if reason is None and not items:
        reason = EMPTY_LISTING
    if reason is not None:
        page.valid = False
        page.invalid_reason = reason
    return page
