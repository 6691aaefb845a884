"""MemoryInventory: the InventoryStore for one process.

Each operation runs to completion without awaiting, so on one event loop it is atomic: no two
reservations can interleave between the availability check and the hold. Not shared between
processes; use RedisInventory for more than one node.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from livecommerce.domain import inventory as rules
from livecommerce.domain.inventory import Reservation, ReservationStatus, StockLevel
from livecommerce.errors import NotFound
from livecommerce.services.ports import ReserveResult


class MemoryInventory:
    """Pools and reservations in dicts, changed only by the pure rules in domain/inventory.py."""

    def __init__(self) -> None:
        self._levels: dict[str, StockLevel] = {}
        self._reservations: dict[str, dict[str, Reservation]] = {}
        self._buyer_units: dict[tuple[str, str], int] = {}

    def _level(self, pool: str) -> StockLevel:
        try:
            return self._levels[pool]
        except KeyError:
            raise NotFound("unknown stock pool") from None

    async def ensure_pool(self, pool: str, total: int) -> StockLevel:
        current = self._levels.get(pool)
        if current is None:
            current = StockLevel(total=total)
            self._reservations[pool] = {}
        else:
            current = replace(current, total=max(total, current.reserved + current.sold))
        self._levels[pool] = current
        return current

    async def reserve(
        self,
        pool: str,
        reservation_id: str,
        buyer_id: str,
        quantity: int,
        per_buyer_limit: int | None,
        expires_at_ms: int,
    ) -> ReserveResult:
        level = self._level(pool)
        existing = self._reservations[pool].get(reservation_id)
        if existing is not None:
            return ReserveResult(existing, level, created=False)
        units = self._buyer_units.get((pool, buyer_id), 0)
        level = rules.reserve(level, quantity, buyer_units=units, per_buyer_limit=per_buyer_limit)
        res = Reservation(reservation_id, pool, buyer_id, quantity, expires_at_ms)
        self._levels[pool] = level
        self._reservations[pool][reservation_id] = res
        self._buyer_units[(pool, buyer_id)] = units + quantity
        return ReserveResult(res, level, created=True)

    async def commit(self, pool: str, reservation_id: str) -> bool:
        res = self._reservations.get(pool, {}).get(reservation_id)
        if res is None or res.status is not ReservationStatus.HELD:
            return False
        self._levels[pool], self._reservations[pool][reservation_id] = rules.commit(
            self._level(pool), res
        )
        return True

    async def release(self, pool: str, reservation_id: str) -> bool:
        res = self._reservations.get(pool, {}).get(reservation_id)
        if res is None or res.status is not ReservationStatus.HELD:
            return False
        self._levels[pool], self._reservations[pool][reservation_id] = rules.release(
            self._level(pool), res
        )
        self._buyer_units[(pool, res.buyer_id)] -= res.quantity
        return True

    async def level(self, pool: str) -> StockLevel:
        return self._level(pool)

    async def reservation(self, pool: str, reservation_id: str) -> Reservation | None:
        return self._reservations.get(pool, {}).get(reservation_id)

    async def due(self, now_ms: int, limit: int = 100) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        for pool, reservations in self._reservations.items():
            for res in reservations.values():
                if res.status is ReservationStatus.HELD and res.expires_at_ms <= now_ms:
                    out.append((pool, res.id))
                    if len(out) >= limit:
                        return out
        return out

    async def restore(self, pool: str, total: int, reservations: Sequence[Reservation]) -> None:
        held = sum(r.quantity for r in reservations if r.status is ReservationStatus.HELD)
        sold = sum(r.quantity for r in reservations if r.status is ReservationStatus.COMMITTED)
        self._levels[pool] = rules.rebuild(total, sold, held)
        self._reservations[pool] = {r.id: r for r in reservations}
        for key in [k for k in self._buyer_units if k[0] == pool]:
            del self._buyer_units[key]
        for r in reservations:
            key = (pool, r.buyer_id)
            self._buyer_units[key] = self._buyer_units.get(key, 0) + r.quantity
