"""This node's timers for the moments sales end (an auction's clock, a group buy's deadline, a
giveaway's close, a voucher drop's end) and the background work its service starts.

Each of those services must run its close on a timer, re-arm it when the moment moves (an
anti-snipe extension), log a failure instead of losing it in a task nobody awaits, and stop it
all at shutdown, when any node's sweeper takes over. One helper does it for all of them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from livecommerce.services.ports import Clock

log = logging.getLogger(__name__)


class Deadlines:
    """Per-key timers calling `on_due(key)` at a moment of the service's clock, and the tasks
    they (and `spawn`) start; `what` names the work in the logs."""

    def __init__(self, clock: Clock, on_due: Callable[[str], Awaitable[object]], what: str) -> None:
        self._clock = clock
        self._on_due = on_due
        self._what = what
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def arm(self, key: str, at_ms: int) -> None:
        """Call `on_due(key)` at `at_ms` (at once if past), replacing the key's earlier timer."""
        self.cancel(key)
        delay = max(0.0, (at_ms - self._clock.now_ms()) / 1000)
        loop = asyncio.get_running_loop()
        self._timers[key] = loop.call_later(delay, self._fire, key)

    def armed(self, key: str) -> bool:
        return key in self._timers

    def cancel(self, key: str) -> None:
        timer = self._timers.pop(key, None)
        if timer is not None:
            timer.cancel()

    def _fire(self, key: str) -> None:
        self._timers.pop(key, None)
        self.spawn(self._on_due(key), key)

    def spawn(self, work: Awaitable[object], key: str = "") -> asyncio.Task[None]:
        """Run `work` in the background until shutdown; its failure is logged, not raised."""

        async def run() -> None:
            try:
                await work
            except Exception:
                log.exception("%s failed", self._what, extra={"key": key})

        task = asyncio.get_running_loop().create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def aclose(self, *more: asyncio.Task[Any]) -> None:
        """Stop every timer and cancel the work (and `more` tasks the service keeps itself)."""
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        for task in [*self._tasks, *more]:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
