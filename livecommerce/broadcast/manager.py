"""Publisher and viewer peer sessions of every show on this node, and the show's media lifecycle.

Owns: the registry of peer connections (every one is registered the moment it exists and
removed when it is closed, so a test can prove no error path leaves one behind), one
:class:`ShowFeed` per live show, the single-publisher rule, the viewer cap, and the
live → ended transition with a grace period for publisher reconnects. Answering an offer is left
to :mod:`~livecommerce.broadcast.publisher` (WHIP) and :mod:`~livecommerce.broadcast.viewer`
(WHEP); this module decides who may connect and closes whatever a failed answer left open. It
knows nothing of HTTP: routes turn :class:`MediaRejected` into responses, and a
:class:`ShowGate` (built by ``setup``) connects it to the show service.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable
from typing import Protocol

from livecommerce.broadcast.config import BroadcastConfig
from livecommerce.broadcast.encoder import SyntheticShowSource
from livecommerce.broadcast.errors import MediaRejected
from livecommerce.broadcast.ice import IcePolicy, create_peer_connection
from livecommerce.broadcast.ingest import request_publisher_keyframe
from livecommerce.broadcast.publisher import answer_publisher, publisher_offer
from livecommerce.broadcast.relay import ShowFeed
from livecommerce.broadcast.session import PeerSession, Role, new_session_id
from livecommerce.broadcast.synthetic import SyntheticSource
from livecommerce.broadcast.viewer import answer_viewer, viewer_offer

__all__ = ["BroadcastManager", "FeedListener", "ShowGate"]

log = logging.getLogger(__name__)


class ShowGate(Protocol):
    """What the media plane needs from the show service (adapted in ``setup``)."""

    async def check_publisher(self, show_id: str, stream_key: str) -> None:
        """Raise MediaRejected 404 (unknown show) or 401 (wrong/rotated key)."""

    async def check_viewable(self, show_id: str) -> None:
        """Raise MediaRejected 404 for an unknown show."""

    async def mark_live(self, show_id: str) -> None:
        """Ingest started: the show is live."""

    async def mark_ended(self, show_id: str) -> None:
        """Ingest stopped for longer than the grace period: the show has ended."""


class FeedListener(Protocol):
    """Something that follows feeds (the HLS packager): told when one starts and when it ends."""

    def feed_started(self, feed: ShowFeed) -> None:
        """A feed has a source now (called again after a publisher reconnect)."""

    async def feed_ended(self, feed: ShowFeed) -> None:
        """The show ended: finish whatever was made from this feed."""


class BroadcastManager:
    """All peer sessions and feeds of this node (one per app, under the BROADCAST app key)."""

    def __init__(
        self,
        gate: ShowGate,
        policy: IcePolicy,
        config: BroadcastConfig | None = None,
    ) -> None:
        self.gate = gate
        self.policy = policy
        self.config = config or BroadcastConfig()
        self.sessions: dict[str, PeerSession] = {}
        self.feeds: dict[str, ShowFeed] = {}
        self.listeners: list[FeedListener] = []
        self._publishers: dict[str, str] = {}  # show_id -> publisher session id
        self._end_timers: dict[str, asyncio.TimerHandle] = {}
        self._synthetic: dict[str, SyntheticShowSource] = {}
        self._background: set[asyncio.Task[None]] = set()
        self._closing = False

    # -- registry ------------------------------------------------------------------------------
    @property
    def peer_count(self) -> int:
        """Open peer connections on this node (tests assert it returns to zero)."""
        return len(self.sessions)

    def viewer_count(self, show_id: str | None = None) -> int:
        """WebRTC viewers on this node, of one show or of all shows."""
        return sum(
            1
            for s in self.sessions.values()
            if s.role == "viewer" and (show_id is None or s.show_id == show_id)
        )

    def _new_session(self, show_id: str, role: Role) -> PeerSession:
        session = PeerSession(new_session_id(), show_id, role, create_peer_connection(self.policy))
        self.sessions[session.id] = session
        return session

    def _spawn(self, coro: Awaitable[None], name: str) -> asyncio.Task[None]:
        async def run() -> None:
            await coro

        task = asyncio.create_task(run(), name=name)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task

    async def _close_session(self, session: PeerSession) -> None:
        if session.closed:
            return
        session.closed = True
        self.sessions.pop(session.id, None)
        for track in session.tracks:
            track.stop()
        for task in session.tasks:
            task.cancel()
        await session.pc.close()
        if session.role == "publisher" and self._publishers.get(session.show_id) == session.id:
            del self._publishers[session.show_id]
            feed = self.feeds.get(session.show_id)
            if feed is not None:
                feed.detach_source()
            if not self._closing:
                self._schedule_end(session.show_id)

    def _watch(self, session: PeerSession) -> None:
        """Close the session when ICE/DTLS fails or the peer never connects."""

        @session.pc.on("connectionstatechange")
        async def on_state() -> None:
            if session.pc.connectionState in ("failed", "closed"):
                await self._close_session(session)

        async def deadline() -> None:
            await asyncio.sleep(self.config.connect_timeout_seconds)
            if session.pc.connectionState != "connected":
                log.info("%s %s never connected; closing", session.role, session.id)
                await self._close_session(session)

        session.tasks.append(asyncio.create_task(deadline()))

    def _feed(self, show_id: str) -> ShowFeed:
        feed = self.feeds.get(show_id)
        if feed is None or feed.closed:
            feed = ShowFeed(show_id, self.config.keyframe_interval)
            self.feeds[show_id] = feed
        return feed

    # -- publisher (WHIP) ------------------------------------------------------------------------
    async def publish(self, show_id: str, stream_key: str, offer: str) -> tuple[str, str]:
        """Start ingest from a WHIP offer; returns (session id, answer SDP)."""
        await self.gate.check_publisher(show_id, stream_key)
        if show_id in self._publishers or show_id in self._synthetic:
            raise MediaRejected(409, "conflict", "this show already has a live publisher")
        filtered = publisher_offer(offer)
        session = self._new_session(show_id, "publisher")
        self._publishers[show_id] = session.id  # reserve before any await: one publisher
        try:
            media = await answer_publisher(session, filtered, lambda: self._feed(show_id))
        except BaseException:
            await self._close_session_quietly(session)
            self._drop_unused_feed(show_id)
            raise
        feed = self._feed(show_id)
        video_receiver = media.video_receiver

        def ask_keyframe() -> None:
            if video_receiver is not None and not session.closed:
                self._spawn(request_publisher_keyframe(video_receiver), "pli")

        feed.attach_source(media.video, media.audio, ask_keyframe)
        self._watch(session)
        self._cancel_end(show_id)
        for listener in self.listeners:
            listener.feed_started(feed)
        await self.gate.mark_live(show_id)
        return session.id, session.pc.localDescription.sdp

    async def _close_session_quietly(self, session: PeerSession) -> None:
        was_publisher = self._publishers.get(session.show_id) == session.id
        if was_publisher:
            del self._publishers[session.show_id]  # a failed offer never ends the show
        await self._close_session(session)

    def _drop_unused_feed(self, show_id: str) -> None:
        """Forget a feed a failed offer created that nothing uses."""
        feed = self.feeds.get(show_id)
        if (
            feed is not None
            and feed.viewer_tracks == 0
            and feed.video_codec is None
            and feed.audio_codec is None
        ):
            del self.feeds[show_id]
            feed.close()

    async def stop_publisher(self, show_id: str, session_id: str) -> None:
        """WHIP DELETE: end this publisher session (the show ends after the grace period)."""
        session = self.sessions.get(session_id)
        if session is None or session.show_id != show_id or session.role != "publisher":
            raise MediaRejected(404, "not_found", "no such session")
        await self._close_session(session)

    async def key_rotated(self, show_id: str) -> None:
        """The stream key changed: the live publisher's key is no longer valid, end it now."""
        session_id = self._publishers.get(show_id)
        if session_id is not None and session_id in self.sessions:
            await self._close_session(self.sessions[session_id])

    # -- viewers (WHEP) ----------------------------------------------------------------------------
    async def play(self, show_id: str, offer: str) -> tuple[str, str]:
        """Add a WHEP viewer; returns (session id, answer SDP)."""
        await self.gate.check_viewable(show_id)
        feed = self.feeds.get(show_id)
        if feed is None or feed.closed or (feed.video_codec is None and feed.audio_codec is None):
            raise MediaRejected(409, "show_not_live", "the show is not live")
        if self.viewer_count() >= self.config.viewer_cap:
            raise MediaRejected(
                503,
                "viewer_cap",
                "this node is full; use HLS",
                {"Retry-After": str(self.config.viewer_retry_after)},
            )
        filtered = viewer_offer(offer, feed)
        session = self._new_session(show_id, "viewer")
        try:
            await answer_viewer(session, feed, filtered)
        except BaseException:
            await self._close_session(session)
            raise
        self._watch(session)
        return session.id, session.pc.localDescription.sdp

    async def leave(self, show_id: str, session_id: str) -> None:
        """WHEP DELETE: close one viewer."""
        session = self.sessions.get(session_id)
        if session is None or session.show_id != show_id or session.role != "viewer":
            raise MediaRejected(404, "not_found", "no such session")
        await self._close_session(session)

    # -- synthetic source -------------------------------------------------------------------------
    async def start_synthetic(self, show_id: str, source: SyntheticSource | None = None) -> None:
        """Broadcast the stamped test pattern as this show's live feed (demo, tests, bench)."""
        if show_id in self._publishers or show_id in self._synthetic:
            raise MediaRejected(409, "conflict", "this show already has a live publisher")
        cfg = self.config
        source = source or SyntheticSource(
            cfg.synthetic_width, cfg.synthetic_height, cfg.synthetic_fps
        )
        feed = self._feed(show_id)
        producer = SyntheticShowSource(feed, source, cfg.synthetic_bitrate)
        self._synthetic[show_id] = producer
        producer.start()
        self._cancel_end(show_id)
        for listener in self.listeners:
            listener.feed_started(feed)
        await self.gate.mark_live(show_id)

    async def stop_synthetic(self, show_id: str) -> None:
        """Stop the synthetic source; the show ends after the grace period."""
        producer = self._synthetic.pop(show_id, None)
        if producer is not None:
            await producer.stop()
            if not self._closing:
                self._schedule_end(show_id)

    # -- lifecycle --------------------------------------------------------------------------------
    def _schedule_end(self, show_id: str) -> None:
        self._cancel_end(show_id)
        loop = asyncio.get_running_loop()

        def fire() -> None:
            self._end_timers.pop(show_id, None)
            self._spawn(self.end_show(show_id), f"end-{show_id}")

        self._end_timers[show_id] = loop.call_later(self.config.reconnect_grace_seconds, fire)

    def _cancel_end(self, show_id: str) -> None:
        timer = self._end_timers.pop(show_id, None)
        if timer is not None:
            timer.cancel()

    async def end_show(self, show_id: str) -> None:
        """End the show now: close viewers and the feed, finish packaging, mark it ended."""
        self._cancel_end(show_id)
        await self.stop_synthetic_now(show_id)
        publisher = self._publishers.get(show_id)
        if publisher is not None and publisher in self.sessions:
            session = self.sessions[publisher]
            del self._publishers[show_id]
            await self._close_session(session)
        for session in [s for s in self.sessions.values() if s.show_id == show_id]:
            await self._close_session(session)
        feed = self.feeds.pop(show_id, None)
        if feed is not None:
            feed.close()
            for listener in self.listeners:
                await listener.feed_ended(feed)
        try:
            await self.gate.mark_ended(show_id)
        except Exception:
            log.exception("could not mark show %s ended", show_id)

    async def stop_synthetic_now(self, show_id: str) -> None:
        """Stop a synthetic producer without scheduling another end."""
        producer = self._synthetic.pop(show_id, None)
        if producer is not None:
            await producer.stop()

    async def close(self) -> None:
        """App shutdown: close every peer connection, producer, timer and background task."""
        self._closing = True
        for timer in self._end_timers.values():
            timer.cancel()
        self._end_timers.clear()
        for show_id in list(self._synthetic):
            await self.stop_synthetic_now(show_id)
        for session in list(self.sessions.values()):
            await self._close_session(session)
        for feed in self.feeds.values():
            feed.close()
        for task in list(self._background):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
