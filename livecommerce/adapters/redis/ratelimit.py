"""GCRA rate limits shared by every node, in one Lua script run with Redis's own clock; falls
back to a per-node limiter while Redis is away, so a Redis outage never lets a flood through
nor blocks everyone."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from livecommerce.adapters.memory.ratelimit import MemoryRateLimiter
from livecommerce.domain.ratelimit import Rate

log = logging.getLogger(__name__)


# KEYS: one per rate. ARGV: cost, then (interval_ms, window_ms) per rate. Server time avoids
# clock skew between nodes; refused requests change nothing.
_GCRA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local cost = tonumber(ARGV[1])
local new = {}
for i, key in ipairs(KEYS) do
  local interval = tonumber(ARGV[2 * i])
  local window = tonumber(ARGV[2 * i + 1])
  local tat = tonumber(redis.call('GET', key) or now)
  if tat < now then tat = now end
  local next_tat = tat + interval * cost
  if next_tat - now > window then return 0 end
  new[i] = math.floor(next_tat)  -- why: integers survive Lua's 14-digit number formatting
end
for i, key in ipairs(KEYS) do
  redis.call('SET', key, new[i], 'PX', math.ceil(new[i] - now) + 1)
end
return 1
"""


class RedisRateLimiter:
    """The same GCRA as the in-process limiter, shared by every node through Redis.

    While Redis is unreachable the node falls back to its own in-process limiter: limits then
    hold per node instead of per fleet, which is better than refusing or admitting everything.
    """

    def __init__(self, client: aioredis.Redis) -> None:
        self._script = client.register_script(_GCRA)
        self._fallback = MemoryRateLimiter()

    async def allow(self, key: str, rates: Sequence[Rate], cost: int = 1) -> bool:
        keys = [f"lc:rl:{key}:{r.limit}:{r.per_seconds}" for r in rates]
        argv: list[float] = [cost]
        for rate in rates:
            argv += [rate.interval * 1000, rate.per_seconds * 1000]
        try:
            return bool(await self._script(keys=keys, args=argv))
        except (RedisError, OSError):
            log.warning("rate limiter lost redis; limiting on this node only")
            return await self._fallback.allow(key, rates, cost)
