"""Sliding-window rate limits shared by every node, in one Lua script run with Redis's own
clock; falls back to a per-node limiter while Redis is away, so a Redis outage never lets a
flood through nor blocks everyone. The checks made in one event-loop tick share one script
call (`TickBatcher`): a flash sale asks for a thousand buyers' checkout rates at once.

A key's lists (one per rate) share the hash tag `{<key>}`; on a Redis Cluster a tick's checks
are grouped by hash slot, one script call per slot, since a script may only touch one slot."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from redis.crc import key_slot

from livecommerce.adapters.memory.ratelimit import MemoryRateLimiter
from livecommerce.adapters.redis.client import FAILURES, RedisClient, is_cluster
from livecommerce.domain.ratelimit import Rate
from livecommerce.services.batching import DEFAULT_BATCH_MAX, TickBatcher

log = logging.getLogger(__name__)


# KEYS: one list per rate, newest stamp first, at most `limit` long, for every request in turn.
# ARGV[1]: the requests, one per line: "cost|limit|window_ms|limit|window_ms…" (a limit and a
# window per key of the request; one string, not an argument per number, as redis-py's packing
# costs more CPU per argument than the script). Server time avoids clock skew between nodes;
# refused requests change nothing. A request fits when the stamp `limit - cost` places down
# each of its lists (if any) has left the window; stamps are integer milliseconds (Lua keeps 14
# digits). The reply has one '1' (allowed) or '0' per request, in order; each request sees the
# stamps of the ones before it.
_WINDOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local out, k = {}, 0
for req in string.gmatch(ARGV[1], '[^\\n]+') do
  local nums = {}
  for n in string.gmatch(req, '[^|]+') do nums[#nums + 1] = tonumber(n) end
  local cost, rates = nums[1], (#nums - 1) / 2
  local ok = true
  for i = 1, rates do
    local limit, window = nums[2 * i], nums[2 * i + 1]
    if cost > limit then ok = false break end
    local stamp = redis.call('LINDEX', KEYS[k + i], limit - cost)
    if stamp and now - tonumber(stamp) < window then ok = false break end
  end
  if ok then
    for i = 1, rates do
      local limit, window = nums[2 * i], nums[2 * i + 1]
      for _ = 1, cost do redis.call('LPUSH', KEYS[k + i], now) end
      redis.call('LTRIM', KEYS[k + i], 0, limit - 1)
      redis.call('PEXPIRE', KEYS[k + i], math.ceil(window))
    end
  end
  out[#out + 1] = ok and '1' or '0'
  k = k + rates
end
return table.concat(out)
"""


@dataclass(frozen=True, slots=True)
class _Check:
    key: str
    rates: tuple[Rate, ...]
    cost: int


class RedisRateLimiter:
    """The same sliding window as the in-process limiter, shared by every node through Redis.

    While Redis is unreachable the node falls back to its own in-process limiter: limits then
    hold per node instead of per fleet, which is better than refusing or admitting everything.
    """

    def __init__(self, client: RedisClient, *, batch_max: int = DEFAULT_BATCH_MAX) -> None:
        self._script = client.register_script(_WINDOW)
        self._cluster = is_cluster(client)
        self._fallback = MemoryRateLimiter()
        self._checks: TickBatcher[_Check, bool] = TickBatcher(self._run, batch_max)

    async def allow(self, key: str, rates: Sequence[Rate], cost: int = 1) -> bool:
        return await self._checks.submit(_Check(key, tuple(rates), cost))

    async def _run(self, checks: list[_Check]) -> list[bool | Exception]:
        if not self._cluster:
            return await self._run_together(checks)
        by_slot: dict[int, list[int]] = {}
        for i, check in enumerate(checks):
            by_slot.setdefault(key_slot(f"{{{check.key}}}".encode()), []).append(i)
        groups = list(by_slot.values())
        answers = await asyncio.gather(
            *[self._run_together([checks[i] for i in idx]) for idx in groups]
        )
        out: list[bool | Exception] = [False] * len(checks)
        for idx, answer in zip(groups, answers, strict=True):
            for i, allowed in zip(idx, answer, strict=True):
                out[i] = allowed
        return out

    async def _run_together(self, checks: list[_Check]) -> list[bool | Exception]:
        keys: list[str] = []
        lines: list[str] = []
        for check in checks:
            # "rlw" (window lists), not the GCRA's "rl" strings: a node of the old release may
            # still be running during a rolling upgrade
            keys += [f"lc:rlw:{{{check.key}}}:{r.limit}:{r.per_seconds}" for r in check.rates]
            windows = "".join(f"|{r.limit}|{r.per_seconds * 1000}" for r in check.rates)
            lines.append(f"{check.cost}{windows}")
        try:
            reply = await self._script(keys=keys, args=["\n".join(lines)])
        except FAILURES:
            log.warning("rate limiter lost redis; limiting on this node only")
            return [
                await self._fallback.allow(check.key, check.rates, check.cost) for check in checks
            ]
        return [flag == "1" for flag in str(reply)]
