"""The InventoryStore port: atomic reservations with a deadline, committed or released once.

Implementations (memory: atomic on one event loop; Redis: one Lua script per operation) follow
the rules in `domain/inventory.py`, held to them by tests/contract/test_inventory_contract.py.
A reservation's id is the order's id, so an order can never hold two reservations.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from livecommerce.domain.inventory import Reservation, ReservationStatus, StockLevel


@dataclass(frozen=True, slots=True)
class ReserveResult:
    """What a reservation attempt did: the reservation (new, or the existing one for a replayed
    id) and the pool's level right after it."""

    reservation: Reservation
    level: StockLevel
    created: bool


class InventoryStore(Protocol):
    """Stock pools and the reservations against them."""

    async def ensure_pool(self, pool: str, total: int) -> StockLevel:
        """Create the pool with `total` units, or set its total (never below sold + reserved)."""
        ...

    async def reserve(
        self,
        pool: str,
        reservation_id: str,
        buyer_id: str,
        quantity: int,
        per_buyer_limit: int | None,
        expires_at_ms: int,
    ) -> ReserveResult:
        """Hold units atomically or raise SoldOut / LimitReached / NotFound with nothing held.
        A second call with the same reservation id returns the first reservation unchanged."""
        ...

    async def commit(self, pool: str, reservation_id: str) -> bool:
        """Sell a held reservation's units; True only for the one call that did it."""
        ...

    async def release(self, pool: str, reservation_id: str) -> bool:
        """Return a held reservation's units to the pool; True only for the one call that did it."""
        ...

    async def level(self, pool: str) -> StockLevel:
        """The pool's counts (NotFound for an unknown pool)."""
        ...

    async def reservation(self, pool: str, reservation_id: str) -> Reservation | None:
        """One reservation, or None."""
        ...

    async def due(self, now_ms: int, limit: int = 100) -> list[tuple[str, str]]:
        """(pool, reservation id) of held reservations whose deadline has passed."""
        ...

    async def restore(self, pool: str, total: int, reservations: Sequence[Reservation]) -> None:
        """Replace the pool with what the durable store knows: held and committed reservations
        (released ones are not passed). Used on start-up so a lost Redis never resells units."""
        ...

    async def close(self) -> None:
        """Release connections."""
        ...


__all__ = ["InventoryStore", "ReservationStatus", "ReserveResult"]
