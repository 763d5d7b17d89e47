"""Serve WARC records over HTTP on loopback, by their original URL.

Requests name the original site either in the Host header (how the fetcher's replay
mode and ``curl -H 'Host: en.wikipedia.org'`` do it) or as a path prefix
(``http://127.0.0.1:PORT/en.wikipedia.org/wiki/X``, handy in a browser). Records are
sent back with their recorded status, headers and (still encoded) payload, so a
replayed crawl goes through the same decoding, redirect and validity code as a live
one. Only loopback binds are allowed unless explicitly overridden: the archive may
hold anything a crawl saw, and it is not meant to be published.
"""

from __future__ import annotations

import ipaddress
import logging
import threading
from collections.abc import Sequence
from pathlib import Path

from aiohttp import web

from crawl.loop_thread import LoopThread
from crawl.transports import NOT_IN_ARCHIVE_HEADER, ORIGINAL_SCHEME_HEADER, REPLAYED_HEADER
from crawl.urls import canonicalize
from crawl.warc import WarcIndex

log = logging.getLogger(__name__)
HOP_HEADERS = frozenset({"content-length", "transfer-encoding", "connection", "keep-alive"})


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _not_found(detail: str) -> web.Response:
    return web.Response(status=404, text=detail, headers={NOT_IN_ARCHIVE_HEADER: "1"})


def make_app(index: WarcIndex, self_hosts: Sequence[str] = ()) -> web.Application:
    """aiohttp application answering from ``index``."""
    own = {h.lower() for h in self_hosts} | {"127.0.0.1", "localhost", "[::1]", "::1"}

    async def handle(request: web.Request) -> web.StreamResponse:
        if request.method not in ("GET", "HEAD"):
            return web.Response(status=405, text="replay serves GET and HEAD only")
        raw_path = request.raw_path
        if any(seg in ("..", "%2e%2e", "%2E%2E") for seg in raw_path.split("?", 1)[0].split("/")):
            return web.Response(status=400, text="path traversal refused")
        host = (request.host or "").rsplit(":", 1)[0].lower() if not (request.host or "").startswith("[") else request.host
        path = raw_path
        if host in own:
            # Path-prefix form: /<host>/<path>
            parts = raw_path.lstrip("/").split("/", 1)
            if not parts[0] or "." not in parts[0]:
                return _not_found("name the site: Host header or /<host>/<path>")
            host = parts[0].lower()
            path = "/" + (parts[1] if len(parts) > 1 else "")
        scheme = request.headers.get(ORIGINAL_SCHEME_HEADER)
        schemes = [scheme] if scheme in ("http", "https") else ["https", "http"]
        for sch in schemes:
            key = canonicalize(f"{sch}://{host}{path}")
            found = index.get(key) if key else None
            if found is not None:
                headers = [(k, v) for k, v in found.headers if k.lower() not in HOP_HEADERS]
                resp = web.Response(status=found.status, reason=found.reason or None, body=found.payload)
                for k, v in headers:
                    resp.headers.add(k, v)
                resp.headers[REPLAYED_HEADER] = "1"
                return resp
        return _not_found(f"not in archive: {host}{path}")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    return app


class ReplayServer:
    """Run the replay app on a background thread; ``url`` is its base URL.

    Used by the Dagster resource and tests. ``port=0`` picks a free port.
    """

    def __init__(
        self,
        warc_paths: Sequence[str | Path] | WarcIndex,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        allow_public_bind: bool = False,
    ) -> None:
        if not _is_loopback(host) and not allow_public_bind:
            raise ValueError(
                f"refusing to bind the replay server to {host!r}: archives are served on loopback only; "
                "pass allow_public_bind=True (CLI: --allow-public-bind) if you really mean to expose it"
            )
        self.index = warc_paths if isinstance(warc_paths, WarcIndex) else WarcIndex(list(warc_paths))
        self.host = host
        self.port = port
        self._runner: web.AppRunner | None = None
        self._bg = LoopThread("seekforge-replay")

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> ReplayServer:
        try:
            self._bg.start(self._serve, cleanup=self._cleanup, timeout=30)
        except Exception as exc:
            raise RuntimeError(f"replay server failed to start: {exc}") from exc
        return self

    def _app(self) -> web.Application:
        """The application served (a test server wraps it to inject faults)."""
        return make_app(self.index, self_hosts=[self.host])

    async def _serve(self) -> None:
        """Bind and start serving (on the server's loop); sets the port when it was 0."""
        self._runner = web.AppRunner(self._app(), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, backlog=1024)
        await site.start()
        # aiohttp types _server as asyncio.AbstractServer; it is an asyncio.Server, which has .sockets.
        sockets = site._server.sockets if site._server else []  # type: ignore[attr-defined]
        if sockets:
            self.port = sockets[0].getsockname()[1]

    async def _cleanup(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def stop(self) -> None:
        self._bg.stop()

    def __enter__(self) -> ReplayServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve_forever(warc_paths: Sequence[str | Path], host: str = "127.0.0.1", port: int = 8765,
                  allow_public_bind: bool = False) -> None:
    """Blocking entry point for ``seekforge replay``."""
    server = ReplayServer(warc_paths, host, port, allow_public_bind=allow_public_bind)
    server.start()
    log.info("replaying %d records on %s", len(server.index), server.url)
    print(f"replaying {len(server.index)} records from {len(server.index.paths)} file(s) on {server.url}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
