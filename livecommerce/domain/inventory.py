"""Inventory rules: one stock per variant, sold through offers that may cap their sales.

A product's stock is one *pool*: the on-hand units of each of its variants, and the caps of its
offers. A variant's on-hand count is the sum of its movements (initial stock, adjustments, sales,
refund restocks, imports: `StockMovement`, kept in SQL); checkouts *hold* units against it, so
what a buyer can get is `on_hand - reserved`. Every offer of the product — in any show — sells
from the same variant counts, so two offers on one sweater can never sell it twice. An offer with
a cap (a flash sale's "only 50") also counts its own units like a small pool of its own:
`sold + reserved + available == total`.

What every adapter keeps, atomically: a reservation is taken only when the variant has the units
*and* the offer's cap does (and the buyer is under the offer's per-buyer limit), and takes from
both or neither. A reservation moves `held → committed` (paid: the variant's on-hand drops with a
`sale` movement, the cap counts the units as sold) or `held → released` (expired, failed,
cancelled: the units go back) exactly once; a second commit or release changes nothing. An
adjustment never takes on-hand below what is held. The adapters (memory, Redis Lua) implement
these same rules; the pure functions here are the specification they are tested against.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum

from livecommerce.errors import InvalidInput, LimitReached, SoldOut, StockHeld


class ReservationStatus(StrEnum):
    """Where a reservation stands."""

    HELD = "held"  # units set aside for a buyer until the reservation's deadline
    COMMITTED = "committed"  # paid: the units are sold for good
    RELEASED = "released"  # expired or given up: the units went back to the variant


class MovementReason(StrEnum):
    """Why a variant's on-hand stock changed; values are the wire names."""

    INITIAL = "initial"  # the stock a variant was created with
    ADJUSTMENT = "adjustment"  # a seller's manual correction, restock or write-off
    SALE = "sale"  # units paid for (written with the order's move to paid)
    REFUND_RESTOCK = "refund_restock"  # a refunded order's units put back on the shelf
    IMPORT = "import"  # stock set by a catalog import


#: The most units one variant may hold, and the largest single adjustment.
MAX_UNITS = 1_000_000


@dataclass(frozen=True, slots=True)
class StockMovement:
    """One change of a variant's on-hand stock: who, why, when. `key` is unique across all
    movements, so a replayed sale or restock is written once (a manual adjustment's key is its
    own id)."""

    id: str
    product_id: str
    variant_id: str
    delta: int
    reason: MovementReason
    key: str
    at_ms: int
    order_id: str | None = None
    actor_id: str | None = None
    note: str = ""


def initial_movement(
    *, movement_id: str, product_id: str, variant_id: str, units: int, actor_id: str, at_ms: int
) -> StockMovement:
    """The stock a variant is created with: its first movement, once per variant."""
    return StockMovement(
        movement_id,
        product_id,
        variant_id,
        units,
        MovementReason.INITIAL,
        f"initial:{variant_id}",
        at_ms,
        actor_id=actor_id,
    )


def sale_movement(
    *,
    movement_id: str,
    order_id: str,
    product_id: str,
    variant_id: str,
    quantity: int,
    buyer_id: str,
    at_ms: int,
) -> StockMovement:
    """What a paid order writes (with its move to paid): its units leave the variant, once per
    order."""
    return StockMovement(
        movement_id,
        product_id,
        variant_id,
        -quantity,
        MovementReason.SALE,
        f"sale:{order_id}",
        at_ms,
        order_id=order_id,
        actor_id=buyer_id,
    )


def restock_movement(
    *,
    movement_id: str,
    order_id: str,
    product_id: str,
    variant_id: str,
    quantity: int,
    actor_id: str,
    at_ms: int,
) -> StockMovement:
    """What a refund with restock writes: the order's units go back to the variant, once per
    order whichever of its refunds asks (so two partial refunds never put back twice)."""
    return StockMovement(
        movement_id,
        product_id,
        variant_id,
        quantity,
        MovementReason.REFUND_RESTOCK,
        f"refund_restock:{order_id}",
        at_ms,
        order_id=order_id,
        actor_id=actor_id,
    )


@dataclass(frozen=True, slots=True)
class VariantStock:
    """A variant's units: on hand (the sum of its movements) and held by unpaid checkouts."""

    on_hand: int
    reserved: int = 0

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved


@dataclass(frozen=True, slots=True)
class StockLevel:
    """An offer's cap: counts of one capped pool; `available` is derived so it can never drift
    from the others."""

    total: int
    reserved: int = 0
    sold: int = 0

    @property
    def available(self) -> int:
        return self.total - self.reserved - self.sold


@dataclass(frozen=True, slots=True)
class StockLine:
    """What one checkout draws on: a variant of the pool's product, through an offer (its cap
    when `capped`, and its per-buyer limit)."""

    pool: str
    variant_id: str
    offer_id: str
    capped: bool = False
    per_buyer_limit: int | None = None


@dataclass(frozen=True, slots=True)
class Reservation:
    """Units of one variant held for one buyer through one offer until `expires_at_ms`."""

    id: str
    pool: str
    buyer_id: str
    quantity: int
    expires_at_ms: int
    variant_id: str
    offer_id: str
    capped: bool = False
    status: ReservationStatus = ReservationStatus.HELD


@dataclass(frozen=True, slots=True)
class PoolLevels:
    """A pool's counts: per variant, and per capped offer."""

    variants: Mapping[str, VariantStock]
    caps: Mapping[str, StockLevel] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class PoolState:
    """Everything an adapter stores for one pool: its counts, the units each buyer holds or
    bought per offer (for per-buyer limits), and the reservations."""

    levels: PoolLevels
    buyers: Mapping[tuple[str, str], int]
    reservations: tuple[Reservation, ...]


def units_left(variant: VariantStock, cap: StockLevel | None) -> int:
    """What one more checkout of this variant through this offer could get."""
    left = variant.available if cap is None else min(variant.available, cap.available)
    return max(0, left)


def sold_out(left: int) -> SoldOut:
    """The refusal for a checkout asking more than `left` units."""
    return SoldOut("sold out" if left == 0 else f"only {left} left")


def stock_held(variant: VariantStock) -> StockHeld:
    """The refusal for an adjustment that would take stock below what checkouts hold."""
    free = max(0, variant.available)
    return StockHeld(f"only {free} units can be removed; {variant.reserved} are held by checkouts")


def reserve(
    variant: VariantStock,
    cap: StockLevel | None,
    quantity: int,
    *,
    buyer_units: int = 0,
    per_buyer_limit: int | None = None,
) -> tuple[VariantStock, StockLevel | None]:
    """Hold `quantity` units of the variant (and of the offer's cap, when it has one), refusing
    and changing nothing when either is short or the buyer is over the offer's limit;
    `buyer_units` is what this buyer already holds or bought through the offer."""
    if quantity < 1:
        raise InvalidInput("quantity must be positive")
    if per_buyer_limit is not None and buyer_units + quantity > per_buyer_limit:
        raise LimitReached(f"at most {per_buyer_limit} per buyer")
    left = units_left(variant, cap)
    if quantity > left:
        raise sold_out(left)
    held = replace(variant, reserved=variant.reserved + quantity)
    return held, None if cap is None else replace(cap, reserved=cap.reserved + quantity)


def commit(
    variant: VariantStock, cap: StockLevel | None, reservation: Reservation
) -> tuple[VariantStock, StockLevel | None, Reservation]:
    """Turn a held reservation into sold units: they leave the variant's on-hand stock and count
    as sold against the cap. A no-op for one already committed or released."""
    if reservation.status is not ReservationStatus.HELD:
        return variant, cap, reservation
    qty = reservation.quantity
    sold = VariantStock(variant.on_hand - qty, variant.reserved - qty)
    if cap is not None and reservation.capped:
        cap = replace(cap, reserved=cap.reserved - qty, sold=cap.sold + qty)
    return sold, cap, replace(reservation, status=ReservationStatus.COMMITTED)


def release(
    variant: VariantStock, cap: StockLevel | None, reservation: Reservation
) -> tuple[VariantStock, StockLevel | None, Reservation]:
    """Give a held reservation's units back; a no-op for one already committed or released."""
    if reservation.status is not ReservationStatus.HELD:
        return variant, cap, reservation
    qty = reservation.quantity
    variant = replace(variant, reserved=variant.reserved - qty)
    if cap is not None and reservation.capped:
        cap = replace(cap, reserved=cap.reserved - qty)
    return variant, cap, replace(reservation, status=ReservationStatus.RELEASED)


def check_delta(delta: object) -> int:
    """A whole, non-zero number of units no larger than `MAX_UNITS` either way."""
    if isinstance(delta, bool) or not isinstance(delta, int):
        raise InvalidInput("delta must be a whole number of units")
    if delta == 0 or abs(delta) > MAX_UNITS:
        raise InvalidInput(f"delta must be between -{MAX_UNITS} and {MAX_UNITS}, not 0")
    return delta


def adjust(variant: VariantStock, delta: int) -> VariantStock:
    """Add `delta` units on hand. Units held by checkouts stay on the shelf: taking stock below
    what is held is refused (StockHeld) and changes nothing."""
    check_delta(delta)
    on_hand = variant.on_hand + delta
    if on_hand < variant.reserved:
        raise stock_held(variant)
    return replace(variant, on_hand=on_hand)


def rebuild(
    on_hand: Mapping[str, int], caps: Mapping[str, int], reservations: Sequence[Reservation]
) -> PoolState:
    """The pool as the durable store knows it (used to rebuild Redis, or the in-process store at
    start): on-hand per variant from its movements, caps per offer, and the reservations still
    held or already committed (released ones are not passed). Held units stay out of available;
    committed ones are already out of on-hand (their sale movement) and count against caps and
    buyers' limits, so no unit is ever handed out twice."""
    variants = {v: VariantStock(n) for v, n in on_hand.items()}
    held: dict[str, int] = {}
    sold: dict[str, int] = {}
    buyers: dict[tuple[str, str], int] = {}
    kept: list[Reservation] = []
    for r in reservations:
        if r.status is ReservationStatus.RELEASED:
            continue
        key = (r.offer_id, r.buyer_id)
        buyers[key] = buyers.get(key, 0) + r.quantity
        counts = held if r.status is ReservationStatus.HELD else sold
        counts[r.offer_id] = counts.get(r.offer_id, 0) + r.quantity
        if r.status is ReservationStatus.HELD:
            current = variants.get(r.variant_id, VariantStock(0))
            variants[r.variant_id] = replace(current, reserved=current.reserved + r.quantity)
        kept.append(replace(r, capped=r.offer_id in caps))
    levels = {
        offer: StockLevel(
            max(cap, held.get(offer, 0) + sold.get(offer, 0)),
            held.get(offer, 0),
            sold.get(offer, 0),
        )
        for offer, cap in caps.items()
    }
    return PoolState(PoolLevels(variants, levels), buyers, tuple(kept))


def keep_held(state: PoolState, current: Iterable[Reservation]) -> PoolState:
    """`state` (rebuilt from the durable store) plus the held reservations of the pool being
    replaced that it lacks: a checkout whose order is not written yet must keep its units, and a
    hold the durable store already ended is released by the sweeper at its deadline, so the
    reload is short for a while, never long."""
    known = {r.id for r in state.reservations}
    extra = [r for r in current if r.status is ReservationStatus.HELD and r.id not in known]
    if not extra:
        return state
    on_hand = {v: level.on_hand for v, level in state.levels.variants.items()}
    caps = {o: level.total for o, level in state.levels.caps.items()}
    return rebuild(on_hand, caps, [*state.reservations, *extra])
