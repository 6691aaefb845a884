"""Sliding-window rate limits shared by every node, in one Lua script run with Redis's own
clock; falls back to a per-node limiter while Redis is away, so a Redis outage never lets a
flood through nor blocks everyone."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from livecommerce.adapters.memory.ratelimit import MemoryRateLimiter
from livecommerce.domain.ratelimit import Rate

log = logging.getLogger(__name__)


# KEYS: one list per rate, newest stamp first, at most `limit` long. ARGV: cost, then
# (limit, window_ms) per rate. Server time avoids clock skew between nodes; refused requests
# change nothing. A request fits when the stamp `limit - cost` places down the list (if any)
# has left the window; stamps are integer milliseconds (Lua keeps 14 digits).
_WINDOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local cost = tonumber(ARGV[1])
for i, key in ipairs(KEYS) do
  local limit = tonumber(ARGV[2 * i])
  local window = tonumber(ARGV[2 * i + 1])
  if cost > limit then return 0 end
  local stamp = redis.call('LINDEX', key, limit - cost)
  if stamp and now - tonumber(stamp) < window then return 0 end
end
for i, key in ipairs(KEYS) do
  for _ = 1, cost do redis.call('LPUSH', key, now) end
  redis.call('LTRIM', key, 0, tonumber(ARGV[2 * i]) - 1)
  redis.call('PEXPIRE', key, math.ceil(tonumber(ARGV[2 * i + 1])))
end
return 1
"""


class RedisRateLimiter:
    """The same sliding window as the in-process limiter, shared by every node through Redis.

    While Redis is unreachable the node falls back to its own in-process limiter: limits then
    hold per node instead of per fleet, which is better than refusing or admitting everything.
    """

    def __init__(self, client: aioredis.Redis) -> None:
        self._script = client.register_script(_WINDOW)
        self._fallback = MemoryRateLimiter()

    async def allow(self, key: str, rates: Sequence[Rate], cost: int = 1) -> bool:
        # "rlw" (window lists), not the GCRA's "rl" strings: a node of the old release may
        # still be running during a rolling upgrade
        keys = [f"lc:rlw:{key}:{r.limit}:{r.per_seconds}" for r in rates]
        argv: list[float] = [cost]
        for rate in rates:
            argv += [rate.limit, rate.per_seconds * 1000]
        try:
            return bool(await self._script(keys=keys, args=argv))
        except (RedisError, OSError):
            log.warning("rate limiter lost redis; limiting on this node only")
            return await self._fallback.allow(key, rates, cost)
