"""Unit tests for the coupon rules: codes, discounts and their rounding, eligibility in order,
drop coupons, and the ledger entries of a discounted sale and its refunds."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from livecommerce.domain.coupons import (
    CODE_ALPHABET,
    Coupon,
    CouponKind,
    check_drop,
    check_usable,
    code_from_bytes,
    discount_for,
    drop_coupon,
    make_coupon,
    normalize_code,
)
from livecommerce.domain.ledger import (
    PLATFORM,
    Account,
    balances,
    payment_entry,
    refund_entry,
)
from livecommerce.domain.money import Money
from livecommerce.domain.orders import place_order
from livecommerce.errors import (
    CouponExpired,
    CouponFollowersOnly,
    CouponInvalid,
    CouponMinOrder,
    CouponNotApplicable,
    CouponNotStarted,
    InvalidInput,
    LiveCommerceError,
)


def coupon(**fields: Any) -> Coupon:
    base: dict[str, Any] = {
        "coupon_id": "cpn_1",
        "seller_id": "usr_s",
        "code": "spring-10",
        "kind": CouponKind.PERCENT,
        "value": 10,
        "currency": None,
        "now_ms": 0,
    }
    return make_coupon(**{**base, **fields})


def usable(c: Coupon, minor: int = 4900, **over: Any) -> Money:
    args: dict[str, Any] = {
        "subtotal": Money(minor, "USD"),
        "show_id": "shw_1",
        "product_id": "prd_1",
        "now_ms": 1_000,
        "follows": False,
    }
    return check_usable(c, **{**args, **over})


def test_codes_are_kept_upper_case_and_refuse_nonsense() -> None:
    """A typed code loses its case and spaces; too short, too long or odd characters fail."""
    assert "SPRING-10" == normalize_code("  spring-10 ")
    for bad in ("ab", "x" * 33, "no spaces", "-LEAD", "émoji", 42):
        with pytest.raises(InvalidInput):
            normalize_code(bad)


def test_generated_codes_use_the_readable_alphabet() -> None:
    """A generated code is ten characters without 0/O or 1/I."""
    code = code_from_bytes(bytes(range(0, 256, 25)))
    assert 10 == len(code)
    assert set(code) <= set(CODE_ALPHABET)
    assert not set(code) & set("01OI")


@pytest.mark.parametrize(
    ("kind", "value", "subtotal", "off"),
    [
        (CouponKind.PERCENT, 10, 4900, 490),
        (CouponKind.PERCENT, 15, 999, 149),  # 149.85 rounds down
        (CouponKind.PERCENT, 100, 4900, 4900),
        (CouponKind.PERCENT, 33, 1, 0),
        (CouponKind.AMOUNT, 500, 4900, 500),
        (CouponKind.AMOUNT, 9000, 4900, 4900),  # never more than the subtotal
    ],
)
def test_discounts_round_down_and_never_pass_the_subtotal(
    kind: CouponKind, value: int, subtotal: int, off: int
) -> None:
    """Percentages round down to the minor unit; amounts stop at the subtotal."""
    c = coupon(kind=kind, value=value, currency="USD")
    assert Money(off, "USD") == discount_for(c, Money(subtotal, "USD"))


@given(
    value=st.integers(min_value=1, max_value=100),
    subtotal=st.integers(min_value=0, max_value=10**9),
)
def test_a_percent_discount_is_at_most_its_share(value: int, subtotal: int) -> None:
    """The buyer never gets more than the stated percentage, and less by under one unit."""
    off = discount_for(coupon(value=value), Money(subtotal, "USD")).minor
    assert 0 <= subtotal * value - off * 100 < 100
    assert 0 <= off <= subtotal


def test_refusals_come_in_a_fixed_order() -> None:
    """Disabled, window, scope, currency, minimum, then followers: each refusal says why."""
    cases: list[tuple[Coupon, dict[str, Any], type[LiveCommerceError]]] = [
        (replace(coupon(), disabled=True), {}, CouponInvalid),
        (coupon(starts_at_ms=5_000), {}, CouponNotStarted),
        (coupon(ends_at_ms=1_000), {}, CouponExpired),
        (coupon(scope_show_id="shw_2"), {}, CouponNotApplicable),
        (coupon(scope_product_id="prd_2"), {}, CouponNotApplicable),
        (coupon(kind=CouponKind.AMOUNT, value=100, currency="EUR"), {}, CouponNotApplicable),
        (coupon(min_order=5000, currency="USD"), {}, CouponMinOrder),
        (coupon(followers_only=True), {}, CouponFollowersOnly),
    ]
    for c, over, error in cases:
        with pytest.raises(error):
            usable(c, **over)
    with pytest.raises(CouponMinOrder) as info:
        usable(coupon(min_order=5000, currency="USD"))
    assert {"min_order": {"amount": 5000, "currency": "USD"}} == info.value.details
    assert Money(490, "USD") == usable(coupon(followers_only=True), follows=True)
    assert Money(490, "USD") == usable(coupon(scope_show_id="shw_1", ends_at_ms=1_001))


def test_bad_coupons_are_refused_at_creation() -> None:
    """Values out of range, an amount without a currency, a window backwards, two scopes."""
    for fields in (
        {"value": 0},
        {"value": 101},
        {"kind": CouponKind.AMOUNT, "value": 100},
        {"min_order": 100},
        {"currency": "ZZZ"},
        {"starts_at_ms": 10, "ends_at_ms": 10},
        {"scope_show_id": "s", "scope_product_id": "p"},
        {"max_redemptions": 0},
    ):
        with pytest.raises(InvalidInput):
            coupon(**fields)


def test_a_drop_coupon_is_single_use_and_keeps_the_template() -> None:
    """Every claimer's coupon has one redemption for one buyer and the template's terms."""
    template = coupon(scope_show_id="shw_1", max_redemptions=None, drop_id="drp_1")
    mine = drop_coupon(template, coupon_id="cpn_c", code="abcdefghjk", now_ms=9)
    assert (1, 1, "ABCDEFGHJK", "shw_1", "drp_1") == (
        mine.max_redemptions,
        mine.per_buyer,
        mine.code,
        mine.scope_show_id,
        mine.drop_id,
    )
    for claims, seconds in ((0, 60), (10_001, 60), (5, 4), (5, 3_601)):
        with pytest.raises(InvalidInput):
            check_drop(claims, seconds)


def test_an_order_total_is_after_its_discount_and_never_negative() -> None:
    """The order keeps its discount; a discount above the subtotal is refused."""
    args: dict[str, Any] = {
        "order_id": "o",
        "buyer_id": "b",
        "seller_id": "s",
        "show_id": "shw",
        "offer_id": "off",
        "product_id": "p",
        "variant_id": None,
        "quantity": 2,
        "unit_price": Money(4900, "USD"),
        "idempotency_key": "k" * 8,
        "request_hash": "h",
        "now_ms": 0,
        "ttl_ms": 1,
    }
    order = place_order(**args, discount_minor=980, coupon_id="cpn", coupon_code="X10")
    assert Money(8820, "USD") == order.total
    assert Money(0, "USD") == place_order(**args, discount_minor=9800).total
    with pytest.raises(InvalidInput):
        place_order(**args, discount_minor=9801)


def test_a_discounted_sale_is_booked_at_list_price_with_a_seller_promotion() -> None:
    """Paid 8,820 after a 980 discount, 10 % fee on what was paid: the seller is owed the list
    price less the fee and bears the discount, netting what was paid less the fee."""
    txn = payment_entry(
        order_id="o",
        seller_id="s",
        total=8820,
        currency="USD",
        fee_bps=1000,
        idempotency_key="payment:demo:1",
        at_ms=1,
        discount=980,
    )
    bal = balances([txn])
    assert 8820 == bal[(Account.PROVIDER_CLEARING, PLATFORM, "USD")]
    assert 980 == bal[(Account.PROMOTION_EXPENSE, "s", "USD")]
    assert -(9800 - 882) == bal[(Account.SELLER_PAYABLE, "s", "USD")]
    assert -882 == bal[(Account.PLATFORM_FEES, PLATFORM, "USD")]


@given(
    total=st.integers(min_value=1, max_value=10**8),
    discount=st.integers(min_value=0, max_value=10**8),
    fee_bps=st.integers(min_value=0, max_value=10_000),
    cuts=st.lists(st.integers(min_value=1, max_value=10**6), max_size=5),
)
def test_refunding_everything_reverses_the_promotion_exactly(
    total: int, discount: int, fee_bps: int, cuts: list[int]
) -> None:
    """Refunds in any parts leave every account at zero once everything went back."""
    common: dict[str, Any] = {"order_id": "o", "seller_id": "s", "currency": "USD"}
    txns = [
        payment_entry(
            **common, total=total, fee_bps=fee_bps, idempotency_key="p", at_ms=0, discount=discount
        )
    ]
    done = 0
    for n, cut in enumerate([*cuts, total]):
        amount = min(cut, total - done)
        if amount <= 0:
            break
        txns.append(
            refund_entry(
                **common,
                total=total,
                fee_bps=fee_bps,
                refunded_before=done,
                amount=amount,
                idempotency_key=f"r{n}",
                at_ms=n,
                discount=discount,
            )
        )
        done += amount
    assert all(v == 0 for v in balances(txns).values())
