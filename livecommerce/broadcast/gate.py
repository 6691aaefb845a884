"""The media plane's view of the show service: key checks and the live/ended lifecycle.

Translates the service's errors into WHIP/WHEP refusals (401/404/409) so the manager never
imports HTTP or service exceptions, and swallows a lifecycle move the show already made (a
show seeded live by the demo, or ended by its seller) instead of failing ingest over it.
"""

from __future__ import annotations

import logging

from livecommerce.broadcast.errors import MediaRejected, not_found, unauthenticated
from livecommerce.domain.shows import ShowStatus
from livecommerce.errors import DomainError, NotFound, Unauthenticated
from livecommerce.services.shows import ShowService

__all__ = ["ShowServiceGate"]

log = logging.getLogger(__name__)


class ShowServiceGate:
    """:class:`~livecommerce.broadcast.manager.ShowGate` backed by :class:`ShowService`."""

    def __init__(self, shows: ShowService) -> None:
        self._shows = shows

    async def check_publisher(self, show_id: str, stream_key: str) -> None:
        """404 unknown show, 401 wrong or rotated key, 409 show already ended."""
        try:
            show = await self._shows.verify_stream_key(show_id, stream_key)
        except NotFound as exc:
            raise not_found() from exc
        except Unauthenticated as exc:
            raise unauthenticated() from exc
        if show.status is ShowStatus.ENDED:
            raise MediaRejected(409, "show_ended", "this show has ended")

    async def check_viewable(self, show_id: str) -> None:
        """404 for an unknown show."""
        try:
            await self._shows.get(show_id)
        except NotFound as exc:
            raise not_found() from exc

    async def mark_live(self, show_id: str) -> None:
        """Ingest started."""
        await self._set(show_id, ShowStatus.LIVE)

    async def mark_ended(self, show_id: str) -> None:
        """Ingest stopped for longer than the grace period."""
        await self._set(show_id, ShowStatus.ENDED)

    async def _set(self, show_id: str, status: ShowStatus) -> None:
        try:
            await self._shows.set_status(show_id, status)
        except (DomainError, NotFound):
            log.info("show %s not moved to %s", show_id, status.value)
