"""A per-node rate limiter: the single-node default, and the fallback of the Redis one."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Sequence
from typing import Any

from livecommerce.adapters.clock import SystemClock
from livecommerce.domain.ratelimit import Rate, window_allows


class MemoryRateLimiter:
    """The newest ``limit`` accepted stamps per (key, rate) in a dict; keys whose newest stamp
    left the window are pruned as the dict grows."""

    _PRUNE_EVERY = 4096

    def __init__(self, clock: Any = None) -> None:
        self._clock = clock or SystemClock()
        self._stamps: dict[tuple[str, Rate], deque[float]] = {}
        self._lock = asyncio.Lock()
        self._calls = 0

    async def allow(self, key: str, rates: Sequence[Rate], cost: int = 1) -> bool:
        now = self._clock.now()
        if not all(
            window_allows(self._stamps.get((key, rate), ()), now, rate, cost) for rate in rates
        ):
            return False
        for rate in rates:
            stamps = self._stamps.setdefault((key, rate), deque(maxlen=rate.limit))
            stamps.extendleft([now] * cost)
        self._calls += 1
        if self._calls % self._PRUNE_EVERY == 0:
            self._stamps = {
                (k, rate): stamps
                for (k, rate), stamps in self._stamps.items()
                if now - stamps[0] < rate.per_seconds
            }
        return True
