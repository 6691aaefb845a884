"""Unit tests for offers: validation, the sale window and the public view."""

from __future__ import annotations

import pytest

from livecommerce.domain.money import Money
from livecommerce.domain.offers import (
    Offer,
    OfferKind,
    OfferStatus,
    check_open,
    end_offer,
    make_offer,
    offer_view,
    start_offer,
)
from livecommerce.errors import InvalidInput, OfferNotActive


def flash(**kw: object) -> Offer:
    args: dict[str, object] = dict(
        offer_id="of",
        show_id="sh",
        seller_id="s",
        product_id="p",
        kind=OfferKind.FLASH,
        price=Money(999, "EUR"),
        stock=10,
        per_buyer_limit=2,
        starts_at_ms=1_000,
        ends_at_ms=2_000,
        now_ms=0,
    )
    args.update(kw)
    return make_offer(**args)  # type: ignore[arg-type]


def test_flash_sale_window() -> None:
    """A started flash sale is open only in [starts_at, ends_at)."""
    offer = start_offer(flash(), 0)
    with pytest.raises(OfferNotActive):
        check_open(offer, 999)
    check_open(offer, 1_000)
    with pytest.raises(OfferNotActive):
        check_open(offer, 2_000)


def test_draft_and_ended_offers_are_closed() -> None:
    """Offers that were never started or were ended refuse checkout."""
    with pytest.raises(OfferNotActive):
        check_open(flash(), 1_500)
    with pytest.raises(OfferNotActive):
        check_open(end_offer(start_offer(flash(), 0)), 1_500)
    with pytest.raises(OfferNotActive):
        start_offer(end_offer(flash()), 0)


@pytest.mark.parametrize(
    "bad",
    [
        {"stock": 0},
        {"stock": -1},
        {"per_buyer_limit": 0},
        {"ends_at_ms": None},
        {"ends_at_ms": 500},
        {"price": Money(-1, "EUR")},
    ],
)
def test_invalid_offers_refused(bad: dict[str, object]) -> None:
    """Bad stock, limits, windows and prices are invalid input."""
    with pytest.raises(InvalidInput):
        flash(**bad)


def test_fixed_offer_starts_now_and_view_has_countdown() -> None:
    """A fixed offer without a start opens when started; the view counts down to a start."""
    fixed = start_offer(flash(kind=OfferKind.FIXED, starts_at_ms=None, ends_at_ms=None), 50)
    assert (fixed.status, fixed.starts_at_ms) == (OfferStatus.LIVE, 50)
    view = offer_view(start_offer(flash(), 0), 7, 0)
    assert 1 == view["countdown"]
    assert 7 == view["stock_left"]
