"""Reviews' pure rules (when an order opens for review, the summary, the filters) and the shared
hash chain helper both logs use."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from livecommerce.domain.buyer_questions import (
    ROUTE_MAX,
    WEEKLY_CAP,
    Candidate,
    choose_buyers,
    month_label,
)
from livecommerce.domain.chain import canonical_json, chained, genesis, sha256_hex, verify_chain
from livecommerce.domain.orders import OrderStatus
from livecommerce.domain.reviews import (
    NO_SHIPPING_WAIT_MS,
    check_open,
    clean_text,
    opens_at,
    summary,
)
from livecommerce.domain.shipping import Fulfilment
from livecommerce.errors import OrderNotPaid, ReviewNotYet, ReviewRejected
from tests.unit.test_orders import make_order


def test_a_review_opens_at_fulfilment_or_two_weeks_after_payment_when_nothing_ships() -> None:
    paid = make_order(OrderStatus.PAID)
    assert opens_at(paid, requires_shipping=True, paid_at_ms=5_000) is None
    assert opens_at(paid, requires_shipping=False, paid_at_ms=5_000) == 5_000 + NO_SHIPPING_WAIT_MS
    done = replace(paid, status=OrderStatus.FULFILLED, fulfilment=Fulfilment("", "", 9_000))
    assert opens_at(done, requires_shipping=True, paid_at_ms=5_000) == 9_000
    assert opens_at(done, requires_shipping=False, paid_at_ms=5_000) == 9_000  # the earlier
    refunded = replace(done, status=OrderStatus.REFUNDED)
    check_open(refunded, requires_shipping=True, paid_at_ms=5_000, now_ms=9_000)
    with pytest.raises(ReviewNotYet) as info:
        check_open(paid, requires_shipping=False, paid_at_ms=5_000, now_ms=6_000)
    assert info.value.details["opens_at"] == 5_000 + NO_SHIPPING_WAIT_MS
    for status in (OrderStatus.RESERVED, OrderStatus.EXPIRED, OrderStatus.CANCELLED):
        with pytest.raises(OrderNotPaid):
            opens_at(make_order(status), requires_shipping=False, paid_at_ms=None)


def test_summary_counts_every_star() -> None:
    assert summary({}) == {
        "average": None, "count": 0, "distribution": {"1": 0, "2": 0, "3": 0, "4": 0, "5": 0}
    }  # fmt: skip
    out = summary({5: 2, 4: 1, 1: 1})
    assert (out["average"], out["count"]) == (3.75, 4)
    assert out["distribution"] == {"1": 1, "2": 0, "3": 0, "4": 1, "5": 2}


def test_review_text_goes_through_chats_filters() -> None:
    assert clean_text("  Lovely   fabric ", (), max_length=100) == "Lovely   fabric"
    for text, reason in (("see shop.example.com", "link"), ("a sc4m seller", "banned_word")):
        with pytest.raises(ReviewRejected) as info:
            clean_text(text, ("scam",), max_length=100)
        assert info.value.details == {"reason": reason}


rows = st.lists(
    st.fixed_dictionaries({"a": st.integers(), "b": st.text(max_size=8), "c": st.booleans()}),
    max_size=6,
)


@given(rows)
def test_a_chain_verifies_until_any_row_changes(values: list[dict[str, object]]) -> None:
    seed = {"log": "test", "id": "é"}
    numbered = [{"seq": n, **v} for n, v in enumerate(values, start=1)]
    fields = ("seq", "a", "b", "c")
    published, head = chained(seed, numbered, fields)
    assert verify_chain(seed, published, fields, head).ok
    if published:
        first = published[0]
        assert first["hash"] == sha256_hex(
            genesis(seed) + canonical_json({k: first[k] for k in fields})
        )
        edited = [{**published[0], "c": not published[0]["c"]}, *published[1:]]
        assert verify_chain(seed, edited, fields, head).bad_seq == 1
        assert not verify_chain(seed, published[1:], fields, head).ok  # a dropped row
    else:
        assert head == genesis(seed)


# --- ask someone who bought it ----------------------------------------------------------------


def test_routing_takes_never_asked_then_least_recently_asked_under_the_weekly_cap() -> None:
    """Never-asked buyers go first, then the least recently asked (ties by id); a buyer with
    three asks this week is skipped; at most five are chosen."""
    pool = [
        Candidate("u_full", None, WEEKLY_CAP),
        Candidate("u_late", 9_000, 1),
        Candidate("u_b", 5_000, 2),
        Candidate("u_a", 5_000, 0),
        Candidate("u_new2", None, 0),
        Candidate("u_new1", None, 0),
        Candidate("u_mid", 7_000, 2),
    ]
    assert ["u_new1", "u_new2", "u_a", "u_b", "u_mid"] == choose_buyers(pool)
    assert ["u_new1"] == choose_buyers(pool, 1)
    assert [] == choose_buyers([Candidate("u_full", 1, WEEKLY_CAP)])
    assert ROUTE_MAX == len(choose_buyers([Candidate(f"u{i}", i, 0) for i in range(9)]))


@given(st.integers(min_value=-(10**12), max_value=10**13))
def test_month_label_is_the_utc_calendar_month(at_ms: int) -> None:
    """The badge's month is the purchase's UTC month, as the calendar has it."""
    expected = datetime.fromtimestamp(at_ms / 1000, UTC).strftime("%B %Y")
    assert expected == month_label(at_ms)
