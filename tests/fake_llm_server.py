"""A real, scriptable OpenAI-compatible HTTP server on 127.0.0.1 for LLM client tests.

Why a real server and not a mocked transport: the failures a teacher endpoint shows
in production happen on the wire (a 429 with ``Retry-After``, a body cut off half way,
a socket closed without a response, a request that is never answered). Mocking the
openai SDK or httpx would test our assumptions about those layers, not the layers
themselves. This module speaks HTTP/1.1 over raw ``asyncio.start_server`` streams, so
every byte written and every connection closed is under the test's control.

The server runs its own asyncio loop in a daemon thread (:class:`crawl.loop_thread.LoopThread`),
so it serves sync tests that drive the client with ``asyncio.run`` as well as benchmarks. It
binds an OS-assigned free port and keeps all state per instance.

Replies to ``POST /v1/chat/completions`` are *scripted*: the test queues behaviours
(consumed one per request, in order) and, when the queue is empty, a default
behaviour answers (by default a deterministic echo of the last user message and the
``seed``, so distinct seeds give distinct answers). Either may be a callable taking
the :class:`RecordedRequest` and returning a behaviour, for replies that depend on the
request. ``GET /v1/models`` and ``GET /health`` always answer 200.

Usage::

    from fake_llm_server import FakeLLMServer, reply, status, hang

    with FakeLLMServer() as srv:
        srv.script(status(429, retry_after="1"), reply("hello", usage=(10, 2)))
        ...  # point an OpenAI client at srv.base_url
        assert srv.count() == 2
        assert srv.requests[0].json["seed"] == 1

or the ``fake_llm`` pytest fixture in ``tests/conftest.py``.

Behaviours (module-level factories):

=====================================  ===============================================
``reply(text, finish_reason, usage,``  200 chat.completion JSON; ``usage=(p, c)``
``reasoning_content=None)``            (default: whitespace token counts)
``status(code, retry_after=None,``     that status with an OpenAI-style error body
``body=None, headers=None)``           and optional ``Retry-After`` header
``hang()``                             read the request, never answer (until the
                                       client disconnects or the server stops)
``delay(seconds, then=None)``          wait, then run ``then`` (default: the default
                                       behaviour)
``drop()``                             close the connection after reading the
                                       request, no response bytes at all
``truncated_json()``                   200 + ``Content-Length: N`` then N/2 bytes of a
                                       valid completion JSON, then close
``malformed_json(content_type=...)``   200 ``application/json`` whose body is not JSON
``empty_choices()``                    200 completion JSON with ``"choices": []``
``raw(data, close=True)``              write these exact bytes (for anything else)
=====================================  ===============================================
"""

from __future__ import annotations

import asyncio
import http
import itertools
import json
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from crawl.loop_thread import LoopThread

__all__ = [
    "Behaviour", "FakeLLMServer", "RecordedRequest", "delay", "drop", "echo_reply", "empty_choices", "hang",
    "malformed_json", "raw", "reply", "status", "truncated_json",
]

CHAT_PATH = "/v1/chat/completions"
_MAX_HEADER_BYTES = 64 * 1024


# ---------------------------------------------------------------------------
# Recorded requests
# ---------------------------------------------------------------------------
@dataclass(frozen=True)
class RecordedRequest:
    """One request as the server saw it; ``json`` is None when the body is not JSON."""

    index: int
    method: str
    path: str
    headers: dict[str, str]  # lower-cased names
    body: bytes
    json: Any
    arrived: float  # time.monotonic() when the full request had been read

    @property
    def messages(self) -> list[dict[str, Any]]:
        return list((self.json or {}).get("messages") or [])

    @property
    def last_user_message(self) -> str:
        for message in reversed(self.messages):
            if message.get("role") == "user":
                content = message.get("content")
                return content if isinstance(content, str) else json.dumps(content)
        return ""


# ---------------------------------------------------------------------------
# Behaviours
# ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Reply:
    text: str
    finish_reason: str = "stop"
    usage: tuple[int, int] | None = None
    reasoning_content: str | None = None
    model: str | None = None  # None: echo the request's model


@dataclass(frozen=True)
class Status:
    code: int
    retry_after: str | None = None
    body: bytes | None = None
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Hang:
    pass


@dataclass(frozen=True)
class Delay:
    seconds: float
    then: Behaviour | None = None


@dataclass(frozen=True)
class Drop:
    pass


@dataclass(frozen=True)
class TruncatedJson:
    pass


@dataclass(frozen=True)
class MalformedJson:
    content_type: str = "application/json"
    body: bytes = b'{"id": "chatcmpl-x", "choices": [ this is not json'


@dataclass(frozen=True)
class EmptyChoices:
    pass


@dataclass(frozen=True)
class Raw:
    data: bytes
    close: bool = True


Behaviour = Reply | Status | Hang | Delay | Drop | TruncatedJson | MalformedJson | EmptyChoices | Raw
BehaviourSource = Behaviour | Callable[[RecordedRequest], Behaviour]


def reply(text: str, finish_reason: str = "stop", usage: tuple[int, int] | None = None,
          reasoning_content: str | None = None, model: str | None = None) -> Reply:
    """A normal 200 completion."""
    return Reply(text, finish_reason, usage, reasoning_content, model)


def status(code: int, retry_after: str | None = None, body: bytes | None = None,
           headers: Mapping[str, str] | None = None) -> Status:
    """An HTTP error status with an OpenAI-style JSON error body (or ``body``)."""
    return Status(code, retry_after, body, tuple((headers or {}).items()))


def hang() -> Hang:
    """Never answer: the client must give up on its own timeout."""
    return Hang()


def delay(seconds: float, then: Behaviour | None = None) -> Delay:
    """Answer ``then`` (default: the default behaviour) after ``seconds``."""
    return Delay(seconds, then)


def drop() -> Drop:
    """Close the connection after reading the request, without a response."""
    return Drop()


def truncated_json() -> TruncatedJson:
    """Promise a full JSON body, send half of it, close."""
    return TruncatedJson()


def malformed_json(content_type: str = "application/json", body: bytes | None = None) -> MalformedJson:
    """200 with a body that does not parse as JSON."""
    return MalformedJson(content_type, body if body is not None else MalformedJson.body)


def empty_choices() -> EmptyChoices:
    """200 completion JSON with ``"choices": []`` (what some servers send on overload)."""
    return EmptyChoices()


def raw(data: bytes, close: bool = True) -> Raw:
    """Write exactly ``data`` (then close unless ``close=False``)."""
    return Raw(data, close)


def echo_reply(request: RecordedRequest) -> Reply:
    """Default behaviour: a deterministic answer derived from the last user message and seed.

    Deterministic so re-runs compare equal; seed-dependent so K samples with distinct
    seeds produce K distinct cache entries, as against a real sampling server.
    """
    body = request.json if isinstance(request.json, dict) else {}
    return Reply(f"echo(seed={body.get('seed')}): {request.last_user_message}")


def _tokens(text: str) -> int:
    return len(text.split())


# ---------------------------------------------------------------------------
# The server
# ---------------------------------------------------------------------------
class FakeLLMServer:
    """Scripted OpenAI-compatible server on ``127.0.0.1:<free port>`` in its own thread.

    ``latency_s`` delays every chat completion (benchmarks, concurrency tests);
    ``default`` answers when the script queue is empty (a behaviour or a callable of
    the request; default :func:`echo_reply`). All accessors are thread-safe.
    """

    def __init__(self, *, latency_s: float = 0.0, default: BehaviourSource | None = None,
                 host: str = "127.0.0.1") -> None:
        self.latency_s = latency_s
        self.default: BehaviourSource = default if default is not None else echo_reply
        self.host = host
        self.port = 0
        self._lock = threading.Lock()
        self._queue: deque[BehaviourSource] = deque()
        self._requests: list[RecordedRequest] = []
        self._in_flight = 0
        self._max_in_flight = 0
        self._ids = itertools.count(1)
        self._bg = LoopThread("fake-llm-server")
        self._server: asyncio.AbstractServer | None = None
        self._stopping: asyncio.Event | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    # -- lifecycle ---------------------------------------------------------
    def start(self) -> FakeLLMServer:
        if self._bg.started:
            return self
        try:
            self._bg.start(self._start_server, timeout=10)
        except Exception as exc:
            raise RuntimeError("fake LLM server failed to start") from exc
        return self

    def stop(self) -> None:
        """Release hanging handlers, close every connection, join the thread."""
        self._bg.stop(self._shutdown, 10)

    def __enter__(self) -> FakeLLMServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """What an OpenAI client takes as ``base_url``."""
        return f"http://{self.host}:{self.port}/v1"

    @property
    def root_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    # -- scripting ---------------------------------------------------------
    def script(self, *behaviours: BehaviourSource) -> FakeLLMServer:
        """Append behaviours; each answers exactly one chat completion request, in order."""
        with self._lock:
            self._queue.extend(behaviours)
        return self

    def script_many(self, behaviours: Iterable[BehaviourSource]) -> FakeLLMServer:
        return self.script(*behaviours)

    def set_default(self, default: BehaviourSource) -> None:
        """What answers once the queue is empty (a behaviour or a callable of the request)."""
        with self._lock:
            self.default = default

    def pending(self) -> int:
        """Scripted behaviours not yet consumed."""
        with self._lock:
            return len(self._queue)

    # -- inspection --------------------------------------------------------
    @property
    def requests(self) -> list[RecordedRequest]:
        """Chat completion requests received so far (a copy, oldest first)."""
        with self._lock:
            return [r for r in self._requests if r.path == CHAT_PATH]

    @property
    def all_requests(self) -> list[RecordedRequest]:
        """Every request, including ``/v1/models`` and ``/health``."""
        with self._lock:
            return list(self._requests)

    def count(self, path: str = CHAT_PATH) -> int:
        """How many requests hit ``path`` (default: chat completions)."""
        with self._lock:
            return sum(1 for r in self._requests if r.path == path)

    @property
    def in_flight(self) -> int:
        """Chat completion requests received and not yet answered."""
        with self._lock:
            return self._in_flight

    @property
    def max_in_flight(self) -> int:
        """Peak of :attr:`in_flight` since start or :meth:`reset`."""
        with self._lock:
            return self._max_in_flight

    def reset(self) -> None:
        """Forget recorded requests, the script queue and the in-flight peak."""
        with self._lock:
            self._requests.clear()
            self._queue.clear()
            self._max_in_flight = self._in_flight

    # -- event loop side ---------------------------------------------------
    async def _start_server(self) -> None:
        self._stopping = asyncio.Event()
        self._server = await asyncio.start_server(self._on_connection, self.host, 0, limit=_MAX_HEADER_BYTES * 4)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _shutdown(self) -> None:
        assert self._stopping is not None
        self._stopping.set()
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=5)

    async def _on_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            while True:
                keep_open = await self._serve_one(reader, writer)
                if not keep_open:
                    break
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError, ValueError):
            pass
        except asyncio.CancelledError:
            pass
        finally:
            self._tasks.discard(task)
            try:
                writer.close()
            except Exception:  # noqa: BLE001
                pass

    async def _read_request(self, reader: asyncio.StreamReader) -> RecordedRequest | None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError:
            return None  # the client closed an idle keep-alive connection
        lines = head.decode("latin-1").split("\r\n")
        method, target, _version = lines[0].split(" ", 2)
        headers: dict[str, str] = {}
        for line in lines[1:]:
            if ":" in line:
                name, value = line.split(":", 1)
                headers[name.strip().lower()] = value.strip()
        if headers.get("transfer-encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int((await reader.readuntil(b"\r\n")).split(b";")[0].strip(), 16)
                if size == 0:
                    await reader.readuntil(b"\r\n")
                    break
                chunks.append(await reader.readexactly(size))
                await reader.readexactly(2)
            body = b"".join(chunks)
        else:
            body = await reader.readexactly(int(headers.get("content-length", "0") or 0))
        try:
            parsed = json.loads(body) if body else None
        except ValueError:
            parsed = None
        path = target.split("?", 1)[0]
        with self._lock:
            recorded = RecordedRequest(index=len(self._requests), method=method.upper(), path=path,
                                       headers=headers, body=body, json=parsed, arrived=time.monotonic())
            self._requests.append(recorded)
        return recorded

    async def _serve_one(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        request = await self._read_request(reader)
        if request is None:
            return False
        client_wants_close = request.headers.get("connection", "").lower() == "close"
        if request.method == "GET" and request.path in ("/health", "/v1/health"):
            await self._send_json(writer, 200, {"status": "ok"})
            return not client_wants_close
        if request.method == "GET" and request.path == "/v1/models":
            await self._send_json(writer, 200, {"object": "list", "data": [
                {"id": "fake-model", "object": "model", "created": 0, "owned_by": "seekforge-tests"}]})
            return not client_wants_close
        if request.path != CHAT_PATH:
            await self._send_json(writer, 404, _error_body(404, f"no route {request.method} {request.path}"))
            return not client_wants_close
        if request.method != "POST":
            await self._send_json(writer, 405, _error_body(405, "use POST"))
            return not client_wants_close

        with self._lock:
            self._in_flight += 1
            self._max_in_flight = max(self._max_in_flight, self._in_flight)
            source = self._queue.popleft() if self._queue else self.default
        done = _Once(self._leave)
        try:
            if self.latency_s > 0:
                await asyncio.sleep(self.latency_s)
            keep = await self._perform(self._resolve(source, request), request, reader, writer, done)
        finally:
            done()
        return keep and not client_wants_close

    def _leave(self) -> None:
        with self._lock:
            self._in_flight -= 1

    def _resolve(self, source: BehaviourSource, request: RecordedRequest) -> Behaviour:
        behaviour = source(request) if callable(source) else source
        if behaviour is None:  # a callable may decline: fall back to the echo
            behaviour = echo_reply(request)
        return behaviour

    async def _perform(self, behaviour: Behaviour, request: RecordedRequest, reader: asyncio.StreamReader,
                       writer: asyncio.StreamWriter, done: Callable[[], None]) -> bool:
        """Carry out one behaviour; returns whether the connection may be reused."""
        if isinstance(behaviour, Delay):
            await asyncio.sleep(behaviour.seconds)
            with self._lock:
                default = self.default
            then = behaviour.then if behaviour.then is not None else self._resolve(default, request)
            return await self._perform(then, request, reader, writer, done)
        if isinstance(behaviour, Reply):
            done()  # leave in-flight before the client can see the answer (see concurrency tests)
            await self._send_json(writer, 200, self._completion(behaviour, request))
            return True
        if isinstance(behaviour, EmptyChoices):
            body = self._completion(Reply(""), request)
            body["choices"] = []
            done()
            await self._send_json(writer, 200, body)
            return True
        if isinstance(behaviour, Status):
            extra = list(behaviour.headers)
            if behaviour.retry_after is not None:
                extra.append(("Retry-After", behaviour.retry_after))
            payload = behaviour.body if behaviour.body is not None else json.dumps(
                _error_body(behaviour.code, f"scripted status {behaviour.code}")).encode()
            done()
            await self._send(writer, behaviour.code, payload, extra)
            return True
        if isinstance(behaviour, Hang):
            assert self._stopping is not None
            # Wait for the client to give up (EOF on the socket) or for the server to stop.
            eof = asyncio.ensure_future(reader.read(1))
            stop = asyncio.ensure_future(self._stopping.wait())
            try:
                await asyncio.wait({eof, stop}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                eof.cancel()
                stop.cancel()
            return False
        if isinstance(behaviour, Drop):
            done()
            return False
        if isinstance(behaviour, TruncatedJson):
            body = json.dumps(self._completion(Reply("this answer will be cut off half way"), request)).encode()
            head = _head(200, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
            done()
            writer.write(head + body[: len(body) // 2])
            await writer.drain()
            return False
        if isinstance(behaviour, MalformedJson):
            done()
            await self._send(writer, 200, behaviour.body, [], content_type=behaviour.content_type)
            return True
        if isinstance(behaviour, Raw):
            done()
            writer.write(behaviour.data)
            await writer.drain()
            return not behaviour.close
        raise TypeError(f"unknown fake LLM behaviour: {behaviour!r}")

    def _completion(self, behaviour: Reply, request: RecordedRequest) -> dict[str, Any]:
        body = request.json if isinstance(request.json, dict) else {}
        if behaviour.usage is not None:
            prompt_tokens, completion_tokens = behaviour.usage
        else:
            prompt_tokens = sum(_tokens(str(m.get("content", ""))) for m in request.messages)
            completion_tokens = _tokens(behaviour.text)
        message: dict[str, Any] = {"role": "assistant", "content": behaviour.text}
        if behaviour.reasoning_content is not None:
            message["reasoning_content"] = behaviour.reasoning_content
        return {
            "id": f"chatcmpl-fake-{next(self._ids)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": behaviour.model or body.get("model") or "fake-model",
            "choices": [{"index": 0, "message": message, "finish_reason": behaviour.finish_reason,
                         "logprobs": None}],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                      "total_tokens": prompt_tokens + completion_tokens},
        }

    async def _send_json(self, writer: asyncio.StreamWriter, code: int, obj: Any) -> None:
        await self._send(writer, code, json.dumps(obj).encode("utf-8"), [])

    async def _send(self, writer: asyncio.StreamWriter, code: int, body: bytes, extra: list[tuple[str, str]],
                    content_type: str = "application/json") -> None:
        headers = [("Content-Type", content_type), ("Content-Length", str(len(body))), *extra]
        writer.write(_head(code, headers) + body)
        await writer.drain()


class _Once:
    """Call ``fn`` at most once: a request leaves in-flight exactly once whatever path it took."""

    def __init__(self, fn: Callable[[], None]) -> None:
        self._fn: Callable[[], None] | None = fn

    def __call__(self) -> None:
        fn, self._fn = self._fn, None
        if fn is not None:
            fn()


def _head(code: int, headers: list[tuple[str, str]]) -> bytes:
    try:
        reason = http.HTTPStatus(code).phrase
    except ValueError:
        reason = "Unknown"
    lines = [f"HTTP/1.1 {code} {reason}", *(f"{k}: {v}" for k, v in headers)]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _error_body(code: int, message: str) -> dict[str, Any]:
    kind = {400: "invalid_request_error", 401: "authentication_error", 404: "not_found_error",
            429: "rate_limit_error"}.get(code, "server_error" if code >= 500 else "invalid_request_error")
    return {"error": {"message": message, "type": kind, "param": None, "code": str(code)}}
