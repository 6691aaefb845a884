"""RedisInventory: the InventoryStore shared by many nodes, one Lua script per operation.

Each reserve / commit / release / adjust is a single script, so Redis runs the checks and the
change as one step: no oversell, no double release, however many nodes race. The reserves and
peeks made in one event-loop tick go to Redis together (`TickBatcher`): one script call per
pool runs them in order, each exactly as it would run alone, and answers each its own line.

A pool is one product's stock, kept in four hashes and a sorted set that share the product's
hash tag `{p:<product id>}`:
`v` (per variant: on-hand units, and `<variant>|held`), `caps` (per capped offer: `<offer>`,
`<offer>|held`, `<offer>|sold`), `res` (reservations: `id -> status|qty|buyer|deadline|variant|
offer|capped`), `buyers` (`<offer>|<buyer> -> units`, for per-buyer limits) and `due` (held
reservations by deadline, for the expiry sweeper).

Why one tag per product: a reservation must check the variant's units and the offer's cap in
the same step, and an offer can sell any variant of its product, while two offers (in two shows)
can sell the same variant. Tagging keys by variant would split an offer's cap across slots;
tagging by offer would split a variant across offers. Every offer sells exactly one product, so
the product is the smallest unit that holds both, and its keys always land in one slot. The
cost: all of one product's flash-sale traffic goes to one Redis shard (it would anyway, since a
variant's counter is a single key).

The expiry index is per pool, so the same scripts run on one Redis and on a Redis Cluster. The
sweeper finds the pools through a registry sharded over `DUE_SHARDS` sets
(`lc:inv:{due:<k>}:pools`, a pool in shard crc32(pool) mod `DUE_SHARDS`): a pool is added after
every script that may have left a hold, and dropped when its index is empty, then re-added if a
hold landed meanwhile (the re-check after the removal closes that race, since holds register
after their script ran).

Connections come from a `BlockingConnectionPool` with an explicit size: redis-py's default asyncio
pool raises beyond 100 connections instead of waiting, which a flash-sale burst would hit.
"""

from __future__ import annotations

import asyncio
import json
import re
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from redis.asyncio.cluster import RedisCluster
from redis.commands.core import AsyncScript

from livecommerce.adapters.redis.client import UNAVAILABLE, RedisClient
from livecommerce.domain import inventory as rules
from livecommerce.domain.inventory import (
    PoolLevels,
    PoolState,
    Reservation,
    ReservationStatus,
    StockLevel,
    StockLine,
    VariantStock,
)
from livecommerce.errors import InvalidInput, LimitReached, NotFound, StoreUnavailable
from livecommerce.services.batching import DEFAULT_BATCH_MAX, TickBatcher
from livecommerce.services.ports import ReserveResult

#: How many sets the registry of pools with holds is split over (spread over a cluster's nodes).
DUE_SHARDS = 16

# KEYS: v, caps, res, buyers, due (of one pool). ARGV[1]: the requests, one
# per line, "mode|reservation id|buyer|quantity|per-buyer limit (-1: none)|deadline|variant|
# offer|capped (1/0)" with mode 'h' (hold) or 'p' (peek). One string rather than nine arguments
# per request: redis-py's packing of each argument cost more CPU than the whole script. The
# requests run in order, each as the one-reservation step it always was; the reply is one line
# per request ("code;on_hand;held;cap;cap_held;cap_sold;record") in one bulk string, as parsing
# an array costs redis-py several times more than splitting a string. Codes: 0 held, 1 the id
# is held already (its record follows), 2 a peek that would hold, -1 sold out, -2 over the
# per-buyer limit, -3 pool/variant/cap not loaded, -4 bad quantity.
_RESERVE = """
local function one(mode, rid, buyer, qty_arg, limit_arg, deadline, vid, oid, capped_arg)
  if not mode then return '-4;0;0;-1;0;0;' end
  local v = redis.call('HMGET', KEYS[1], vid, vid .. '|held')
  if not v[1] then return '-3' end
  local capped = capped_arg == '1'
  local c = {'-1', '0', '0'}
  if capped then
    c = redis.call('HMGET', KEYS[2], oid, oid .. '|held', oid .. '|sold')
    if not c[1] then return '-3' end
  end
  local on_hand, held = tonumber(v[1]), tonumber(v[2] or '0')
  local cap, cap_held, cap_sold = tonumber(c[1]), tonumber(c[2] or '0'), tonumber(c[3] or '0')
  local level = on_hand .. ';' .. held .. ';' .. cap .. ';' .. cap_held .. ';' .. cap_sold .. ';'
  local existing = redis.call('HGET', KEYS[3], rid)
  if existing then return '1;' .. level .. existing end
  local qty, limit = tonumber(qty_arg), tonumber(limit_arg)
  if qty < 1 then return '-4;' .. level end
  local bkey = oid .. '|' .. buyer
  if limit >= 0 then
    local have = tonumber(redis.call('HGET', KEYS[4], bkey) or '0')
    if have + qty > limit then return '-2;' .. level end
  end
  if on_hand - held < qty then return '-1;' .. level end
  if capped and cap - cap_held - cap_sold < qty then return '-1;' .. level end
  if mode == 'p' then return '2;' .. level end
  redis.call('HINCRBY', KEYS[1], vid .. '|held', qty)
  if capped then
    redis.call('HINCRBY', KEYS[2], oid .. '|held', qty)
    cap_held = cap_held + qty
  end
  redis.call('HINCRBY', KEYS[4], bkey, qty)
  local record = 'held|' .. qty_arg .. '|' .. buyer .. '|' .. deadline .. '|' .. vid .. '|' ..
    oid .. '|' .. capped_arg
  redis.call('HSET', KEYS[3], rid, record)
  redis.call('ZADD', KEYS[5], deadline, rid)
  return '0;' .. on_hand .. ';' .. (held + qty) .. ';' .. cap .. ';' .. cap_held .. ';' ..
    cap_sold .. ';' .. record
end
local out = {}
for req in string.gmatch(ARGV[1], '[^\\n]+') do
  out[#out + 1] = one(string.match(req,
    '^(%a)|([^|]*)|([^|]*)|(-?%d+)|(-?%d+)|(-?%d+)|([^|]*)|([^|]*)|([01])$'))
end
return table.concat(out, '\\n')
"""

# KEYS: as above. ARGV: reservation id, target status ('committed' | 'released').
_SETTLE = """
local record = redis.call('HGET', KEYS[3], ARGV[1])
if not record then return 0 end
local status, qty, buyer, deadline, vid, oid, capped = string.match(record,
  '^(%a+)|(%d+)|([^|]*)|(%d+)|([^|]*)|([^|]*)|([01])$')
if status ~= 'held' then return 0 end
qty = tonumber(qty)
local sell = ARGV[2] == 'committed'
redis.call('HINCRBY', KEYS[1], vid .. '|held', -qty)
if sell then
  redis.call('HINCRBY', KEYS[1], vid, -qty)
else
  redis.call('HINCRBY', KEYS[4], oid .. '|' .. buyer, -qty)
end
if capped == '1' and redis.call('HEXISTS', KEYS[2], oid) == 1 then
  redis.call('HINCRBY', KEYS[2], oid .. '|held', -qty)
  if sell then redis.call('HINCRBY', KEYS[2], oid .. '|sold', qty) end
end
redis.call('HSET', KEYS[3], ARGV[1], ARGV[2] .. '|' .. qty .. '|' .. buyer .. '|' .. deadline ..
  '|' .. vid .. '|' .. oid .. '|' .. capped)
redis.call('ZREM', KEYS[5], ARGV[1])
return 1
"""

# KEYS: v. ARGV: variant, delta. Reply "code;on_hand;held".
_ADJUST = """
local v = redis.call('HMGET', KEYS[1], ARGV[1], ARGV[1] .. '|held')
if not v[1] then return '-3;0;0' end
local on_hand, held = tonumber(v[1]), tonumber(v[2] or '0')
local new = on_hand + tonumber(ARGV[2])
if new < held then return '-1;' .. on_hand .. ';' .. held end
redis.call('HSET', KEYS[1], ARGV[1], new)
return '0;' .. new .. ';' .. held
"""

# KEYS: v, caps, res, buyers, due. ARGV: 'replace' | 'missing', the state as JSON, 'keep' | ''.
# `missing` on a loaded pool only adds variants and caps it lacks (HSETNX), never a count.
# `replace` + `keep` adds the pool's held reservations the state lacks to it first.
_RESTORE = """
local state = cjson.decode(ARGV[2])
local exists = redis.call('EXISTS', KEYS[1]) == 1
if exists and ARGV[1] ~= 'replace' then
  local added = 0
  for vid, c in pairs(state.variants) do
    added = added + redis.call('HSETNX', KEYS[1], vid, c[1])
  end
  for oid, c in pairs(state.caps) do
    if redis.call('HSETNX', KEYS[2], oid, c[1]) == 1 then
      redis.call('HSET', KEYS[2], oid .. '|sold', c[3])
      added = added + 1
    end
  end
  return added
end
if exists and ARGV[3] == 'keep' then
  local known = {}
  for _, r in ipairs(state.res) do known[r[1]] = true end
  local all = redis.call('HGETALL', KEYS[3])
  for i = 1, #all, 2 do
    local rid, rec = all[i], all[i + 1]
    if not known[rid] and string.sub(rec, 1, 5) == 'held|' then
      local f, from = {}, 1
      while true do
        local bar = string.find(rec, '|', from, true)
        if not bar then f[#f + 1] = string.sub(rec, from) break end
        f[#f + 1] = string.sub(rec, from, bar - 1)
        from = bar + 1
      end
      local qty, buyer, deadline, vid, oid = tonumber(f[2]), f[3], tonumber(f[4]), f[5], f[6]
      local v = state.variants[vid] or {0, 0}
      v[2] = v[2] + qty
      state.variants[vid] = v
      local c = state.caps[oid]
      if c then
        c[2] = c[2] + qty
        c[1] = math.max(c[1], c[2] + c[3])
      end
      local bkey = oid .. '|' .. buyer
      state.buyers[bkey] = (state.buyers[bkey] or 0) + qty
      state.res[#state.res + 1] = {rid, rec, deadline}
    end
  end
end
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5])
redis.call('HSET', KEYS[1], '~', '1')
for vid, c in pairs(state.variants) do
  redis.call('HSET', KEYS[1], vid, c[1], vid .. '|held', c[2])
end
for oid, c in pairs(state.caps) do
  redis.call('HSET', KEYS[2], oid, c[1], oid .. '|held', c[2], oid .. '|sold', c[3])
end
for key, units in pairs(state.buyers) do redis.call('HSET', KEYS[4], key, units) end
for _, r in ipairs(state.res) do
  redis.call('HSET', KEYS[3], r[1], r[2])
  if r[3] >= 0 then redis.call('ZADD', KEYS[5], r[3], r[1]) end
end
return 1
"""


def _record(r: Reservation) -> str:
    capped = "1" if r.capped else "0"
    return (
        f"{r.status}|{r.quantity}|{r.buyer_id}|{r.expires_at_ms}|{r.variant_id}|{r.offer_id}|"
        f"{capped}"
    )


def _parse(reservation_id: str, pool: str, record: str) -> Reservation:
    status, qty, buyer, deadline, variant, offer, capped = record.split("|")
    return Reservation(
        reservation_id,
        pool,
        buyer,
        int(qty),
        int(deadline),
        variant,
        offer,
        capped == "1",
        ReservationStatus(status),
    )


_BAD_ID = re.compile(r"[|;\t\n{}]")


def _check_ids(*ids: str) -> None:
    """Refuse identifiers that would break a record, a request line or a key (ours never
    contain these)."""
    if _BAD_ID.search("".join(ids)):
        raise InvalidInput("bad identifier")


@dataclass(frozen=True, slots=True)
class _Ask:
    """One reserve (`hold`) or peek, waiting for its tick's batch."""

    hold: bool
    line: StockLine
    reservation_id: str
    buyer_id: str
    quantity: int
    expires_at_ms: int


def _answer(ask: _Ask, reply: str) -> ReserveResult | Exception | None:
    """What one line of the batch's reply means for its caller."""
    res = reply.split(";", 6)
    code = int(res[0])
    if code == -3:
        return NotFound("unknown stock pool")
    line = ask.line
    variant = VariantStock(int(res[1]), int(res[2]))
    cap = StockLevel(int(res[3]), int(res[4]), int(res[5])) if line.capped else None
    if code == -4:
        return InvalidInput("quantity must be positive")
    if code == -2:
        return LimitReached(f"at most {line.per_buyer_limit} per buyer")
    if code == -1:
        return rules.sold_out(rules.units_left(variant, cap))
    if code == 2:
        return None
    return ReserveResult(
        _parse(ask.reservation_id, line.pool, res[6]), variant, cap, created=code == 0
    )


class RedisInventory:
    """Product pools in Redis; every state change is one Lua script, and the reserves and peeks
    of one event-loop tick share one script call per pool (`batch_max` per call at most; 1
    sends each alone)."""

    def __init__(
        self, client: RedisClient, *, prefix: str = "lc:inv", batch_max: int = DEFAULT_BATCH_MAX
    ) -> None:
        self._redis = client
        self._prefix = prefix
        self._registry = [f"{prefix}:{{due:{k}}}:pools" for k in range(DUE_SHARDS)]
        self._reserve: AsyncScript = self._redis.register_script(_RESERVE)
        self._asks: TickBatcher[_Ask, ReserveResult | None] = TickBatcher(self._run, batch_max)
        self._settle: AsyncScript = self._redis.register_script(_SETTLE)
        self._adjust: AsyncScript = self._redis.register_script(_ADJUST)
        self._restore: AsyncScript = self._redis.register_script(_RESTORE)

    def _keys(self, pool: str) -> list[str]:
        tag = f"{self._prefix}:{{p:{pool}}}"
        return [f"{tag}:v", f"{tag}:caps", f"{tag}:res", f"{tag}:buyers", f"{tag}:due"]

    def _shard(self, pool: str) -> str:
        return self._registry[zlib.crc32(pool.encode()) % DUE_SHARDS]

    async def _register(self, pool: str) -> None:
        """List the pool for the sweeper (after the script that held, see the module doc)."""
        key = self._shard(pool)
        await self._call(lambda: self._redis.sadd(key, pool))

    async def _call(self, make: Callable[[], Awaitable[Any]]) -> Any:
        """Run one Redis call; a lost connection becomes StoreUnavailable (503), not a 500."""
        try:
            return await make()
        except UNAVAILABLE as exc:
            raise StoreUnavailable("inventory store unavailable") from exc

    async def instance(self) -> str:
        """Redis's `run_id`: new at every start of the server, whatever its AOF brought back."""
        client = self._redis
        if isinstance(client, RedisCluster):
            # every primary's: a restarted or failed-over node may have lost its pools
            infos = await self._call(
                lambda: client.info("server", target_nodes=RedisCluster.PRIMARIES)
            )
            return ",".join(sorted(str(info["run_id"]) for info in infos.values()))
        info = await self._call(lambda: client.info("server"))
        return str(info["run_id"])

    async def warm(self, connections: int) -> None:
        """Open `connections` pooled connections now: opening one costs ~2 ms of CPU in
        redis-py (it reads package metadata), which a cold pool would pay in the middle of the
        first flash sale. Also loads the scripts, so the first EVALSHA never misses."""

        client = self._redis

        async def hold() -> None:
            if isinstance(client, RedisCluster):
                await client.ping(target_nodes=RedisCluster.PRIMARIES)
                return
            async with client.client() as conn:
                await conn.ping()

        async def prepare() -> None:
            await asyncio.gather(*[hold() for _ in range(connections)])
            for script in (self._reserve, self._settle, self._adjust, self._restore):
                await self._redis.script_load(script.script)

        await self._call(prepare)

    async def ping(self) -> None:
        """Health check."""
        await self._call(self._redis.ping)

    async def restore(
        self, pool: str, state: PoolState, *, replace: bool = False, keep_held: bool = False
    ) -> bool:
        _check_ids(pool)
        payload = json.dumps(
            {
                "variants": {
                    v: [level.on_hand, level.reserved] for v, level in state.levels.variants.items()
                },
                "caps": {
                    o: [cap.total, cap.reserved, cap.sold] for o, cap in state.levels.caps.items()
                },
                "buyers": {f"{o}|{b}": units for (o, b), units in state.buyers.items()},
                "res": [
                    [
                        r.id,
                        _record(r),
                        r.expires_at_ms if r.status is ReservationStatus.HELD else -1,
                    ]
                    for r in state.reservations
                ],
            }
        )
        args = ["replace" if replace else "missing", payload, "keep" if keep_held else ""]
        done = await self._call(lambda: self._restore(keys=self._keys(pool), args=args))
        await self._register(pool)
        return int(done) > 0

    async def reserve(
        self,
        line: StockLine,
        reservation_id: str,
        buyer_id: str,
        quantity: int,
        expires_at_ms: int,
    ) -> ReserveResult:
        _check_ids(line.pool, line.variant_id, line.offer_id, buyer_id, reservation_id)
        ask = _Ask(True, line, reservation_id, buyer_id, quantity, expires_at_ms)
        result = await self._asks.submit(ask)
        assert result is not None  # a hold answers a reservation or raises
        return result

    async def peek(
        self, line: StockLine, reservation_id: str, buyer_id: str, quantity: int
    ) -> ReserveResult | None:
        _check_ids(line.pool, line.variant_id, line.offer_id, buyer_id, reservation_id)
        return await self._asks.submit(_Ask(False, line, reservation_id, buyer_id, quantity, 0))

    async def _run(self, asks: list[_Ask]) -> list[ReserveResult | Exception | None]:
        """One script call per pool in the batch (a pool's keys share one hash slot, so each
        call stays within one slot), run concurrently; a call that fails fails its pool's asks
        only."""
        by_pool: dict[str, list[int]] = {}
        for i, ask in enumerate(asks):
            by_pool.setdefault(ask.line.pool, []).append(i)
        outcomes: list[ReserveResult | Exception | None] = [None] * len(asks)
        groups = list(by_pool.items())
        replies = await asyncio.gather(
            *[self._run_pool(pool, [asks[i] for i in idx]) for pool, idx in groups],
            return_exceptions=True,
        )
        for (_pool, idx), reply in zip(groups, replies, strict=True):
            if isinstance(reply, BaseException):
                if not isinstance(reply, Exception):
                    raise reply
                for i in idx:
                    outcomes[i] = reply
                continue
            for i, line in zip(idx, reply, strict=True):
                outcomes[i] = _answer(asks[i], line)
        return outcomes

    async def _run_pool(self, pool: str, asks: list[_Ask]) -> list[str]:
        requests = "\n".join(
            f"{'h' if a.hold else 'p'}|{a.reservation_id}|{a.buyer_id}|{a.quantity}|"
            f"{-1 if a.line.per_buyer_limit is None else a.line.per_buyer_limit}|"
            f"{a.expires_at_ms}|{a.line.variant_id}|{a.line.offer_id}|{1 if a.line.capped else 0}"
            for a in asks
        )
        reply: str = await self._call(lambda: self._reserve(keys=self._keys(pool), args=[requests]))
        lines = reply.split("\n")
        # a replayed hold ("1;") registers again: its first registration may have failed
        if any(line.startswith(("0;", "1;")) for line in lines):
            await self._register(pool)
        return lines

    async def _settle_as(self, pool: str, reservation_id: str, status: str) -> bool:
        done = await self._call(
            lambda: self._settle(keys=self._keys(pool), args=[reservation_id, status])
        )
        return int(done) == 1

    async def commit(self, pool: str, reservation_id: str) -> bool:
        return await self._settle_as(pool, reservation_id, "committed")

    async def release(self, pool: str, reservation_id: str) -> bool:
        return await self._settle_as(pool, reservation_id, "released")

    async def adjust(self, pool: str, variant_id: str, delta: int) -> VariantStock:
        rules.check_delta(delta)
        _check_ids(pool, variant_id)
        key = self._keys(pool)[0]
        reply: str = await self._call(lambda: self._adjust(keys=[key], args=[variant_id, delta]))
        code, on_hand, held = (int(x) for x in reply.split(";"))
        if code == -3:
            raise NotFound("unknown stock pool")
        level = VariantStock(on_hand, held)
        if code == -1:
            raise rules.stock_held(level)
        return level

    async def levels(self, pool: str) -> PoolLevels:
        v_key, caps_key = self._keys(pool)[:2]

        async def read() -> list[Any]:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.hgetall(v_key)
                pipe.hgetall(caps_key)
                result: list[Any] = await pipe.execute()
                return result

        raw_variants, raw_caps = await self._call(read)
        if not raw_variants:
            raise NotFound("unknown stock pool")
        variants = {
            name: VariantStock(int(value), int(raw_variants.get(f"{name}|held", 0)))
            for name, value in raw_variants.items()
            if "|" not in name and name != "~"
        }
        caps = {
            name: StockLevel(
                int(value),
                int(raw_caps.get(f"{name}|held", 0)),
                int(raw_caps.get(f"{name}|sold", 0)),
            )
            for name, value in raw_caps.items()
            if "|" not in name
        }
        return PoolLevels(variants, caps)

    async def reservation(self, pool: str, reservation_id: str) -> Reservation | None:
        key = self._keys(pool)[2]
        record: Any = await self._call(lambda: self._redis.hget(key, reservation_id))
        return None if record is None else _parse(reservation_id, pool, record)

    async def due(self, now_ms: int, limit: int = 100) -> list[tuple[str, str]]:
        """The `limit` earliest deadlines past `now_ms` over every listed pool; pools whose index
        is empty leave the registry on the way."""

        async def listed() -> list[Any]:
            async with self._redis.pipeline(transaction=False) as pipe:
                for key in self._registry:
                    pipe.smembers(key)
                result: list[Any] = await pipe.execute()
                return result

        pools = sorted({str(p) for members in await self._call(listed) for p in members})
        if not pools:
            return []

        async def scan() -> list[Any]:
            async with self._redis.pipeline(transaction=False) as pipe:
                for pool in pools:
                    due_key = self._keys(pool)[4]
                    pipe.zrangebyscore(due_key, "-inf", now_ms, start=0, num=limit, withscores=True)
                    pipe.zcard(due_key)
                result: list[Any] = await pipe.execute()
                return result

        replies = await self._call(scan)
        found: list[tuple[float, str, str]] = []
        idle: list[str] = []
        for i, pool in enumerate(pools):
            members, size = replies[2 * i], replies[2 * i + 1]
            found += [(score, pool, str(rid)) for rid, score in members]
            if int(size) == 0:
                idle.append(pool)
        for pool in idle:
            await self._unlist(pool)
        found.sort()
        return [(pool, rid) for _score, pool, rid in found[:limit]]

    async def _unlist(self, pool: str) -> None:
        """Drop an idle pool from the registry, and list it again if a hold landed meanwhile
        (its own registration may have run before the removal)."""
        key, due_key = self._shard(pool), self._keys(pool)[4]
        await self._call(lambda: self._redis.srem(key, pool))
        if int(await self._call(lambda: self._redis.zcard(due_key))) > 0:
            await self._register(pool)
