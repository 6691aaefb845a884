"""One load per key for concurrent callers: the instant a sale opens a thousand buyers ask for the
same offer and product, and the store should see one read of each, not a thousand."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

T = TypeVar("T")

log = logging.getLogger(__name__)


class SingleFlight:
    """Coalesces concurrent loads of the same key into one; a load that finished is forgotten
    (caching its result is the caller's business)."""

    def __init__(self) -> None:
        self._loading: dict[str, asyncio.Future[Any]] = {}

    async def run(self, key: str, load: Callable[[], Awaitable[T]]) -> T:
        """`load()`'s result, sharing a load already running for `key`. The shared load is
        shielded, so one caller's cancellation does not fail the others."""
        pending = self._loading.get(key)
        if pending is None:
            pending = asyncio.ensure_future(load())
            self._loading[key] = pending
            pending.add_done_callback(lambda done: self._landed(key, done))
        result: T = await asyncio.shield(pending)
        return result

    def _landed(self, key: str, done: asyncio.Future[Any]) -> None:
        """Forget the load; its failure reached every caller still waiting, so it is marked
        seen here: a load whose callers were all cancelled (a client gone, a node shutting
        down under it) otherwise ends as "Task exception was never retrieved"."""
        self._loading.pop(key, None)
        if not done.cancelled() and done.exception() is not None:
            log.debug("a shared load failed", extra={"key": key}, exc_info=done.exception())
