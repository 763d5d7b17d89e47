"""The embedded mini-web served by the real replay app, with web faults injected per URL.

Why not the hostile server's own pages: the fault suite drives the whole ``refresh_job``,
whose QA and rollouts need the real mini-web's content. This server answers exactly as
the replay server does (same app, same archive), except for the URLs a test names: those
get a misbehaving answer first (503, 429 with Retry-After, a reset connection, a body
cut short) or always (500, undecodable bytes). The crawler reaches it through
``CrawlerResource.replay_url``, the same seam a shared replay server would use.

Usage::

    with FaultyReplayServer({"en.wikipedia.org/wiki/Ada_Lovelace": "503_once"}) as web:
        ...  # run config: resources.crawler.config.replay_url = web.url
        web.hits("en.wikipedia.org/wiki/Ada_Lovelace")  # -> 2
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Mapping

from aiohttp import web

from crawl.miniweb import ARCHIVE_PATH
from crawl.replay import ReplayServer

# fault -> how many first requests misbehave (None: all of them)
FAULTS: dict[str, int | None] = {
    "503_once": 1,
    "429_once": 1,
    "reset_once": 1,
    "truncated_once": 1,
    "always_500": None,
    "garbage_always": None,
}
GARBAGE = bytes(range(256)) * 40  # no text, invalid UTF-8: a page that cannot be read


class FaultyReplayServer(ReplayServer):
    """A :class:`ReplayServer` over the mini-web whose answers for chosen URLs misbehave.

    ``faults`` maps ``host/path`` (no scheme, no query) to a key of :data:`FAULTS`.
    """

    def __init__(self, faults: Mapping[str, str] | None = None) -> None:
        super().__init__([str(ARCHIVE_PATH)])
        unknown = sorted(set((faults or {}).values()) - set(FAULTS))
        if unknown:
            raise ValueError(f"unknown web faults {unknown}; known: {sorted(FAULTS)}")
        self.faults = dict(faults or {})
        self._hits: Counter[str] = Counter()
        self._lock = threading.Lock()

    def hits(self, key: str) -> int:
        with self._lock:
            return self._hits[key]

    def total_hits(self) -> int:
        with self._lock:
            return sum(self._hits.values())

    def _app(self) -> web.Application:
        replay = super()._app()
        serve = next(iter(replay.router.routes())).handler

        @web.middleware
        async def inject(request: web.Request, handler):  # type: ignore[no-untyped-def]
            key = (request.host or "").split(":", 1)[0].lower() + request.raw_path.split("?", 1)[0]
            with self._lock:
                self._hits[key] += 1
                n = self._hits[key]
            fault = self.faults.get(key)
            limit = FAULTS.get(fault or "", 0)
            if fault is None or (limit is not None and n > limit):
                return await serve(request)
            if fault == "503_once":
                return web.Response(status=503, text="service unavailable")
            if fault == "429_once":
                return web.Response(status=429, text="slow down", headers={"Retry-After": "1"})
            if fault == "always_500":
                return web.Response(status=500, text="internal error")
            if fault == "garbage_always":
                return web.Response(status=200, body=GARBAGE, headers={"Content-Type": "text/html; charset=utf-8"})
            if fault == "reset_once":
                assert request.transport is not None
                request.transport.abort()  # no status line at all
                raise ConnectionResetError("injected reset")
            # truncated_once: the true length announced, half the body sent, connection closed
            real = await serve(request)
            body = bytes(real.body or b"")
            resp = web.StreamResponse(status=real.status, headers={"Content-Type": real.headers.get("Content-Type", "text/html"),
                                                                   "Content-Length": str(len(body))})
            await resp.prepare(request)
            await resp.write(body[: len(body) // 2])
            assert request.transport is not None
            request.transport.abort()
            return resp

        app = web.Application(middlewares=[inject])
        app.router.add_route("*", "/{tail:.*}", serve)
        return app
