"""Unit tests for the group buy's tier rules and its members' order transitions (domain only)."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from livecommerce.domain.groupbuy import (
    GroupStatus,
    Tier,
    capture_amount,
    final_price,
    group_view,
    next_tier,
    price_now,
    validate_tiers,
)
from livecommerce.domain.money import Money
from livecommerce.domain.orders import (
    HOLDING,
    RELEASED,
    UNSETTLED,
    OrderStatus,
    ProviderStatus,
    apply_provider_status,
    captured,
    place_order,
    transition,
)
from livecommerce.errors import InvalidInput, InvalidTransition

LADDER = (Tier(2, 4000), Tier(5, 3500), Tier(10, 3000))


@pytest.mark.parametrize(
    ("buyers", "now", "upcoming", "final"),
    [
        (0, 4000, Tier(2, 4000), None),
        (1, 4000, Tier(2, 4000), None),
        (2, 4000, Tier(5, 3500), 4000),
        (4, 4000, Tier(5, 3500), 4000),
        (5, 3500, Tier(10, 3000), 3500),
        (10, 3000, None, 3000),
        (500, 3000, None, 3000),
    ],
)
def test_price_now_next_tier_and_final_price(
    buyers: int, now: int, upcoming: Tier | None, final: int | None
) -> None:
    """The price falls tier by tier; below the first tier the group would be voided."""
    assert now == price_now(LADDER, buyers)
    assert upcoming == next_tier(LADDER, buyers)
    assert final == final_price(LADDER, buyers)


@pytest.mark.parametrize(
    ("tiers", "message"),
    [
        ([], "at least one tier"),
        ([{"min_buyers": 0, "price": 100}], "between 1 and"),
        ([{"min_buyers": 2, "price": 0}], "at least 1"),
        ([{"min_buyers": 2, "price": 5000}], "above the product's price"),
        ([{"min_buyers": 2, "price": 400}, {"min_buyers": 2, "price": 300}], "strictly increase"),
        ([{"min_buyers": 2, "price": 400}, {"min_buyers": 1, "price": 300}], "strictly increase"),
        ([{"min_buyers": 2, "price": 400}, {"min_buyers": 3, "price": 400}], "strictly decrease"),
        ([{"min_buyers": 2, "price": 400.0}], "whole number"),
        ([{"min_buyers": True, "price": 400}], "whole number"),
        ([{"min_buyers": 2}], "must be {min_buyers, price}"),
        ([{"min_buyers": 2, "price": 400, "x": 1}], "must be {min_buyers, price}"),
        ([{"min_buyers": n + 1, "price": 1000 - n} for n in range(11)], "at most 10"),
    ],
)
def test_bad_tiers_are_refused(tiers: list[object], message: str) -> None:
    """Each tier rule has its own refusal, naming what is wrong."""
    with pytest.raises(InvalidInput, match=message):
        validate_tiers(tiers, 4900)


def test_good_tiers_are_kept_in_order() -> None:
    """A valid ladder comes back as tiers, the list price itself allowed."""
    raw = [{"min_buyers": 1, "price": 4900}, {"min_buyers": 3, "price": 4500}]
    assert (Tier(1, 4900), Tier(3, 4500)) == validate_tiers(raw, 4900)


@given(st.lists(st.integers(0, 50), min_size=1, max_size=30))
def test_more_buyers_never_pay_more(counts: list[int]) -> None:
    """The price now never rises as buyers grow, and never exceeds the first tier."""
    ordered = sorted(counts)
    prices = [price_now(LADDER, n) for n in ordered]
    assert prices == sorted(prices, reverse=True)
    assert all(p <= LADDER[0].price for p in prices)


def test_capture_never_exceeds_the_authorisation() -> None:
    """A capture is the final price times the units, refused above the held amount."""
    assert 7000 == capture_amount(3500, 2, 8000)
    with pytest.raises(InvalidInput):
        capture_amount(4500, 2, 8000)


def test_view_after_close_has_no_next_tier() -> None:
    """A closed group shows its final price and no tier to reach."""
    view = group_view(
        show_id="s",
        offer_id="o",
        tiers=LADDER,
        buyers=6,
        currency="USD",
        ends_at_ms=5,
        status=GroupStatus.CAPTURED,
        final=3500,
    )
    assert (None, 3500, "captured") == (view["next_tier"], view["price_now"], view["status"])


def _member() -> object:
    order = place_order(
        order_id="ord_g",
        buyer_id="u_b",
        seller_id="u_s",
        show_id="sh",
        offer_id="of",
        product_id="p",
        variant_id="v",
        quantity=2,
        unit_price=Money(4000, "USD"),
        idempotency_key="k" * 8,
        request_hash="h",
        now_ms=0,
        ttl_ms=1000,
    )
    return transition(order, OrderStatus.PENDING_PAYMENT, 1)


def test_authorisation_makes_a_member_and_only_the_close_moves_it() -> None:
    """An authorisation moves a holding order to `authorized`; provider words after that are
    ignored (the close captures or voids), and the member's units stay held."""
    pending = _member()
    member = apply_provider_status(pending, ProviderStatus.AUTHORIZED, 2)  # type: ignore[arg-type]
    assert member is not None
    assert OrderStatus.AUTHORIZED is member.status
    for word in ProviderStatus:
        assert apply_provider_status(member, word, 3) is None
    assert member.status in UNSETTLED
    assert member.status not in HOLDING


def test_member_transitions() -> None:
    """A member is captured, voided, failed or cancelled; a void is final and releases stock."""
    member = transition(_member(), OrderStatus.AUTHORIZED, 2)  # type: ignore[arg-type]
    paid = captured(member, Money(3500, "USD"), 3)
    assert (OrderStatus.PAID, 3500, 7000) == (paid.status, paid.unit_price.minor, paid.total.minor)
    for end in (OrderStatus.VOID, OrderStatus.FAILED, OrderStatus.CANCELLED):
        assert end is transition(member, end, 3).status
    void = transition(member, OrderStatus.VOID, 3)
    assert OrderStatus.VOID in RELEASED
    with pytest.raises(InvalidTransition):
        transition(void, OrderStatus.PAID, 4)
    with pytest.raises(InvalidInput):
        captured(member, Money(4100, "USD"), 3)
    with pytest.raises(InvalidTransition):
        captured(replace(member, status=OrderStatus.VOID), Money(3500, "USD"), 3)
