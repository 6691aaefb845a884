"""Show reminders (RSVPs): a signed-in account asks to be reminded of a scheduled or live show,
or takes it back; counts per show and the caller's own choice for the pages and the API. Each
RSVP keeps who and when, which is what the notifier of a later part reads (reminders 15 minutes
before the start, ``show.live`` to those who RSVP'd)."""

from __future__ import annotations

from dataclasses import dataclass

from livecommerce.domain.access import Action, Principal, authorize
from livecommerce.domain.audience import check_rsvp
from livecommerce.services.ports import Clock, RsvpStore
from livecommerce.services.shows import ShowService


@dataclass(frozen=True, slots=True)
class RsvpState:
    """A show's reminder count and whether the caller is among them."""

    rsvps: int
    rsvped: bool
    #: The call changed something (a new RSVP: 201; a repeat: 200).
    changed: bool = False


class RsvpService:
    def __init__(self, store: RsvpStore, shows: ShowService, clock: Clock) -> None:
        self._store = store
        self._shows = shows
        self._clock = clock

    async def rsvp(self, principal: Principal | None, show_id: str) -> RsvpState:
        """Remind the caller of the show (accounts only; ``show_ended`` once it is over)."""
        caller = authorize(principal, Action.FOLLOW)
        show = await self._shows.get(show_id)
        check_rsvp(show.status)
        added = await self._store.add_rsvp(show.id, caller.user_id, self._clock.now_ms())
        return RsvpState(await self.count(show.id), True, added)

    async def cancel(self, principal: Principal | None, show_id: str) -> RsvpState:
        """Take the reminder back (allowed whatever the show's state: it only removes)."""
        caller = authorize(principal, Action.FOLLOW)
        show = await self._shows.get(show_id)
        removed = await self._store.remove_rsvp(show.id, caller.user_id)
        return RsvpState(await self.count(show.id), False, removed)

    async def users_page(self, show_id: str, after: str | None, limit: int) -> list[str]:
        """Who asked to be reminded of the show, in id order after ``after`` (for fan-outs)."""
        return await self._store.rsvp_users_page(show_id, after, limit)

    async def count(self, show_id: str) -> int:
        return (await self._store.rsvp_counts([show_id])).get(show_id, 0)

    async def counts(self, show_ids: list[str]) -> dict[str, int]:
        """Reminders per show, 0 for shows without any (one grouped query)."""
        found = await self._store.rsvp_counts(show_ids)
        return {show_id: found.get(show_id, 0) for show_id in show_ids}

    async def rsvped(self, principal: Principal | None, show_ids: list[str]) -> set[str]:
        """Which of these shows the caller asked to be reminded of (none when signed out)."""
        if principal is None or principal.is_guest or not show_ids:
            return set()
        return await self._store.rsvped(principal.user_id, show_ids)

    async def state(self, principal: Principal | None, show_id: str) -> RsvpState:
        return RsvpState(
            await self.count(show_id), show_id in await self.rsvped(principal, [show_id])
        )
