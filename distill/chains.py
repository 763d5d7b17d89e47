"""Page chains for multi-hop questions: documents linked to each other, as a browsing
agent would meet them (WebWalker / WebDancer CRAWLQA).

A chain of n documents follows article links between *valid* pages of the corpus, so a
question written from it needs facts that sit on several linked pages. Links across
sources count (a GitHub README linking an arXiv paper linking a Wikipedia biography):
those chains are what deep-research questions look like. Sampling is seeded.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import polars as pl

from crawl.validity import LISTING_KINDS


@dataclass(frozen=True, slots=True)
class Doc:
    url: str
    title: str
    text: str
    depth: int
    source: str


@dataclass(frozen=True, slots=True)
class Chain:
    id: str
    docs: tuple[Doc, ...]

    @property
    def hops(self) -> int:
        """Documents needed (1 = single-hop)."""
        return len(self.docs)

    @property
    def urls(self) -> list[str]:
        return [d.url for d in self.docs]

    @property
    def difficulty(self) -> str:
        return difficulty(d.depth for d in self.docs)


def difficulty(depths: Iterable[int]) -> str:
    """WebWalkerQA's rule: one page at depth <=2 / 3 / >=4 is easy / medium / hard;
    several pages by the sum of their depths, <=4 / <=6 / more."""
    ds = [max(0, int(d)) for d in depths]
    if len(ds) <= 1:
        d = ds[0] if ds else 0
        return "easy" if d <= 2 else "medium" if d == 3 else "hard"
    total = sum(ds)
    return "easy" if total <= 4 else "medium" if total <= 6 else "hard"


def docs_and_graph(pages: pl.DataFrame, min_chars: int = 200) -> tuple[dict[str, Doc], dict[str, list[str]]]:
    """Valid pages with enough text, and the article-link graph among them.

    Hub pages (:data:`crawl.validity.LISTING_KINDS`: an arXiv listing, a GitHub topic, a
    Wikipedia category) are crawl roots, not evidence: their text only repeats the titles
    of the pages they list, so they are left out of the documents and of the graph.
    """
    hub = pl.col("kind").fill_null("").is_in(sorted(LISTING_KINDS))
    valid = pages.filter(pl.col("valid") & (pl.col("text").str.len_chars() >= min_chars) & ~hub).unique(
        "canonical_url", keep="first", maintain_order=True
    )
    docs = {
        r["canonical_url"]: Doc(r["canonical_url"], r["title"] or "", r["text"] or "", int(r["depth"] or 0), r["source"] or "")
        for r in valid.iter_rows(named=True)
    }
    graph: dict[str, list[str]] = {}
    for r in valid.iter_rows(named=True):
        out = []
        for link in r["links"] or []:
            target = link["url"]
            # "external" links between our sources (a README citing an arXiv paper) join chains too.
            if link["kind"] in ("article", "external") and target in docs and target != r["canonical_url"] \
                    and target not in out:
                out.append(target)
        graph[r["canonical_url"]] = out
    return docs, graph


def chain_id(urls: Iterable[str]) -> str:
    return hashlib.sha256("\n".join(urls).encode()).hexdigest()[:16]


def sample_chains(docs: Mapping[str, Doc], graph: Mapping[str, list[str]], *, n: int, hop_weights: Mapping[int, float],
                  seed: int = 0, max_tries: int = 50) -> list[Chain]:
    """``n`` distinct chains; the number of documents is drawn from ``hop_weights``
    (e.g. ``{1: 1, 2: 2, 3: 1}``). Walks never revisit a page."""
    rng = random.Random(seed)
    starts = sorted(docs)
    if not starts:
        return []
    sizes, weights = zip(*sorted(hop_weights.items()), strict=True)
    chains: dict[str, Chain] = {}
    tries = 0
    while len(chains) < n and tries < n * max_tries:
        tries += 1
        size = rng.choices(sizes, weights=weights)[0]
        path = [rng.choice(starts)]
        while len(path) < size:
            options = [u for u in graph.get(path[-1], []) if u not in path]
            if not options:
                break
            path.append(rng.choice(options))
        if len(path) < size:
            continue
        cid = chain_id(path)
        if cid not in chains:
            chains[cid] = Chain(cid, tuple(docs[u] for u in path))
    return list(chains.values())


def chain_to_dict(chain: Chain) -> dict[str, Any]:
    return {"chain_id": chain.id, "urls": chain.urls, "hops": chain.hops, "difficulty": chain.difficulty,
            "depths": [d.depth for d in chain.docs]}
