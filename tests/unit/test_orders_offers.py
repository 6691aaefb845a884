"""Unit tests for offers: validation, the sale window on the show's clock (it opens at start),
what is closed versus not yet open, what is on screen, and the public view."""

from __future__ import annotations

from dataclasses import replace

import pytest

from livecommerce.domain.money import Money
from livecommerce.domain.offers import (
    MAX_DURATION_MS,
    Offer,
    OfferKind,
    OfferStatus,
    check_open,
    end_offer,
    is_closed,
    make_offer,
    offer_view,
    on_screen,
    start_offer,
)
from livecommerce.errors import InvalidInput, OfferClosed, OfferNotActive


def flash(**kw: object) -> Offer:
    args: dict[str, object] = dict(
        offer_id="of",
        show_id="sh",
        seller_id="s",
        product_id="p",
        kind=OfferKind.FLASH,
        price=Money(999, "EUR"),
        cap=10,
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
        {"cap": 0},
        {"cap": -1},
        {"cap": True},
        {"per_buyer_limit": 0},
        {"ends_at_ms": None},
        {"ends_at_ms": 500},
        {"price": Money(-1, "EUR")},
    ],
)
def test_invalid_offers_refused(bad: dict[str, object]) -> None:
    """Bad caps, limits, windows and prices are invalid input."""
    with pytest.raises(InvalidInput):
        flash(**bad)


def test_fixed_offer_starts_now_and_view_has_countdown() -> None:
    """A fixed offer without a start opens when started; the view counts down to a start."""
    fixed = start_offer(flash(kind=OfferKind.FIXED, starts_at_ms=None, ends_at_ms=None), 50)
    assert (fixed.status, fixed.starts_at_ms) == (OfferStatus.LIVE, 50)
    view = offer_view(start_offer(flash(), 0), 7, 0)
    assert 1 == view["countdown"]
    assert 7 == view["stock_left"]


def test_view_shows_the_cap_under_both_names_and_units_per_variant() -> None:
    """`cap` and its older name `stock` carry the cap (null without one); `variants` lists
    what each variant can still sell through the offer."""
    view = offer_view(flash(), 3, 0, [("v1", "S", 0), ("v2", "M", 3)])
    assert (10, 10, 3) == (view["cap"], view["stock"], view["stock_left"])
    assert [
        {"id": "v1", "label": "S", "stock_left": 0},
        {"id": "v2", "label": "M", "stock_left": 3},
    ] == view["variants"]
    uncapped = offer_view(flash(cap=None, kind=OfferKind.FIXED, ends_at_ms=None), 40, 0)
    assert (None, None, []) == (uncapped["cap"], uncapped["stock"], uncapped["variants"])


MINUTES_5 = 300_000


def drop(**kw: object) -> Offer:
    """A flash sale prepared with a five-minute duration and no times, created at 0."""
    args: dict[str, object] = {"starts_at_ms": None, "ends_at_ms": None, "duration_ms": MINUTES_5}
    args.update(kw)
    return flash(**args)


def test_start_opens_the_window_for_its_duration() -> None:
    """A flash sale created long before runs its full duration from start, not from creation."""
    offer = start_offer(drop(), 3_600_000)
    assert (3_600_000, 3_600_000 + MINUTES_5) == (offer.starts_at_ms, offer.ends_at_ms)
    check_open(offer, 3_600_000 + MINUTES_5 - 1)
    with pytest.raises(OfferClosed):
        check_open(offer, 3_600_000 + MINUTES_5)


def test_explicit_start_still_ahead_counts_down_then_runs_its_duration() -> None:
    """A start time still ahead is kept (the view counts down to it); one that passed opens now."""
    ahead = start_offer(drop(starts_at_ms=60_000), 10_000)
    assert (60_000, 60_000 + MINUTES_5) == (ahead.starts_at_ms, ahead.ends_at_ms)
    assert 50 == offer_view(ahead, 1, 10_000)["countdown"]
    passed = start_offer(drop(starts_at_ms=5_000), 10_000)
    assert (10_000, 10_000 + MINUTES_5) == (passed.starts_at_ms, passed.ends_at_ms)


def test_explicit_end_in_the_past_is_refused_until_given_a_new_duration() -> None:
    """Starting past an explicit ends_at is refused with a clear error; a new duration starts it."""
    old = flash(starts_at_ms=None, ends_at_ms=2_000)
    with pytest.raises(InvalidInput, match="end time has passed; set a new duration"):
        start_offer(old, 2_000)
    assert OfferStatus.DRAFT is old.status
    renewed = start_offer(old, 9_000, duration_ms=60_000)
    assert (9_000, 69_000, 60_000) == (
        renewed.starts_at_ms,
        renewed.ends_at_ms,
        renewed.duration_ms,
    )
    assert 2_000 == start_offer(old, 1_500).ends_at_ms  # still ahead: kept as given


def test_draft_view_runs_no_clock() -> None:
    """A draft shows no window and no countdown, whatever times it was prepared with."""
    for draft in (drop(), flash(), drop(starts_at_ms=60_000)):
        view = offer_view(draft, 10, 0)
        assert (None, None, None) == (view["starts_at"], view["ends_at"], view["countdown"])
    assert 300 == offer_view(drop(), 10, 0)["duration_seconds"]
    assert offer_view(flash(), 10, 0)["duration_seconds"] is None


def test_starting_twice_keeps_the_window() -> None:
    """A repeated start changes nothing; asking a live offer for a new duration is refused."""
    live = start_offer(drop(), 1_000)
    assert live == start_offer(live, 50_000)
    with pytest.raises(InvalidInput):
        start_offer(live, 50_000, duration_ms=60_000)


@pytest.mark.parametrize(
    "bad",
    [
        {"duration_ms": 0},
        {"duration_ms": 999},
        {"duration_ms": MAX_DURATION_MS + 1},
        {"ends_at_ms": 2_000},  # and a duration: one or the other
    ],
)
def test_invalid_durations_refused(bad: dict[str, object]) -> None:
    """Durations outside one second .. a week, or next to an explicit end, are invalid input."""
    with pytest.raises(InvalidInput):
        drop(**bad)


def test_closed_and_not_yet_open_are_told_apart() -> None:
    """Drafts and sales not yet started are `offer_not_active`; ended offers and windows that
    are over are `offer_closed`."""
    live = start_offer(drop(starts_at_ms=10_000), 0)
    cases = [
        (drop(), 0, "offer_not_active"),
        (live, 9_999, "offer_not_active"),
        (live, 10_000 + MINUTES_5, "offer_closed"),
        (end_offer(live), 10_000, "offer_closed"),
        (end_offer(drop()), 0, "offer_closed"),
    ]
    for offer, now, code in cases:
        with pytest.raises(OfferNotActive) as caught:
            check_open(offer, now)
        assert code == caught.value.code
    assert is_closed(live, 10_000 + MINUTES_5)
    assert not is_closed(live, 10_000)


def test_on_screen_is_the_latest_pin_still_standing() -> None:
    """The latest pin is on screen; unpinned or ended, nothing is (an older pin never returns)."""
    a = replace(drop(offer_id="a"), pinned_at_ms=10, unpinned_at_ms=20)  # replaced by b's pin
    b = replace(drop(offer_id="b"), pinned_at_ms=20)
    assert b == on_screen([a, b])
    assert on_screen([a, replace(b, unpinned_at_ms=30)]) is None
    assert on_screen([a, end_offer(b)]) is None
    assert on_screen([drop()]) is None
    assert (False, True) == (offer_view(a, 1, 0)["pinned"], offer_view(b, 1, 0)["pinned"])
