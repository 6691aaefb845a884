"""Viewer counts across nodes in Redis: one hash per show with each node's count and expiry.
A show's keys share the hash tag `{show:<id>}`, so the total's MGET stays on one cluster node."""

from __future__ import annotations

from livecommerce.adapters.redis.client import RedisClient


def _nodes_key(show_id: str) -> str:
    return f"lc:presence:{{show:{show_id}}}"


class RedisPresence:
    """Per-(show, node) counts with a TTL; the total is the sum of the keys still alive."""

    def __init__(self, client: RedisClient) -> None:
        self._client = client

    async def report(self, show_id: str, node_id: str, count: int, ttl_seconds: float) -> None:
        nodes = _nodes_key(show_id)
        key = f"{nodes}:{node_id}"
        async with self._client.pipeline(transaction=False) as pipe:
            if count > 0:
                pipe.set(key, count, px=max(1, int(ttl_seconds * 1000)))
                pipe.sadd(nodes, node_id)
                pipe.expire(nodes, max(1, int(ttl_seconds * 4)))
            else:
                pipe.delete(key)
                pipe.srem(nodes, node_id)
            await pipe.execute()

    async def total(self, show_id: str) -> int:
        nodes_key = _nodes_key(show_id)
        members = await self._client.smembers(nodes_key)
        nodes = sorted(n.decode() if isinstance(n, bytes) else str(n) for n in members)
        if not nodes:
            return 0
        values = await self._client.mget([f"{nodes_key}:{n}" for n in nodes])
        gone = [n for n, v in zip(nodes, values, strict=True) if v is None]
        if gone:
            await self._client.srem(nodes_key, *gone)
        return sum(int(v) for v in values if v is not None)
