"""A deliberately cheap fake OpenAI-compatible server for client benchmarks.

Usage::

    .venv/bin/python bench/fake_openai.py [--host 127.0.0.1] [--port 0] [--no-uvloop]

It prints ``PORT <n>`` on stdout once it listens. The benchmark starts it in its **own
process**: the client's CPU is then measured with ``time.process_time()`` without the
server's work in it, and the server never takes the client's GIL.

* ``POST /L<seconds>/v1/chat/completions`` answers a fixed, valid chat completion
  after ``<seconds>`` (e.g. ``/L0.2/v1/...``). The latency lives in the path, so one
  server serves every scenario: a client's ``base_url`` is ``http://host:port/L0.2/v1``.
  ``/v1/...`` with no prefix means zero latency.
* ``GET /_stats`` answers ``{"requests", "connections", "open", "cpu_s"}``:
  requests served, TCP connections accepted, connections open now and the
  server process's own CPU seconds. The benchmark reads it before and after a run,
  which gives the server's CPU per request (to show it is not the bottleneck) and
  the connections opened per run (to show keep-alive churn in a client's pool).

Why raw ``asyncio.Protocol`` and not aiohttp.web or uvicorn: the server must cost far
less than any client under test. Here a request is one ``bytes.find`` for the header
end, a scan for ``content-length``, and one ``loop.call_later`` that writes a
pre-built response; there is no task, no JSON parsing and no per-request object
graph. HTTP/1.1 keep-alive is honoured (``Connection: close`` is too); pipelined
requests are answered in order because every request to one path waits the same time.
Chunked request bodies are refused with 411, which no OpenAI client sends.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time

_COMPLETION = {
    "id": "chatcmpl-fake",
    "object": "chat.completion",
    "created": 1_700_000_000,
    "model": "m",
    "choices": [{
        "index": 0,
        "message": {"role": "assistant", "content": "The answer is 42."},
        "finish_reason": "stop",
        "logprobs": None,
    }],
    "usage": {"prompt_tokens": 12, "completion_tokens": 6, "total_tokens": 18},
}


def _response(status: str, body: bytes, *, close: bool = False) -> bytes:
    head = (f"HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {len(body)}\r\n"
            f"connection: {'close' if close else 'keep-alive'}\r\n\r\n")
    return head.encode("latin-1") + body


_OK = _response("200 OK", json.dumps(_COMPLETION, separators=(",", ":")).encode())
_NOT_FOUND = _response("404 Not Found", b'{"error":{"message":"not found","type":"invalid_request_error"}}')
_LENGTH_REQUIRED = _response("411 Length Required", b'{"error":{"message":"no chunked bodies"}}', close=True)


class Stats:
    """Counters shared by all connections of the one server process."""

    requests = 0
    connections = 0
    open = 0


class FakeOpenAIProtocol(asyncio.Protocol):
    """One HTTP/1.1 connection; parses just enough to find request boundaries."""

    __slots__ = ("transport", "buf", "loop")

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buf = b""
        self.loop = asyncio.get_running_loop()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        Stats.connections += 1
        Stats.open += 1

    def connection_lost(self, exc: Exception | None) -> None:
        Stats.open -= 1
        self.transport = None

    def data_received(self, data: bytes) -> None:
        buf = self.buf + data if self.buf else data
        while True:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                break
            head = buf[:end]
            lower = head.lower()
            length = 0
            i = lower.find(b"\r\ncontent-length:")
            if i >= 0:
                j = lower.find(b"\r\n", i + 2)
                length = int(lower[i + 17: j if j >= 0 else len(lower)])
            elif b"\r\ntransfer-encoding:" in lower:
                self._write(_LENGTH_REQUIRED, close=True)
                self.buf = b""
                return
            total = end + 4 + length
            if len(buf) < total:
                break
            buf = buf[total:]
            self._handle(head, close=b"\r\nconnection: close" in lower)
        self.buf = buf

    def _handle(self, head: bytes, *, close: bool) -> None:
        line_end = head.find(b"\r\n")
        method, path, _ = head[:line_end if line_end >= 0 else len(head)].split(b" ", 2)
        if method == b"GET" and path == b"/_stats":
            body = json.dumps({"requests": Stats.requests, "connections": Stats.connections, "open": Stats.open,
                               "cpu_s": time.process_time()}).encode()
            self._write(_response("200 OK", body), close=close)
            return
        delay = 0.0
        if path.startswith(b"/L"):
            cut = path.find(b"/", 2)
            delay = float(path[2:cut])
            path = path[cut:]
        if method != b"POST" or not path.endswith(b"/chat/completions"):
            self._write(_NOT_FOUND, close=close)
            return
        Stats.requests += 1
        if delay > 0:
            self.loop.call_later(delay, self._write, _OK, close)
        else:
            self._write(_OK, close=close)

    def _write(self, payload: bytes, close: bool = False) -> None:
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        transport.write(payload)
        if close:
            transport.close()


async def serve(host: str, port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(FakeOpenAIProtocol, host, port, backlog=4096, reuse_address=True)
    print(f"PORT {server.sockets[0].getsockname()[1]}", flush=True)
    async with server:
        await server.serve_forever()


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--no-uvloop", action="store_true", help="use the stock asyncio loop")
    args = ap.parse_args(argv)
    run = asyncio.run
    if not args.no_uvloop:
        try:
            import uvloop
        except ImportError:
            pass
        else:
            run = uvloop.run
    try:
        run(serve(args.host, args.port))
    except KeyboardInterrupt:
        pass
    sys.exit(0)


if __name__ == "__main__":
    main()
