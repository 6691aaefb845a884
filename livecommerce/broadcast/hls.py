"""HLS of this node: one :class:`ShowPackager` per show on air, following the show's feed.

Owns ``<media_dir>/hls/<show_id>/``: a multivariant ``index.m3u8`` and one directory per
rendition (see :mod:`livecommerce.broadcast.ladder` and :mod:`livecommerce.broadcast.playlist`);
the default ladder is pass-through plus 360p, so HLS costs one decoder and one encoder per show
however many viewers it has. Playlists are type EVENT, so they list every segment; when the
show ends they get ``#EXT-X-ENDLIST`` and the same files become the replay, served as VOD under
``/replays/``.

The broadcast manager drives it as a ``FeedListener``: :meth:`HlsPackagers.feed_started` on
every source attach (the first publish, and every resume: the running packager continues the
same playlists), :meth:`HlsPackagers.feed_paused` when the source detaches (the open segment is
closed and listed), :meth:`HlsPackagers.feed_ended` when the show ends. A show's recording is
one recording across pauses and node restarts: a packager started for a show whose directory
holds a recording appends to it, and :meth:`HlsPackagers.last_media_ms` tells the start-up
reconcile when a show a crash left live last had media.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from livecommerce.broadcast.config import Rendition
from livecommerce.broadcast.packager import RestartReason, ShowPackager
from livecommerce.broadcast.playlist import recorded_until
from livecommerce.broadcast.relay import ShowFeed

__all__ = ["HlsPackagers", "RestartReason"]


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
        #: Called from packager threads as ``hook(rendition, reason)`` on every restart
        #: (the metrics counter); must be thread-safe.
        self.restart_hooks: list[Callable[[str, RestartReason], None]] = []

    def show_dir(self, show_id: str) -> Path:
        """Where a show's playlists and segments live (also its replay)."""
        return self.root / show_id

    def feed_started(self, feed: ShowFeed) -> None:
        """A source is attached to the show's feed: start packaging, or, when the show already
        has a packager (a publisher resumed), continue its playlists after a discontinuity."""
        current = self.packagers.get(feed.show_id)
        if current is not None:
            current.attach(feed)
            return
        packager = ShowPackager(
            feed,
            self.show_dir(feed.show_id),
            self.ladder,
            self.segment_seconds,
            self.fps,
            self.part_seconds,
            self._restarted,
        )
        self.packagers[feed.show_id] = packager
        packager.start()

    def feed_paused(self, feed: ShowFeed) -> None:
        """The source detached (the show is paused): close and list the open segments now and
        idle until :meth:`feed_started` or :meth:`feed_ended`."""
        packager = self.packagers.get(feed.show_id)
        if packager is not None:
            packager.pause()

    async def feed_ended(self, feed: ShowFeed) -> None:
        """Finish the show's playlists (ENDLIST); they stay on disk as the replay."""
        packager = self.packagers.pop(feed.show_id, None)
        if packager is not None:
            await packager.stop()

    def last_media_ms(self, show_id: str) -> int | None:
        """Epoch milliseconds of the newest media recorded for a show (its playlists on disk:
        the newest segment's PROGRAM-DATE-TIME plus its duration, or its listed parts), or
        None when nothing was recorded. For the start-up reconcile of shows a crash left live."""
        show_dir = self.show_dir(show_id)
        if not show_dir.is_dir():
            return None
        ends = [t for d in show_dir.iterdir() if d.is_dir() and (t := recorded_until(d))]
        return round(max(ends) * 1000) if ends else None

    def _restarted(self, rendition: str, reason: RestartReason) -> None:
        for hook in self.restart_hooks:
            hook(rendition, reason)

    async def close(self) -> None:
        """Shutdown: finish every packager."""
        for show_id in list(self.packagers):
            await self.packagers.pop(show_id).stop()
