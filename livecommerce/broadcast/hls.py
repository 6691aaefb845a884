"""HLS of this node: one :class:`ShowPackager` per live show, started and finished with its feed.

Owns ``<media_dir>/hls/<show_id>/``: a multivariant ``index.m3u8`` and one directory per
rendition (see :mod:`livecommerce.broadcast.ladder`); the default ladder is pass-through plus
360p, so HLS costs one decoder and one encoder per show however many viewers it has. Playlists
are type EVENT, so they list every segment; when the show ends the muxers append
``#EXT-X-ENDLIST`` and the same files become the replay, served as VOD under ``/replays/``.
"""

from __future__ import annotations

from pathlib import Path

from livecommerce.broadcast.config import Rendition
from livecommerce.broadcast.packager import ShowPackager
from livecommerce.broadcast.relay import ShowFeed

__all__ = ["HlsPackagers"]


class HlsPackagers:
    """The packagers of this node, following the manager's feeds (a ``FeedListener``)."""

    def __init__(
        self,
        root: Path,
        ladder: tuple[Rendition, ...],
        segment_seconds: float,
        fps: int,
        part_seconds: float | None = None,
    ) -> None:
        self.root = root
        self.part_seconds = part_seconds
        self.ladder = ladder
        self.segment_seconds = segment_seconds
        self.fps = fps
        self.packagers: dict[str, ShowPackager] = {}

    def show_dir(self, show_id: str) -> Path:
        """Where a show's playlists and segments live (also its replay)."""
        return self.root / show_id

    def feed_started(self, feed: ShowFeed) -> None:
        """Start packaging a feed (a reconnecting publisher keeps the running packager)."""
        current = self.packagers.get(feed.show_id)
        if current is not None and current.feed is feed:
            return
        packager = ShowPackager(
            feed,
            self.show_dir(feed.show_id),
            self.ladder,
            self.segment_seconds,
            self.fps,
            self.part_seconds,
        )
        self.packagers[feed.show_id] = packager
        packager.start()

    def last_media_ms(self, show_id: str) -> int | None:
        """Epoch ms of the newest media recorded for an unfinished show (None: none)."""
        newest = [p.stat().st_mtime for p in self.show_dir(show_id).glob("*/seg_*.m4s")]
        return int(max(newest) * 1000) if newest else None

    def feed_paused(self, feed: ShowFeed) -> None:
        """The publisher left; the packager keeps the recording open for a resume."""

    async def feed_ended(self, feed: ShowFeed) -> None:
        """Finish the show's playlists; they stay on disk as the replay."""
        packager = self.packagers.pop(feed.show_id, None)
        if packager is not None:
            await packager.stop()

    async def close(self) -> None:
        """Shutdown: finish every packager."""
        for show_id in list(self.packagers):
            await self.packagers.pop(show_id).stop()
