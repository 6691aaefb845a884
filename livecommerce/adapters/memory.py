"""In-process adapters for one node: the wall clock, the event bus and the rate limiter."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from livecommerce.domain.ratelimit import Rate, gcra
from livecommerce.services.ports import BusHandler

log = logging.getLogger(__name__)


class SystemClock:
    def now(self) -> float:
        return time.time()


async def deliver(handlers: Sequence[BusHandler], topic: str, payload: dict[str, Any]) -> None:
    """Run every handler; one failing subscriber must not starve the others."""
    for handler in handlers:
        try:
            await handler(payload)
        except Exception:
            log.exception("bus handler failed", extra={"topic": topic})


class MemoryBus:
    """Delivers to subscribers of this process only; right for a single node."""

    def __init__(self) -> None:
        self._handlers: defaultdict[str, list[BusHandler]] = defaultdict(list)

    def subscribe(self, topic: str, handler: BusHandler) -> None:
        self._handlers[topic].append(handler)

    async def publish(self, topic: str, payload: dict[str, Any]) -> None:
        await deliver(list(self._handlers.get(topic, ())), topic, payload)


class MemoryRateLimiter:
    """GCRA per (key, rate) in a dict; expired entries are pruned as the dict grows."""

    _PRUNE_EVERY = 4096

    def __init__(self, clock: Any = None) -> None:
        self._clock = clock or SystemClock()
        self._tat: dict[tuple[str, Rate], float] = {}
        self._lock = asyncio.Lock()
        self._calls = 0

    async def allow(self, key: str, rates: Sequence[Rate], cost: int = 1) -> bool:
        now = self._clock.now()
        decisions = [(rate, *gcra(self._tat.get((key, rate)), now, rate, cost)) for rate in rates]
        if not all(allowed for _, allowed, _ in decisions):
            return False
        for rate, _, tat in decisions:
            self._tat[(key, rate)] = tat
        self._calls += 1
        if self._calls % self._PRUNE_EVERY == 0:
            self._tat = {k: v for k, v in self._tat.items() if v > now}
        return True
