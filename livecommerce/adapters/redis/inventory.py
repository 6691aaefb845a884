"""RedisInventory: the InventoryStore shared by many nodes, one Lua script per operation.

Each reserve / commit / release is a single script, so Redis runs the check and the change as one
step: no oversell, no double release, however many nodes race. Per pool the data is a hash of
counts (`total`, `reserved`, `sold`), a hash of reservations (`id -> status|qty|buyer|deadline`)
and a hash of units per buyer (for the per-buyer limit); one sorted set indexes held reservations
by deadline for the expiry sweeper. Keys share a `{pool}` hash tag; the deadline index is global,
so this adapter targets a single Redis (or a primary with replicas), not Redis Cluster.

Connections come from a `BlockingConnectionPool` with an explicit size: redis-py's default asyncio
pool raises beyond 100 connections instead of waiting, which a flash-sale burst would hit.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from redis import exceptions as redis_errors
from redis.asyncio import Redis
from redis.commands.core import AsyncScript

from livecommerce.domain import inventory as rules
from livecommerce.domain.inventory import Reservation, ReservationStatus, StockLevel
from livecommerce.errors import InvalidInput, LimitReached, NotFound, SoldOut, StoreUnavailable
from livecommerce.services.ports import ReserveResult

# One flat string reply ("code;total;reserved;sold;record"): parsing a five-element array costs
# redis-py several times more CPU than one bulk string, and this runs once per buyer in a burst.
_RESERVE = """
local existing = redis.call('HGET', KEYS[2], ARGV[1])
local counts = redis.call('HMGET', KEYS[1], 'total', 'reserved', 'sold')
if not counts[1] then return '-3;0;0;0;' end
local total, reserved, sold = tonumber(counts[1]), tonumber(counts[2]), tonumber(counts[3])
local level = total .. ';' .. reserved .. ';' .. sold .. ';'
if existing then return '1;' .. level .. existing end
local qty, limit = tonumber(ARGV[3]), tonumber(ARGV[4])
if qty < 1 then return '-4;' .. level end
if limit >= 0 then
  local have = tonumber(redis.call('HGET', KEYS[3], ARGV[2]) or '0')
  if have + qty > limit then return '-2;' .. level end
end
if total - reserved - sold < qty then return '-1;' .. level end
redis.call('HINCRBY', KEYS[1], 'reserved', qty)
redis.call('HINCRBY', KEYS[3], ARGV[2], qty)
local record = 'held|' .. ARGV[3] .. '|' .. ARGV[2] .. '|' .. ARGV[5]
redis.call('HSET', KEYS[2], ARGV[1], record)
redis.call('ZADD', KEYS[4], ARGV[5], ARGV[6] .. '\\t' .. ARGV[1])
return '0;' .. total .. ';' .. (reserved + qty) .. ';' .. sold .. ';' .. record
"""

# ARGV: reservation id, target status ('committed' | 'released'), pool
_SETTLE = """
local record = redis.call('HGET', KEYS[2], ARGV[1])
if not record then return 0 end
local status, qty, buyer, deadline = string.match(record, '^(%a+)|(%d+)|([^|]*)|(%d+)$')
if status ~= 'held' then return 0 end
qty = tonumber(qty)
redis.call('HINCRBY', KEYS[1], 'reserved', -qty)
if ARGV[2] == 'committed' then
  redis.call('HINCRBY', KEYS[1], 'sold', qty)
else
  redis.call('HINCRBY', KEYS[3], buyer, -qty)
end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2] .. '|' .. qty .. '|' .. buyer .. '|' .. deadline)
redis.call('ZREM', KEYS[4], ARGV[3] .. '\\t' .. ARGV[1])
return 1
"""

_ENSURE = """
local counts = redis.call('HMGET', KEYS[1], 'total', 'reserved', 'sold')
if not counts[1] then
  redis.call('HSET', KEYS[1], 'total', ARGV[1], 'reserved', 0, 'sold', 0)
  return {tonumber(ARGV[1]), 0, 0}
end
local reserved, sold = tonumber(counts[2]), tonumber(counts[3])
local total = math.max(tonumber(ARGV[1]), reserved + sold)
redis.call('HSET', KEYS[1], 'total', total)
return {total, reserved, sold}
"""


def _parse(reservation_id: str, pool: str, record: str) -> Reservation:
    status, qty, buyer, deadline = record.split("|", 3)
    return Reservation(
        reservation_id, pool, buyer, int(qty), int(deadline), ReservationStatus(status)
    )


class RedisInventory:
    """Stock pools in Redis; every state change is one Lua script."""

    def __init__(self, client: Redis, *, prefix: str = "lc:inv") -> None:
        self._redis = client
        self._prefix = prefix
        self._due_key = f"{prefix}:due"
        self._reserve: AsyncScript = self._redis.register_script(_RESERVE)
        self._settle: AsyncScript = self._redis.register_script(_SETTLE)
        self._ensure: AsyncScript = self._redis.register_script(_ENSURE)

    def _keys(self, pool: str) -> list[str]:
        tag = f"{self._prefix}:{{{pool}}}"
        return [f"{tag}:stock", f"{tag}:res", f"{tag}:buyers", self._due_key]

    async def _call(self, make: Callable[[], Awaitable[Any]]) -> Any:
        """Run one Redis call; a lost connection becomes StoreUnavailable (503), not a 500."""
        try:
            return await make()
        except (redis_errors.ConnectionError, redis_errors.TimeoutError) as exc:
            raise StoreUnavailable("inventory store unavailable") from exc

    async def warm(self, connections: int) -> None:
        """Open `connections` pooled connections now: opening one costs ~2 ms of CPU in
        redis-py (it reads package metadata), which a cold pool would pay in the middle of the
        first flash sale. Also loads the scripts, so the first EVALSHA never misses."""

        async def hold() -> None:
            async with self._redis.client() as conn:
                await conn.ping()

        async def prepare() -> None:
            await asyncio.gather(*[hold() for _ in range(connections)])
            for script in (self._reserve, self._settle, self._ensure):
                await self._redis.script_load(script.script)

        await self._call(prepare)

    async def ping(self) -> None:
        """Health check."""
        await self._call(self._redis.ping)

    async def ensure_pool(self, pool: str, total: int) -> StockLevel:
        if total < 0:
            raise InvalidInput("stock cannot be negative")
        res: list[Any] = await self._call(
            lambda: self._ensure(keys=self._keys(pool)[:1], args=[total])
        )
        return StockLevel(int(res[0]), int(res[1]), int(res[2]))

    async def reserve(
        self,
        pool: str,
        reservation_id: str,
        buyer_id: str,
        quantity: int,
        per_buyer_limit: int | None,
        expires_at_ms: int,
    ) -> ReserveResult:
        if "|" in buyer_id or ";" in buyer_id or "\t" in reservation_id:
            raise InvalidInput("bad identifier")
        args: list[str | int] = [
            reservation_id,
            buyer_id,
            quantity,
            -1 if per_buyer_limit is None else per_buyer_limit,
            expires_at_ms,
            pool,
        ]
        reply: str = await self._call(lambda: self._reserve(keys=self._keys(pool), args=args))
        res = reply.split(";", 4)
        code = int(res[0])
        level = StockLevel(int(res[1]), int(res[2]), int(res[3]))
        if code == -3:
            raise NotFound("unknown stock pool")
        if code == -4:
            raise InvalidInput("quantity must be positive")
        if code == -2:
            raise LimitReached(f"at most {per_buyer_limit} per buyer")
        if code == -1:
            raise SoldOut("sold out" if level.available == 0 else f"only {level.available} left")
        return ReserveResult(_parse(reservation_id, pool, str(res[4])), level, created=code == 0)

    async def _settle_as(self, pool: str, reservation_id: str, status: str) -> bool:
        done = await self._call(
            lambda: self._settle(keys=self._keys(pool), args=[reservation_id, status, pool])
        )
        return int(done) == 1

    async def commit(self, pool: str, reservation_id: str) -> bool:
        return await self._settle_as(pool, reservation_id, "committed")

    async def release(self, pool: str, reservation_id: str) -> bool:
        return await self._settle_as(pool, reservation_id, "released")

    async def level(self, pool: str) -> StockLevel:
        key = self._keys(pool)[0]
        counts: list[Any] = await self._call(
            lambda: self._redis.hmget(key, ["total", "reserved", "sold"])
        )
        if counts[0] is None:
            raise NotFound("unknown stock pool")
        return StockLevel(int(counts[0]), int(counts[1] or 0), int(counts[2] or 0))

    async def reservation(self, pool: str, reservation_id: str) -> Reservation | None:
        key = self._keys(pool)[1]
        record: Any = await self._call(lambda: self._redis.hget(key, reservation_id))
        return None if record is None else _parse(reservation_id, pool, record)

    async def due(self, now_ms: int, limit: int = 100) -> list[tuple[str, str]]:
        members: list[Any] = await self._call(
            lambda: self._redis.zrangebyscore(self._due_key, "-inf", now_ms, start=0, num=limit)
        )
        out: list[tuple[str, str]] = []
        for member in members:
            pool, _, rid = member.rpartition("\t")
            out.append((pool, rid))
        return out

    async def restore(self, pool: str, total: int, reservations: Sequence[Reservation]) -> None:
        stock_key, res_key, buyers_key, due_key = self._keys(pool)
        held = sum(r.quantity for r in reservations if r.status is ReservationStatus.HELD)
        sold = sum(r.quantity for r in reservations if r.status is ReservationStatus.COMMITTED)
        level = rules.rebuild(total, sold, held)
        buyers: dict[str, int] = {}
        for r in reservations:
            buyers[r.buyer_id] = buyers.get(r.buyer_id, 0) + r.quantity

        async def write() -> None:
            old_ids: list[Any] = await self._redis.hkeys(res_key)
            async with self._redis.pipeline(transaction=True) as pipe:
                if old_ids:
                    pipe.zrem(due_key, *[f"{pool}\t{rid}" for rid in old_ids])
                pipe.delete(stock_key, res_key, buyers_key)
                pipe.hset(
                    stock_key,
                    mapping={"total": level.total, "reserved": level.reserved, "sold": level.sold},
                )
                for r in reservations:
                    record = f"{r.status}|{r.quantity}|{r.buyer_id}|{r.expires_at_ms}"
                    pipe.hset(res_key, r.id, record)
                    if r.status is ReservationStatus.HELD:
                        pipe.zadd(due_key, {f"{pool}\t{r.id}": r.expires_at_ms})
                    else:
                        pipe.zrem(due_key, f"{pool}\t{r.id}")
                if buyers:
                    pipe.hset(buyers_key, mapping=buyers)  # type: ignore[arg-type]
                await pipe.execute()

        await self._call(write)
