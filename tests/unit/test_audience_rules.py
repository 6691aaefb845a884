"""Audience rules: handles (shape, case, made from names), self-follows and reminders on ended
shows."""

from __future__ import annotations

import pytest

from livecommerce.domain.access import Role
from livecommerce.domain.audience import (
    HANDLE_MAX,
    check_follow,
    check_rsvp,
    handle_base,
    handle_candidates,
    has_storefront,
    normalize_handle,
)
from livecommerce.domain.shows import ShowStatus
from livecommerce.errors import CannotFollowSelf, HandleInvalid, ShowEnded


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("Ana_Shop", "ana_shop"), ("  bo7 ", "bo7"), ("a" * HANDLE_MAX, "a" * HANDLE_MAX)],
)
def test_handles_are_lower_cased(raw: str, expected: str) -> None:
    """A handle in any case is the same lower-case handle."""
    assert expected == normalize_handle(raw)


@pytest.mark.parametrize(
    "raw", ["ab", "a" * (HANDLE_MAX + 1), "ana-shop", "ana shop", "anä", "", "ana/..", "ａｎａ"]
)
def test_bad_handles_are_refused(raw: str) -> None:
    """Only 3 to 30 of a-z, 0-9 and _ make a handle."""
    with pytest.raises(HandleInvalid):
        normalize_handle(raw)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Anna's Vintage Shop", "anna_s_vintage_shop"),
        ("Zoë Ørsted", "zoe_rsted"),
        ("Bo", "bo_shop"),
        ("日本", "shop"),
        ("x" * 40, "x" * (HANDLE_MAX - 3)),
        ("__Ann__", "ann"),
    ],
)
def test_handle_from_name(name: str, expected: str) -> None:
    """Names become valid handles: accents dropped, the rest to underscores, padded if short."""
    assert expected == handle_base(name)
    assert normalize_handle(handle_base(name))


def test_candidates_are_valid_and_end_with_the_id() -> None:
    """Every candidate is a valid handle and the last one carries the account id's tail."""
    candidates = handle_candidates("y" * 40, "usr_0123456789abcdef")
    assert all(normalize_handle(c) == c for c in candidates)
    assert ("y" * 27, "y" * 27 + "_2") == candidates[:2]
    assert candidates[-1].endswith("_89abcdef")
    assert len(set(candidates)) == len(candidates)


def test_follow_and_reminder_rules() -> None:
    """Nobody follows themselves; ended shows take no reminders; only sellers have storefronts."""
    with pytest.raises(CannotFollowSelf):
        check_follow("u1", "u1")
    check_follow("u1", "u2")
    with pytest.raises(ShowEnded):
        check_rsvp(ShowStatus.ENDED)
    for status in (ShowStatus.SCHEDULED, ShowStatus.LIVE, ShowStatus.PAUSED):
        check_rsvp(status)
    assert has_storefront(Role.SELLER)
    assert not has_storefront(Role.SELLER, is_guest=True)
    assert not has_storefront(Role.VIEWER)
