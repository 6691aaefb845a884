"""The show lifecycle use cases that span services: go live, pause, end, and the reconnect grace.

The media plane reports what it sees (media started flowing, the publisher is gone); the seller
ends the show; a sweep ends shows whose pause outlasted the grace, and on start-up shows left
``live`` by a crashed node are paused so the same sweep ends them if nobody returns. Ending a
show closes every open offer (held stock released) in the same use case, so "ended" and
"buyable" can never be true together for longer than a retry.
"""

from __future__ import annotations

import logging

from livecommerce.domain.access import Action, Principal, authorize
from livecommerce.domain.shows import ShowStatus, pause_outlasted
from livecommerce.errors import InvalidTransition
from livecommerce.services.offers import OfferService
from livecommerce.services.ports import Clock, Show
from livecommerce.services.shows import ShowService, show_ref

__all__ = ["ShowLifecycle"]

log = logging.getLogger(__name__)


class ShowLifecycle:
    def __init__(
        self, shows: ShowService, offers: OfferService, clock: Clock, grace_seconds: float
    ) -> None:
        self._shows = shows
        self._offers = offers
        self._clock = clock
        self.grace_ms = round(grace_seconds * 1000)

    async def went_live(self, show_id: str, at_ms: int | None = None) -> Show:
        """Media is flowing (first publish, or a resume): the show is live."""
        show, _ = await self._shows.move(show_id, ShowStatus.LIVE, at_ms)
        return show

    async def publisher_gone(self, show_id: str, at_ms: int | None = None) -> Show | None:
        """The publisher left or dropped (``at_ms``: its last media): pause, never end.

        None when the show was not on air (already ended by its seller, or never went live).
        """
        show = await self._shows.get(show_id)
        if show.status is not ShowStatus.LIVE:
            return None
        try:
            paused, _ = await self._shows.move(show_id, ShowStatus.PAUSED, at_ms)
        except InvalidTransition:
            return None  # ended meanwhile
        return paused

    async def end(self, principal: Principal | None, show_id: str) -> Show:
        """The seller (or an admin) ends the show for good."""
        show = await self._shows.get(show_id)
        authorize(principal, Action.MANAGE_SHOW, show_ref(show))
        return await self._end(show_id)

    async def _end(self, show_id: str) -> Show:
        """Idempotent: ending an ended show repeats only the offer closing (a crash between
        the two steps is repaired by the next call or sweep)."""
        show = await self._shows.get(show_id)
        if show.status is not ShowStatus.ENDED:
            try:
                show, _ = await self._shows.move(show_id, ShowStatus.ENDED)
            except InvalidTransition:
                show = await self._shows.get(show_id)  # ended by someone else meanwhile
        await self._offers.close_show(show_id)
        return show

    async def end_outlasted_pauses(self) -> list[str]:
        """End every show paused for longer than the grace (and finish ending any whose offers
        a crash left open); returns the ended show ids."""
        now = self._clock.now_ms()
        ended: list[str] = []
        for show in await self._shows.list([ShowStatus.PAUSED]):
            if pause_outlasted(show.times, now, self.grace_ms):
                await self._end(show.id)
                log.info("show %s ended: its pause outlasted the grace", show.id)
                ended.append(show.id)
        return ended

    async def pause_orphans(self, last_media_ms: dict[str, int]) -> list[str]:
        """Start-up: shows still ``live`` have lost their publisher with the old process; pause
        them at their last recorded media (``last_media_ms``) or now, so the grace applies."""
        paused: list[str] = []
        for show in await self._shows.list([ShowStatus.LIVE]):
            at = last_media_ms.get(show.id)
            if at is not None and show.live_since is not None:
                at = max(at, show.live_since)
            if await self.publisher_gone(show.id, at) is not None:
                paused.append(show.id)
        return paused
