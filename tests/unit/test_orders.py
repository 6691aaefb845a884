"""Unit tests for the order state machine and checkout input rules (domain only, no event loop)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from livecommerce.domain.money import Money
from livecommerce.domain.orders import (
    HOLDING,
    RELEASED,
    SOLD,
    TRANSITIONS,
    UNSETTLED,
    Order,
    OrderStatus,
    ProviderStatus,
    apply_provider_status,
    can_transition,
    is_expired,
    place_order,
    request_fingerprint,
    status_after_refund,
    transition,
    validate_quantity,
)
from livecommerce.errors import InvalidInput, InvalidTransition


def make_order(status: OrderStatus = OrderStatus.RESERVED, quantity: int = 2) -> Order:
    order = place_order(
        order_id="ord_1",
        buyer_id="u_b",
        seller_id="u_s",
        show_id="sh_1",
        offer_id="of_1",
        product_id="p_1",
        variant_id=None,
        quantity=quantity,
        unit_price=Money(1250, "EUR"),
        idempotency_key="k1",
        request_hash="h",
        now_ms=1_000,
        ttl_ms=600_000,
    )
    return order if status is OrderStatus.RESERVED else replace(order, status=status)


def test_new_order_is_reserved_with_server_total() -> None:
    """A new order is reserved and its total is unit price times quantity."""
    order = make_order(quantity=3)
    assert OrderStatus.RESERVED == order.status
    assert Money(3750, "EUR") == order.total
    assert 601_000 == order.expires_at_ms


@pytest.mark.parametrize(
    ("src", "dst"),
    [(s, d) for s in OrderStatus for d in OrderStatus],
)
def test_transition_follows_table(src: OrderStatus, dst: OrderStatus) -> None:
    """Every (from, to) pair is allowed exactly when the TRANSITIONS table says so."""
    order = make_order(src)
    if dst in TRANSITIONS[src]:
        assert dst == transition(order, dst, 5).status
        assert can_transition(src, dst)
    else:
        with pytest.raises(InvalidTransition):
            transition(order, dst, 5)


def test_table_covers_every_status_and_ends_are_final() -> None:
    """The table has a row per status; expired, failed, cancelled, refunded and void are ends."""
    assert set(OrderStatus) == set(TRANSITIONS)
    for end in (
        OrderStatus.EXPIRED,
        OrderStatus.FAILED,
        OrderStatus.CANCELLED,
        OrderStatus.REFUNDED,
        OrderStatus.VOID,
    ):
        assert frozenset() == TRANSITIONS[end]
    assert UNSETTLED | SOLD | RELEASED == set(OrderStatus)
    assert not (UNSETTLED & RELEASED)
    assert not (HOLDING & SOLD)
    assert not (SOLD & RELEASED)
    assert not (HOLDING & RELEASED)


@pytest.mark.parametrize("bad", [0, -1, -100, 101, 10**12, 1.5, "2", True, None])
def test_bad_quantities_are_refused(bad: object) -> None:
    """Zero, negative, huge, fractional, textual and boolean quantities are refused."""
    with pytest.raises(InvalidInput):
        validate_quantity(bad)


def test_fingerprint_ignores_key_order_and_detects_changes() -> None:
    """The same request hashes the same regardless of field order; a changed field differs."""
    a = request_fingerprint({"offer_id": "o", "quantity": 1})
    assert a == request_fingerprint({"quantity": 1, "offer_id": "o"})
    assert a != request_fingerprint({"offer_id": "o", "quantity": 2})


def test_expiry_only_for_holding_orders() -> None:
    """Only an order still holding stock past its deadline counts as expired."""
    assert is_expired(make_order(), 601_000)
    assert not is_expired(make_order(), 600_999)
    assert not is_expired(make_order(OrderStatus.PAID), 10**9)


def test_refund_status() -> None:
    """Refunding all of the total is refunded; part of it is partially refunded; more is refused."""
    order = make_order(OrderStatus.PAID)
    assert OrderStatus.REFUNDED == status_after_refund(order, 2500)
    assert OrderStatus.PARTIALLY_REFUNDED == status_after_refund(order, 1)
    with pytest.raises(InvalidInput):
        status_after_refund(order, 2501)
    with pytest.raises(InvalidInput):
        status_after_refund(order, 0)


@pytest.mark.parametrize(
    ("start", "provider", "expected"),
    [
        (OrderStatus.RESERVED, ProviderStatus.SUCCEEDED, OrderStatus.PAID),
        (OrderStatus.PENDING_PAYMENT, ProviderStatus.SUCCEEDED, OrderStatus.PAID),
        (OrderStatus.PENDING_PAYMENT, ProviderStatus.CANCELED, OrderStatus.FAILED),
        (OrderStatus.PENDING_PAYMENT, ProviderStatus.OPEN, None),
        (OrderStatus.PAID, ProviderStatus.SUCCEEDED, None),
        (OrderStatus.PAID, ProviderStatus.CANCELED, None),
        (OrderStatus.EXPIRED, ProviderStatus.SUCCEEDED, None),
        (OrderStatus.REFUNDED, ProviderStatus.SUCCEEDED, None),
    ],
)
def test_provider_status_is_idempotent(
    start: OrderStatus, provider: ProviderStatus, expected: OrderStatus | None
) -> None:
    """The provider's word moves only holding orders, so duplicates and reorders are no-ops."""
    result = apply_provider_status(make_order(start), provider, 9)
    assert expected == (result.status if result else None)
