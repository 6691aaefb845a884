"""Origin records in Redis: one key per show, ``{show:ID}:origin`` → the origin node's base URL,
with a TTL the origin keeps refreshing. The key is hash-tagged per show (one slot on Redis
Cluster); refresh and release compare the holder in one script, so a node whose publisher moved
away can neither extend nor delete the new origin's record."""

from __future__ import annotations

from livecommerce.adapters.redis.client import RedisClient

# Extend our own record, or write it again after it expired; 0 when another node holds it.
_REFRESH = """
local holder = redis.call('GET', KEYS[1])
if holder == false or holder == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


def _key(show_id: str) -> str:
    return f"{{show:{show_id}}}:origin"


def _ms(seconds: float) -> int:
    return max(1, int(seconds * 1000))


class RedisShowOrigins:
    def __init__(self, client: RedisClient) -> None:
        self._client = client
        self._refresh = client.register_script(_REFRESH)
        self._release = client.register_script(_RELEASE)

    async def claim(self, show_id: str, node_url: str, ttl_seconds: float) -> None:
        await self._client.set(_key(show_id), node_url, px=_ms(ttl_seconds))

    async def refresh(self, show_id: str, node_url: str, ttl_seconds: float) -> bool:
        held = await self._refresh(keys=[_key(show_id)], args=[node_url, _ms(ttl_seconds)])
        return bool(held)

    async def release(self, show_id: str, node_url: str) -> None:
        await self._release(keys=[_key(show_id)], args=[node_url])

    async def origin(self, show_id: str) -> str | None:
        value = await self._client.get(_key(show_id))
        return str(value) if value is not None else None
