"""At most one announcement per key per interval on this node, the latest state always last.

A flash sale changes an offer's stock hundreds of times a second, a bidding war moves an
auction as fast, a voucher drop's claims and a giveaway's entries likewise; a room message per
change to every viewer would cost more than the change itself. Every such announcement goes
through one `Throttle`: the first change of a quiet key goes out at once, the changes within
`interval` of the last send collapse into one send when the interval is up, and a change that
arrives while a send is under way is sent after it, never dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from livecommerce.errors import LiveCommerceError

log = logging.getLogger(__name__)

T = TypeVar("T")


def _newest(_old: T, new: T) -> T:
    return new


class Throttle(Generic[T]):
    """Per key, `send(key, value)` at most once per `interval` seconds; `keep(old, new)` picks
    the value a collapsed burst sends (the newest by default: a send that reads the current
    state itself needs nothing more)."""

    def __init__(
        self,
        interval: float,
        send: Callable[[str, T], Awaitable[object]],
        *,
        keep: Callable[[T, T], T] = _newest,
        what: str = "announcement",
    ) -> None:
        self._interval = interval
        self._send = send
        self._keep = keep
        self._what = what
        self._pending: dict[str, T] = {}
        self._sent: dict[str, float] = {}
        self._waiting: dict[str, asyncio.Task[None]] = {}

    async def changed(self, key: str, value: T) -> None:
        """Record a change: sent now if the key was quiet for `interval`, else when it is up."""
        wait = self._note(key, value)
        if wait is None:
            return
        if wait <= 0:
            await self.flush(key)
            return
        self._waiting[key] = asyncio.get_running_loop().create_task(self._later(key, wait))

    def changed_later(self, key: str, value: T) -> None:
        """Record a change whose send always runs in the background: for a caller whose answer
        must neither wait for the announcement nor fail with it."""
        wait = self._note(key, value)
        if wait is not None:
            task = asyncio.get_running_loop().create_task(self._later(key, max(0.0, wait)))
            self._waiting[key] = task

    def _note(self, key: str, value: T) -> float | None:
        """Keep the change; how long until the key may send (None: a send is already due)."""
        pending = self._pending
        pending[key] = self._keep(pending[key], value) if key in pending else value
        if key in self._waiting:
            return None
        return self._sent.get(key, 0.0) + self._interval - time.monotonic()

    async def flush(self, key: str) -> None:
        """Send the key's pending change now (before a final event that must follow it)."""
        if key not in self._pending:
            return
        value = self._pending.pop(key)
        self._sent[key] = time.monotonic()
        await self._send(key, value)

    async def _later(self, key: str, wait: float) -> None:
        try:
            while key in self._pending:  # a change during the last send waits its turn
                await asyncio.sleep(wait)
                await self.flush(key)
                wait = self._interval
        except LiveCommerceError as exc:  # a store away (an outage): the next change retries
            log.warning("%s failed: %s", self._what, exc, extra={"key": key})
        except Exception:
            log.exception("%s failed", self._what, extra={"key": key})
        finally:
            self._waiting.pop(key, None)

    async def aclose(self) -> None:
        """Drop what is still waiting (at shutdown: the state itself is stored elsewhere)."""
        tasks = list(self._waiting.values())
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._pending.clear()
