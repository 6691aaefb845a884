"""Redis adapters for many nodes: pub/sub bus and a GCRA rate limiter in one Lua script.

The bus delivers to this node's subscribers directly and to other nodes through Redis, so a
Redis outage degrades a node to single-node behaviour instead of stopping it; the listener
reconnects by itself when Redis returns.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import defaultdict
from collections.abc import AsyncIterator, Sequence
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from livecommerce.adapters.memory import MemoryRateLimiter, deliver
from livecommerce.domain.ratelimit import Rate
from livecommerce.ids import new_id
from livecommerce.services.ports import BusHandler

log = logging.getLogger(__name__)

CHANNEL_PREFIX = "lc:bus:"


def connect(url: str, pool_size: int) -> aioredis.Redis:
    """A client whose pool blocks (instead of raising) when all connections are busy."""
    pool = aioredis.BlockingConnectionPool.from_url(
        url, max_connections=pool_size, timeout=5, socket_timeout=5, socket_connect_timeout=2
    )
    return aioredis.Redis.from_pool(pool)  # the client owns the pool: aclose() closes both


class RedisBus:
    def __init__(self, client: aioredis.Redis) -> None:
        self._client = client
        self._node = new_id("node")
        self._handlers: defaultdict[str, list[BusHandler]] = defaultdict(list)
        self._task: asyncio.Task[None] | None = None

    def subscribe(self, topic: str, handler: BusHandler) -> None:
        self._handlers[topic].append(handler)

    async def publish(self, topic: str, payload: dict[str, Any]) -> None:
        await deliver(list(self._handlers.get(topic, ())), topic, payload)
        message = json.dumps({"node": self._node, "payload": payload})
        try:
            await self._client.publish(CHANNEL_PREFIX + topic, message)
        except RedisError:
            log.warning(
                "bus publish to redis failed; delivered on this node only", extra={"topic": topic}
            )

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Listen for other nodes' events while the context is open."""
        self._task = asyncio.create_task(self._listen(), name="redis-bus")
        try:
            yield
        finally:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _listen(self) -> None:
        backoff = 0.1
        while True:
            pubsub = self._client.pubsub()
            try:
                await pubsub.psubscribe(CHANNEL_PREFIX + "*")
                backoff = 0.1
                async for message in pubsub.listen():
                    if message.get("type") != "pmessage":
                        continue
                    await self._dispatch(message["channel"], message["data"])
            except (RedisError, OSError):
                log.warning("bus listener lost redis; retrying in %.1fs", backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 2.0)
            finally:
                with contextlib.suppress(RedisError, OSError):
                    await pubsub.aclose()

    async def _dispatch(self, channel: bytes, data: bytes) -> None:
        try:
            envelope = json.loads(data)
        except ValueError:
            return
        if envelope.get("node") == self._node:
            return
        topic = channel.decode().removeprefix(CHANNEL_PREFIX)
        await deliver(list(self._handlers.get(topic, ())), topic, envelope.get("payload", {}))


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
