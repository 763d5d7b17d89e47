"""The agent's ``visit`` tool: fetch pages, have an LLM pull out what serves the goal.

Pages come through the crawler's own :class:`crawl.fetcher.Fetcher` (SSRF guard,
robots.txt, byte caps, retries) and adapters, so the agent reads exactly the clean
text the corpus holds, from the live web, a loopback replay of WARC files or the WARC
files in-process. The summarizer role turns a page into WebDancer's ``evidence`` /
``summary`` pair. Page text is hostile input: it goes to the summarizer between
fences, with the instruction to treat it as data. A page that cannot be fetched or
summarised still yields WebDancer's frame with a sentence saying why, so the rollout
goes on and filters can count it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from crawl.adapters import parse_response
from crawl.drop_reasons import NEAR_EMPTY
from crawl.fetcher import Fetcher, FetchSettings
from crawl.netguard import NetworkPolicy
from crawl.replay import ReplayServer
from crawl.session import SourceSettings
from crawl.warc import WarcIndex
from distill.agent.tools import FETCH_FAILED, OK, SUMMARY_FAILED, TIMEOUT, ToolArgumentError, ToolCache, ToolResult
from distill.jsonparse import extract_json_object
from distill.llm.client import LLMClient
from distill.prompt import load_prompt

PAGE_SEPARATOR = "\n=======\n"
PROMPT_NAME = "visit_summary"
FENCE_OPEN = "<<<UNTRUSTED_PAGE_CONTENT>>>"
FENCE_CLOSE = "<<<END_UNTRUSTED_PAGE_CONTENT>>>"
SUMMARY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"evidence": {"type": "string"}, "summary": {"type": "string"}},
    "required": ["evidence", "summary"],
    "additionalProperties": False,
}
_NO_INFO = "No information is available from this page for the goal."


# --------------------------------------------------------------------------- reading
@dataclass(slots=True)
class PageText:
    """A page's clean text, or ``error`` saying why there is none (``outcome`` is the
    fetch outcome, ``ok`` when the fetch itself worked)."""

    url: str
    final_url: str = ""
    title: str = ""
    text: str = ""
    outcome: str = ""
    status: int | None = None
    error: str = ""

    @property
    def ok(self) -> bool:
        return not self.error


class PageReader:
    """Fetch and extract pages; an async context manager owning its fetcher (and the
    replay server, in ``replay`` mode).

    ``source`` is the crawl's own :class:`crawl.session.SourceSettings`, wired the way
    :mod:`crawl.session` wires a crawl: the replay server on a free loopback port with
    exactly its address allow-listed. ``fetcher``: a caller-owned, already entered
    Fetcher to use instead (tests, or sharing one with a crawl); it is not closed here.
    """

    def __init__(self, source: SourceSettings | None = None, fetch: FetchSettings | None = None, *,
                 fetcher: Fetcher | None = None) -> None:
        self.source = source or SourceSettings()
        if fetcher is None and self.source.mode in ("replay", "archive") and not self.source.archives:
            raise ValueError(f"mode={self.source.mode!r} needs at least one WARC archive in source.archives")
        self.fetch_settings = fetch or FetchSettings()
        self._fetcher = fetcher
        self._owned: Fetcher | None = None
        self._server: ReplayServer | None = None

    @property
    def mode(self) -> str:
        return self._fetcher.mode if self._fetcher is not None else self.source.mode

    async def __aenter__(self) -> PageReader:
        if self._fetcher is not None:
            return self
        src = self.source
        allow = src.allowed_networks()
        replay_url = src.replay_url if src.mode == "replay" and src.replay_url else None
        archive = None
        if src.mode == "replay" and not replay_url:
            # Indexing the archives and starting the server block: keep the loop free.
            self._server = await asyncio.to_thread(lambda: ReplayServer(list(src.archives)).start())
            allow += (self._server.host,)
            replay_url = self._server.url
        elif src.mode == "archive":
            archive = await asyncio.to_thread(WarcIndex, list(src.archives))
        try:
            fetcher = Fetcher(self.fetch_settings, policy=NetworkPolicy.from_strings(allow), mode=src.mode,
                              replay_url=replay_url, archive=archive,
                              retry_replay=bool(src.replay_url))
            self._owned = await fetcher.__aenter__()
        except BaseException:
            self._stop_server()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        try:
            if self._owned is not None:
                await self._owned.__aexit__(None, None, None)
        finally:
            self._owned = None
            self._stop_server()

    def _stop_server(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    async def read(self, url: str) -> PageText:
        """The page at ``url`` as clean markdown text; never raises."""
        fetcher = self._fetcher or self._owned
        if fetcher is None:
            raise RuntimeError("use `async with PageReader(...)` before reading pages")
        parts = urlsplit(url)
        if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
            return PageText(url, url, outcome="blocked_scheme", error="only http(s) URLs can be visited")
        result = await fetcher.fetch(url)
        page = PageText(url, result.final_url, outcome=str(result.outcome), status=result.status)
        if not result.ok:
            page.error = f"fetch outcome {result.outcome}" + (f": {result.detail}" if result.detail else "")
            return page
        if result.status is None or result.status >= 400:
            page.error = f"HTTP status {result.status}"
            return page
        # Extraction (trafilatura, lxml) is CPU work of tens of ms: off the event loop.
        parsed = await asyncio.to_thread(parse_response, result.final_url, result.status, result.headers, result.body)
        page.title = parsed.title
        # A short page ("near_empty") may still answer the goal; walls and errors never do.
        if parsed.text.strip() and (parsed.valid or parsed.invalid_reason == NEAR_EMPTY):
            page.text = parsed.text
        else:
            page.error = f"no readable content ({parsed.invalid_reason or 'empty text'})"
        return page


# --------------------------------------------------------------------------- rendering
def format_page(url: str, goal: str, evidence: str, summary: str) -> str:
    """One page's block, byte for byte as WebDancer's visit tool writes it."""
    return (f"The useful information in {url} for user goal {goal} as follows: \n\n"
            f"Evidence in page: \n{evidence}\n\nSummary: \n{summary}\n\n")


def render_observation(pages: list[str]) -> str:
    r"""The whole observation: page blocks joined as WebDancer joins them, ending in exactly
    one newline (as :func:`distill.agent.search.render_observation`): under the loop's
    ``"\n" + text + "\n"`` wrapper a visit reads ``...Summary: \n{summary}\n\n</tool_response>``,
    byte for byte as in WebDancer's released trajectories."""
    return PAGE_SEPARATOR.join(pages).rstrip("\n") + "\n"


def _fenced(text: str) -> str:
    # A page cannot close the fence early by containing the marker itself.
    return text.replace(FENCE_OPEN, "").replace(FENCE_CLOSE, "")


def _as_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return "\n".join(_as_text(v) for v in value).strip()
    return str(value).strip()


def parse_summary(text: str) -> tuple[str, str] | None:
    """(evidence, summary) from the summarizer's answer; a missing key becomes an empty
    field, an answer with neither (or no JSON object at all) is None."""
    obj = extract_json_object(text)
    if obj is None or not ({"evidence", "summary"} & obj.keys()):
        return None
    evidence, summary = _as_text(obj.get("evidence")), _as_text(obj.get("summary"))
    if not evidence and not summary:
        return None
    return evidence or "(the summarizer quoted no evidence)", summary or "(the summarizer gave no summary)"


# --------------------------------------------------------------------------- the tool
@dataclass(slots=True)
class _Page:
    text: str
    outcome: str = OK  # one of distill.agent.tools.TOOL_OUTCOMES
    cached: bool = False
    status: int = 0  # the page's HTTP status when it failed with one
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.outcome == OK

    @property
    def fetch_failed(self) -> bool:
        return self.outcome in (FETCH_FAILED, TIMEOUT)


class VisitTool:
    """``visit`` with WebDancer's arguments: ``url`` (array of strings, or one string)
    and ``goal``. Pages are read concurrently; blocks keep the order asked.

    ``max_page_chars``: the beginning of a longer page is kept (the prompt says it was
    cut). ``role``: the LLM role that summarises. Successful pages are cached per (url,
    goal, max_page_chars, model, prompt version); failures are retried on a rerun.
    """

    name = "visit"

    def __init__(self, reader: PageReader, client: LLMClient, cache: ToolCache | None = None, *,
                 role: str = "summarizer", max_page_chars: int = 24_000, max_urls: int = 5,
                 max_tokens: int | None = None, seed: int = 0) -> None:
        if max_page_chars < 1 or max_urls < 1:
            raise ValueError("max_page_chars and max_urls must be at least 1")
        self.reader = reader
        self.client = client
        self.cache = cache
        self.role = role
        self.model = client.role(role).model  # fails at setup, naming the configured roles
        self.max_page_chars = max_page_chars
        self.max_urls = max_urls
        self.max_tokens = max_tokens
        self.seed = seed
        self.prompt = load_prompt(PROMPT_NAME)

    @property
    def schema(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": "Visit webpage(s) and return the summary of the content.",
            "parameters": {
                "type": "object",
                "properties": {
                    "url": {
                        "type": "array",
                        "items": {"type": "string"},
                        "description": ("The URL(s) of the webpage(s) to visit. Can be a single URL or an array "
                                        "of URLs."),
                    },
                    "goal": {"type": "string", "description": "The specific information goal for visiting webpage(s)."},
                },
                "required": ["url", "goal"],
            },
        }

    def validate(self, arguments: Mapping[str, Any]) -> tuple[list[str], str]:
        """(urls, goal) stripped, or :class:`ToolArgumentError` saying what to fix."""
        raw, goal = arguments.get("url", arguments.get("urls")), arguments.get("goal")
        if raw is None:
            raise ToolArgumentError('visit needs "url": an array of page URLs, and "goal": what to look for, e.g. '
                                    '{"url": ["https://example.org/page"], "goal": "the year it was founded"}')
        items = [raw] if isinstance(raw, str) else raw
        if not isinstance(items, list) or not all(isinstance(u, str) for u in items):
            raise ToolArgumentError(f'"url" must be an array of URL strings, not {type(raw).__name__} '
                                    f'{str(raw)[:80]!r}')
        urls = [u.strip() for u in items]
        if not urls or not all(urls):
            raise ToolArgumentError('"url" must hold at least one URL, and no empty strings')
        if len(urls) > self.max_urls:
            raise ToolArgumentError(f"at most {self.max_urls} URLs per visit call, got {len(urls)}: visit the most "
                                    "promising ones first")
        if not isinstance(goal, str) or not goal.strip():
            raise ToolArgumentError('visit needs "goal": a non-empty string saying what information to look for '
                                    "on the page(s)")
        return urls, goal.strip()

    async def __call__(self, arguments: Mapping[str, Any]) -> ToolResult:
        urls, goal = self.validate(arguments)
        pages = await asyncio.gather(*(self._one(url, goal) for url in urls))
        stats = {
            "pages": len(pages),
            "pages_failed": sum(1 for p in pages if not p.ok),
            "fetch_failed": sum(1 for p in pages if p.fetch_failed),
            "pages_cached": sum(1 for p in pages if p.cached),
        }
        failed = next((p for p in pages if p.error), None)
        return ToolResult(text=render_observation([p.text for p in pages]),
                          cached=stats["pages_cached"] == len(pages), stats=stats,
                          outcomes=[p.outcome for p in pages], http_status=failed.status if failed else 0,
                          error=failed.error if failed else "")

    def cache_key(self, url: str, goal: str) -> str:
        return ToolCache.key(self.name, f"{self.role}:{self.model}", {
            "url": url, "goal": goal, "max_page_chars": self.max_page_chars,
            "prompt": f"{self.prompt.id}@{self.prompt.version}",
        })

    def summary_messages(self, page: PageText, goal: str) -> list[dict[str, str]]:
        """The summarizer request for ``page`` (truncated to ``max_page_chars``)."""
        text = _fenced(page.text)
        shown = text[: self.max_page_chars]
        return self.prompt.messages(goal=goal, url=page.final_url or page.url, title=_fenced(page.title),
                                    content=shown, truncated=len(shown) < len(text), shown_chars=len(shown),
                                    total_chars=len(text), fence_open=FENCE_OPEN, fence_close=FENCE_CLOSE)

    async def _one(self, url: str, goal: str) -> _Page:
        key = self.cache_key(url, goal)
        if self.cache is not None:
            hit = self.cache.get(key)
            if hit is not None:
                return _Page(hit, cached=True)
        page = await self.reader.read(url)
        if not page.ok:
            evidence = f"The page could not be read ({page.error})."
            status = page.status if page.status is not None and page.status >= 400 else 0
            outcome = TIMEOUT if page.outcome == "timeout" else FETCH_FAILED
            return _Page(format_page(url, goal, evidence, _NO_INFO), outcome, status=status,
                         error=f"{url}: {page.error}"[:300])
        result = await self.client.chat(self.role, self.summary_messages(page, goal), seed=self.seed,
                                        json_schema=SUMMARY_SCHEMA, max_tokens=self.max_tokens)
        if not result.ok:
            why = f"summarizer error {result.error}" + (f": {result.detail[:200]}" if result.detail else "")
        else:
            parsed = parse_summary(result.text) or parse_summary(result.reasoning)
            if parsed is not None:
                text = format_page(url, goal, *parsed)
                if self.cache is not None:
                    self.cache.put(key, self.name, f"{self.role}:{self.model}", text)
                return _Page(text)
            why = "the summarizer's answer was not the expected JSON object with evidence and summary"
        evidence = f"The page was read but could not be summarised ({why})."
        return _Page(format_page(url, goal, evidence, _NO_INFO), SUMMARY_FAILED, error=f"{url}: {why}"[:300])
