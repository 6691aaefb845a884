"""Seller analytics for the dashboard: a show's figures for its seller, and the viewer-count
samples taken while shows are live.

Figures are derived from what the other stores already keep (through ``AnalyticsStore``); the
only thing analytics records itself is the concurrent-viewer count, sampled from presence.
"""

from __future__ import annotations

import logging

from livecommerce.domain.shows import OPEN
from livecommerce.services.ports import AnalyticsStore, Clock, ShowFigures
from livecommerce.services.presence import PresenceService
from livecommerce.services.shows import ShowService

log = logging.getLogger(__name__)


class AnalyticsService:
    def __init__(
        self,
        store: AnalyticsStore,
        shows: ShowService,
        presence: PresenceService,
        clock: Clock,
        currency: str,
    ) -> None:
        self._store = store
        self._shows = shows
        self._presence = presence
        self._clock = clock
        self._currency = currency

    async def show_figures(self, show_id: str) -> ShowFigures:
        """Every dashboard figure of one show (the pages check the seller owns it)."""
        return await self._store.show_figures(show_id, self._currency)

    async def viewers(self, show_id: str) -> int:
        """People watching now, on every node (docs/METRICS.md); 0 while presence is
        unreachable rather than failing a page."""
        try:
            return await self._presence.watching_now(show_id)
        except Exception:
            log.warning("presence store unavailable; no viewer count")
            return 0

    async def sample_viewers(self) -> None:
        """One viewer-count sample per show on air or paused (the dashboard's concurrent-viewers
        chart; viewers waiting through a pause are still an audience)."""
        now_ms = self._clock.now_ms()
        for show in await self._shows.list(sorted(OPEN)):
            await self._store.record_viewers(show.id, now_ms, await self.viewers(show.id))
