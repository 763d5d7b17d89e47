"""Tests of ``distill.llm.client.LLMClient`` against a real HTTP server.

Why a real server (``tests/fake_llm_server.py``) rather than a mocked SDK: the client's
contract is about what happens on the wire (retry on 429/5xx with ``Retry-After``,
give up on a hang, survive a dropped connection or a half-sent body, never pay twice
for a cached answer). Only real sockets exercise the openai SDK and httpx layers the
way a teacher endpoint does. Every test asserts concrete numbers: error code, attempt
count, server-side request count, ``client.stats`` counters.

Tests are sync and drive the client with ``asyncio.run`` (pytest-asyncio is not a
dependency). Backoff is shrunk to centiseconds so the file stays fast; the only real
waits are a 1 s ``Retry-After`` and a few sub-second timeouts.
"""

from __future__ import annotations

import asyncio
import email.utils
import time
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import pytest

from distill.llm.cache import RequestCache
from distill.llm.client import ChatResult, LLMClient
from distill.llm.roles import RoleConfig
from fake_llm_server import (
    FakeLLMServer,
    drop,
    empty_choices,
    hang,
    malformed_json,
    reply,
    status,
    truncated_json,
)

pytestmark = pytest.mark.timeout(60)

T = TypeVar("T")
HI = [{"role": "user", "content": "hi"}]
MAX_RETRIES = 3  # => at most 4 attempts per call


def run(coro: Awaitable[T]) -> T:
    """Run one coroutine on a fresh loop: each test owns its client and its loop."""
    return asyncio.run(coro)  # type: ignore[arg-type]


def teacher(fake: FakeLLMServer, **overrides: Any) -> RoleConfig:
    """The teacher role pointed at the fake server; a key variable that is surely unset
    so the local placeholder key is used whatever the developer's environment holds."""
    base: dict[str, Any] = {"name": "teacher", "base_url": fake.base_url, "model": "m", "timeout_s": 1.0,
                            "api_key_env": "SEEKFORGE_TEST_UNSET_KEY"}
    base.update(overrides)
    return RoleConfig(**base)


def make_client(fake: FakeLLMServer, tmp_path: Path, *, roles: Mapping[str, RoleConfig] | None = None,
                cache: RequestCache | None | bool = True, **kwargs: Any) -> LLMClient:
    """The client under test, with retries fast enough for a unit test."""
    if cache is True:
        cache = RequestCache(tmp_path / "c.sqlite")
    elif cache is False:
        cache = None
    options: dict[str, Any] = {"max_retries": MAX_RETRIES, "backoff_base_s": 0.01, "backoff_max_s": 0.05,
                               "max_retry_after_s": 5}
    options.update(kwargs)
    return LLMClient(roles if roles is not None else {"teacher": teacher(fake)}, cache=cache, **options)


async def chat_once(fake: FakeLLMServer, tmp_path: Path, *, messages: list[dict[str, Any]] = HI,
                    client_kwargs: Mapping[str, Any] | None = None, **chat_kwargs: Any) -> tuple[ChatResult, LLMClient]:
    """One ``chat("teacher", ...)`` with a fresh client; returns the result and the (closed) client for its stats."""
    async with make_client(fake, tmp_path, **dict(client_kwargs or {})) as client:
        result = await client.chat("teacher", messages, **{"seed": 1, **chat_kwargs})
    return result, client


def timed(fn: Callable[[], T]) -> tuple[T, float]:
    start = time.monotonic()
    value = fn()
    return value, time.monotonic() - start


# ---------------------------------------------------------------------------
# Normal replies and the request payload
# ---------------------------------------------------------------------------
def test_normal_reply_text_tokens_finish_reason_cost(fake_llm: FakeLLMServer, tmp_path: Path) -> None:
    """A plain answer comes back whole, and its cost is computed from the role's price table."""
    fake_llm.script(reply("The capital is Paris.", finish_reason="length", usage=(1000, 250)))
    roles = {"teacher": teacher(fake_llm, price_in_per_mtok=2.0, price_out_per_mtok=8.0)}
    result, client = run(chat_once(fake_llm, tmp_path, client_kwargs={"roles": roles}))

    assert result.ok and result.error is None
    assert result.text == "The capital is Paris."
    assert result.finish_reason == "length"
    assert (result.prompt_tokens, result.completion_tokens) == (1000, 250)
    assert result.attempts == 1 and not result.cached
    assert result.role == "teacher" and result.model == "m" and len(result.key) == 64
    assert fake_llm.count() == 1
    stats = client.stats["teacher"]
    assert (stats.calls, stats.requests, stats.cache_hits) == (1, 1, 0)
    assert (stats.prompt_tokens, stats.completion_tokens) == (1000, 250)
    assert stats.cost_usd == pytest.approx(1000 * 2.0 / 1e6 + 250 * 8.0 / 1e6)  # 0.004
    assert dict(stats.failures) == {}


def test_request_payload_sampling_and_placeholder_key(fake_llm: FakeLLMServer, tmp_path: Path) -> None:
    """The body carries model, messages, seed and sampling; a local endpoint gets the
    placeholder key (so local servers work with no credentials configured)."""
    roles = {"teacher": teacher(fake_llm, temperature=0.3, top_p=0.8, max_tokens=77, extra_body={"top_k": 20})}
    messages = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "what is 2+2?"}]
    result, _ = run(chat_once(fake_llm, tmp_path, messages=messages, seed=42, stop=["\n\n"],
                              client_kwargs={"roles": roles}))

    assert result.ok
    assert result.text == "echo(seed=42): what is 2+2?"  # the default echo behaviour
    (req,) = fake_llm.requests
    body = req.json
    assert body["model"] == "m"
    assert body["messages"] == messages
    assert body["seed"] == 42
    assert body["temperature"] == 0.3 and body["top_p"] == 0.8 and body["max_tokens"] == 77
    assert body["stop"] == ["\n\n"]
    assert body["top_k"] == 20  # extra_body is merged into the JSON body
    assert "response_format" not in body
    assert req.headers["authorization"] == "Bearer sk-local-no-key"


def test_temperature_and_max_tokens_overrides(fake_llm: FakeLLMServer, tmp_path: Path) -> None:
    """Per-call sampling overrides win over the role's defaults."""
    result, _ = run(chat_once(fake_llm, tmp_path, temperature=0.0, max_tokens=9))
    assert result.ok
    body = fake_llm.requests[0].json
    assert body["temperature"] == 0.0 and body["max_tokens"] == 9


def test_reasoning_content_lands_in_result_and_cache(fake_llm: FakeLLMServer, tmp_path: Path) -> None:
    """Reasoning models (llama.cpp / vLLM ``reasoning_content``) keep their thoughts, also from cache."""
    fake_llm.script(reply("42", reasoning_content="6 times 7 is 42"))

    async def go() -> tuple[ChatResult, ChatResult]:
        async with make_client(fake_llm, tmp_path) as client:
            return await client.chat("teacher", HI, seed=1), await client.chat("teacher", HI, seed=1)

    first, second = run(go())
    assert first.ok and first.text == "42" and first.reasoning == "6 times 7 is 42"
    assert second.cached and second.reasoning == "6 times 7 is 42"
    assert fake_llm.count() == 1


def test_json_schema_llamacpp_form(fake_llm: FakeLLMServer, tmp_path: Path) -> None:
    """structured="llamacpp" (what the embedded server gets): the schema rides in
    ``response_format`` as llama.cpp reads it."""
    schema = {"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]}
    fake_llm.script(reply('{"q": "why?"}'))
    result, _ = run(chat_once(fake_llm, tmp_path, json_schema=schema, client_kwargs={"structured": "llamacpp"}))
    assert result.ok and result.text == '{"q": "why?"}'
    assert fake_llm.requests[0].json["response_format"] == {"type": "json_object", "schema": schema}


def test_json_schema_openai_form(fake_llm: FakeLLMServer, tmp_path: Path) -> None:
    """A remote role by default: the ``json_schema`` form that OpenAI / vLLM / SGLang honour."""
    schema = {"type": "object", "properties": {"q": {"type": "string"}}}
    result, _ = run(chat_once(fake_llm, tmp_path, json_schema=schema))
    assert result.ok
    assert fake_llm.requests[0].json["response_format"] == {
        "type": "json_schema", "json_schema": {"name": "output", "schema": schema, "strict": True}}


def test_default_base_url_serves_roles_without_one(fake_llm: FakeLLMServer, tmp_path: Path) -> None:
    """A role with no base_url goes to the embedded server's URL."""
    roles = {"teacher": RoleConfig(name="teacher", base_url=None, model="m", timeout_s=1.0,
                                   api_key_env="SEEKFORGE_TEST_UNSET_KEY")}
    result, _ = run(chat_once(fake_llm, tmp_path, client_kwargs={"roles": roles,
                                                                 "default_base_url": fake_llm.base_url}))
    assert result.ok and fake_llm.count() == 1


def test_no_endpoint_is_an_error_not_an_exception(tmp_path: Path) -> None:
    """No base_url and no embedded server: a clean error code, nothing raised."""
    roles = {"teacher": RoleConfig(name="teacher", base_url=None, api_key_env="SEEKFORGE_TEST_UNSET_KEY")}

    async def go() -> tuple[ChatResult, LLMClient]:
        async with LLMClient(roles, cache=RequestCache(tmp_path / "c.sqlite")) as client:
            return await client.chat("teacher", HI), client

    result, client = run(go())
    assert result.error == "no_endpoint" and result.attempts == 0
    assert client.stats["teacher"].failures["no_endpoint"] == 1


def test_missing_api_key_for_remote_endpoint(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A remote endpoint without its key is a reported failure naming the variable, not a crash."""
    monkeypatch.delenv("SEEKFORGE_TEST_MISSING_KEY", raising=False)
    roles = {"judge": RoleConfig(name="judge", base_url="https://api.example.com/v1",
                                 api_key_env="SEEKFORGE_TEST_MISSING_KEY")}

    async def go() -> tuple[ChatResult, LLMClient]:
        async with LLMClient(roles, cache=RequestCache(tmp_path / "c.sqlite"), max_retries=0) as client:
            return await client.chat("judge", HI), client

    result, client = run(go())
    assert not result.ok
    assert result.error == "missing_credential"
    assert "SEEKFORGE_TEST_MISSING_KEY" in result.detail
    assert result.attempts == 0
    assert client.stats["judge"].failures["missing_credential"] == 1
    assert client.stats["judge"].requests == 0


# ---------------------------------------------------------------------------
# Retries, rate limits, failures
# ---------------------------------------------------------------------------
def test_429_retry_after_then_success(fake_llm: FakeLLMServer, tmp_path: Path) -> None:
    """A 429 with ``Retry-After: 1`` is honoured: the second request comes >= 1 s later and succeeds."""
    fake_llm.script(status(429, retry_after="1"), reply("ok"))
    (result, client), elapsed = timed(lambda: run(chat_once(fake_llm, tmp_path)))

    assert result.ok and result.text == "ok"
    assert result.attempts == 2
    assert fake_llm.count() == 2
    gap = fake_llm.requests[1].arrived - fake_llm.requests[0].arrived
    assert gap >= 0.95, f"retried after {gap:.3f}s, Retry-After said 1 s"
    assert 0.95 <= elapsed < 4.0
    assert client.stats["teacher"].requests == 2
    assert dict(client.stats["teacher"].failures) == {}  # a recovered retry is not a failure


def test_429_retry_after_http_date(fake_llm: FakeLLMServer, tmp_path: Path) -> None:
    """Retry-After may be an HTTP-date (RFC 9110); it is honoured like the seconds form."""
    when = email.utils.formatdate(time.time() + 2, usegmt=True)  # 1-2 s ahead (1 s resolution)
    fake_llm.script(status(429, retry_after=when), reply("ok"))
    result, _ = run(chat_once(fake_llm, tmp_path))
    assert result.ok and result.attempts == 2
    gap = fake_llm.requests[1].arrived - fake_llm.requests[0].arrived
    assert 0.9 <= gap < 3.5


def test_429_retry_after_beyond_limit_fails_fast(fake_llm: FakeLLMServer, tmp_path: Path) -> None:
    """A Retry-After longer than max_retry_after_s (5 s) is a drop now, not a long sleep."""
    fake_llm.script(status(429, retry_after="30"), reply("never reached"))
    (result, client), elapsed = timed(lambda: run(chat_once(fake_llm, tmp_path)))

    assert result.error == "rate_limited"
    assert "30" in result.detail
    assert result.attempts == 1
    assert fake_llm.count() == 1
    assert elapsed < 1.0
    assert client.stats["teacher"].failures["rate_limited"] == 1


def test_429_without_retry_after_uses_backoff(fake_llm: FakeLLMServer, tmp_path: Path) -> None:
    """No Retry-After: exponential backoff (tiny here) and a retry."""
    fake_llm.script(status(429), status(429), reply("ok"))
    (result, _), elapsed = timed(lambda: run(chat_once(fake_llm, tmp_path)))
    assert result.ok and result.attempts == 3 and fake_llm.count() == 3
    assert elapsed < 1.5


def test_500_twice_then_success(fake_llm: FakeLLMServer, tmp_path: Path) -> None:
    fake_llm.script(status(500), status(503), reply("third time lucky", usage=(3, 3)))
    result, client = run(chat_once(fake_llm, tmp_path))
    assert result.ok and result.text == "third time lucky"
    assert result.attempts == 3
    assert fake_llm.count() == 3
    stats = client.stats["teacher"]
    assert stats.requests == 3 and stats.calls == 1
    assert (stats.prompt_tokens, stats.completion_tokens) == (3, 3)  # only the answer is counted


def test_all_500_exhausts_retries_and_is_not_cached(fake_llm: FakeLLMServer, tmp_path: Path) -> None:
    """Persistent 500s give "server_error" after max_retries+1 attempts; the failure is
    not cached, so the next call (e.g. the next run) asks the server again."""
    fake_llm.set_default(status(500))

    async def go() -> tuple[ChatResult, ChatResult, LLMClient]:
        async with make_client(fake_llm, tmp_path) as client:
            first = await client.chat("teacher", HI, seed=1)
            second = await client.chat("teacher", HI, seed=1)
            return first, second, client

    first, second, client = run(go())
    assert first.error == "server_error" and "500" in first.detail
    assert first.attempts == MAX_RETRIES + 1
    assert second.error == "server_error" and not second.cached
    assert fake_llm.count() == 2 * (MAX_RETRIES + 1)
    stats = client.stats["teacher"]
    assert stats.requests == 2 * (MAX_RETRIES + 1)
    assert stats.failures["server_error"] == 2 and stats.cache_hits == 0
    assert len(client.cache) == 0  # type: ignore[arg-type]


def test_400_is_not_retried(fake_llm: FakeLLMServer, tmp_path: Path) -> None:
    """A bad request will not get better by asking again: one request, "bad_request"."""
    fake_llm.script(status(400), reply("never reached"))
    result, client = run(chat_once(fake_llm, tmp_path))
    assert result.error == "bad_request" and "400" in result.detail
    assert result.attempts == 1
    assert fake_llm.count() == 1
    assert client.stats["teacher"].failures["bad_request"] == 1


def test_hang_times_out_within_budget(fake_llm: FakeLLMServer, tmp_path: Path) -> None:
    """A server that never answers costs at most timeout * attempts (+ backoff), then "timeout"."""
    fake_llm.set_default(hang())
    timeout_s, retries = 0.3, 1
    roles = {"teacher": teacher(fake_llm, timeout_s=timeout_s)}
    (result, client), elapsed = timed(lambda: run(chat_once(
        fake_llm, tmp_path, client_kwargs={"roles": roles, "max_retries": retries})))

    assert result.error == "timeout"
    assert result.attempts == retries + 1
    assert fake_llm.count() == retries + 1
    assert timeout_s * (retries + 1) * 0.9 <= elapsed <= timeout_s * (retries + 1) + 1.0
    assert client.stats["teacher"].failures["timeout"] == 1


def test_connection_drop_after_retries(fake_llm: FakeLLMServer, tmp_path: Path) -> None:
    """The socket closes with no response at all, every time: "connection_error" after all attempts."""
    fake_llm.set_default(drop())
    result, client = run(chat_once(fake_llm, tmp_path))
    assert result.error == "connection_error"
    assert result.attempts == MAX_RETRIES + 1
    assert fake_llm.count() == MAX_RETRIES + 1
    assert client.stats["teacher"].failures["connection_error"] == 1


def test_connection_drop_once_then_success(fake_llm: FakeLLMServer, tmp_path: Path) -> None:
    fake_llm.script(drop(), reply("back"))
    result, _ = run(chat_once(fake_llm, tmp_path))
    assert result.ok and result.text == "back" and result.attempts == 2


# Observed with openai 3.54 / httpx 0.28: a short body is an httpx RemoteProtocolError
# wrapped as APIConnectionError -> "connection_error"; a non-JSON body with a JSON
# content type is a JSONDecodeError -> "invalid_response".
BODY_FAILURES = {"invalid_response", "connection_error"}


@pytest.mark.parametrize("behaviour,expected", [(truncated_json, "connection_error"),
                                                (malformed_json, "invalid_response")],
                         ids=["truncated_json", "malformed_json"])
def test_broken_body_fails_and_is_not_cached(fake_llm: FakeLLMServer, tmp_path: Path,
                                             behaviour: Callable[[], Any], expected: str) -> None:
    """A half-sent or non-JSON body is a failure (after retries), and the next call retries it."""
    fake_llm.script(*[behaviour() for _ in range(MAX_RETRIES + 1)], reply("good"))

    async def go() -> tuple[ChatResult, ChatResult, LLMClient]:
        async with make_client(fake_llm, tmp_path) as client:
            return await client.chat("teacher", HI, seed=1), await client.chat("teacher", HI, seed=1), client

    first, second, client = run(go())
    assert first.error in BODY_FAILURES
    assert first.error == expected  # pins the observed mapping; see BODY_FAILURES above
    assert first.attempts == MAX_RETRIES + 1
    assert second.ok and not second.cached and second.text == "good"
    assert fake_llm.count() == MAX_RETRIES + 2
    assert client.stats["teacher"].failures[expected] == 1


def test_html_200_body_is_a_failure(fake_llm: FakeLLMServer, tmp_path: Path) -> None:
    """A proxy's 200 HTML page (not JSON content type): the SDK hands back a str; the
    client must still report a failure and not cache it."""
    fake_llm.set_default(malformed_json(content_type="text/html", body=b"<html>gateway says hi</html>"))
    result, client = run(chat_once(fake_llm, tmp_path, client_kwargs={"max_retries": 0}))
    assert not result.ok
    # Observed: "empty_choices" (the SDK returns the body as a str, which has no .choices).
    # A misleading code, but a failure and uncached, which is what matters for drops.
    assert result.error in {"invalid_response", "empty_choices"}
    assert len(client.cache) == 0  # type: ignore[arg-type]


def test_empty_choices(fake_llm: FakeLLMServer, tmp_path: Path) -> None:
    """``"choices": []`` is "empty_choices"; the client treats it as transient and retries."""
    fake_llm.set_default(empty_choices())
    result, client = run(chat_once(fake_llm, tmp_path))
    assert result.error == "empty_choices"
    assert result.attempts == MAX_RETRIES + 1
    assert fake_llm.count() == MAX_RETRIES + 1
    assert client.stats["teacher"].failures["empty_choices"] == 1
    assert len(client.cache) == 0  # type: ignore[arg-type]


def test_empty_choices_once_then_success(fake_llm: FakeLLMServer, tmp_path: Path) -> None:
    fake_llm.script(empty_choices(), reply("now"))
    result, _ = run(chat_once(fake_llm, tmp_path))
    assert result.ok and result.text == "now" and result.attempts == 2


# ---------------------------------------------------------------------------
# Cache
# ---------------------------------------------------------------------------
def test_cache_same_request_twice(fake_llm: FakeLLMServer, tmp_path: Path) -> None:
    """The second identical call is served from sqlite: no request, ``cached``, savings accounted."""
    fake_llm.script(reply("paid once", usage=(100, 50)))
    roles = {"teacher": teacher(fake_llm, price_in_per_mtok=1.0, price_out_per_mtok=2.0)}

    async def go() -> tuple[ChatResult, ChatResult, LLMClient]:
        async with make_client(fake_llm, tmp_path, roles=roles) as client:
            return await client.chat("teacher", HI, seed=1), await client.chat("teacher", HI, seed=1), client

    first, second, client = run(go())
    assert first.ok and not first.cached and first.attempts == 1
    assert second.ok and second.cached and second.attempts == 0
    assert second.text == "paid once" and second.key == first.key
    assert (second.prompt_tokens, second.completion_tokens) == (100, 50)
    assert fake_llm.count() == 1
    stats = client.stats["teacher"]
    assert (stats.calls, stats.requests, stats.cache_hits) == (2, 1, 1)
    assert stats.cost_usd == pytest.approx((100 * 1.0 + 50 * 2.0) / 1e6)
    assert stats.saved_usd == pytest.approx(stats.cost_usd)


def test_cache_survives_a_new_client(fake_llm: FakeLLMServer, tmp_path: Path) -> None:
    """Re-materialization (a new process, a new client, the same sqlite file) pays nothing."""
    fake_llm.script(reply("from run 1", reasoning_content="thought"))
    first, _ = run(chat_once(fake_llm, tmp_path, seed=7))
    assert first.ok and fake_llm.count() == 1

    fake_llm.reset()
    second, client = run(chat_once(fake_llm, tmp_path, seed=7))
    assert fake_llm.count() == 0
    assert second.cached and second.text == "from run 1" and second.reasoning == "thought"
    assert client.stats["teacher"].requests == 0 and client.stats["teacher"].cache_hits == 1


def test_distinct_seed_or_sample_index_is_a_new_request(fake_llm: FakeLLMServer, tmp_path: Path) -> None:
    """K samples of one prompt are K requests and K cache entries, never one answer reused."""

    async def go() -> tuple[list[ChatResult], LLMClient]:
        async with make_client(fake_llm, tmp_path) as client:
            results = [
                await client.chat("teacher", HI, seed=1),
                await client.chat("teacher", HI, seed=2),
                await client.chat("teacher", HI, seed=1, sample_index=1),
                await client.chat("teacher", HI, seed=1, temperature=0.1),
                await client.chat("teacher", HI, seed=1),  # repeat of the first: a hit
            ]
            return results, client

    results, client = run(go())
    assert all(r.ok for r in results)
    assert fake_llm.count() == 4
    assert [r.json["seed"] for r in fake_llm.requests] == [1, 2, 1, 1]
    assert len({r.key for r in results[:4]}) == 4
    assert results[0].text == "echo(seed=1): hi" and results[1].text == "echo(seed=2): hi"
    assert results[4].cached and results[4].key == results[0].key
    assert len(client.cache) == 4  # type: ignore[arg-type]


def test_extra_body_is_part_of_the_key(fake_llm: FakeLLMServer, tmp_path: Path) -> None:
    """Changing server-side sampling knobs (extra_body) must not reuse an old answer."""
    run(chat_once(fake_llm, tmp_path, client_kwargs={"roles": {"teacher": teacher(fake_llm)}}))
    run(chat_once(fake_llm, tmp_path,
                  client_kwargs={"roles": {"teacher": teacher(fake_llm, extra_body={"top_k": 5})}}))
    assert fake_llm.count() == 2


# ---------------------------------------------------------------------------
# Concurrency
# ---------------------------------------------------------------------------
def test_max_concurrency_bounds_in_flight_requests(fake_llm: FakeLLMServer, tmp_path: Path) -> None:
    """With max_concurrency=2, ten concurrent calls never put more than two on the server."""
    fake_llm.latency_s = 0.2

    async def go() -> list[ChatResult]:
        async with make_client(fake_llm, tmp_path, cache=False, max_concurrency=2) as client:
            return list(await asyncio.gather(*(client.chat("teacher", HI, seed=i) for i in range(10))))

    results, elapsed = timed(lambda: run(go()))
    assert all(r.ok for r in results)
    assert sorted(r.text for r in results) == sorted(f"echo(seed={i}): hi" for i in range(10))
    assert fake_llm.count() == 10
    assert fake_llm.max_in_flight == 2  # bounded, and actually concurrent
    assert 0.9 <= elapsed < 4.0  # 5 waves of 0.2 s


# ---------------------------------------------------------------------------
# Regressions: bugs found by these tests and fixed
# ---------------------------------------------------------------------------
def test_each_role_keeps_its_own_timeout(fake_llm: FakeLLMServer, tmp_path: Path) -> None:
    roles = {"teacher": teacher(fake_llm, timeout_s=2.0), "judge": teacher(fake_llm, name="judge", timeout_s=0.3)}

    async def go() -> tuple[ChatResult, float]:
        async with make_client(fake_llm, tmp_path, roles=roles, max_retries=0) as client:
            assert (await client.chat("teacher", HI)).ok  # builds the shared SDK client (timeout 2 s)
            fake_llm.set_default(hang())
            start = time.monotonic()
            result = await client.chat("judge", HI, seed=99)
            return result, time.monotonic() - start

    result, elapsed = run(go())
    assert result.error == "timeout"
    assert elapsed < 1.0, f"judge (timeout_s=0.3) waited {elapsed:.2f}s"


def test_5xx_retry_after_is_capped(fake_llm: FakeLLMServer, tmp_path: Path) -> None:
    fake_llm.script(status(503, retry_after="3600"), reply("ok"))

    async def go() -> ChatResult:
        async with make_client(fake_llm, tmp_path, max_retries=1, max_retry_after_s=0.5) as client:
            return await asyncio.wait_for(client.chat("teacher", HI), timeout=2.0)

    result = run(go())
    assert result.error == "server_error" and "3600" in result.detail


def test_stats_land_under_the_role_key(fake_llm: FakeLLMServer, tmp_path: Path) -> None:
    roles = {"teacher": teacher(fake_llm, name="teacher-qwen")}
    _, client = run(chat_once(fake_llm, tmp_path, client_kwargs={"roles": roles}))
    assert client.stats["teacher"].requests == 1
    assert set(client.stats) == {"teacher"}


def test_stats_dict_reports_hit_rate(fake_llm: FakeLLMServer, tmp_path: Path) -> None:
    """The per-role summary (logged / put in Dagster metadata) after one miss and one hit."""
    fake_llm.script(reply("paid once", usage=(100, 50)))

    async def go() -> LLMClient:
        async with make_client(fake_llm, tmp_path) as client:
            await client.chat("teacher", HI, seed=1)
            await client.chat("teacher", HI, seed=1)
            return client

    summary = run(go()).stats_dict()
    assert summary["teacher"]["calls"] == 2 and summary["teacher"]["requests"] == 1
    assert summary["teacher"]["cache_hit_rate"] == 0.5
    assert summary["teacher"]["failures"] == {}


def test_default_endpoint_starts_on_first_cache_miss_only(fake_llm: FakeLLMServer, tmp_path: Path) -> None:
    """The embedded server's start is a callable default endpoint: a run whose answers are all
    cached never calls it; the first miss calls it once; a start that fails makes every call
    fail with ``no_endpoint`` (counted, so the step can say the endpoint is unusable) without
    trying to start again."""
    starts: list[int] = []

    def start() -> str:
        starts.append(1)
        return fake_llm.base_url

    role = {"teacher": teacher(fake_llm, base_url=None)}
    cache = RequestCache(tmp_path / "c.sqlite")

    async def go(n: int) -> list[ChatResult]:
        async with LLMClient(role, default_base_url=start, cache=cache, backoff_base_s=0.01) as client:
            return [await client.chat("teacher", HI, seed=s) for s in range(n)]

    assert all(r.ok for r in run(go(2))) and len(starts) == 1 and fake_llm.count() == 2
    assert all(r.cached for r in run(go(2))) and len(starts) == 1  # all cached: nothing started

    def broken() -> str:
        starts.append(1)
        raise RuntimeError("the embedded LLM server exited with code 1")

    async def fail() -> tuple[list[ChatResult], LLMClient]:
        async with LLMClient(role, default_base_url=broken, cache=cache) as client:
            return [await client.chat("teacher", HI, seed=s) for s in range(10, 13)], client

    results, client = run(fail())
    assert [r.error for r in results] == ["no_endpoint"] * 3 and len(starts) == 2
    assert "exited with code 1" in results[0].detail and client.stats["teacher"].unusable
