"""Ports for the audience: who follows which seller and who asked to be reminded of which show.
Both are rows with a unique pair, so following or RSVPing twice is a no-op by construction, and
counts are derived from the rows (never a counter that concurrent writes could skew)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Followed:
    """One seller a user follows, with the seller's public fields."""

    seller_id: str
    name: str
    handle: str | None
    followed_at: int


class FollowStore(Protocol):
    async def follow(self, follower_id: str, seller_id: str, at_ms: int) -> bool:
        """Record the follow; True when it is new, False when it was there already."""

    async def unfollow(self, follower_id: str, seller_id: str) -> bool:
        """Remove the follow; True when there was one."""

    async def is_following(self, follower_id: str, seller_id: str) -> bool: ...

    async def follower_count(self, seller_id: str) -> int: ...

    async def followers_page(self, seller_id: str, after: str | None, limit: int) -> list[str]:
        """Follower ids in id order, those after ``after`` (keyset paging for fan-outs)."""

    async def following_page(
        self, follower_id: str, before: tuple[int, str] | None, limit: int
    ) -> list[Followed]:
        """The sellers a user follows, newest follow first, those before the
        ``(followed_at, seller_id)`` cursor."""


class RsvpStore(Protocol):
    async def add_rsvp(self, show_id: str, user_id: str, at_ms: int) -> bool:
        """Record the reminder (who and when, for the notifier); True when it is new."""

    async def remove_rsvp(self, show_id: str, user_id: str) -> bool: ...

    async def rsvp_counts(self, show_ids: list[str]) -> dict[str, int]:
        """How many reminders each show has (shows without any are left out)."""

    async def rsvped(self, user_id: str, show_ids: list[str]) -> set[str]:
        """Which of these shows the user asked to be reminded of."""

    async def rsvp_users_page(self, show_id: str, after: str | None, limit: int) -> list[str]:
        """Ids of the users who RSVP'd, in id order, those after ``after`` (keyset paging
        for the notifier's fan-out)."""
