"""RedisRedemptions and RedisDropClaims: the coupon and drop counters shared by every node.

A coupon keeps four keys under its hash tag `{coupon:<id>}` (one cluster slot): `:orders`
(order id → buyer id of the redemptions held or used), `:buyers` (buyer id → how many of them),
`:returned` (orders that gave theirs back) and `:seeded`, set when the coupon's durable record
in SQL was loaded: a Redis that lost its data answers `unseeded` instead of counting from zero
(which would let a limited coupon be used again). A drop keeps `:left`, `:codes` (claimer → code)
and `:ended` under `{drop:<id>}`. Each decision is one Lua script, so under any number of nodes
exactly the allowed number of redemptions or claims succeed."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Set
from typing import Any

from livecommerce.adapters.redis.client import UNAVAILABLE, RedisClient
from livecommerce.errors import StoreUnavailable
from livecommerce.services.ports import Claim, Claimed, Redeemed

# KEYS: orders, buyers, returned, seeded. ARGV: order id, buyer id, max (0: none), per buyer
# (0: none).
_REDEEM = """
if redis.call('EXISTS', KEYS[4]) == 0 then return 'unseeded' end
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then return 'held' end
if redis.call('SISMEMBER', KEYS[3], ARGV[1]) == 1 then return 'returned' end
local max = tonumber(ARGV[3])
if max > 0 and redis.call('HLEN', KEYS[1]) >= max then return 'exhausted' end
local per = tonumber(ARGV[4])
if per > 0 and tonumber(redis.call('HGET', KEYS[2], ARGV[2]) or '0') >= per then
  return 'buyer_limit'
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('HINCRBY', KEYS[2], ARGV[2], 1)
return 'taken'
"""

# KEYS: orders, buyers, returned, seeded. ARGV: order id, final (1: bar it). 1 when this call
# returned it, -1 when the coupon is not seeded.
_GIVE_BACK = """
if redis.call('EXISTS', KEYS[4]) == 0 then return -1 end
if ARGV[2] == '1' then redis.call('SADD', KEYS[3], ARGV[1]) end
local buyer = redis.call('HGET', KEYS[1], ARGV[1])
if not buyer then return 0 end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('HINCRBY', KEYS[2], buyer, -1)
return 1
"""

# KEYS: orders, buyers, returned, seeded. ARGV: how many held, then (order, buyer) pairs, then
# returned orders. Once (the `seeded` marker); an order already counted is not counted again.
_SEED = """
if not redis.call('SET', KEYS[4], 1, 'NX') then return 0 end
local held = tonumber(ARGV[1])
for i = 2, held * 2, 2 do
  if redis.call('HSETNX', KEYS[1], ARGV[i], ARGV[i + 1]) == 1 then
    redis.call('HINCRBY', KEYS[2], ARGV[i + 1], 1)
  end
end
for i = held * 2 + 2, #ARGV do redis.call('SADD', KEYS[3], ARGV[i]) end
return 1
"""

# KEYS: left, codes, ended. ARGV: claimer, code. {outcome, code, left}.
_CLAIM = """
local have = redis.call('HGET', KEYS[2], ARGV[1])
local left = tonumber(redis.call('GET', KEYS[1]) or '-1')
if have then return {'held', have, math.max(left, 0)} end
if left < 0 or redis.call('EXISTS', KEYS[3]) == 1 then return {'ended', '', 0} end
if left == 0 then return {'exhausted', '', 0} end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
redis.call('DECR', KEYS[1])
local ttl = redis.call('TTL', KEYS[1])
if ttl > 0 then redis.call('EXPIRE', KEYS[2], ttl) end
return {'taken', ARGV[2], left - 1}
"""

# KEYS: left, codes. ARGV: claims, keep seconds (the codes key takes the same lifetime).
_OPEN = """
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'EX', ARGV[2]) then
  redis.call('DEL', KEYS[2])
end
return 1
"""


async def _call(make: Callable[[], Awaitable[Any]]) -> Any:
    """A lost connection is StoreUnavailable (503), not a 500."""
    try:
        return await make()
    except UNAVAILABLE as exc:
        raise StoreUnavailable("coupon store unavailable") from exc


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class RedisRedemptions:
    def __init__(self, client: RedisClient, prefix: str = "lc") -> None:
        self._redis = client
        self._prefix = prefix
        self._redeem = client.register_script(_REDEEM)
        self._give_back = client.register_script(_GIVE_BACK)
        self._seed = client.register_script(_SEED)

    def _keys(self, coupon_id: str) -> list[str]:
        tag = f"{self._prefix}:{{coupon:{coupon_id}}}"
        return [f"{tag}:orders", f"{tag}:buyers", f"{tag}:returned", f"{tag}:seeded"]

    async def redeem(
        self,
        coupon_id: str,
        order_id: str,
        buyer_id: str,
        max_redemptions: int | None,
        per_buyer: int | None,
    ) -> Redeemed:
        keys = self._keys(coupon_id)
        args: list[str | int] = [order_id, buyer_id, max_redemptions or 0, per_buyer or 0]
        return Redeemed(_text(await _call(lambda: self._redeem(keys=keys, args=args))))

    async def give_back(self, coupon_id: str, order_id: str, *, final: bool = True) -> bool | None:
        keys = self._keys(coupon_id)
        args: list[str | int] = [order_id, int(final)]
        done = int(await _call(lambda: self._give_back(keys=keys, args=args)))
        return None if done < 0 else bool(done)

    async def seed(self, coupon_id: str, held: Mapping[str, str], returned: Set[str]) -> None:
        keys = self._keys(coupon_id)
        args: list[str | int] = [len(held)]
        for order_id, buyer_id in held.items():
            args += [order_id, buyer_id]
        args += sorted(returned)
        await _call(lambda: self._seed(keys=keys, args=args))

    async def used(self, coupon_id: str) -> int:
        key = self._keys(coupon_id)[0]
        return int(await _call(lambda: self._redis.hlen(key)))


class RedisDropClaims:
    def __init__(self, client: RedisClient, prefix: str = "lc") -> None:
        self._redis = client
        self._prefix = prefix
        self._claim = client.register_script(_CLAIM)
        self._open = client.register_script(_OPEN)

    def _keys(self, drop_id: str) -> list[str]:
        tag = f"{self._prefix}:{{drop:{drop_id}}}"
        return [f"{tag}:left", f"{tag}:codes", f"{tag}:ended"]

    async def open(self, drop_id: str, claims: int, keep_seconds: int) -> None:
        keys = self._keys(drop_id)[:2]
        await _call(lambda: self._open(keys=keys, args=[claims, keep_seconds]))

    async def claim(self, drop_id: str, user_id: str, code: str) -> Claim:
        keys = self._keys(drop_id)
        outcome, got, left = await _call(lambda: self._claim(keys=keys, args=[user_id, code]))
        return Claim(Claimed(_text(outcome)), _text(got), int(left))

    async def end(self, drop_id: str) -> bool:
        key = self._keys(drop_id)[2]
        return bool(await _call(lambda: self._redis.set(key, 1, nx=True, ex=7 * 24 * 3600)))
