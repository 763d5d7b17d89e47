"""httpx transports that decide where a request really goes.

The fetcher always speaks in original URLs (``https://en.wikipedia.org/wiki/X``);
the transport underneath decides whether that means the live web (through the SSRF
guard), a local replay server, or a WARC file read in-process. One fetcher, one set
of policies (redirects, caps, robots, retries, archiving), three sources.
"""

from __future__ import annotations

import asyncio

import httpx

from crawl.netguard import NetworkPolicy
from crawl.warc import WarcIndex

NOT_IN_ARCHIVE_HEADER = "x-seekforge-not-in-archive"
# On a replay server's answers from the archive: the status was recorded, so a 429 or 503 is
# the site's, not the replay server's, and asking again gets the same answer.
REPLAYED_HEADER = "x-seekforge-replayed"
ORIGINAL_SCHEME_HEADER = "x-seekforge-scheme"


class GuardedTransport(httpx.AsyncBaseTransport):
    """Resolve, check and pin the destination address of every request.

    The request is sent to the checked IP with the original Host header (and SNI
    name for TLS), so the address we validated is the address we connect to.
    """

    def __init__(self, policy: NetworkPolicy, inner: httpx.AsyncBaseTransport | None = None) -> None:
        self.policy = policy
        self.inner = inner or httpx.AsyncHTTPTransport(retries=0)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        host = url.host
        port = url.port or (443 if url.scheme == "https" else 80)
        ip = await self.policy.resolve(host, port)
        if ip != host:
            request.url = url.copy_with(host=ip)
            if url.scheme == "https":
                request.extensions = {**request.extensions, "sni_hostname": host}
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


class ReplayTransport(httpx.AsyncBaseTransport):
    """Send every request to a local replay server, naming the original site in Host.

    The replay server address itself goes through the guard (it must be allow-listed,
    e.g. 127.0.0.1), so replay mode cannot be used to reach anything else.
    """

    def __init__(self, replay_url: str, inner: httpx.AsyncBaseTransport) -> None:
        self.replay = httpx.URL(replay_url)
        self.inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        original = request.url
        request.headers[ORIGINAL_SCHEME_HEADER] = original.scheme
        request.url = original.copy_with(scheme=self.replay.scheme, host=self.replay.host, port=self.replay.port)
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


class ArchiveTransport(httpx.AsyncBaseTransport):
    """Answer requests from WARC files in-process: no server, no sockets.

    Unknown URLs get a 404 marked with :data:`NOT_IN_ARCHIVE_HEADER` so the fetcher
    can tell "the archive lacks it" from "the site said 404".
    """

    def __init__(self, index: WarcIndex) -> None:
        self.index = index

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        found = await asyncio.to_thread(self.index.get, str(request.url))
        if found is None:
            return httpx.Response(
                404, headers={NOT_IN_ARCHIVE_HEADER: "1", "content-type": "text/plain"}, stream=httpx.ByteStream(b"not in archive")
            )
        headers = [(k, v) for k, v in found.headers if k.lower() != "content-length"]
        headers.append(("content-length", str(len(found.payload))))
        return httpx.Response(found.status, headers=headers, stream=httpx.ByteStream(found.payload))
