"""MemoryInventory: the InventoryStore for one process.

Each operation runs to completion without awaiting, so on one event loop it is atomic: no two
reservations can interleave between the availability check (variant and cap) and the hold. Not
shared between processes; use RedisInventory for more than one node.
"""

from __future__ import annotations

from dataclasses import dataclass, field

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
from livecommerce.errors import NotFound
from livecommerce.ids import new_id
from livecommerce.services.ports import ReserveResult


@dataclass
class _Pool:
    """One product's counts, buyers' units per offer and reservations."""

    variants: dict[str, VariantStock]
    caps: dict[str, StockLevel]
    buyers: dict[tuple[str, str], int] = field(default_factory=dict)
    reservations: dict[str, Reservation] = field(default_factory=dict)


class MemoryInventory:
    """Pools in dicts, changed only by the pure rules in domain/inventory.py."""

    def __init__(self) -> None:
        self._pools: dict[str, _Pool] = {}
        self._instance = new_id("mem")

    async def instance(self) -> str:
        return self._instance  # it lives and dies with the process

    def _pool(self, pool: str) -> _Pool:
        try:
            return self._pools[pool]
        except KeyError:
            raise NotFound("unknown stock pool") from None

    async def restore(
        self, pool: str, state: PoolState, *, replace: bool = False, keep_held: bool = False
    ) -> bool:
        current = self._pools.get(pool)
        if current is None or replace:
            if current is not None and keep_held:
                state = rules.keep_held(state, current.reservations.values())
            self._pools[pool] = _Pool(
                dict(state.levels.variants),
                dict(state.levels.caps),
                dict(state.buyers),
                {r.id: r for r in state.reservations},
            )
            return True
        added = False
        for variant_id, level in state.levels.variants.items():
            if variant_id not in current.variants:
                current.variants[variant_id] = VariantStock(level.on_hand)
                added = True
        for offer_id, cap in state.levels.caps.items():
            if offer_id not in current.caps:
                current.caps[offer_id] = StockLevel(cap.total, 0, cap.sold)
                added = True
        return added

    def _counts(
        self, line: StockLine, reservation_id: str
    ) -> tuple[_Pool, VariantStock, StockLevel | None, ReserveResult | None]:
        """The line's pool and counts, and the answer for an id that is held already."""
        pool = self._pool(line.pool)
        variant = pool.variants.get(line.variant_id)
        cap = pool.caps.get(line.offer_id) if line.capped else None
        if variant is None or (line.capped and cap is None):
            raise NotFound("unknown stock pool")
        existing = pool.reservations.get(reservation_id)
        if existing is not None:
            return pool, variant, cap, ReserveResult(existing, variant, cap, created=False)
        return pool, variant, cap, None

    async def peek(
        self, line: StockLine, reservation_id: str, buyer_id: str, quantity: int
    ) -> ReserveResult | None:
        pool, variant, cap, existing = self._counts(line, reservation_id)
        if existing is None:
            units = pool.buyers.get((line.offer_id, buyer_id), 0)
            rules.reserve(
                variant, cap, quantity, buyer_units=units, per_buyer_limit=line.per_buyer_limit
            )
        return existing

    async def reserve(
        self,
        line: StockLine,
        reservation_id: str,
        buyer_id: str,
        quantity: int,
        expires_at_ms: int,
    ) -> ReserveResult:
        pool, variant, cap, existing = self._counts(line, reservation_id)
        if existing is not None:
            return existing
        key = (line.offer_id, buyer_id)
        units = pool.buyers.get(key, 0)
        variant, cap = rules.reserve(
            variant, cap, quantity, buyer_units=units, per_buyer_limit=line.per_buyer_limit
        )
        res = Reservation(
            reservation_id,
            line.pool,
            buyer_id,
            quantity,
            expires_at_ms,
            line.variant_id,
            line.offer_id,
            line.capped,
        )
        pool.variants[line.variant_id] = variant
        if cap is not None:
            pool.caps[line.offer_id] = cap
        pool.reservations[reservation_id] = res
        pool.buyers[key] = units + quantity
        return ReserveResult(res, variant, cap, created=True)

    async def _settle(self, pool_name: str, reservation_id: str, *, sell: bool) -> bool:
        pool = self._pools.get(pool_name)
        res = None if pool is None else pool.reservations.get(reservation_id)
        if pool is None or res is None or res.status is not ReservationStatus.HELD:
            return False
        settle = rules.commit if sell else rules.release
        variant, cap, done = settle(
            pool.variants.get(res.variant_id, VariantStock(0)), pool.caps.get(res.offer_id), res
        )
        pool.variants[res.variant_id] = variant
        if cap is not None:
            pool.caps[res.offer_id] = cap
        pool.reservations[reservation_id] = done
        if not sell:
            pool.buyers[(res.offer_id, res.buyer_id)] -= res.quantity
        return True

    async def commit(self, pool: str, reservation_id: str) -> bool:
        return await self._settle(pool, reservation_id, sell=True)

    async def release(self, pool: str, reservation_id: str) -> bool:
        return await self._settle(pool, reservation_id, sell=False)

    async def adjust(self, pool: str, variant_id: str, delta: int) -> VariantStock:
        current = self._pool(pool)
        variant = current.variants.get(variant_id)
        if variant is None:
            raise NotFound("unknown stock pool")
        current.variants[variant_id] = rules.adjust(variant, delta)
        return current.variants[variant_id]

    async def levels(self, pool: str) -> PoolLevels:
        current = self._pool(pool)
        return PoolLevels(dict(current.variants), dict(current.caps))

    async def reservation(self, pool: str, reservation_id: str) -> Reservation | None:
        current = self._pools.get(pool)
        return None if current is None else current.reservations.get(reservation_id)

    async def due(self, now_ms: int, limit: int = 100) -> list[tuple[str, str]]:
        found = sorted(
            (res.expires_at_ms, name, res.id)
            for name, pool in self._pools.items()
            for res in pool.reservations.values()
            if res.status is ReservationStatus.HELD and res.expires_at_ms <= now_ms
        )
        return [(name, rid) for _deadline, name, rid in found[:limit]]
