"""Money stays integral and single-currency; GCRA admits bursts and then the steady rate."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from livecommerce.domain.accounts import normalize_email, normalize_name
from livecommerce.domain.money import Money
from livecommerce.domain.ratelimit import Rate, window_allows
from livecommerce.domain.shows import ShowStatus, next_status
from livecommerce.errors import InvalidInput, InvalidTransition


def test_money_arithmetic_and_display() -> None:
    """Sums, fees and display work in minor units without floats."""
    price = Money(1999, "USD")
    assert Money(3998, "USD") == price * 2
    assert Money(200, "USD") == price.share_bps(1000)
    assert "19.99 USD" == price.display()
    assert "500 JPY" == Money(500, "JPY").display()
    assert {"amount": 1999, "currency": "USD"} == price.to_wire()


@pytest.mark.parametrize("bad", [(1.5, "USD"), (True, "USD"), (100, "usd"), (100, "EURO")])
def test_money_refuses_floats_and_bad_currencies(bad: tuple[object, str]) -> None:
    """Floats, booleans and non-ISO currencies never become Money."""
    with pytest.raises(InvalidInput):
        Money(bad[0], bad[1])  # type: ignore[arg-type]


def test_money_refuses_mixed_currencies() -> None:
    """Adding EUR to USD is an error, not a silent conversion."""
    with pytest.raises(InvalidInput):
        _ = Money(1, "USD") + Money(1, "EUR")


@given(st.integers(min_value=0, max_value=10**12), st.integers(min_value=0, max_value=10000))
def test_fee_never_exceeds_amount(minor: int, bps: int) -> None:
    """A fee of at most 100 % is between zero and the amount."""
    fee = Money(minor, "EUR").share_bps(bps)
    assert 0 <= fee.minor <= minor


def test_window_allows_a_burst_then_holds_the_whole_window() -> None:
    """3 per 2 s: three at once pass, a fourth waits until the first leaves the window."""
    rate = Rate(3, 2.0)
    stamps: list[float] = []
    for _ in range(4):
        if window_allows(stamps, 100.0, rate):
            stamps.insert(0, 100.0)
    assert [100.0] * 3 == stamps
    assert window_allows(stamps, 101.9, rate) is False
    assert window_allows(stamps, 102.0, rate) is True
    assert window_allows([], 100.0, rate, cost=4) is False


def test_no_window_ever_holds_more_than_the_limit() -> None:
    """A steady flood of 10 a second for a minute against 3 per 2 s and 20 per 30 s: every
    2 s window holds at most 3 accepted events and every 30 s window at most 20."""
    rates = [Rate(3, 2.0), Rate(20, 30.0)]
    accepted: list[float] = []
    for tick in range(600):
        now = tick / 10
        newest_first = accepted[::-1]
        if all(window_allows(newest_first, now, rate) for rate in rates):
            accepted.append(now)
    for rate in rates:
        worst = max(sum(1 for t in accepted if s <= t < s + rate.per_seconds) for s in accepted)
        assert rate.limit == worst
    assert 40 == len(accepted)  # 20 in the first 30 s window, 20 in the next


def test_show_lifecycle_never_leaves_ended() -> None:
    """scheduled → live → ended; an ended show cannot go live again."""
    assert next_status(ShowStatus.SCHEDULED, ShowStatus.LIVE) == ShowStatus.LIVE
    assert next_status(ShowStatus.LIVE, ShowStatus.ENDED) == ShowStatus.ENDED
    with pytest.raises(InvalidTransition):
        next_status(ShowStatus.ENDED, ShowStatus.LIVE)


def test_names_and_emails_are_normalised() -> None:
    """Whitespace collapses, e-mail lower-cases, control and invisible characters are refused."""
    assert "Ann Lee" == normalize_name("  Ann   Lee ")
    assert "a@b.example" == normalize_email(" A@B.example ")
    for bad in ("", "x" * 41, "evil\u202ename", "bell\x07"):
        with pytest.raises(InvalidInput):
            normalize_name(bad)
    with pytest.raises(InvalidInput):
        normalize_email("not-an-address")
