"""An asyncio event loop in a daemon thread, for synchronous code that owns async objects.

The replay server (served to a synchronous crawler or a Dagster resource), the trainer's
bridge to the agent's tools (TRL calls its hooks synchronously) and the test servers all
need the same thing: start a loop in a thread, run a setup coroutine on it (bind a port,
open a pool) and hear about its failure in the starting thread, submit coroutines from
outside, and stop cleanly. The ordering is easy to get subtly wrong, so it is written once.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


class LoopThread:
    """``start(setup)`` -> ``run(coro)``... -> ``stop(shutdown)``; restartable after ``stop``.

    ``cleanup`` (given to :meth:`start`) runs on the loop after it stops, or after ``setup``
    failed, before the loop closes: for resources that must be released even when startup
    went half way (an aiohttp runner whose site did not bind).
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self.loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    @property
    def started(self) -> bool:
        return self._thread is not None

    def start(self, setup: Callable[[], Awaitable[Any]] | None = None, *,
              cleanup: Callable[[], Awaitable[Any]] | None = None, timeout: float = 30.0) -> None:
        """Start the thread and run ``setup()`` on the loop before returning. An exception
        from ``setup`` is raised here (the thread has ended by then); a setup that takes
        longer than ``timeout`` seconds raises :class:`TimeoutError`."""
        if self._thread is not None:
            raise RuntimeError(f"{self.name} already started")
        loop = asyncio.new_event_loop()
        ready = threading.Event()
        failure: list[BaseException] = []

        def main() -> None:
            asyncio.set_event_loop(loop)
            try:
                try:
                    if setup is not None:
                        loop.run_until_complete(setup())
                except BaseException as exc:  # noqa: BLE001 - raised in the starting thread
                    failure.append(exc)
                    return
                finally:
                    ready.set()
                loop.run_forever()
            finally:
                try:
                    if cleanup is not None:
                        loop.run_until_complete(cleanup())
                    loop.run_until_complete(loop.shutdown_asyncgens())
                finally:
                    loop.close()

        thread = threading.Thread(target=main, name=self.name, daemon=True)
        thread.start()
        if not ready.wait(timeout):
            raise TimeoutError(f"{self.name} did not start within {timeout:g} s")
        if failure:
            thread.join(timeout)
            raise failure[0]
        self.loop, self._thread = loop, thread

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run ``coro`` on the loop and wait for its result (its exception is raised here)."""
        if self.loop is None:
            coro.close()
            raise RuntimeError(f"{self.name} is not running")
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def stop(self, shutdown: Callable[[], Awaitable[Any]] | None = None, timeout: float = 10.0) -> None:
        """Run ``shutdown()`` on the loop (best effort: its errors and a timeout are ignored,
        the loop stops anyway), stop the loop and join the thread. A no-op when not started."""
        loop, thread = self.loop, self._thread
        if loop is None or thread is None:
            return
        if not loop.is_closed():  # closed: the thread has ended on its own
            if shutdown is not None:
                try:
                    asyncio.run_coroutine_threadsafe(_awaited(shutdown), loop).result(timeout)
                except Exception:  # noqa: BLE001 - best effort; the loop is stopped below anyway
                    pass
            loop.call_soon_threadsafe(loop.stop)  # also right after start, before run_forever began
        thread.join(timeout)
        self.loop, self._thread = None, None


async def _awaited(fn: Callable[[], Awaitable[Any]]) -> Any:
    return await fn()
