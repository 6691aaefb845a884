"""RedisAuctions: the live state of auctions shared by every node. Each auction keeps four
keys under its own hash tag `{a:<offer id>}` (so a cluster keeps them on one slot): `:state`
(a hash: `version` and the state's JSON), `:log` (a list of row JSON), `:acks` (idempotency
key → stored ack) and `:refused` (refused bids per error code). A bid's compare-and-set is one
Lua script, so across nodes exactly one of two racing bids on the same state is written; the
other re-reads and is judged again by the domain rules (`domain/auctions.py`), which run in
Python on the node, with the node's clock."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from livecommerce.adapters.redis.client import UNAVAILABLE, RedisClient
from livecommerce.domain.auctions import AuctionState, BidRow
from livecommerce.errors import StoreUnavailable
from livecommerce.services.ports import Commit, OwnedRow

#: How long a settled auction's live keys outlive their last write (the SQL log stays).
KEEP_SECONDS = 7 * 24 * 3600

# KEYS: state, log, acks. ARGV: expected version, new version, state JSON, keep seconds, the
# number n of acks, n (key, ack JSON) pairs, then the rows' JSON. Returns {0} (moved), {1}
# (done) or {2, key, ack} (a key had an ack already: nothing written).
_COMMIT = """
local n = tonumber(ARGV[5])
for i = 0, n - 1 do
  local ack = redis.call('HGET', KEYS[3], ARGV[6 + 2 * i])
  if ack then return {2, ARGV[6 + 2 * i], ack} end
end
local version = redis.call('HGET', KEYS[1], 'version')
if version ~= ARGV[1] then return {0} end
redis.call('HSET', KEYS[1], 'version', ARGV[2], 'json', ARGV[3])
for i = 6 + 2 * n, #ARGV do redis.call('RPUSH', KEYS[2], ARGV[i]) end
for i = 0, n - 1 do redis.call('HSET', KEYS[3], ARGV[6 + 2 * i], ARGV[7 + 2 * i]) end
for i = 1, 3 do redis.call('EXPIRE', KEYS[i], tonumber(ARGV[4])) end
return {1}
"""

# KEYS: state, log. ARGV: version, state JSON, keep seconds, then the log rows' JSON (they
# replace any log left without a state). The stored JSON either way.
_OPEN = """
if redis.call('HSETNX', KEYS[1], 'version', ARGV[1]) == 1 then
  redis.call('HSET', KEYS[1], 'json', ARGV[2])
  redis.call('EXPIRE', KEYS[1], tonumber(ARGV[3]))
  if #ARGV > 3 then
    redis.call('DEL', KEYS[2])
    for i = 4, #ARGV do redis.call('RPUSH', KEYS[2], ARGV[i]) end
    redis.call('EXPIRE', KEYS[2], tonumber(ARGV[3]))
  end
end
return redis.call('HGET', KEYS[1], 'json')
"""


def _row_json(row: OwnedRow) -> str:
    return json.dumps({**row[0].to_wire(), "user_id": row[1]})


def _row(text: str) -> OwnedRow:
    data = json.loads(text)
    user_id = data.pop("user_id")
    return BidRow(**data), user_id


class RedisAuctions:
    def __init__(self, client: RedisClient, prefix: str = "lc:auction") -> None:
        self._redis = client
        self._prefix = prefix
        self._commit = client.register_script(_COMMIT)
        self._open = client.register_script(_OPEN)

    def _keys(self, offer_id: str) -> list[str]:
        tag = f"{self._prefix}:{{a:{offer_id}}}"
        return [f"{tag}:state", f"{tag}:log", f"{tag}:acks", f"{tag}:refused"]

    async def _call(self, make: Callable[[], Awaitable[Any]]) -> Any:
        """A lost connection is StoreUnavailable (503), not a 500."""
        try:
            return await make()
        except UNAVAILABLE as exc:
            raise StoreUnavailable("auction store unavailable") from exc

    async def state(self, offer_id: str) -> AuctionState | None:
        key = self._keys(offer_id)[0]
        text = await self._call(lambda: self._redis.hget(key, "json"))
        return None if text is None else AuctionState.from_wire(json.loads(text))

    async def open(self, state: AuctionState, rows: Sequence[OwnedRow] = ()) -> AuctionState:
        keys = self._keys(state.offer_id)[:2]
        args: list[str | int] = [
            state.version,
            json.dumps(state.to_wire()),
            KEEP_SECONDS,
            *[_row_json(row) for row in rows],
        ]
        text = await self._call(lambda: self._open(keys=keys, args=args))
        return AuctionState.from_wire(json.loads(text))

    async def replay(self, offer_id: str, key: str) -> Mapping[str, Any] | None:
        acks = self._keys(offer_id)[2]
        text = await self._call(lambda: self._redis.hget(acks, key))
        return None if text is None else dict(json.loads(text))

    async def commit(
        self,
        expected_version: int,
        state: AuctionState,
        rows: Sequence[OwnedRow] = (),
        acks: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> Commit:
        given = acks or {}
        args: list[str | int] = [
            expected_version,
            state.version,
            json.dumps(state.to_wire()),
            KEEP_SECONDS,
            len(given),
        ]
        for key, ack in given.items():
            args += [key, json.dumps(dict(ack))]
        args += [_row_json(row) for row in rows]
        keys = self._keys(state.offer_id)[:3]
        result = await self._call(lambda: self._commit(keys=keys, args=args))
        code = int(result[0])
        if code == 2:
            key = result[1] if isinstance(result[1], str) else result[1].decode()
            return Commit(False, dict(json.loads(result[2])), key)
        return Commit(code == 1)

    async def rows(self, offer_id: str) -> list[OwnedRow]:
        log = self._keys(offer_id)[1]
        texts = await self._call(lambda: self._redis.lrange(log, 0, -1))
        return [_row(t if isinstance(t, str) else t.decode()) for t in texts]

    async def refuse(self, offer_id: str, counts: Mapping[str, int]) -> None:
        key = self._keys(offer_id)[3]

        async def count() -> None:
            async with self._redis.pipeline(transaction=False) as pipe:
                for code, n in counts.items():
                    pipe.hincrby(key, code, n)
                pipe.expire(key, KEEP_SECONDS)
                await pipe.execute()

        await self._call(count)

    async def refusals(self, offer_id: str) -> dict[str, int]:
        key = self._keys(offer_id)[3]
        counts = await self._call(lambda: self._redis.hgetall(key))
        return {str(k): int(v) for k, v in counts.items()}
