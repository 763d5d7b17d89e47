"""LLM client throughput: does ``distill.llm.client.LLMClient`` keep N requests in flight?

Usage::

    .venv/bin/python bench/llm_throughput.py [--contestants NAME,...] [--scenarios A,B,C] [--scale 1.0]
                                             [--repeats 1] [--l0-concurrency 64] [--profile CONTESTANT]
                                             [--client-loop asyncio|uvloop]

A teacher endpoint answers in seconds, so a distillation run is paced by how many
requests the client keeps in flight, not by the client's speed -- *if* the client's
own per-request CPU stays well under L/N. This benchmark checks that, against
``bench/fake_openai.py``, a fake OpenAI-compatible server with a fixed latency L per
request that runs in its **own process** (so ``time.process_time()`` here is the
client's CPU only, and the server never takes the client's GIL). One run prints:

* scenario A: L = 2 s, N = 256, M = 4N    -- goal: achieved req/s >= 0.95 x N/L
* scenario B: L = 0.2 s, N = 64, M = 20N  -- goal: >= 0.85 x N/L
* scenario C: L = 0, N = 64, M = 2000     -- goal: <= 1.5 ms client CPU per request

Every request is ``await client.chat("teacher", [{"role": "user", "content": f"q{i}"}],
seed=i)`` on an ``LLMClient(..., cache=None, max_concurrency=N, max_retries=0)``,
all M issued at once with ``asyncio.gather``; every result must be ``.ok``.

Contestants (all but the first are prototypes that live only in this file, so the
lead can compare before changing ``distill/llm/client.py``). Default run: all but
``httpx-keepalive`` and ``sdk-post``, which only answer diagnostic questions and would
push the run past two minutes.

* ``as-is``               -- ``LLMClient`` exactly as shipped (``AsyncOpenAI`` on its
  default httpx2 transport, SDK pool limits 1000 connections / 100 keep-alive);
* ``httpx-keepalive``     -- same, with ``max_keepalive_connections`` raised to >= N:
  with the default 100, at N = 256 connections returning to the pool beyond the 100th
  are closed and reopened (the ``conns`` column shows it);
* ``sdk-aiohttp``         -- ``AsyncOpenAI(http_client=openai.DefaultAioHttpClient(...))``,
  the SDK's own aiohttp transport; still all of the SDK's request building and parsing;
* ``sdk-post``            -- default transport, ``AsyncOpenAI.post`` instead of
  ``chat.completions.create`` (skips the SDK's TypedDict transform of the params);
* ``sdk-aiohttp-post``    -- both: the cheapest way found that keeps ``AsyncOpenAI``;
* (history) ``direct-aiohttp`` / ``direct-aiohttp-loop``: the prototypes that became the
  shipped ``LLMClient``; removed from this file once adopted (figures in bench/README.md).
* ``floor-aiohttp``       -- not a candidate: a bare aiohttp session (semaphore, POST,
  ``json.loads``). The gap between any row and this one is what our code adds.

Columns: ``req/s`` achieved over the timed window (first request issued to last
result), ``bound`` = N/L, ``ratio`` = req/s / bound, ``cli ms/req`` = client process CPU
(``time.process_time`` delta) / M, ``srv ms/req`` = the server process's CPU / M (it must
stay far below the client's), ``conns`` = TCP connections the server accepted during
the run (N means perfect keep-alive), ``other`` = cores used by processes outside the
benchmark during the run (from ``/proc/stat``; above ~0.2 the run is disturbed).
Scenarios run in the order A, B, C; within one, contestants run back to back, so
drift on the machine hits them alike. Each contestant is warmed up once (imports,
pydantic validators) before anything is timed. ``--profile X`` reruns scenario C
for contestant X under cProfile and prints where the client's CPU goes.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import json
import os
import platform
import pstats
import subprocess
import sys
import time
import types
import urllib.request
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import aiohttp  # noqa: E402
import httpx2  # noqa: E402
import openai  # noqa: E402
from openai.types.chat import ChatCompletion  # noqa: E402

from crawl.retrying import parse_retry_after  # noqa: E402
from distill.llm.client import ChatResult, LLMClient, _Fatal, _Retryable  # noqa: E402
from distill.llm.roles import RoleConfig  # noqa: E402


def _retry_after(exc: Any) -> float | None:
    return parse_retry_after(exc.response.headers.get("retry-after") if exc.response is not None else None)

# --------------------------------------------------------------------------- fake server


class FakeServer:
    """``bench/fake_openai.py`` in a child process; stats come over HTTP so the child
    can be any process (no shared memory, no pipes to keep drained)."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen([sys.executable, str(Path(__file__).with_name("fake_openai.py"))],
                                     stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().strip()
        if not line.startswith("PORT "):
            self.proc.kill()
            raise RuntimeError(f"fake server did not start: {line!r}")
        self.port = int(line.split()[1])
        self.root = f"http://127.0.0.1:{self.port}"

    def base_url(self, latency_s: float) -> str:
        return f"{self.root}/L{latency_s:g}/v1"

    _opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never via $http_proxy

    def stats(self) -> dict[str, float]:
        with self._opener.open(self.root + "/_stats", timeout=10) as resp:
            return json.loads(resp.read())

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def _busy_cores_s() -> float:
    """CPU-seconds all cores spent busy since boot, from /proc/stat: user, system, irq,
    softirq and steal. The ``nice`` column is left out on purpose: a niced background job
    (a compile at nice 19) soaks up idle time but yields to us, so counting it would
    call a quiet run disturbed."""
    try:
        with open("/proc/stat") as f:
            fields = [int(x) for x in f.readline().split()[1:]] + [0] * 8
    except OSError:
        return 0.0
    user, _nice, system, _idle, _iowait, irq, softirq, steal = fields[:8]
    return (user + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


# --------------------------------------------------------------------------- contestants


def _roles(base_url: str) -> dict[str, RoleConfig]:
    return {"teacher": RoleConfig(name="teacher", base_url=base_url, model="m", timeout_s=60)}


def _base_key(client: LLMClient, cfg: RoleConfig) -> tuple[str, str]:
    base_url = cfg.base_url or client.default_base_url
    if not base_url:
        raise _Fatal("no_endpoint", f"role {cfg.name!r} has no base_url and no embedded server is running")
    return base_url, cfg.api_key_env


class SdkLLMClient(LLMClient):
    """The design LLMClient replaced: ``AsyncOpenAI.chat.completions.create`` on the SDK's
    default httpx2 transport, one SDK client per endpoint. Kept here as the peer row."""

    def _client_for(self, cfg: RoleConfig) -> openai.AsyncOpenAI:  # type: ignore[override]
        key = _base_key(self, cfg)
        if key not in self._clients:
            self._clients[key] = openai.AsyncOpenAI(base_url=key[0], api_key=cfg.api_key(), max_retries=0,  # type: ignore[assignment]
                                                    timeout=cfg.timeout_s)
        return self._clients[key]  # type: ignore[return-value]

    async def aclose(self) -> None:
        for client in self._clients.values():
            await client.close()  # type: ignore[attr-defined]
        self._clients.clear()

    def _retry(self, code: str, exc: openai.APIStatusError) -> _Retryable | _Fatal:
        """Retry after the server's Retry-After, unless it asks for longer than we wait."""
        after = _retry_after(exc)
        if after is not None and after > self.max_retry_after_s:
            return _Fatal(code, f"{exc.status_code} with Retry-After {after:.0f}s (> {self.max_retry_after_s:g}s we wait)")
        return _Retryable(code, f"{exc.status_code}: {exc}", after)

    async def _once(self, client: openai.AsyncOpenAI,  # type: ignore[override]
                    role: str, cfg: RoleConfig, payload: dict[str, Any],
                    extra: dict[str, Any], result: ChatResult) -> None:
        self.stats[role].requests += 1
        async with self._sem:
            try:
                response = await client.chat.completions.create(**payload, extra_body=extra or None,
                                                                timeout=cfg.timeout_s)
            except openai.RateLimitError as exc:
                raise self._retry("rate_limited", exc) from exc
            except openai.InternalServerError as exc:
                raise self._retry("server_error", exc) from exc
            except openai.APITimeoutError as exc:
                raise _Retryable("timeout", f"no answer within {cfg.timeout_s:g}s") from exc
            except openai.APIConnectionError as exc:
                raise _Retryable("connection_error", f"{type(exc.__cause__ or exc).__name__}: {exc}") from exc
            except openai.APIStatusError as exc:
                if exc.status_code in (408, 409, 425) or exc.status_code >= 500:
                    raise self._retry("server_error", exc) from exc
                raise _Fatal("bad_request", f"{exc.status_code}: {exc}") from exc
            except (openai.APIResponseValidationError, ValueError, TypeError) as exc:
                raise _Retryable("invalid_response", f"{type(exc).__name__}: {exc}") from exc
        if isinstance(response, (str, bytes)):  # a 200 that is not JSON (a proxy's HTML page)
            raise _Retryable("invalid_response", f"non-JSON 200 response: {str(response)[:120]!r}")
        choices = getattr(response, "choices", None) or []
        if not choices or choices[0].message is None:
            raise _Retryable("empty_choices", "the server answered with no choices")
        message = choices[0].message
        result.text = message.content or ""
        extra_fields = getattr(message, "model_extra", None) or {}
        result.reasoning = getattr(message, "reasoning_content", None) or extra_fields.get("reasoning_content") or ""
        result.finish_reason = choices[0].finish_reason or ""
        usage = getattr(response, "usage", None)
        result.prompt_tokens = int(getattr(usage, "prompt_tokens", 0) or 0)
        result.completion_tokens = int(getattr(usage, "completion_tokens", 0) or 0)


class HttpxKeepAliveLLMClient(SdkLLMClient):
    """Prototype: the shipped client, with the SDK's httpx2 pool keeping >= N idle
    connections alive. The SDK default (``DEFAULT_CONNECTION_LIMITS``: 1000 / 100 keep-
    alive) closes every connection that returns to the pool beyond the 100th, so at
    N = 256 the next request on it pays a TCP connect plus pool bookkeeping."""

    def __init__(self, *args: Any, max_concurrency: int = 16, **kwargs: Any) -> None:
        super().__init__(*args, max_concurrency=max_concurrency, **kwargs)
        self._pool = max(100, max_concurrency)

    def _client_for(self, cfg: RoleConfig) -> openai.AsyncOpenAI:
        key = _base_key(self, cfg)
        if key not in self._clients:
            http = openai.DefaultAsyncHttpxClient(
                limits=httpx2.Limits(max_connections=max(1000, self._pool), max_keepalive_connections=self._pool),
                timeout=cfg.timeout_s)
            self._clients[key] = openai.AsyncOpenAI(base_url=key[0], api_key=cfg.api_key(), max_retries=0,
                                                    timeout=cfg.timeout_s, http_client=http)
        return self._clients[key]


class SdkAiohttpLLMClient(SdkLLMClient):
    """Prototype: the shipped client on the SDK's own aiohttp transport
    (``openai.DefaultAioHttpClient``: aiohttp ``TCPConnector(limit=1000)``). The SDK
    still builds an httpx2 request, headers and a pydantic response per call."""

    def _client_for(self, cfg: RoleConfig) -> openai.AsyncOpenAI:
        key = _base_key(self, cfg)
        if key not in self._clients:
            http = openai.DefaultAioHttpClient(timeout=cfg.timeout_s)
            self._clients[key] = openai.AsyncOpenAI(base_url=key[0], api_key=cfg.api_key(), max_retries=0,
                                                    timeout=cfg.timeout_s, http_client=http)
        return self._clients[key]


class _PostShim:
    """Stands in for ``AsyncOpenAI`` in the shipped ``LLMClient._once``: its
    ``chat.completions.create(**payload, extra_body=..., timeout=...)`` becomes
    ``AsyncOpenAI.post("/chat/completions", body=..., cast_to=ChatCompletion)``.

    Why: ``create`` runs ``async_maybe_transform(params, CompletionCreateParams)``, a
    recursive walk of every message against the TypedDict annotations (``get_origin``,
    ``typing`` hashing, ``isinstance``) that only matters for aliased keys and file
    inputs, neither of which our plain-dict payloads have. ``post`` is the SDK's public
    escape hatch for raw requests; it keeps auth, headers, timeouts, error classes and
    the typed ``ChatCompletion``. Going through a shim keeps ``_once``'s error mapping
    untouched, so the row measures exactly the one-line change."""

    def __init__(self, sdk: openai.AsyncOpenAI) -> None:
        self.sdk = sdk
        self.chat = types.SimpleNamespace(completions=types.SimpleNamespace(create=self._create))

    async def _create(self, *, extra_body: dict[str, Any] | None = None, timeout: float | None = None,
                      **payload: Any) -> ChatCompletion:
        body = {**payload, **extra_body} if extra_body else payload
        return await self.sdk.post("/chat/completions", cast_to=ChatCompletion, body=body,
                                   options={"timeout": timeout} if timeout is not None else {})

    async def close(self) -> None:
        await self.sdk.close()


class SdkPostLLMClient(SdkLLMClient):
    """Prototype: default httpx2 transport, ``post`` instead of ``create`` (see ``_PostShim``)."""

    def _client_for(self, cfg: RoleConfig) -> openai.AsyncOpenAI:
        key = _base_key(self, cfg)
        if key not in self._clients:
            sdk = openai.AsyncOpenAI(base_url=key[0], api_key=cfg.api_key(), max_retries=0, timeout=cfg.timeout_s)
            self._clients[key] = _PostShim(sdk)  # type: ignore[assignment]
        return self._clients[key]


class SdkAiohttpPostLLMClient(SdkLLMClient):
    """Prototype: both SDK-side changes -- aiohttp transport and ``post`` instead of
    ``create``. Still ``AsyncOpenAI``, still its errors, auth and typed objects."""

    def _client_for(self, cfg: RoleConfig) -> openai.AsyncOpenAI:
        key = _base_key(self, cfg)
        if key not in self._clients:
            sdk = openai.AsyncOpenAI(base_url=key[0], api_key=cfg.api_key(), max_retries=0, timeout=cfg.timeout_s,
                                     http_client=openai.DefaultAioHttpClient(timeout=cfg.timeout_s))
            self._clients[key] = _PostShim(sdk)  # type: ignore[assignment]
        return self._clients[key]


class FloorClient:
    """Reference, not a candidate: what one aiohttp session costs with nothing around it
    (semaphore, ``json.dumps``, POST, ``json.loads``). No retries, no typed objects, no
    stats, no cache key. Its row is the floor every ``LLMClient`` variant is measured
    against: the gap between a variant and this row is what our code and the SDK add."""

    def __init__(self, base_url: str, max_concurrency: int) -> None:
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.sem = asyncio.Semaphore(max_concurrency)
        self.session: aiohttp.ClientSession | None = None
        self.headers = {"Authorization": "Bearer sk-local-no-key", "Content-Type": "application/json"}

    async def chat(self, role: str, messages: list[dict[str, Any]], *, seed: int = 0) -> Any:
        if self.session is None:
            self.session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0, keepalive_timeout=30))
        body = json.dumps({"model": "m", "messages": messages, "seed": seed}).encode()
        async with self.sem:
            async with self.session.post(self.url, data=body, headers=self.headers) as resp:
                raw, status = await resp.read(), resp.status
        data = json.loads(raw)
        ok = status == 200 and bool(data.get("choices"))
        return types.SimpleNamespace(ok=ok, error=None if ok else f"http_{status}", detail=raw[:100].decode())

    async def aclose(self) -> None:
        if self.session is not None:
            await self.session.close()


Factory = Callable[[str, int], Any]  # returns an object with LLMClient's chat() and aclose()
CONTESTANTS: Mapping[str, Factory] = {
    "as-is": lambda url, n: LLMClient(_roles(url), cache=None, max_concurrency=n, max_retries=0),
    "sdk-httpx": lambda url, n: SdkLLMClient(_roles(url), cache=None, max_concurrency=n, max_retries=0),
    "httpx-keepalive": lambda url, n: HttpxKeepAliveLLMClient(_roles(url), cache=None, max_concurrency=n,
                                                              max_retries=0),
    "sdk-aiohttp": lambda url, n: SdkAiohttpLLMClient(_roles(url), cache=None, max_concurrency=n, max_retries=0),
    "sdk-post": lambda url, n: SdkPostLLMClient(_roles(url), cache=None, max_concurrency=n, max_retries=0),
    "sdk-aiohttp-post": lambda url, n: SdkAiohttpPostLLMClient(_roles(url), cache=None, max_concurrency=n,
                                                               max_retries=0),
    "floor-aiohttp": FloorClient,
}
# LLMClient now ships the direct-aiohttp-loop design these prototypes led to; the
# SDK-based rows stay as the peer it replaced (AsyncOpenAI's request path).
DEFAULT_CONTESTANTS = ["as-is", "sdk-httpx", "sdk-aiohttp-post", "floor-aiohttp"]

# --------------------------------------------------------------------------- scenarios


@dataclass(frozen=True)
class Scenario:
    key: str
    latency_s: float
    concurrency: int
    requests: int
    goal: str  # "ratio" | "cpu"
    target: float


@dataclass
class Row:
    scenario: Scenario
    contestant: str
    ok: int
    wall_s: float
    client_cpu_s: float
    server_cpu_s: float
    server_requests: int
    connections: int
    other_cores: float
    first_error: str = ""

    @property
    def rps(self) -> float:
        return self.scenario.requests / self.wall_s

    @property
    def bound(self) -> float | None:
        s = self.scenario
        return s.concurrency / s.latency_s if s.latency_s > 0 else None

    @property
    def ratio(self) -> float | None:
        return self.rps / self.bound if self.bound else None

    @property
    def cpu_ms(self) -> float:
        return 1000 * self.client_cpu_s / self.scenario.requests

    @property
    def server_ms(self) -> float:
        return 1000 * self.server_cpu_s / max(1, self.server_requests)

    def verdict(self) -> str:
        s = self.scenario
        if self.ok != s.requests:
            return "FAIL"
        if s.goal == "ratio":
            return "PASS" if (self.ratio or 0) >= s.target else "MISS"
        return "PASS" if self.cpu_ms <= s.target else "MISS"


def scenarios(scale: float, l0_concurrency: int) -> dict[str, Scenario]:
    return {
        "A": Scenario("A", 2.0, 256, max(256, int(4 * 256 * scale)), "ratio", 0.95),
        "B": Scenario("B", 0.2, 64, max(64, int(20 * 64 * scale)), "ratio", 0.85),
        "C": Scenario("C", 0.0, l0_concurrency, max(200, int(2000 * scale)), "cpu", 1.5),
    }


async def _drive(client: LLMClient, m: int) -> list[Any]:
    return await asyncio.gather(*(client.chat("teacher", [{"role": "user", "content": f"q{i}"}], seed=i)
                                  for i in range(m)))


async def run_one(server: FakeServer, name: str, sc: Scenario,
                  profiler: cProfile.Profile | None = None) -> Row:
    """One timed run on a fresh client: the window covers issuing all M calls to the
    last result; client construction (lazy, in the first call) is inside it, closing
    is not. The collector stays on (a real worker has it on), but starts clean."""
    client = CONTESTANTS[name](server.base_url(sc.latency_s), sc.concurrency)
    gc.collect()  # the previous run's garbage must not be collected on this run's clock
    s0 = server.stats()
    busy0, c0, t0 = _busy_cores_s(), time.process_time(), time.perf_counter()
    if profiler is not None:
        profiler.enable()
    results = await _drive(client, sc.requests)
    if profiler is not None:
        profiler.disable()
    t1, c1, busy1 = time.perf_counter(), time.process_time(), _busy_cores_s()
    s1 = server.stats()
    await client.aclose()
    ok = sum(r.ok for r in results)
    bad = next((r for r in results if not r.ok), None)
    server_cpu = s1["cpu_s"] - s0["cpu_s"]
    wall = t1 - t0
    other = max(0.0, (busy1 - busy0) - (c1 - c0) - server_cpu) / wall if busy1 else float("nan")
    return Row(sc, name, ok, wall, c1 - c0, server_cpu, int(s1["requests"] - s0["requests"]) - 0,
               int(s1["connections"] - s0["connections"]) - 1,  # minus our own /_stats connection
               other, f"{bad.error}: {bad.detail[:100]}" if bad else "")


async def warm_up(server: FakeServer, name: str) -> None:
    """Imports, pydantic validator builds and aiohttp/httpx2 first-use costs, untimed."""
    client = CONTESTANTS[name](server.base_url(0), 16)
    results = await _drive(client, 48)
    await client.aclose()
    if not all(r.ok for r in results):
        bad = next(r for r in results if not r.ok)
        raise RuntimeError(f"warm-up of {name} failed: {bad.error}: {bad.detail}")


# --------------------------------------------------------------------------- output


def _median(rows: list[Row]) -> Row:
    """The repeat with the median wall time (the lower middle one for an even count):
    a real run, so its columns stay consistent with each other."""
    return sorted(rows, key=lambda r: r.wall_s)[(len(rows) - 1) // 2]


def _f(x: float | None, fmt: str) -> str:
    return "" if x is None else format(x, fmt)


def print_table(rows: list[Row]) -> None:
    print("| scenario | contestant | L s | N | M | ok | wall s | req/s | bound N/L | ratio | cli ms/req "
          "| srv ms/req | conns | other | goal | verdict |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|")
    for r in rows:
        s = r.scenario
        goal = f"ratio >= {s.target:g}" if s.goal == "ratio" else f"cpu <= {s.target:g} ms"
        print(f"| {s.key} | {r.contestant} | {s.latency_s:g} | {s.concurrency} | {s.requests} | {r.ok} "
              f"| {r.wall_s:.2f} | {r.rps:.1f} | {_f(r.bound, '.0f')} | {_f(r.ratio, '.3f')} | {r.cpu_ms:.2f} "
              f"| {r.server_ms:.3f} | {r.connections} | {r.other_cores:.2f} | {goal} | {r.verdict()} |")
    for r in rows:
        if r.first_error:
            print(f"  {r.scenario.key}/{r.contestant}: first error {r.first_error}")
    disturbed = [r for r in rows if r.other_cores > 0.2]
    if disturbed:
        print(f"\n{len(disturbed)} of {len(rows)} runs had more than 0.2 cores of other load "
              f"({', '.join(f'{r.scenario.key}/{r.contestant}' for r in disturbed)}): not quotable as is.")
    print("\nPer contestant (A ratio / B ratio / C ms per request):")
    by_name: dict[str, dict[str, Row]] = defaultdict(dict)
    for r in rows:
        by_name[r.contestant][r.scenario.key] = r
    for name, got in by_name.items():
        cells = []
        for key in ("A", "B", "C"):
            r = got.get(key)
            if r is None:
                cells.append(f"{key} -")
            elif r.scenario.goal == "ratio":
                cells.append(f"{key} {r.ratio:.3f} {r.verdict()}")
            else:
                cells.append(f"{key} {r.cpu_ms:.2f} ms {r.verdict()}")
        verdicts = {r.verdict() for r in got.values()}
        overall = "PASS (every scenario run)" if verdicts == {"PASS"} else ("FAIL" if "FAIL" in verdicts else "MISS")
        print(f"  {name:<20} {' | '.join(cells)}  => {overall}")


_GROUPS = ("openai", "httpx2", "httpcore2", "h11", "anyio", "aiohttp", "yarl", "multidict", "pydantic",
           "pydantic_core", "tenacity", "distill", "asyncio", "json", "hashlib", "bench")


def _group(filename: str) -> str:
    if filename.startswith("~") or filename.startswith("<"):
        return "builtins/C"
    parts = Path(filename).parts
    for g in _GROUPS:
        if g in parts:
            return g
    if "site-packages" in parts:
        return parts[parts.index("site-packages") + 1]
    return "stdlib/other"


def print_profile(profiler: cProfile.Profile, m: int, top: int = 25) -> None:
    """Own time per package (who burns the CPU) and the heaviest functions."""
    st = pstats.Stats(profiler)
    by_group: dict[str, float] = defaultdict(float)
    total = 0.0
    for (filename, _, _), (_, _, tottime, _, _) in st.stats.items():  # type: ignore[attr-defined]
        by_group[_group(filename)] += tottime
        total += tottime
    print(f"\ncProfile own time by package ({m} requests, {1000 * total / m:.2f} ms/req under the profiler):")
    for g, t in sorted(by_group.items(), key=lambda kv: -kv[1]):
        print(f"  {g:<14} {100 * t / total:5.1f}%  {1000 * t / m:.3f} ms/req")
    print(f"\nTop {top} functions by own time:")
    st.sort_stats("tottime").print_stats(top)
    print("Top cumulative (client code paths):")
    st.sort_stats("cumulative").print_stats(r"(client|_base_client|connection_pool|transport|_response|_models|tenacity)", 30)


# --------------------------------------------------------------------------- main


async def amain(args: argparse.Namespace) -> int:
    names = [n for n in args.contestants.split(",") if n]
    for n in names:
        if n not in CONTESTANTS:
            raise SystemExit(f"unknown contestant {n!r}; known: {', '.join(CONTESTANTS)}")
    all_sc = scenarios(args.scale, args.l0_concurrency)
    chosen = [all_sc[k] for k in args.scenarios.split(",") if k]
    server = FakeServer()
    try:
        for n in names:
            await warm_up(server, n)
        runs: dict[tuple[str, str], list[Row]] = defaultdict(list)
        for rep in range(args.repeats):
            for sc in chosen:
                for n in names:
                    row = await run_one(server, n, sc)
                    runs[sc.key, n].append(row)
                    print(f"  .. [{rep + 1}/{args.repeats}] {sc.key} {n}: {row.rps:.1f} req/s, "
                          f"{row.cpu_ms:.2f} ms cpu/req, {row.wall_s:.2f} s, other {row.other_cores:.2f}",
                          file=sys.stderr, flush=True)
        rows = [_median(runs[sc.key, n]) for sc in chosen for n in names]
        if args.repeats > 1:
            print(f"(median of {args.repeats} interleaved repeats by wall time; all repeats on stderr)")
        print_table(rows)
        load = os.getloadavg()
        print(f"\nload avg at end {load[0]:.2f}/{load[1]:.2f}/{load[2]:.2f}")
        if args.profile:
            await warm_up(server, args.profile)
            prof = cProfile.Profile()
            sc = all_sc["C"]
            row = await run_one(server, args.profile, sc, profiler=prof)
            print(f"\nprofile run {args.profile} scenario C: {row.rps:.1f} req/s, {row.cpu_ms:.2f} ms cpu/req "
                  "(profiler overhead included)")
            print_profile(prof, sc.requests)
    finally:
        server.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--contestants", default=",".join(DEFAULT_CONTESTANTS),
                    help=f"comma-separated, from: {', '.join(CONTESTANTS)}")
    ap.add_argument("--scenarios", default="A,B,C")
    ap.add_argument("--scale", type=float, default=1.0, help="multiply every M (keep the waves: 1.0 = 4N, 20N, 2000)")
    ap.add_argument("--repeats", type=int, default=1,
                    help="timed repeats per (scenario, contestant), interleaved; the table shows the median")
    ap.add_argument("--l0-concurrency", type=int, default=64, help="N for scenario C (L = 0)")
    ap.add_argument("--profile", default="", help="after the table, profile this contestant on scenario C")
    ap.add_argument("--client-loop", choices=("asyncio", "uvloop"), default="asyncio",
                    help="event loop of the client process (the pipeline uses stock asyncio)")
    args = ap.parse_args(argv)
    load = os.getloadavg()
    print(f"# llm_throughput {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}, openai {openai.__version__}, httpx2 {httpx2.__version__}, "
          f"aiohttp {aiohttp.__version__}, client loop {args.client_loop}, load avg at start "
          f"{load[0]:.2f}/{load[1]:.2f}/{load[2]:.2f}")
    if args.client_loop == "uvloop":
        import uvloop
        return uvloop.run(amain(args))
    return asyncio.run(amain(args))


if __name__ == "__main__":
    sys.exit(main())
