"""Retry timing shared by the web fetcher and the LLM client: the server's
``Retry-After`` when it gives one, otherwise exponential backoff with jitter."""

from __future__ import annotations

import email.utils
import time
from collections.abc import Callable
from datetime import UTC
from typing import Any

from tenacity import RetryCallState, wait_exponential_jitter


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - (now if now is not None else time.time()))


def retry_after_or_backoff(initial_s: float, max_s: float) -> Callable[[RetryCallState], float]:
    """A tenacity wait: the failed attempt's ``retry_after`` attribute if set, else backoff."""
    backoff = wait_exponential_jitter(initial=initial_s, max=max_s, jitter=initial_s)

    def wait(state: RetryCallState) -> float:
        exc: Any = state.outcome.exception() if state.outcome else None
        after = getattr(exc, "retry_after", None)
        return float(after) if after is not None else backoff(state)

    return wait
