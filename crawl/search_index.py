"""Offline web search over the crawled corpus (the agent's default ``search`` backend).

BM25 via bm25s (sparse matrices, fast, saves to plain .npy files) with an English
Snowball stemmer, so "founded" finds "founding". The title is indexed twice: a page
whose title matches the query is usually the page the agent wants. Results look like
a web search engine's: title, url, snippet around the best-matching passage.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path

import bm25s
import polars as pl
import Stemmer
from bm25s.tokenization import Tokenizer

from crawl.validity import LISTING_KINDS

DOCS_FILE = "docs.parquet"
MANIFEST_FILE = "manifest.json"
_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")


@dataclass(frozen=True, slots=True)
class SearchHit:
    url: str
    title: str
    snippet: str
    score: float
    source: str

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def _tokenizer() -> Tokenizer:
    return Tokenizer(stopwords="en", stemmer=Stemmer.Stemmer("english").stemWord)


def _strip_markdown(text: str) -> str:
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
    return re.sub(r"^[#>*\-\s]+", "", text, flags=re.MULTILINE)


def make_snippet(text: str, query_terms: set[str], stem, max_chars: int = 300) -> str:
    """The passage of up to ~max_chars that mentions most query terms."""
    sentences = [s.strip() for s in _SENTENCE.split(_strip_markdown(text)) if s.strip()]
    if not sentences:
        return ""
    best_i, best_score = 0, -1
    for i, sentence in enumerate(sentences):
        words = {stem(w) for w in re.findall(r"\w\w+", sentence.lower())}
        score = len(words & query_terms)
        if score > best_score:
            best_i, best_score = i, score
    snippet = sentences[best_i]
    j = best_i + 1
    while j < len(sentences) and len(snippet) + len(sentences[j]) < max_chars:
        snippet += " " + sentences[j]
        j += 1
    return snippet if len(snippet) <= max_chars else snippet[: max_chars - 1].rsplit(" ", 1)[0] + "…"


class SearchIndex:
    """Build, save, load and query a BM25 index over valid ``web_pages`` rows."""

    def __init__(self, retriever: bm25s.BM25, tokenizer: Tokenizer, docs: pl.DataFrame) -> None:
        self.retriever = retriever
        self.tokenizer = tokenizer
        self.docs = docs
        self._stem = Stemmer.Stemmer("english").stemWord

    @classmethod
    def build(cls, pages: pl.DataFrame) -> SearchIndex:
        """Index the valid pages with text. Hub pages (:data:`crawl.validity.LISTING_KINDS`:
        listings, topics, categories) are left out: their text is a list of other pages'
        titles, which outranks the pages themselves on short queries."""
        hub = pl.col("kind").fill_null("").is_in(sorted(LISTING_KINDS))
        docs = (
            pages.filter(pl.col("valid") & (pl.col("text").str.len_chars() > 0) & ~hub)
            .select("canonical_url", "title", "source", "text")
            .unique("canonical_url", keep="first", maintain_order=True)
            .rename({"canonical_url": "url"})
        )
        if docs.height == 0:
            raise ValueError("cannot build a search index: no valid pages with text in web_pages")
        tokenizer = _tokenizer()
        corpus = [f"{t}\n{t}\n{x}" for t, x in zip(docs["title"], docs["text"], strict=True)]
        tokens = tokenizer.tokenize(corpus, show_progress=False, return_as="tuple")
        retriever = bm25s.BM25()
        retriever.index(tokens, show_progress=False)
        return cls(retriever, tokenizer, docs)

    def __len__(self) -> int:
        return self.docs.height

    def search(self, query: str, k: int = 10) -> list[SearchHit]:
        """Top-``k`` pages for ``query``; pages sharing no term with it are not returned."""
        if not query.strip() or self.docs.height == 0:
            return []
        q = self.tokenizer.tokenize([query], update_vocab=False, show_progress=False, return_as="tuple")
        if not any(i != 0 for i in q.ids[0]):  # id 0 is the empty/unknown token
            return []
        k = min(k, self.docs.height)
        results, scores = self.retriever.retrieve(q, k=k, show_progress=False)
        terms = {self._stem(w) for w in re.findall(r"\w\w+", query.lower())}
        hits = []
        for doc_id, score in zip(results[0].tolist(), scores[0].tolist(), strict=True):
            if score <= 0:
                continue
            row = self.docs.row(int(doc_id), named=True)
            hits.append(SearchHit(row["url"], row["title"], make_snippet(row["text"], terms, self._stem), float(score), row["source"]))
        return hits

    def save(self, directory: str | Path) -> Path:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self.retriever.save(str(directory), show_progress=False)
        self.tokenizer.save_vocab(str(directory))
        self.tokenizer.save_stopwords(str(directory))
        self.docs.write_parquet(directory / DOCS_FILE)
        (directory / MANIFEST_FILE).write_text(json.dumps({"documents": self.docs.height, "backend": "bm25s", "stemmer": "snowball-english"}))
        return directory

    @classmethod
    def load(cls, directory: str | Path) -> SearchIndex:
        directory = Path(directory)
        if not (directory / MANIFEST_FILE).exists():
            raise FileNotFoundError(f"no search index at {directory}: materialize the search_index asset first")
        retriever = bm25s.BM25.load(str(directory), show_progress=False)
        tokenizer = _tokenizer()
        tokenizer.load_vocab(str(directory))
        tokenizer.load_stopwords(str(directory))
        return cls(retriever, tokenizer, pl.read_parquet(directory / DOCS_FILE))
