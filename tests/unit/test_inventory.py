"""Unit tests for the pure inventory rules every adapter implements."""

from __future__ import annotations

import pytest

from livecommerce.domain.inventory import (
    Reservation,
    ReservationStatus,
    StockLevel,
    commit,
    rebuild,
    release,
    reserve,
)
from livecommerce.errors import InvalidInput, LimitReached, SoldOut


def test_reserve_holds_units() -> None:
    """Reserving moves units from available to reserved."""
    stock = reserve(StockLevel(total=10), 3)
    assert (stock.total, stock.reserved, stock.sold, stock.available) == (10, 3, 0, 7)


def test_reserve_beyond_available_is_sold_out_and_changes_nothing() -> None:
    """Asking for more than is left raises SoldOut."""
    with pytest.raises(SoldOut):
        reserve(StockLevel(total=2, reserved=1, sold=1), 1)


def test_per_buyer_limit_counts_what_buyer_already_holds() -> None:
    """A buyer at the limit gets LimitReached even with stock left."""
    with pytest.raises(LimitReached):
        reserve(StockLevel(total=10), 2, buyer_units=1, per_buyer_limit=2)
    assert 1 == reserve(StockLevel(total=10), 1, buyer_units=1, per_buyer_limit=2).reserved


@pytest.mark.parametrize("qty", [0, -1])
def test_nonpositive_reservation_refused(qty: int) -> None:
    """A zero or negative reservation is invalid input."""
    with pytest.raises(InvalidInput):
        reserve(StockLevel(total=10), qty)


def test_commit_and_release_happen_once() -> None:
    """Commit sells held units once; a later release or second commit is a no-op."""
    stock = StockLevel(total=5, reserved=2)
    held = Reservation("r1", "p", "b", 2, 100)
    stock, res = commit(stock, held)
    assert (stock.reserved, stock.sold, res.status) == (0, 2, ReservationStatus.COMMITTED)
    assert (stock, res) == commit(stock, res)
    assert (stock, res) == release(stock, res)


def test_release_returns_units_once() -> None:
    """Release gives held units back exactly once."""
    stock = StockLevel(total=5, reserved=2)
    stock, res = release(stock, Reservation("r1", "p", "b", 2, 100))
    assert (stock.available, res.status) == (5, ReservationStatus.RELEASED)
    assert (stock, res) == release(stock, res)


def test_rebuild_never_hands_out_sold_units() -> None:
    """Rebuilding from the durable store keeps sold and held units out of available."""
    assert 3 == rebuild(total=10, sold=5, held=2).available
    assert 0 == rebuild(total=4, sold=5, held=2).available
