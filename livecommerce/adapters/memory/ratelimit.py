"""A per-node rate limiter: the single-node default, and the fallback of the Redis one."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from livecommerce.adapters.clock import SystemClock
from livecommerce.domain.ratelimit import Rate, gcra


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
