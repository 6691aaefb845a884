"""Inventory rules for one stock pool (an offer's units): reserve, commit, release.

The invariant every adapter keeps: `sold + reserved + available == total`, and `available` never
goes below zero. A reservation moves `held → committed` (paid: units become sold) or
`held → released` (expired, failed, cancelled: units go back) exactly once; a second commit or
release of the same reservation changes nothing. The adapters (memory, Redis Lua) implement these
same rules atomically; the pure functions here are the specification they are tested against.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum

from livecommerce.errors import InvalidInput, LimitReached, SoldOut


class ReservationStatus(StrEnum):
    """Where a reservation stands."""

    HELD = "held"  # units set aside for a buyer until the reservation's deadline
    COMMITTED = "committed"  # paid: the units are sold for good
    RELEASED = "released"  # expired or given up: the units went back to the pool


@dataclass(frozen=True, slots=True)
class StockLevel:
    """Counts of one pool; `available` is derived so it can never drift from the others."""

    total: int
    reserved: int = 0
    sold: int = 0

    @property
    def available(self) -> int:
        return self.total - self.reserved - self.sold


@dataclass(frozen=True, slots=True)
class Reservation:
    """Units held in one pool for one buyer until `expires_at_ms`."""

    id: str
    pool: str
    buyer_id: str
    quantity: int
    expires_at_ms: int
    status: ReservationStatus = ReservationStatus.HELD


def reserve(
    stock: StockLevel,
    quantity: int,
    *,
    buyer_units: int = 0,
    per_buyer_limit: int | None = None,
) -> StockLevel:
    """Hold `quantity` units, refusing (and changing nothing) when sold out or over the buyer's
    limit; `buyer_units` is what this buyer already holds or bought in the pool."""
    if quantity < 1:
        raise InvalidInput("quantity must be positive")
    if per_buyer_limit is not None and buyer_units + quantity > per_buyer_limit:
        raise LimitReached(f"at most {per_buyer_limit} per buyer")
    if quantity > stock.available:
        raise SoldOut("sold out" if stock.available == 0 else f"only {stock.available} left")
    return replace(stock, reserved=stock.reserved + quantity)


def commit(stock: StockLevel, reservation: Reservation) -> tuple[StockLevel, Reservation]:
    """Turn a held reservation into sold units; a no-op for one already committed or released."""
    if reservation.status is not ReservationStatus.HELD:
        return stock, reservation
    new_stock = replace(
        stock,
        reserved=stock.reserved - reservation.quantity,
        sold=stock.sold + reservation.quantity,
    )
    return new_stock, replace(reservation, status=ReservationStatus.COMMITTED)


def release(stock: StockLevel, reservation: Reservation) -> tuple[StockLevel, Reservation]:
    """Give a held reservation's units back; a no-op for one already committed or released."""
    if reservation.status is not ReservationStatus.HELD:
        return stock, reservation
    new_stock = replace(stock, reserved=stock.reserved - reservation.quantity)
    return new_stock, replace(reservation, status=ReservationStatus.RELEASED)


def rebuild(total: int, sold: int, held: int) -> StockLevel:
    """The pool as the durable store knows it (used to rebuild Redis after a restart): units
    sold per the ledger and held by live reservations are never handed out again."""
    if total < 0 or sold < 0 or held < 0:
        raise InvalidInput("stock counts cannot be negative")
    return StockLevel(total=max(total, sold + held), reserved=held, sold=sold)
