"""Audience rules: seller handles (the ``/s/{handle}`` storefront address), who may follow whom,
and which shows take a reminder (RSVP).

A handle is the lower-cased ``[a-z0-9_]{3,30}`` name of an account: stored lower-case, so two
handles that differ only in case are the same handle. Sellers get one made from their display
name (accents dropped, other characters to ``_``); when it is taken, numbered variants and finally
one carrying part of the account id are tried, so a free one always exists.
"""

from __future__ import annotations

import re
import unicodedata

from livecommerce.domain.access import Role
from livecommerce.domain.shows import ShowStatus
from livecommerce.errors import CannotFollowSelf, HandleInvalid, ShowEnded

HANDLE_MIN = 3
HANDLE_MAX = 30
_HANDLE = re.compile(rf"^[a-z0-9_]{{{HANDLE_MIN},{HANDLE_MAX}}}$")
_NOT_HANDLE = re.compile(r"[^a-z0-9]+")
#: Numbered variants tried after the plain handle (``ana_2`` … ``ana_9``).
NUMBERED = range(2, 10)


def has_storefront(role: Role, is_guest: bool = False) -> bool:
    """Sellers are the accounts people follow and whose storefront exists."""
    return role is Role.SELLER and not is_guest


def normalize_handle(raw: str) -> str:
    """The handle as stored: trimmed, lower-cased, checked (HandleInvalid otherwise)."""
    handle = raw.strip().lower()
    if not _HANDLE.match(handle):
        raise HandleInvalid(
            f"a handle is {HANDLE_MIN} to {HANDLE_MAX} letters a-z, digits or underscores"
        )
    return handle


def handle_base(name: str) -> str:
    """The handle a display name suggests: ``"Anna's Vintage Shop"`` → ``anna_s_vintage_shop``;
    too short a result is padded with ``shop`` (``"Bo"`` → ``bo_shop``)."""
    ascii_only = (
        unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii").lower()
    )
    base = _NOT_HANDLE.sub("_", ascii_only).strip("_")[: HANDLE_MAX - 3].strip("_")
    if len(base) < HANDLE_MIN:
        base = f"{base}_shop".strip("_")
    return base


def handle_candidates(name: str, user_id: str) -> tuple[str, ...]:
    """Handles to try in order for a new seller; the last one carries the tail of the account's
    (random) id, so it is free unless someone chose it on purpose."""
    base = handle_base(name)
    tail = _NOT_HANDLE.sub("", user_id.lower())[-8:] or "0"
    return (
        base,
        *(f"{base}_{n}" for n in NUMBERED),
        f"{base[: HANDLE_MAX - len(tail) - 1]}_{tail}",
    )


def check_follow(follower_id: str, seller_id: str) -> None:
    """Following yourself would inflate your own count."""
    if follower_id == seller_id:
        raise CannotFollowSelf("you cannot follow yourself")


def check_rsvp(status: ShowStatus) -> None:
    """A reminder is for a show still to come or on now; an ended show has nothing to remind of."""
    if status is ShowStatus.ENDED:
        raise ShowEnded("this show has ended; there is nothing to be reminded of")
