"""Unit tests for the pure inventory rules every adapter implements: one stock per variant,
offers' caps, adjustments and the rebuild from the durable store."""

from __future__ import annotations

import pytest

from livecommerce.domain.inventory import (
    MAX_UNITS,
    Reservation,
    ReservationStatus,
    StockLevel,
    VariantStock,
    adjust,
    check_delta,
    commit,
    rebuild,
    release,
    reserve,
    units_left,
)
from livecommerce.errors import InvalidInput, LimitReached, SoldOut, StockHeld


def held(qty: int = 2, *, capped: bool = True, offer: str = "of") -> Reservation:
    return Reservation("r1", "p", "b", qty, 100, "v", offer, capped)


def test_reserve_holds_units_of_the_variant_and_the_cap() -> None:
    """Reserving moves units to reserved on the variant and on the offer's cap."""
    variant, cap = reserve(VariantStock(10), StockLevel(total=5), 3)
    assert (variant.on_hand, variant.reserved, variant.available) == (10, 3, 7)
    assert cap is not None
    assert (cap.total, cap.reserved, cap.sold, cap.available) == (5, 3, 0, 2)


def test_an_offer_without_a_cap_sells_what_the_variant_has() -> None:
    """Without a cap only the variant's available units limit a reservation."""
    variant, cap = reserve(VariantStock(10, reserved=4), None, 6)
    assert (variant.available, cap) == (0, None)
    with pytest.raises(SoldOut):
        reserve(variant, None, 1)


@pytest.mark.parametrize(
    ("variant", "cap", "message"),
    [
        (VariantStock(2, reserved=1), StockLevel(total=10), "only 1 left"),
        (VariantStock(10), StockLevel(total=3, reserved=1, sold=1), "only 1 left"),
        (VariantStock(10, reserved=10), StockLevel(total=3), "sold out"),
        (VariantStock(1, reserved=3), None, "sold out"),
    ],
)
def test_the_smaller_of_variant_and_cap_is_what_is_left(
    variant: VariantStock, cap: StockLevel | None, message: str
) -> None:
    """Asking for more than the variant or the cap has raises SoldOut naming what is left."""
    with pytest.raises(SoldOut) as refused:
        reserve(variant, cap, 2)
    assert message == refused.value.message


def test_per_buyer_limit_counts_what_buyer_already_holds() -> None:
    """A buyer at the offer's limit gets LimitReached even with stock left."""
    with pytest.raises(LimitReached):
        reserve(VariantStock(10), None, 2, buyer_units=1, per_buyer_limit=2)
    assert 1 == reserve(VariantStock(10), None, 1, buyer_units=1, per_buyer_limit=2)[0].reserved


@pytest.mark.parametrize("qty", [0, -1])
def test_nonpositive_reservation_refused(qty: int) -> None:
    """A zero or negative reservation is invalid input."""
    with pytest.raises(InvalidInput):
        reserve(VariantStock(10), None, qty)


def test_commit_sells_from_on_hand_and_the_cap_once() -> None:
    """Commit takes held units off the shelf and counts them sold on the cap; a later release
    or second commit is a no-op."""
    variant, cap, res = commit(VariantStock(10, reserved=2), StockLevel(5, reserved=2), held())
    assert (variant.on_hand, variant.reserved, variant.available) == (8, 0, 8)
    assert cap is not None
    assert (cap.reserved, cap.sold, res.status) == (0, 2, ReservationStatus.COMMITTED)
    assert (variant, cap, res) == commit(variant, cap, res)
    assert (variant, cap, res) == release(variant, cap, res)


def test_release_returns_units_once() -> None:
    """Release gives held units back to the variant and the cap exactly once."""
    variant, cap, res = release(VariantStock(10, reserved=2), StockLevel(5, reserved=2), held())
    assert cap is not None
    assert (variant.available, cap.available, res.status) == (10, 5, ReservationStatus.RELEASED)
    assert (variant, cap, res) == release(variant, cap, res)


def test_an_uncapped_reservation_leaves_caps_alone() -> None:
    """Settling a reservation taken through an uncapped offer never touches a cap."""
    cap = StockLevel(5, reserved=1)
    _variant, after, _res = commit(VariantStock(10, reserved=2), cap, held(capped=False))
    assert cap == after


def test_adjust_moves_on_hand_but_never_below_what_is_held() -> None:
    """Adjustments add or remove on-hand units; removing held units is StockHeld."""
    assert VariantStock(15, 3) == adjust(VariantStock(10, 3), 5)
    assert VariantStock(3, 3) == adjust(VariantStock(10, 3), -7)
    with pytest.raises(StockHeld) as refused:
        adjust(VariantStock(10, 3), -8)
    assert "only 7 units can be removed; 3 are held by checkouts" == refused.value.message


@pytest.mark.parametrize("delta", [0, True, 1.5, "3", MAX_UNITS + 1, -MAX_UNITS - 1])
def test_bad_deltas_are_invalid(delta: object) -> None:
    """A delta must be a whole, non-zero number of units within the bound."""
    with pytest.raises(InvalidInput):
        check_delta(delta)


def test_rebuild_never_hands_out_sold_or_held_units() -> None:
    """Held units are reserved on their variant and cap, committed ones count as sold on the
    cap (their sale already left on-hand), released ones are ignored; buyers keep their units."""
    state = rebuild(
        {"v": 10, "w": 4},
        {"of": 6},
        [
            Reservation("h", "p", "b1", 2, 100, "v", "of"),
            Reservation("c", "p", "b1", 3, 100, "w", "of", status=ReservationStatus.COMMITTED),
            Reservation("x", "p", "b2", 1, 100, "v", "fix", status=ReservationStatus.RELEASED),
            Reservation("u", "p", "b2", 1, 100, "w", "fix"),
        ],
    )
    assert VariantStock(10, 2) == state.levels.variants["v"]
    assert VariantStock(4, 1) == state.levels.variants["w"]
    assert {"of": StockLevel(6, 2, 3)} == state.levels.caps
    assert {("of", "b1"): 5, ("fix", "b2"): 1} == state.buyers
    assert [("h", True), ("c", True), ("u", False)] == [
        (r.id, r.capped) for r in state.reservations
    ]


def test_rebuild_keeps_counts_consistent_when_the_store_disagrees() -> None:
    """A cap below what is already out grows to fit; a variant holding more than it has sells
    nothing."""
    state = rebuild(
        {"v": 1},
        {"of": 2},
        [
            Reservation("a", "p", "b", 2, 100, "v", "of"),
            Reservation("c", "p", "b", 1, 100, "v", "of", status=ReservationStatus.COMMITTED),
        ],
    )
    cap = state.levels.caps["of"]
    assert (3, 0) == (cap.total, cap.available)
    assert 0 == units_left(state.levels.variants["v"], None)
