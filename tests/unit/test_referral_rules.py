"""Unit tests for referral rules and the commission in the journal: who may be paid, the cap,
the window, and a commission booked with a (discounted) payment that refunds in any parts
reverse exactly, every transaction balancing."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from livecommerce.domain.ledger import (
    Account,
    Referral,
    balances,
    payment_entry,
    referral_of,
    refund_entry,
)
from livecommerce.domain.referrals import (
    ATTRIBUTION_WINDOW_MS,
    check_referral_bps,
    in_window,
    may_be_paid,
    referral_commission,
)
from livecommerce.errors import InvalidInput


def test_nobody_is_paid_for_their_own_purchase_or_for_selling() -> None:
    """The buyer, the seller and the show's hosts are never paid; anyone else is."""
    assert False is may_be_paid("b", "b", "s", ())
    assert False is may_be_paid("s", "b", "s", ())
    assert False is may_be_paid("h", "b", "s", frozenset({"h"}))
    assert True is may_be_paid("r", "b", "s", frozenset({"h"}))


def test_bps_bounds_and_the_cap() -> None:
    """0 to 5000 bps; the commission is floored and never more than the seller's share."""
    assert 5000 == check_referral_bps(5000)
    for bad in (-1, 5001, True):
        with pytest.raises(InvalidInput):
            check_referral_bps(bad)
    assert 99 == referral_commission(999, 1000, 1000)
    assert 1000 == referral_commission(10_000, 5000, 9000)


def test_window_is_seven_days_back_from_the_payment() -> None:
    """A visit counts up to 7 days before the payment, never after it."""
    paid = 10 * ATTRIBUTION_WINDOW_MS
    assert True is in_window(paid - ATTRIBUTION_WINDOW_MS, paid)
    assert False is in_window(paid - ATTRIBUTION_WINDOW_MS - 1, paid)
    assert False is in_window(paid + 1, paid)


@given(
    total=st.integers(min_value=1, max_value=10**9),
    discount=st.integers(min_value=0, max_value=10**6),
    fee_bps=st.integers(min_value=0, max_value=5000),
    referral_bps=st.integers(min_value=1, max_value=5000),
    cuts=st.lists(st.integers(min_value=1, max_value=10**6), max_size=6),
)
def test_commission_reverses_exactly_in_any_parts(
    total: int, discount: int, fee_bps: int, referral_bps: int, cuts: list[int]
) -> None:
    """The seller pays the commission on what the buyer paid; refunding everything in any
    number of parts takes all of it back; every balance ends at zero."""
    commission = referral_commission(total, referral_bps, fee_bps)
    pay = payment_entry(
        order_id="o",
        seller_id="s",
        total=total,
        currency="USD",
        fee_bps=fee_bps,
        idempotency_key="pay",
        at_ms=0,
        discount=discount,
        referral=Referral("r", commission),
    )
    txns = [pay]
    assert -commission == balances(txns).get((Account.REFERRER_PAYABLE, "r", "USD"), 0)
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
                discount=discount,
                referral=referral_of(txns),
            )
        )
        done += amount
        left = balances(txns).get((Account.REFERRER_PAYABLE, "r", "USD"), 0)
        assert -commission <= left <= 0
    assert all(v == 0 for v in balances(txns).values())
