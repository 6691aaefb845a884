"""Unit tests for the double-entry journal: balanced, fee split, refunds reverse exactly."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from livecommerce.domain.ledger import (
    PLATFORM,
    Account,
    balances,
    paid_amount,
    payment_entry,
    platform_fee,
    refund_entry,
    refunded_amount,
)


def test_payment_splits_fee_and_seller_share() -> None:
    """A payment debits clearing and credits the seller and platform fee."""
    txn = payment_entry(
        order_id="o",
        seller_id="s",
        total=10_000,
        currency="EUR",
        fee_bps=500,
        idempotency_key="pay:pi_1",
        at_ms=1,
    )
    bal = balances([txn])
    assert 10_000 == bal[(Account.PROVIDER_CLEARING, PLATFORM, "EUR")]
    assert -9_500 == bal[(Account.SELLER_PAYABLE, "s", "EUR")]
    assert -500 == bal[(Account.PLATFORM_FEES, PLATFORM, "EUR")]


@given(
    total=st.integers(min_value=1, max_value=10**9),
    fee_bps=st.integers(min_value=0, max_value=10_000),
    cuts=st.lists(st.integers(min_value=1, max_value=10**6), max_size=6),
)
def test_refunds_in_any_parts_reverse_everything(total: int, fee_bps: int, cuts: list[int]) -> None:
    """Refunding the whole total in any number of parts brings every balance back to zero."""
    txns = [
        payment_entry(
            order_id="o",
            seller_id="s",
            total=total,
            currency="USD",
            fee_bps=fee_bps,
            idempotency_key="pay",
            at_ms=0,
        )
    ]
    done = 0
    for i, cut in enumerate([*cuts, total]):
        amount = min(cut, total - done)
        if amount <= 0:
            break
        txns.append(
            refund_entry(
                order_id="o",
                seller_id="s",
                total=total,
                currency="USD",
                fee_bps=fee_bps,
                refunded_before=done,
                amount=amount,
                idempotency_key=f"re{i}",
                at_ms=0,
            )
        )
        done += amount
    assert total == paid_amount(txns) == refunded_amount(txns)
    assert all(v == 0 for v in balances(txns).values())


def test_fee_rounds_down() -> None:
    """The platform fee is floored to a whole minor unit."""
    assert 0 == platform_fee(19, 500)
    assert 1 == platform_fee(20, 500)
