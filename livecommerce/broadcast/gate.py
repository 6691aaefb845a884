"""The media plane's view of the show lifecycle: key checks, and what ingest reports.

Translates the service's errors into WHIP/WHEP refusals (401/404/409) so the manager never
imports HTTP or service exceptions, and swallows a lifecycle step the show can no longer take
(a show its seller ended while the publisher was still sending) instead of failing ingest.
"""

from __future__ import annotations

import logging
import time

from livecommerce.broadcast.errors import MediaRejected, not_found, unauthenticated
from livecommerce.domain.shows import ShowStatus
from livecommerce.errors import DomainError, NotFound, Unauthenticated
from livecommerce.services.lifecycle import ShowLifecycle
from livecommerce.services.ports import Clock, Show
from livecommerce.services.shows import ShowService

__all__ = ["ShowServiceGate"]

log = logging.getLogger(__name__)


class ShowServiceGate:
    """:class:`~livecommerce.broadcast.manager.ShowGate` backed by the show services."""

    def __init__(self, shows: ShowService, lifecycle: ShowLifecycle, clock: Clock) -> None:
        self._shows = shows
        self._lifecycle = lifecycle
        self._clock = clock

    def _on_clock(self, wall_ms: int | None) -> int | None:
        """A media wall-clock time on the services' clock (the lifecycle's one time source),
        keeping only how long ago it was."""
        if wall_ms is None:
            return None
        age = max(0, int(time.time() * 1000) - wall_ms)
        return self._clock.now_ms() - age

    async def check_stream_key(self, show_id: str, stream_key: str) -> None:
        """404 unknown show, 401 wrong or rotated key."""
        await self._verified(show_id, stream_key)

    async def _verified(self, show_id: str, stream_key: str) -> Show:
        try:
            return await self._shows.verify_stream_key(show_id, stream_key)
        except NotFound as exc:
            raise not_found() from exc
        except Unauthenticated as exc:
            raise unauthenticated() from exc

    async def check_publisher(self, show_id: str, stream_key: str) -> None:
        """404 unknown show, 401 wrong or rotated key, 409 ``show_ended``."""
        show = await self._verified(show_id, stream_key)
        if show.status is ShowStatus.ENDED:
            raise MediaRejected(409, "show_ended", "this show has ended")

    async def check_viewable(self, show_id: str) -> None:
        """404 for an unknown show."""
        try:
            await self._shows.get(show_id)
        except NotFound as exc:
            raise not_found() from exc

    async def mark_live(self, show_id: str, at_ms: int) -> None:
        """Media flows: live (a resume if the show was paused)."""
        try:
            await self._lifecycle.went_live(show_id, self._on_clock(at_ms))
        except (DomainError, NotFound):
            log.info("show %s not moved to live", show_id)

    async def mark_paused(self, show_id: str, at_ms: int | None) -> None:
        """The publisher left, dropped or stalled."""
        try:
            await self._lifecycle.publisher_gone(show_id, self._on_clock(at_ms))
        except (DomainError, NotFound):
            log.info("show %s not paused", show_id)
