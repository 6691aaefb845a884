"""Presence across nodes in Redis: one sorted set per show, each person scored by when they
were last seen (epoch ms). The key carries the show as a hash tag, ``lc:presence:{show:ID}``,
so every key of one show lands on one Redis Cluster slot. A lost connection is
``StoreUnavailable``: the beat skips a pass with a warning and the hub pushes no count."""

from __future__ import annotations

from collections.abc import Collection

from redis import exceptions as redis_errors

from livecommerce.adapters.redis.client import RedisClient
from livecommerce.errors import StoreUnavailable

#: A show nobody touches for this long is forgotten by Redis (the window is far shorter).
IDLE_EXPIRY_SECONDS = 3600


def presence_key(show_id: str) -> str:
    return f"lc:presence:{{show:{show_id}}}"


class RedisPresence:
    def __init__(self, client: RedisClient) -> None:
        self._client = client

    async def touch(self, show_id: str, members: Collection[str], at_ms: int) -> None:
        if not members:
            return
        key = presence_key(show_id)
        try:
            async with self._client.pipeline(transaction=False) as pipe:
                # GT: a node with a slower clock or a late batch never moves a sighting back
                pipe.zadd(key, dict.fromkeys(members, at_ms), gt=True)
                pipe.expire(key, IDLE_EXPIRY_SECONDS)
                await pipe.execute()
        except (redis_errors.ConnectionError, redis_errors.TimeoutError) as exc:
            raise StoreUnavailable("presence store unavailable") from exc

    async def count(self, show_id: str, since_ms: int) -> int:
        key = presence_key(show_id)
        try:
            async with self._client.pipeline(transaction=False) as pipe:
                pipe.zremrangebyscore(key, "-inf", f"({since_ms}")
                pipe.zcard(key)
                _, count = await pipe.execute()
        except (redis_errors.ConnectionError, redis_errors.TimeoutError) as exc:
            raise StoreUnavailable("presence store unavailable") from exc
        return int(count)
