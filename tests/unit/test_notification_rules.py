"""Notification rules: quiet hours in the user's zone (plain and across midnight, with DST),
backoff doubling to its cap, preference switches by kind and channel, and each topic's
recipients and words."""

from __future__ import annotations

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest

from livecommerce.domain.notifications import (
    TOPIC_KINDS,
    Channel,
    Kind,
    Preferences,
    apply_switches,
    backoff_ms,
    content,
    recipients_of,
    switches,
)
from livecommerce.errors import InvalidInput
from livecommerce.services.preferences import QuietHours, parse_clock, quiet_until

BERLIN = ZoneInfo("Europe/Berlin")


@pytest.mark.parametrize(
    ("now_utc", "start", "end", "until_utc"),
    [
        # 23:30 Berlin (CET, UTC+1) inside 22:00-07:00: held until 07:00 the next morning
        (
            datetime(2026, 1, 10, 22, 30, tzinfo=UTC),
            time(22),
            time(7),
            datetime(2026, 1, 11, 6, tzinfo=UTC),
        ),
        # 03:00 Berlin, after midnight: until 07:00 the same day
        (
            datetime(2026, 1, 11, 2, 0, tzinfo=UTC),
            time(22),
            time(7),
            datetime(2026, 1, 11, 6, tzinfo=UTC),
        ),
        # 12:00 Berlin: outside
        (datetime(2026, 1, 11, 11, 0, tzinfo=UTC), time(22), time(7), None),
        # a daytime window 09:00-17:00 in summer time (UTC+2)
        (
            datetime(2026, 7, 1, 8, 0, tzinfo=UTC),
            time(9),
            time(17),
            datetime(2026, 7, 1, 15, tzinfo=UTC),
        ),
        (datetime(2026, 7, 1, 15, 0, tzinfo=UTC), time(9), time(17), None),
        # start == end: no window at all
        (datetime(2026, 7, 1, 15, 0, tzinfo=UTC), time(9), time(9), None),
    ],
)
def test_quiet_until(now_utc: datetime, start: time, end: time, until_utc: datetime | None) -> None:
    """E-mail and push wait until the window's end in the user's own zone, else not at all."""
    assert until_utc == quiet_until(QuietHours(start, end, BERLIN), now_utc)


def test_backoff_doubles_to_its_cap() -> None:
    """Retries wait base, 2x, 4x, ... and never longer than the cap."""
    assert [1000, 2000, 4000, 8000, 10_000] == [backoff_ms(n, 1000, 10_000) for n in range(1, 6)]


def test_switches_by_kind_and_channel() -> None:
    """Everything is on by default; a switch turns one kind on one channel off, and unknown
    kinds, channels or malformed times are refused."""
    prefs = Preferences()
    assert all(all(v.values()) for v in switches(prefs).values())
    prefs = apply_switches(prefs, {"show.live": {"email": False}})
    assert not prefs.allows(Kind.SHOW_LIVE, Channel.EMAIL)
    assert prefs.allows(Kind.SHOW_LIVE, Channel.PUSH) and prefs.allows(
        Kind.ORDER_PAID, Channel.EMAIL
    )
    prefs = apply_switches(prefs, {"show.live": {"email": True}})
    assert prefs.allows(Kind.SHOW_LIVE, Channel.EMAIL)
    for bad in ({"nope": {"email": False}}, {"show.live": {"sms": False}}):
        with pytest.raises(InvalidInput):
            apply_switches(prefs, bad)
    assert time(7, 30) == parse_clock("07:30", "start")
    for bad_time in ("7:30", "24:00", "07:60", "0730", ""):
        with pytest.raises(InvalidInput):
            parse_clock(bad_time, "start")


def test_topics_name_recipients_and_words() -> None:
    """Each outbox topic becomes one kind; named recipients come from the payload (go-live
    and reminders name none: the worker pages through followers and RSVPs)."""
    assert {"show.live", "show.reminder", "order.paid", "order.fulfilled", "auction.closed",
            "giveaway.drawn", "buyer_question.asked"} == set(TOPIC_KINDS)  # fmt: skip
    assert ["u1"] == recipients_of("order.paid", {"buyer_id": "u1"})
    assert ["u2"] == recipients_of("auction.closed", {"winner_id": "u2"})
    assert ["a", "b"] == recipients_of("giveaway.drawn", {"winner_ids": ["a", "b"]})
    assert [] == recipients_of("show.live", {"show_id": "s", "seller_id": "x"})
    words = content(Kind.SHOW_LIVE, {"show_id": "shw_1", "title": "<b>Drop</b>"})
    assert ("Live now: <b>Drop</b>", "/shows/shw_1") == (words.title, words.url)
    assert "/orders" == content(Kind.ORDER_SHIPPED, {}).url
    asked = {"question_id": "bqn_1", "product_name": "Boot", "text": "Warm?", "buyer_ids": ["c"]}
    assert ["c"] == recipients_of("buyer_question.asked", asked)
    words = content(Kind.BUYER_QUESTION, asked)
    assert ("A shopper asks about Boot", "You bought it: Warm?", "/orders#bq-bqn_1") == (
        words.title, words.body, words.url
    )  # fmt: skip
