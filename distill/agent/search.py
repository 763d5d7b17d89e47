"""The agent's ``search`` tool and the engines behind it.

The observation is WebDancer's exact text (a Serper result list rendered as markdown),
whatever engine answered, so trajectories made offline over the crawled corpus, over a
SearxNG instance or over Google through Serper all read the same to the model being
trained. Each query is cached on its own, keyed by the engine's id: a rerun is
byte-identical and costs nothing, and a batch that repeats an earlier query pays only
for the new ones. An engine that is down is an observation, never an exception, so a
rollout survives it; bad arguments raise :class:`ToolArgumentError` for the loop to
turn into a corrective message.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, Self

import httpx
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt

from crawl.retrying import parse_retry_after, retry_after_or_backoff
from crawl.search_index import SearchIndex
from distill.agent.tools import (
    BACKEND_ERROR,
    EMPTY_RESULT,
    FAILED_OUTCOMES,
    OK,
    TIMEOUT,
    ToolArgumentError,
    ToolCache,
    ToolResult,
)
from distill.llm.roles import MissingCredential

log = logging.getLogger(__name__)

QUERY_SEPARATOR = "\n=======\n"  # WebDancer joins the blocks of a batched call with this
_FOUND = re.compile(r"^A Google search for '.*' found (\d+) results:", re.M)


@dataclass(frozen=True, slots=True)
class Hit:
    """One search result; ``date`` is the engine's publication date, when it gives one."""

    title: str
    url: str
    snippet: str = ""
    date: str = ""


class SearchBackendError(RuntimeError):
    """The engine could not answer (down, refused, garbled); the message is the reason.

    ``status``: the HTTP error status the engine last answered (4xx / 5xx; None when there
    was none: network error, timeout, a 200 with a garbled body). ``timeout``: the engine did not answer
    in time. Both feed the tool outcome (:data:`distill.agent.tools.TOOL_OUTCOMES`), so a
    bad key (403) is counted as such, not read as a search result."""

    def __init__(self, message: str, *, status: int | None = None, timeout: bool = False) -> None:
        super().__init__(message)
        self.status = status
        self.timeout = timeout


class SearchBackend(Protocol):
    """An engine. ``name`` identifies it (and the index it serves) in cache keys, so two
    engines, or two builds of the local index, never share cached results."""

    name: str

    async def search(self, query: str, k: int) -> list[Hit]: ...

    async def aclose(self) -> None: ...


# --------------------------------------------------------------------------- engines
class LocalIndexBackend:
    """The crawled corpus through :class:`crawl.search_index.SearchIndex` (the default).

    ``index_id`` names the index in cache keys; when not given, a fingerprint of its
    documents (URLs, titles, text lengths) stands in, so rebuilding the index over a
    new crawl invalidates earlier cached results instead of replaying stale ones.
    """

    def __init__(self, index: SearchIndex, *, index_id: str | None = None) -> None:
        self.index = index
        self.name = f"local-bm25:{index_id or _fingerprint(index)}"

    @classmethod
    def load(cls, directory: str | Path, *, index_id: str | None = None) -> LocalIndexBackend:
        return cls(SearchIndex.load(directory), index_id=index_id)

    async def search(self, query: str, k: int) -> list[Hit]:
        # BM25 over the corpus takes milliseconds: not worth a thread hop.
        return [Hit(h.title, h.url, h.snippet) for h in self.index.search(query, k)]

    async def aclose(self) -> None:
        return None


def _fingerprint(index: SearchIndex) -> str:
    digest = hashlib.sha256()
    docs = index.docs
    for url, title, text in zip(docs["url"], docs["title"], docs["text"], strict=True):
        digest.update(f"{url}\x00{title}\x00{len(text or '')}\x01".encode())
    return digest.hexdigest()[:12]


class _RetryableHTTP(Exception):
    def __init__(self, detail: str, retry_after: float | None = None, *, status: int | None = None,
                 timeout: bool = False) -> None:
        super().__init__(detail)
        self.retry_after = retry_after
        self.status = status
        self.timeout = timeout


class _HttpBackend:
    """Shared HTTP plumbing: one pooled client, timeouts, a few retries on 429/5xx and
    network errors (honouring ``Retry-After`` up to ``max_retry_after_s``)."""

    name: str

    def __init__(self, *, timeout_s: float = 20.0, max_retries: int = 2, backoff_s: float = 0.5,
                 backoff_max_s: float = 8.0, max_retry_after_s: float = 30.0,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self.backoff_max_s = backoff_max_s
        self.max_retry_after_s = max_retry_after_s
        self._transport = transport
        self._client: httpx.AsyncClient | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _http(self) -> httpx.AsyncClient:
        # A client is bound to the loop it first ran on; a tool reused under a new
        # asyncio.run() gets a fresh one instead of a "loop is closed" error.
        loop = asyncio.get_running_loop()
        if self._client is None or self._loop is not loop:
            self._client = httpx.AsyncClient(timeout=httpx.Timeout(self.timeout_s), transport=self._transport,
                                             headers={"Accept": "application/json"})
            self._loop = loop
        return self._client

    async def aclose(self) -> None:
        if self._client is not None and self._loop is asyncio.get_running_loop():
            await self._client.aclose()
        self._client = None

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def _request_json(self, method: str, url: str, **kwargs: Any) -> Any:
        """The decoded JSON answer; raises :class:`SearchBackendError` once retries run out."""
        try:
            async for attempt in AsyncRetrying(
                stop=stop_after_attempt(self.max_retries + 1),
                wait=retry_after_or_backoff(self.backoff_s, self.backoff_max_s),
                retry=retry_if_exception_type(_RetryableHTTP),
                reraise=True,
            ):
                with attempt:
                    return await self._once(method, url, **kwargs)
        except _RetryableHTTP as exc:
            raise SearchBackendError(str(exc), status=exc.status, timeout=exc.timeout) from exc
        raise AssertionError("unreachable")  # pragma: no cover

    async def _once(self, method: str, url: str, **kwargs: Any) -> Any:
        try:
            response = await self._http().request(method, url, **kwargs)
        except httpx.TimeoutException as exc:
            raise _RetryableHTTP(f"no answer within {self.timeout_s:g}s", timeout=True) from exc
        except httpx.TransportError as exc:
            raise _RetryableHTTP(f"{type(exc).__name__}: {exc}") from exc
        status = response.status_code
        if status == 429 or status >= 500:
            after = parse_retry_after(response.headers.get("retry-after"))
            detail = f"HTTP {status} from {self.name}"
            if after is not None and after > self.max_retry_after_s:
                raise SearchBackendError(f"{detail} asking to retry after {after:.0f}s", status=status)
            raise _RetryableHTTP(detail, after, status=status)
        if status >= 400:
            raise SearchBackendError(f"HTTP {status} from {self.name}: {response.text[:200]}", status=status)
        try:
            return response.json()
        except ValueError as exc:
            raise SearchBackendError(f"{self.name} answered with non-JSON: {response.text[:120]!r}") from exc


class SearxngBackend(_HttpBackend):
    """A SearxNG instance's JSON API (``format=json`` must be enabled in its settings)."""

    def __init__(self, base_url: str, *, language: str | None = None, categories: str | None = None,
                 **http: Any) -> None:
        super().__init__(**http)
        self.base_url = base_url.rstrip("/")
        self.language = language
        self.categories = categories
        self.name = f"searxng:{self.base_url}"

    async def search(self, query: str, k: int) -> list[Hit]:
        params = {"q": query, "format": "json"}
        if self.language:
            params["language"] = self.language
        if self.categories:
            params["categories"] = self.categories
        data = await self._request_json("GET", f"{self.base_url}/search", params=params)
        results = data.get("results") if isinstance(data, dict) else None
        if not isinstance(results, list):
            raise SearchBackendError(f"{self.name} answered without a 'results' list")
        hits = []
        for item in results:
            if isinstance(item, dict) and item.get("url"):
                date = item.get("publishedDate")
                hits.append(Hit(_text(item.get("title")), str(item["url"]), _text(item.get("content")),
                                date[:10] if isinstance(date, str) else ""))
        return hits[:k]


class SerperBackend(_HttpBackend):
    """Google results through Serper (``POST {base_url}/search``), WebDancer's own engine.

    The key is read from the environment variable named by ``api_key_env`` at
    construction, so a missing key fails the run's setup, not its hundredth rollout,
    and the key itself never sits in config, cache keys or metadata.
    """

    def __init__(self, base_url: str = "https://google.serper.dev", *, api_key_env: str = "SERPER_API_KEY",
                 **http: Any) -> None:
        super().__init__(**http)
        key = os.environ.get(api_key_env, "")
        if not key:
            raise MissingCredential(
                f"the serper search backend needs an API key in ${api_key_env}, which is not set: "
                f"export {api_key_env}=... (or configure api_key_env to name the variable that holds it)")
        self._key = key
        self.api_key_env = api_key_env
        self.base_url = base_url.rstrip("/")
        self.name = f"serper:{self.base_url}"

    async def search(self, query: str, k: int) -> list[Hit]:
        data = await self._request_json("POST", f"{self.base_url}/search", json={"q": query, "num": k},
                                        headers={"X-API-KEY": self._key})
        organic = data.get("organic", []) if isinstance(data, dict) else None
        if not isinstance(organic, list):
            raise SearchBackendError(f"{self.name} answered without an 'organic' list")
        hits = [Hit(_text(item.get("title")), str(item["link"]), _text(item.get("snippet")), _text(item.get("date")))
                for item in organic if isinstance(item, dict) and item.get("link")]
        return hits[:k]


def _text(value: object) -> str:
    return value if isinstance(value, str) else "" if value is None else str(value)


def build_search_backend(kind: str, **settings: Any) -> SearchBackend:
    """An engine from configuration: ``local`` (``index=`` a loaded SearchIndex or
    ``index_dir=``), ``searxng`` (``base_url=``), ``serper`` (``base_url=``, ``api_key_env=``);
    other settings go to the engine (timeouts, retries)."""
    kind = kind.strip().lower()
    if kind == "local":
        index = settings.pop("index", None)
        index_dir = settings.pop("index_dir", None)
        if index is None and index_dir is None:
            raise ValueError("the local search backend needs index= (a SearchIndex) or index_dir= (a saved index)")
        return LocalIndexBackend(index if index is not None else SearchIndex.load(index_dir), **settings)
    if kind == "searxng":
        if not settings.get("base_url"):
            raise ValueError("the searxng search backend needs base_url= (e.g. http://127.0.0.1:8888)")
        return SearxngBackend(**settings)
    if kind == "serper":
        return SerperBackend(**settings)
    raise ValueError(f"unknown search backend {kind!r}; use local, searxng or serper")


# --------------------------------------------------------------------------- rendering
def format_results(query: str, hits: Sequence[Hit]) -> str:
    """One query's block, byte for byte as WebDancer's search tool writes it."""
    if not hits:
        return f"No results found for '{query}'. Try a more general query."
    entries = []
    for i, hit in enumerate(hits, 1):
        date = f"\nDate published: {hit.date}" if hit.date else ""
        snippet = f"\n{hit.snippet}" if hit.snippet else ""
        entries.append(f"{i}. [{hit.title}]({hit.url}){date}\n{snippet}")
    return f"A Google search for '{query}' found {len(hits)} results:\n\n## Web Results\n" + "\n\n".join(entries)


def render_observation(blocks: Sequence[str]) -> str:
    r"""The whole observation: query blocks joined as WebDancer joins them, ending in exactly
    one newline. The rollout loop writes a tool turn as ``"\n" + text + "\n"`` inside
    ``<tool_response>``; with that, every search observation in WebDancer's released
    trajectories ends ``...snippet\n\n</tool_response>``, so ours do too."""
    return QUERY_SEPARATOR.join(blocks).rstrip("\n") + "\n"


def failed_search(query: str, reason: str) -> str:
    return f"Search for '{query}' failed: {reason}"


@dataclass(frozen=True, slots=True)
class _Answer:
    """One query's block and what it came to (an outcome of ``TOOL_OUTCOMES``)."""

    block: str
    outcome: str
    cached: bool = False
    status: int = 0
    error: str = ""


# --------------------------------------------------------------------------- the tool
class SearchTool:
    """``search`` with WebDancer's arguments: ``query``, an array of strings (one string
    is accepted too). Queries run concurrently; the blocks keep the order asked."""

    name = "search"

    def __init__(self, backend: SearchBackend, cache: ToolCache | None = None, k: int = 10,
                 max_queries: int = 5) -> None:
        if k < 1 or max_queries < 1:
            raise ValueError("k and max_queries must be at least 1")
        self.backend = backend
        self.cache = cache
        self.k = k
        self.max_queries = max_queries

    @property
    def schema(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": (f"Performs batched web searches: supply an array 'query'; the tool retrieves the top "
                            f"{self.k} results for each query in one call."),
            "parameters": {
                "type": "object",
                "properties": {
                    "query": {
                        "type": "array",
                        "items": {"type": "string"},
                        "description": "Array of query strings. Include multiple complementary search queries in a "
                                       "single call.",
                    },
                },
                "required": ["query"],
            },
        }

    def queries(self, arguments: Mapping[str, Any]) -> list[str]:
        """The validated queries (stripped), or :class:`ToolArgumentError` saying what to fix."""
        # WebDancer's released function list names the property "queries" but requires
        # "query"; models trained on it write either.
        raw = arguments.get("query", arguments.get("queries"))
        if raw is None:
            raise ToolArgumentError('search needs "query": an array of search strings, e.g. '
                                    '{"query": ["first query", "second query"]}')
        items = [raw] if isinstance(raw, str) else raw
        if not isinstance(items, list) or not all(isinstance(q, str) for q in items):
            raise ToolArgumentError(f'"query" must be an array of strings, not {type(raw).__name__} {str(raw)[:80]!r}')
        queries = [q.strip() for q in items]
        if not queries or not all(queries):
            raise ToolArgumentError('"query" must hold at least one non-empty search string, and no empty ones')
        if len(queries) > self.max_queries:
            raise ToolArgumentError(f"at most {self.max_queries} queries per search call, got {len(queries)}: "
                                    "keep the most useful ones or split them over several calls")
        return queries

    async def __call__(self, arguments: Mapping[str, Any]) -> ToolResult:
        queries = self.queries(arguments)
        answers = await asyncio.gather(*(self._one(q) for q in queries))
        text = render_observation([a.block for a in answers])
        stats = {
            "queries": len(queries),
            "queries_failed": sum(1 for a in answers if a.outcome in FAILED_OUTCOMES),
            "queries_cached": sum(1 for a in answers if a.cached),
            "results": sum(int(m.group(1)) for a in answers for m in _FOUND.finditer(a.block)),
        }
        failed = next((a for a in answers if a.error), None)
        return ToolResult(text=text, cached=stats["queries_cached"] == len(queries), stats=stats,
                          outcomes=[a.outcome for a in answers], http_status=failed.status if failed else 0,
                          error=failed.error if failed else "")

    async def _one(self, query: str) -> _Answer:
        """One query's answer. Failures are not cached: the next run retries."""
        key = ToolCache.key(self.name, self.backend.name, {"query": query, "k": self.k})
        if self.cache is not None:
            hit = self.cache.get(key)
            if hit is not None:
                return _Answer(hit, OK if _FOUND.search(hit) else EMPTY_RESULT, cached=True)
        try:
            hits = await self.backend.search(query, self.k)
        except SearchBackendError as exc:
            return _Answer(failed_search(query, str(exc)), TIMEOUT if exc.timeout else BACKEND_ERROR,
                           status=exc.status or 0, error=str(exc)[:300])
        except Exception as exc:  # an engine's bug must not end the rollout
            log.exception("search backend %s crashed on %r", self.backend.name, query)
            why = f"{type(exc).__name__}: {exc}"
            return _Answer(failed_search(query, why), BACKEND_ERROR, error=why[:300])
        block = format_results(query, hits[: self.k])
        if self.cache is not None:
            self.cache.put(key, self.name, self.backend.name, block)
        return _Answer(block, OK if hits else EMPTY_RESULT)
