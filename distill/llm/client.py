"""Async chat client for OpenAI-compatible endpoints: bounded, retried, cached, accounted.

Every call returns a :class:`ChatResult`; nothing raises for a bad answer or a dead
server. A failed call carries a short ``error`` code so the caller can count it as a
drop, and is never cached, so the next run tries again. K samples of one prompt are
K requests with distinct seeds: servers silently ignore ``n``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from crawl.retrying import parse_retry_after
from distill.llm.cache import RequestCache, request_key
from distill.llm.roles import RoleConfig

log = logging.getLogger(__name__)
Message = Mapping[str, Any]


@dataclass(slots=True)
class ChatResult:
    role: str
    model: str
    key: str
    text: str = ""
    reasoning: str = ""
    finish_reason: str = ""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached: bool = False
    attempts: int = 0
    error: str | None = None  # rate_limited | server_error | timeout | connection_error | bad_request | empty_choices | ...
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass
class RoleStats:
    requests: int = 0  # requests sent to the server (attempts included)
    calls: int = 0  # chat() calls
    cache_hits: int = 0
    failures: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    saved_usd: float = 0.0  # what cache hits would have cost
    last_error: str = ""  # code and detail of the latest failed call

    @property
    def unusable(self) -> bool:
        """Every call failed and none was answered from the cache: the endpoint, not the data, is the problem."""
        return self.calls > 0 and self.cache_hits == 0 and sum(self.failures.values()) == self.calls

    def to_dict(self) -> dict[str, Any]:
        d = {k: getattr(self, k) for k in ("requests", "calls", "cache_hits", "prompt_tokens", "completion_tokens")}
        d["cost_usd"] = round(self.cost_usd, 6)
        d["saved_usd"] = round(self.saved_usd, 6)
        d["failures"] = dict(self.failures)
        d["last_error"] = self.last_error
        d["unusable"] = self.unusable
        d["cache_hit_rate"] = round(self.cache_hits / self.calls, 4) if self.calls else 0.0
        return d


class _Retryable(Exception):
    def __init__(self, code: str, detail: str, retry_after: float | None = None) -> None:
        super().__init__(detail)
        self.code, self.detail, self.retry_after = code, detail, retry_after


class _Fatal(Exception):
    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code, self.detail = code, detail


@dataclass(frozen=True, slots=True)
class _Endpoint:
    session: aiohttp.ClientSession
    url: str
    headers: dict[str, str]


class LLMClient:
    """One client for all roles; use as an async context manager.

    Requests go out as plain aiohttp POSTs to ``<base_url>/chat/completions`` and the
    answer is read as the OpenAI chat-completion JSON shape. We measured the
    SDK's own request path (``AsyncOpenAI`` on httpx) at 4-5 ms of client CPU per
    request and 0.70 of the N/L throughput bound; this path costs ~0.4 ms and reaches
    0.95 (bench/llm_throughput.py). The connector has no limit of its own: the
    semaphore is the one bound on requests in flight.

    ``default_base_url`` serves every role whose config has no ``base_url`` (the
    embedded server). It may be a callable that starts that server and returns its
    URL: it is called on the first request that misses the cache, so a step whose
    answers are all cached never starts a server. ``structured`` selects how a JSON schema is requested:
    ``"llamacpp"`` (``response_format={"type": "json_object", "schema": ...}``, what
    llama.cpp's server honours) or ``"openai"`` (``json_schema``, also vLLM / SGLang);
    a role's own ``structured`` wins; when neither is set, embedded roles get
    llamacpp and remote ones openai.
    """

    def __init__(
        self,
        roles: Mapping[str, RoleConfig],
        *,
        default_base_url: str | Callable[[], str] | None = None,
        cache: RequestCache | None = None,
        max_concurrency: int = 16,
        max_retries: int = 4,
        backoff_base_s: float = 0.5,
        backoff_max_s: float = 30.0,
        max_retry_after_s: float = 120.0,
        structured: str | None = None,
    ) -> None:
        self.roles = dict(roles)
        self._default_base_url = default_base_url
        self.cache = cache
        self.max_retries = max_retries
        self.backoff_base_s = backoff_base_s
        self.backoff_max_s = backoff_max_s
        self.max_retry_after_s = max_retry_after_s
        self.structured = structured
        self._sem = asyncio.Semaphore(max(1, max_concurrency))
        self._clients: dict[tuple[str, str], _Endpoint] = {}
        self.stats: dict[str, RoleStats] = defaultdict(RoleStats)

    async def __aenter__(self) -> LLMClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        for endpoint in self._clients.values():
            await endpoint.session.close()
        self._clients.clear()

    def role(self, name: str) -> RoleConfig:
        if name not in self.roles:
            raise KeyError(f"unknown LLM role {name!r}; configured: {sorted(self.roles)}")
        return self.roles[name]

    @property
    def default_base_url(self) -> str | None:
        if callable(self._default_base_url):
            start, self._default_base_url = self._default_base_url, None
            try:
                self._default_base_url = start()  # blocks the loop while a local server starts, once
            except Exception as exc:  # every later call fails the same way, without retrying the start
                raise _Fatal("no_endpoint", f"the default endpoint could not start: {exc}") from exc
        return self._default_base_url

    def _client_for(self, cfg: RoleConfig) -> _Endpoint:
        base_url = cfg.base_url or self.default_base_url
        if not base_url:
            raise _Fatal("no_endpoint", f"role {cfg.name!r} has no base_url and no embedded server is running")
        key = (base_url, cfg.api_key_env)
        if key not in self._clients:
            headers = {"Authorization": f"Bearer {cfg.api_key()}", "Content-Type": "application/json",
                       "Accept": "application/json"}
            session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0, keepalive_timeout=30))
            self._clients[key] = _Endpoint(session, base_url.rstrip("/") + "/chat/completions", headers)
        return self._clients[key]

    def _mode(self, cfg: RoleConfig) -> str:
        return cfg.structured or self.structured or ("llamacpp" if cfg.base_url is None else "openai")

    def _payload(self, cfg: RoleConfig, messages: Sequence[Message], *, seed: int, temperature: float | None,
                 max_tokens: int | None, json_schema: dict[str, Any] | None, stop: Sequence[str] | None,
                 grammar: str | None = None) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "model": cfg.model,
            "messages": [dict(m) for m in messages],
            "temperature": cfg.temperature if temperature is None else temperature,
            "top_p": cfg.top_p,
            "max_tokens": max_tokens or cfg.max_tokens,
            "seed": seed,
        }
        if stop:
            payload["stop"] = list(stop)
        if grammar is not None and self._mode(cfg) == "llamacpp":
            # GBNF is a llama.cpp feature; other servers get the unconstrained request.
            payload["grammar"] = grammar
        if json_schema is not None:
            if self._mode(cfg) == "openai":
                payload["response_format"] = {"type": "json_schema",
                                              "json_schema": {"name": "output", "schema": json_schema, "strict": True}}
            else:
                payload["response_format"] = {"type": "json_object", "schema": json_schema}
        return payload

    async def chat(
        self,
        role: str,
        messages: Sequence[Message],
        *,
        seed: int = 0,
        sample_index: int = 0,
        temperature: float | None = None,
        max_tokens: int | None = None,
        json_schema: dict[str, Any] | None = None,
        stop: Sequence[str] | None = None,
        grammar: str | None = None,
    ) -> ChatResult:
        """One chat completion; cached by the canonical request. Never raises."""
        cfg = self.role(role)
        payload = self._payload(cfg, messages, seed=seed, temperature=temperature, max_tokens=max_tokens,
                                json_schema=json_schema, stop=stop, grammar=grammar)
        extra = dict(cfg.extra_body)
        key = request_key({**payload, "extra_body": extra, "sample_index": sample_index})
        stats = self.stats[role]
        stats.calls += 1
        result = ChatResult(role=role, model=cfg.model, key=key)
        if self.cache is not None:
            hit = self.cache.get(key)
            if hit is not None:
                stats.cache_hits += 1
                stats.saved_usd += cfg.cost(hit.get("prompt_tokens", 0), hit.get("completion_tokens", 0))
                for name in ("text", "reasoning", "finish_reason", "prompt_tokens", "completion_tokens"):
                    setattr(result, name, hit.get(name, getattr(result, name)))
                result.cached = True
                return result
        try:
            client = self._client_for(cfg)
        except (_Fatal, RuntimeError) as exc:
            code = getattr(exc, "code", "missing_credential")
            stats.failures[code] += 1
            stats.last_error = f"{code}: {exc}"
            result.error, result.detail = code, str(exc)
            return result

        # A plain loop, not tenacity: AsyncRetrying costs ~60 us per call even when the
        # first attempt succeeds, a sixth of this client's whole per-request budget.
        try:
            for attempt in range(1, self.max_retries + 2):
                result.attempts = attempt
                try:
                    await self._once(client, role, cfg, payload, extra, result)
                    break
                except _Retryable as exc:
                    if attempt > self.max_retries:
                        raise
                    backoff = min(self.backoff_base_s * 2 ** (attempt - 1) + random.uniform(0, self.backoff_base_s),
                                  self.backoff_max_s)
                    await asyncio.sleep(exc.retry_after if exc.retry_after is not None else backoff)
        except (_Retryable, _Fatal) as exc:
            stats.failures[exc.code] += 1
            stats.last_error = f"{exc.code}: {exc.detail}"
            result.error, result.detail = exc.code, exc.detail
            return result
        stats.prompt_tokens += result.prompt_tokens
        stats.completion_tokens += result.completion_tokens
        stats.cost_usd += cfg.cost(result.prompt_tokens, result.completion_tokens)
        if self.cache is not None:
            self.cache.put(key, role, cfg.model, {
                "text": result.text, "reasoning": result.reasoning, "finish_reason": result.finish_reason,
                "prompt_tokens": result.prompt_tokens, "completion_tokens": result.completion_tokens,
            })
        return result

    async def _once(self, endpoint: _Endpoint, role: str, cfg: RoleConfig, payload: dict[str, Any],
                    extra: dict[str, Any], result: ChatResult) -> None:
        self.stats[role].requests += 1
        body = json.dumps({**payload, **extra} if extra else payload, ensure_ascii=False).encode()
        async with self._sem:
            try:
                async with endpoint.session.post(endpoint.url, data=body, headers=endpoint.headers,
                                                 timeout=aiohttp.ClientTimeout(total=cfg.timeout_s)) as resp:
                    raw = await resp.read()
                    status, headers = resp.status, resp.headers
            except TimeoutError as exc:
                raise _Retryable("timeout", f"no answer within {cfg.timeout_s:g}s") from exc
            except aiohttp.ClientError as exc:
                raise _Retryable("connection_error", f"{type(exc).__name__}: {exc}") from exc
        if status >= 400:
            detail = f"{status}: {raw[:200].decode('utf-8', 'replace')}"
            if status == 429 or status in (408, 409, 425) or status >= 500:
                code = "rate_limited" if status == 429 else "server_error"
                after = parse_retry_after(headers.get("retry-after"))
                if after is not None and after > self.max_retry_after_s:
                    # Retry only after the server's Retry-After, unless it asks for longer than we wait.
                    raise _Fatal(code, f"{status} with Retry-After {after:.0f}s (> {self.max_retry_after_s:g}s we wait)")
                raise _Retryable(code, detail, after)
            raise _Fatal("bad_request", detail)
        try:
            data = json.loads(raw)
        except ValueError as exc:
            raise _Retryable("invalid_response", f"non-JSON 200 response: {raw[:120]!r}") from exc
        # Read the OpenAI chat-completion shape leniently: servers differ in optional fields.
        choices = data.get("choices") if isinstance(data, dict) else None
        if not isinstance(choices, list) or not choices:
            raise _Retryable("empty_choices" if isinstance(data, dict) else "invalid_response",
                             "the server answered with no choices")
        choice = choices[0] if isinstance(choices[0], dict) else {}
        message = choice.get("message")
        if not isinstance(message, dict):
            raise _Retryable("empty_choices", "the first choice has no message")
        result.text = message.get("content") or ""
        result.reasoning = message.get("reasoning_content") or message.get("reasoning") or ""
        result.finish_reason = choice.get("finish_reason") or ""
        usage = data.get("usage") or {}
        result.prompt_tokens = int(usage.get("prompt_tokens") or 0) if isinstance(usage, dict) else 0
        result.completion_tokens = int(usage.get("completion_tokens") or 0) if isinstance(usage, dict) else 0

    def stats_dict(self) -> dict[str, dict[str, Any]]:
        return {role: s.to_dict() for role, s in sorted(self.stats.items())}
