"""Authorization table: who may do what, decided in domain/access.py only."""

from __future__ import annotations

import pytest

from livecommerce.domain.access import Action, Principal, Role, ShowRef, authorize, badges, is_staff
from livecommerce.errors import GuestEmailRequired, PermissionDenied, Unauthenticated

SELLER = Principal("u-seller", "Sam", Role.SELLER)
OTHER_SELLER = Principal("u-other", "Olga", Role.SELLER)
HOST = Principal("u-host", "Hana", Role.VIEWER)
VIEWER = Principal("u-viewer", "Vic", Role.VIEWER)
GUEST = Principal("u-guest", "Gus", Role.VIEWER, is_guest=True)
GUEST_WITH_EMAIL = Principal("u-guest2", "Gwen", Role.VIEWER, is_guest=True, has_email=True)
ADMIN = Principal("u-admin", "Ada", Role.ADMIN)
SHOW = ShowRef("s1", seller_id="u-seller", host_ids=frozenset({"u-host"}))

ALLOW, DENY, ANON = "allow", "deny", "anon"

TABLE = [
    (None, Action.WATCH, ANON),
    (GUEST, Action.WATCH, ALLOW),
    (GUEST, Action.CHAT, ALLOW),
    (GUEST, Action.CHECKOUT, DENY),
    (GUEST_WITH_EMAIL, Action.CHECKOUT, ALLOW),
    (GUEST_WITH_EMAIL, Action.MODERATE, DENY),
    (GUEST_WITH_EMAIL, Action.CREATE_PRODUCT, DENY),
    (VIEWER, Action.CHECKOUT, ALLOW),
    (VIEWER, Action.CREATE_SHOW, DENY),
    (VIEWER, Action.CREATE_PRODUCT, DENY),
    (SELLER, Action.CREATE_SHOW, ALLOW),
    (SELLER, Action.MANAGE_SHOW, ALLOW),
    (SELLER, Action.PUBLISH, ALLOW),
    (OTHER_SELLER, Action.MANAGE_SHOW, DENY),
    (OTHER_SELLER, Action.MODERATE, DENY),
    (OTHER_SELLER, Action.MANAGE_OFFERS, DENY),
    (HOST, Action.MODERATE, ALLOW),
    (HOST, Action.MANAGE_OFFERS, ALLOW),
    (HOST, Action.PREPARE_OFFERS, DENY),  # issue 12: prices and caps are the seller's
    (SELLER, Action.PREPARE_OFFERS, ALLOW),
    (ADMIN, Action.PREPARE_OFFERS, ALLOW),
    (OTHER_SELLER, Action.PREPARE_OFFERS, DENY),
    (HOST, Action.ANSWER_QUESTIONS, ALLOW),
    (HOST, Action.MANAGE_SHOW, DENY),
    (HOST, Action.PUBLISH, DENY),
    (VIEWER, Action.MODERATE, DENY),
    (GUEST, Action.MODERATE, DENY),
    (ADMIN, Action.MODERATE, ALLOW),
    (ADMIN, Action.MANAGE_SHOW, ALLOW),
    (SELLER, Action.ADMINISTER, DENY),
    (None, Action.CREATE_SHOW, ANON),
    (VIEWER, Action.FOLLOW, ALLOW),
    (SELLER, Action.FOLLOW, ALLOW),
    (GUEST_WITH_EMAIL, Action.FOLLOW, DENY),  # issue 16: following needs an account
    (None, Action.FOLLOW, ANON),
]


@pytest.mark.parametrize(("principal", "action", "expected"), TABLE)
def test_authorize_table(principal: Principal | None, action: Action, expected: str) -> None:
    """Each (principal, action) pair on the demo show gets the decision in the table."""
    if expected == ALLOW:
        assert principal == authorize(principal, action, SHOW)
    elif expected == ANON:
        with pytest.raises(Unauthenticated):
            authorize(principal, action, SHOW)
    else:
        with pytest.raises(PermissionDenied):
            authorize(principal, action, SHOW)


def test_a_guest_without_email_is_told_what_buying_needs() -> None:
    """A guest's refused checkout says an e-mail is missing (`guest_email_required`)."""
    with pytest.raises(GuestEmailRequired) as caught:
        authorize(GUEST, Action.CHECKOUT)
    assert "guest_email_required" == caught.value.code


def test_show_scoped_action_without_show_is_refused() -> None:
    """A staff action with no show named is refused, not guessed."""
    with pytest.raises(PermissionDenied):
        authorize(HOST, Action.MODERATE, None)


def test_staff_and_badges_are_computed_from_the_show() -> None:
    """Badges come from the show's seller and host list, never from the client."""
    assert is_staff(HOST, SHOW) and is_staff(SELLER, SHOW) and is_staff(ADMIN, SHOW)
    assert not is_staff(VIEWER, SHOW) and not is_staff(None, SHOW)
    assert ["seller"] == badges(SELLER, SHOW)
    assert ["host"] == badges(HOST, SHOW)
    assert ["guest"] == badges(GUEST, SHOW)
    assert [] == badges(VIEWER, SHOW)
