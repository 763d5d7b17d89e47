"""robots.txt, fetched once per origin and obeyed (RFC 9309).

Protego (Scrapy's parser) handles wildcards, ``$`` anchors, longest-match precedence
and Crawl-delay, which the stdlib parser gets wrong. Availability rules follow the
RFC: a 4xx robots.txt means no rules; a 5xx or unreachable one means stay out.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from protego import Protego

# (status or None when no response, body, failure outcome + detail when no response)
RobotsFetch = Callable[[str], Awaitable[tuple[int | None, bytes, str, str]]]


@dataclass(frozen=True, slots=True)
class RobotsRules:
    parser: Protego | None  # None: no rules (allow all)
    disallow_all: bool = False
    note: str = ""
    failure: str = ""  # fetch outcome when robots.txt could not be fetched at all

    def allowed(self, url: str, agent: str) -> bool:
        if self.disallow_all:
            return False
        return True if self.parser is None else bool(self.parser.can_fetch(url, agent))

    def crawl_delay(self, agent: str) -> float | None:
        if self.parser is None:
            return None
        delay = self.parser.crawl_delay(agent)
        return float(delay) if delay is not None else None


def rules_from_response(status: int | None, body: bytes, failure: str = "", detail: str = "") -> RobotsRules:
    if status is None:
        return RobotsRules(None, disallow_all=True, note=f"robots.txt unreachable ({failure}: {detail})", failure=failure)
    if 200 <= status < 300:
        try:
            return RobotsRules(Protego.parse(body.decode("utf-8", errors="replace")))
        except Exception as exc:  # noqa: BLE001 - a broken robots.txt must not stop the crawl
            return RobotsRules(None, note=f"unparseable robots.txt ({exc}); treated as no rules")
    if 400 <= status < 500 and status != 429:
        return RobotsRules(None, note=f"robots.txt {status}: no rules")
    return RobotsRules(None, disallow_all=True, note=f"robots.txt {status}: site unavailable")


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


class RobotsCache:
    """One robots.txt fetch per origin, shared by concurrent tasks."""

    def __init__(self, fetch: RobotsFetch, agent: str) -> None:
        self._fetch = fetch
        self.agent = agent
        self._rules: dict[str, asyncio.Future[RobotsRules]] = {}

    async def rules_for(self, url: str) -> RobotsRules:
        origin = origin_of(url)
        fut = self._rules.get(origin)
        if fut is None:
            fut = asyncio.get_running_loop().create_future()
            self._rules[origin] = fut
            try:
                status, body, failure, detail = await self._fetch(origin + "/robots.txt")
                fut.set_result(rules_from_response(status, body, failure, detail))
            except Exception as exc:  # noqa: BLE001
                fut.set_result(RobotsRules(None, disallow_all=True, note=f"robots.txt fetch failed: {exc}"))
        return await asyncio.shield(fut)

    async def allowed(self, url: str) -> tuple[bool, RobotsRules]:
        rules = await self.rules_for(url)
        return rules.allowed(url, self.agent), rules
