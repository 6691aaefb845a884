"""Publisher and viewer peer sessions of every show on this node, and the show's media lifecycle.

Owns: the registry of peer connections (every one is registered the moment it exists and
removed when it is closed, so a test can prove no error path leaves one behind), one
:class:`ShowFeed` per show on air or paused, the one-publisher rule (a new publisher with the
stream key replaces the old session: a reloaded studio or a reconnecting OBS must never be
locked out by its own dead session), the viewer cap, and what the media plane tells the
lifecycle: the show is live when its media flows, paused when its publisher leaves, drops or
stalls. It never ends a show; it follows the end (:meth:`end_show`). With :class:`EdgeLinks`
it also records this node as the origin of the shows published here and serves WHEP viewers of
shows published elsewhere from one pull per show (:mod:`~livecommerce.broadcast.edge`), which
it stops a linger after the last local viewer left and moves when the origin moves. Answering
an offer is left to :mod:`~livecommerce.broadcast.publisher` (WHIP),
:mod:`~livecommerce.broadcast.viewer` (WHEP) and :mod:`~livecommerce.broadcast.edge` (pulls);
this module decides who may connect and closes whatever a failed answer left open. It
knows nothing of HTTP: routes turn :class:`MediaRejected` into responses, and a
:class:`ShowGate` (built by ``setup``) connects it to the show service.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Protocol

from livecommerce.broadcast.config import BroadcastConfig
from livecommerce.broadcast.edge import EdgeLinks, open_pull, verify_node_token
from livecommerce.broadcast.encoder import SyntheticShowSource
from livecommerce.broadcast.errors import MediaRejected, unauthenticated
from livecommerce.broadcast.ice import IcePolicy, create_peer_connection
from livecommerce.broadcast.ingest import request_publisher_keyframe
from livecommerce.broadcast.publisher import answer_publisher, publisher_offer
from livecommerce.broadcast.relay import FeedCodec, ShowFeed
from livecommerce.broadcast.session import PeerSession, Role, new_session_id
from livecommerce.broadcast.synthetic import SyntheticSource
from livecommerce.broadcast.viewer import answer_viewer, pull_offer, viewer_offer
from livecommerce.domain.presence import person_key
from livecommerce.services.singleflight import SingleFlight

__all__ = ["BroadcastManager", "FeedListener", "ShowGate"]

log = logging.getLogger(__name__)


class ShowGate(Protocol):
    """What the media plane needs from the show lifecycle (adapted in ``gate``)."""

    async def check_publisher(self, show_id: str, stream_key: str) -> None:
        """Raise MediaRejected 404 (unknown show), 401 (wrong key) or 409 (show ended)."""

    async def check_stream_key(self, show_id: str, stream_key: str) -> None:
        """Raise MediaRejected 404/401 unless the key is the show's (ended shows included)."""

    async def check_viewable(self, show_id: str) -> None:
        """Raise MediaRejected 404 for an unknown show."""

    async def mark_live(self, show_id: str, at_ms: int) -> None:
        """Media started flowing at ``at_ms``: the show is live."""

    async def mark_paused(self, show_id: str, at_ms: int | None) -> None:
        """The publisher is gone; its last media was at ``at_ms``: the show is paused."""


class FeedListener(Protocol):
    """Something that follows feeds (the HLS packager): told when one starts and when it ends."""

    def feed_started(self, feed: ShowFeed) -> None:
        """A feed has a source now (called again when a paused show resumes)."""

    def feed_paused(self, feed: ShowFeed) -> None:
        """The source left; the show may resume on the same feed (close what is open)."""

    async def feed_ended(self, feed: ShowFeed) -> None:
        """The show ended: finish whatever was made from this feed."""


class BroadcastManager:
    """All peer sessions and feeds of this node (one per app, under the BROADCAST app key)."""

    def __init__(
        self,
        gate: ShowGate,
        policy: IcePolicy,
        config: BroadcastConfig | None = None,
        edge: EdgeLinks | None = None,
    ) -> None:
        self.gate = gate
        self.policy = policy
        self.config = config or BroadcastConfig()
        #: Origin records and pulls between nodes; None = this node serves its own shows only.
        self.edge = edge
        #: Pulls this node started (an edge pulls once per show however many viewers it has).
        self.pulls_started = 0
        self._pulls: dict[str, tuple[PeerSession, str]] = {}  # show_id -> (pull, origin URL)
        self._pull_flight = SingleFlight()
        self._lingers: dict[str, asyncio.TimerHandle] = {}
        self.sessions: dict[str, PeerSession] = {}
        self.feeds: dict[str, ShowFeed] = {}
        self.listeners: list[FeedListener] = []
        self._publishers: dict[str, str] = {}  # show_id -> publisher session id
        # Sessions closed by their peer, a failure or a replacement, kept (bounded, oldest
        # first out) so the DELETE a page sends on leaving still gets its one 200.
        self._gone: OrderedDict[str, tuple[str, Role]] = OrderedDict()
        self._synthetic: dict[str, SyntheticShowSource] = {}
        self._background: set[asyncio.Task[None]] = set()
        self._closing = False

    # -- registry ------------------------------------------------------------------------------
    @property
    def peer_count(self) -> int:
        """Open peer connections on this node (tests assert it returns to zero)."""
        return len(self.sessions)

    @property
    def pull_count(self) -> int:
        """Shows this node pulls from their origin (one pull each, whatever its viewers)."""
        return len(self._pulls)

    def edge_count(self, show_id: str | None = None) -> int:
        """Other nodes pulling from this one, for one show or for all."""
        return sum(
            1
            for s in self.sessions.values()
            if s.role == "edge" and (show_id is None or s.show_id == show_id)
        )

    def viewer_count(self, show_id: str | None = None) -> int:
        """WebRTC viewers on this node, of one show or of all shows."""
        return sum(
            1
            for s in self.sessions.values()
            if s.role == "viewer" and (show_id is None or s.show_id == show_id)
        )

    def watching(self) -> list[tuple[str, str]]:
        """(show, person) of each viewer whose peer connection is connected: the broadcast
        plane's presence source (a viewer still negotiating or already failed is not watching)."""
        return [
            (s.show_id, s.person)
            for s in self.sessions.values()
            if s.role == "viewer" and s.pc.connectionState == "connected"
        ]

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

    async def _close_session(self, session: PeerSession, pause: bool = True) -> None:
        """Close a session; a publisher's closing pauses its show, and a pull's closing looks
        for the show's origin again when viewers remain, unless ``pause`` is False (replaced by
        a new source, show ended, pull no longer wanted, node shutting down)."""
        if session.closed:
            return
        session.closed = True
        self.sessions.pop(session.id, None)
        self._remember_gone(session)
        for track in session.tracks:
            track.stop()
        for task in session.tasks:
            task.cancel()
        await session.pc.close()
        if session.role == "publisher" and self._publishers.get(session.show_id) == session.id:
            del self._publishers[session.show_id]
            feed = self.feeds.get(session.show_id)
            last_media = None
            if feed is not None:
                feed.detach_source()
                last_media = feed.last_packet_ms
                for listener in self.listeners:
                    listener.feed_paused(feed)
            await self._release_origin(session.show_id)
            if pause and not self._closing:
                self._spawn(self.gate.mark_paused(session.show_id, last_media), "pause")
        elif session.role == "pull":
            await self._pull_closed(session, pause)
        elif (
            session.role == "viewer"
            and session.show_id in self._pulls
            and self.viewer_count(session.show_id) == 0
        ):
            self._linger(session.show_id)

    def _remember_gone(self, session: PeerSession) -> None:
        self._gone[session.id] = (session.show_id, session.role)
        while len(self._gone) > self.config.session_tombstones:
            self._gone.popitem(last=False)

    def _forget_gone(self, show_id: str, session_id: str, role: Role) -> bool:
        """A DELETE for a session that is already closed: True once (200), then False (404)."""
        if self._gone.get(session_id) == (show_id, role):
            del self._gone[session_id]
            return True
        return False

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
        if session.role == "publisher":
            session.tasks.append(asyncio.create_task(self._stall_watch(session)))

    async def _stall_watch(self, session: PeerSession) -> None:
        """A publisher whose media stopped (Wi-Fi gone, laptop asleep) is closed after
        ``publisher_stall_seconds`` instead of ICE's ~30 s consent timeout, so viewers see the
        pause at once and the on-air clock stops where the media did."""
        stall = self.config.publisher_stall_seconds
        feed = self.feeds.get(session.show_id)
        started = time.time()
        while not session.closed:
            await asyncio.sleep(min(1.0, stall / 4))
            if feed is None or feed.closed:
                return
            last = feed.last_packet_ms / 1000 if feed.last_packet_ms is not None else 0.0
            if time.time() - max(last, started) > stall and (
                session.pc.connectionState == "connected" or time.time() - started > stall * 3
            ):
                log.info("publisher of show %s stalled; pausing the show", session.show_id)
                await self._close_session(session)
                return

    def _feed(self, show_id: str) -> ShowFeed:
        feed = self.feeds.get(show_id)
        if feed is None or feed.closed:
            feed = ShowFeed(
                show_id, self.config.keyframe_interval, self.config.shared_packetization
            )
            self.feeds[show_id] = feed
        return feed

    # -- publisher (WHIP) ------------------------------------------------------------------------
    async def publish(self, show_id: str, stream_key: str, offer: str) -> tuple[str, str]:
        """Start (or resume) ingest from a WHIP offer; returns (session id, answer SDP).

        A publisher already on the show is replaced, not refused: only the holder of the stream
        key gets here, and a reloaded page or a restarted encoder must get its show back.
        """
        await self.gate.check_publisher(show_id, stream_key)
        filtered = publisher_offer(offer)
        replaced = await self._replace_source(show_id)
        session = self._new_session(show_id, "publisher")
        self._publishers[show_id] = session.id  # reserve before any await: one publisher
        try:
            media = await answer_publisher(session, filtered, lambda: self._feed(show_id))
        except BaseException:
            await self._close_session_quietly(session)
            self._drop_unused_feed(show_id)
            if replaced:  # the old source is gone and the new one failed: the show pauses
                feed = self.feeds.get(show_id)
                last_media = feed.last_packet_ms if feed is not None else None
                self._spawn(self.gate.mark_paused(show_id, last_media), "pause")
            raise
        feed = self._feed(show_id)
        video_receiver = media.video_receiver

        def ask_keyframe() -> None:
            if video_receiver is not None and not session.closed:
                self._spawn(request_publisher_keyframe(video_receiver), "pli")

        await self._attach(feed, media.video, media.audio, ask_keyframe)
        self._watch(session)
        await self._claim_origin(show_id)
        return session.id, session.pc.localDescription.sdp

    async def _replace_source(self, show_id: str) -> bool:
        """Close whatever feeds the show now (a publisher session or the synthetic source)
        without pausing it: the new source takes over the same feed and viewers. True when
        there was one."""
        replaced = await self.stop_synthetic_now(show_id)
        pull = self._pulls.get(show_id)
        if pull is not None:  # the publisher came to this edge: it is the origin now
            await self._close_session(pull[0], pause=False)
        current = self._publishers.get(show_id)
        if current is not None and current in self.sessions:
            log.info("publisher of show %s replaced by a new session", show_id)
            await self._close_session(self.sessions[current], pause=False)
            replaced = True
        return replaced

    async def _attach(
        self,
        feed: ShowFeed,
        video: FeedCodec | None,
        audio: FeedCodec | None,
        ask_keyframe: Callable[[], None],
        local: bool = True,
    ) -> None:
        """Give the feed its new source; the show goes live when the first packet arrives.
        A pull (``local`` False) is a copy of another node's source: the origin runs the
        show's lifecycle and HLS, so listeners are not told of it.

        Viewers of a paused show keep their connection and get the new media as it comes, as
        long as the codec stayed the same; a viewer negotiated for another codec cannot decode
        it and is closed (its player reconnects and negotiates again).
        """
        show_id = feed.show_id
        changed = [
            kind
            for kind, old, new in (
                ("video", feed.video_codec, video),
                ("audio", feed.audio_codec, audio),
            )
            if old is not None and (new is None or old.name.lower() != new.name.lower())
        ]
        if changed:
            for viewer in [
                s for s in self.sessions.values() if s.show_id == show_id and s.role == "viewer"
            ]:
                await self._close_session(viewer)

        if not local:
            feed.attach_source(video, audio, ask_keyframe)
            return

        def flowing(at_ms: int) -> None:
            self._spawn(self.gate.mark_live(show_id, at_ms), "live")

        feed.attach_source(video, audio, ask_keyframe, flowing)
        for listener in self.listeners:
            listener.feed_started(feed)

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

    async def stop_publisher(self, show_id: str, session_id: str, stream_key: str) -> None:
        """WHIP DELETE with the stream key: close this publisher session, pausing the show
        (only an explicit end ends it). 200 once, also for a session already closed by its
        peer, and 404 after."""
        await self.gate.check_stream_key(show_id, stream_key)
        session = self.sessions.get(session_id)
        if session is None or session.show_id != show_id or session.role != "publisher":
            if self._forget_gone(show_id, session_id, "publisher"):
                return
            raise MediaRejected(404, "not_found", "no such session")
        await self._close_session(session)
        self._forget_gone(show_id, session_id, "publisher")

    async def key_rotated(self, show_id: str) -> None:
        """The stream key changed: the live publisher's key is no longer valid, end it now."""
        session_id = self._publishers.get(show_id)
        if session_id is not None and session_id in self.sessions:
            await self._close_session(self.sessions[session_id])

    # -- viewers (WHEP) ----------------------------------------------------------------------------
    async def play(
        self,
        show_id: str,
        offer: str,
        person: str | None = None,
        node_token: str | None = None,
    ) -> tuple[str, str]:
        """Add a WHEP viewer, counted as ``person`` (docs/METRICS.md), else as this one
        session, or, with a node token, another node's pull (never counted); returns (session
        id, answer SDP). A show published on another node is pulled from there first."""
        await self.gate.check_viewable(show_id)
        if node_token is not None:
            return await self._serve_edge(show_id, offer, node_token)
        feed = await self._viewer_feed(show_id)
        if self.viewer_count() >= self.config.viewer_cap:
            raise MediaRejected(
                503,
                "viewer_cap",
                "this node is full; use HLS",
                {"Retry-After": str(self.config.viewer_retry_after)},
            )
        filtered = viewer_offer(offer, feed)
        session = self._new_session(show_id, "viewer")
        session.person = person or person_key(None, None, session.id)
        self._unlinger(show_id)
        return await self._answer(session, feed, filtered)

    async def _answer(self, session: PeerSession, feed: ShowFeed, offer: str) -> tuple[str, str]:
        """Answer a viewer's (or another node's) offer from `feed` and watch the session: its
        id and the answer's SDP; a failed answer closes the session."""
        try:
            await answer_viewer(session, feed, offer)
        except BaseException:
            await self._close_session(session)
            raise
        self._watch(session)
        return session.id, session.pc.localDescription.sdp

    async def _viewer_feed(self, show_id: str) -> ShowFeed:
        """The feed a viewer is served from: the local source's, or a pull of the origin's
        (started, or moved to where the origin record points, and shared by every viewer)."""
        if self.edge is not None and not self._local_source(show_id):
            origin = await self._origin_of(show_id)
            if origin is not None and origin != self.edge.node_url:
                # joins a pull being started; returns at once when one from there is running
                await self._pull_flight.run(show_id, lambda: self._start_pull(show_id, origin))
        feed = self.feeds.get(show_id)
        if feed is None or feed.closed or (feed.video_codec is None and feed.audio_codec is None):
            raise MediaRejected(409, "show_not_live", "the show is not live")
        return feed

    async def _serve_edge(self, show_id: str, offer: str, node_token: str) -> tuple[str, str]:
        """Answer another node's pull: only with a valid node token, only from a source of
        this node's own (an edge never serves a pull, so pulls never chain or loop), and
        outside the viewer cap (one pull serves a whole node of viewers)."""
        if self.edge is None or not verify_node_token(self.edge.key, show_id, node_token):
            raise unauthenticated("not a valid node token")
        feed = self.feeds.get(show_id)
        if (
            not self._local_source(show_id)
            or feed is None
            or (feed.video_codec is None and feed.audio_codec is None)
        ):
            raise MediaRejected(409, "not_origin", "this node does not publish the show")
        filtered = pull_offer(offer, feed)
        answered = await self._answer(self._new_session(show_id, "edge"), feed, filtered)
        log.info("serving show %s to another node", show_id)
        return answered

    async def leave(self, show_id: str, session_id: str) -> None:
        """WHEP DELETE: close one viewer or pull (its secret URL is its authority). 200 once,
        also for a session already closed by its peer, and 404 after."""
        session = self.sessions.get(session_id)
        if session is None or session.show_id != show_id or session.role not in ("viewer", "edge"):
            if self._forget_gone(show_id, session_id, "viewer") or self._forget_gone(
                show_id, session_id, "edge"
            ):
                return
            raise MediaRejected(404, "not_found", "no such session")
        await self._close_session(session)
        self._forget_gone(show_id, session_id, session.role)

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
        for listener in self.listeners:
            listener.feed_started(feed)
        await self.gate.mark_live(show_id, int(time.time() * 1000))
        await self._claim_origin(show_id)

    async def stop_synthetic(self, show_id: str) -> None:
        """Stop the synthetic source: the show pauses, like a publisher leaving."""
        producer = self._synthetic.pop(show_id, None)
        if producer is None:
            return
        await producer.stop()
        await self._release_origin(show_id)
        feed = self.feeds.get(show_id)
        if feed is not None:
            for listener in self.listeners:
                listener.feed_paused(feed)
        if not self._closing:
            await self.gate.mark_paused(show_id, feed.last_packet_ms if feed else None)

    # -- origin records and edge pulls ---------------------------------------------------------
    def _local_source(self, show_id: str) -> bool:
        """Whether the show's media enters on this node (it is the show's origin)."""
        return show_id in self._publishers or show_id in self._synthetic

    def start(self) -> None:
        """Start keeping this node's origin records fresh and its pulls pointed at the origin
        (nothing to do without edge links)."""
        if self.edge is not None:
            self._spawn(self._origin_loop(), "origins")

    async def _origin_of(self, show_id: str) -> str | None:
        """The show's origin as recorded; None when unknown or the records are unreachable
        (a Redis outage leaves each node serving what it has)."""
        assert self.edge is not None
        try:
            return await self.edge.origins.origin(show_id)
        except Exception:
            log.warning("origin record of show %s unreadable", show_id)
            return None

    async def _claim_origin(self, show_id: str) -> None:
        """Record this node as the show's origin (replacing any other) and tell the others."""
        if self.edge is None:
            return
        try:
            await self.edge.origins.claim(show_id, self.edge.node_url, self.edge.origin_ttl_seconds)
            if self.edge.announce is not None:
                await self.edge.announce(show_id, self.edge.node_url)
        except Exception:
            log.warning("could not record this node as origin of show %s", show_id)

    async def _release_origin(self, show_id: str) -> None:
        """The local source left: drop the record if it is still ours."""
        if self.edge is None:
            return
        try:
            await self.edge.origins.release(show_id, self.edge.node_url)
        except Exception:
            log.warning("could not release the origin record of show %s", show_id)

    async def _start_pull(self, show_id: str, origin_url: str) -> None:
        """Pull the show from ``origin_url`` into the local feed (replacing a pull from
        elsewhere); the viewers already on the feed keep their tracks."""
        assert self.edge is not None
        current = self._pulls.get(show_id)
        if current is not None:
            if current[1] == origin_url:
                return
            await self._close_session(current[0], pause=False)
        if self._local_source(show_id) or self._closing:
            return
        session = self._new_session(show_id, "pull")
        self._pulls[show_id] = (session, origin_url)
        try:
            media = await open_pull(session, self.edge, origin_url, lambda: self._feed(show_id))
            if session.closed:  # a publisher landed here meanwhile, or the node is closing
                raise MediaRejected(409, "show_not_live", "the show moved")
        except BaseException:
            await self._close_session(session, pause=False)
            self._drop_unused_feed(show_id)
            raise
        self.pulls_started += 1
        receiver = media.video_receiver

        def ask_keyframe() -> None:
            if receiver is not None and not session.closed:
                self._spawn(request_publisher_keyframe(receiver), "pli")

        await self._attach(self._feed(show_id), media.video, media.audio, ask_keyframe, False)
        self._watch(session)
        log.info("pulling show %s from its origin", show_id)

    async def _pull_closed(self, session: PeerSession, follow: bool) -> None:
        """A pull ended: detach it, end its session on the origin, and (``follow``) pull
        again from wherever the origin is now if viewers are still here."""
        assert self.edge is not None
        show_id = session.show_id
        current = self._pulls.get(show_id)
        if current is not None and current[0] is session:
            del self._pulls[show_id]
            feed = self.feeds.get(show_id)
            if feed is not None and not self._local_source(show_id):
                feed.detach_source()
        if session.remote_url is not None:
            await self.edge.client.leave(session.remote_url)
        if follow and not self._closing:
            self._spawn(self._follow_origin(show_id), "follow")

    def _linger(self, show_id: str) -> None:
        """The last local viewer of a pulled show left: stop the pull unless one comes back."""
        if self.edge is None or show_id in self._lingers:
            return
        self._lingers[show_id] = asyncio.get_running_loop().call_later(
            self.edge.linger_seconds, lambda: self._spawn(self._end_pull(show_id), "linger")
        )

    def _unlinger(self, show_id: str) -> None:
        handle = self._lingers.pop(show_id, None)
        if handle is not None:
            handle.cancel()

    async def _end_pull(self, show_id: str) -> None:
        """The linger is over: stop the pull if still nobody watches (the feed stays, empty,
        until a viewer comes back and it is pulled again, or the show ends)."""
        self._lingers.pop(show_id, None)
        current = self._pulls.get(show_id)
        if current is not None and self.viewer_count(show_id) == 0:
            log.info("no viewer left of show %s; ending its pull", show_id)
            await self._close_session(current[0], pause=False)

    async def _follow_origin(self, show_id: str, origin: str | None = None) -> None:
        """Keep the local viewers of a show published elsewhere on a pull of its origin."""
        if self.edge is None or self._closing or self._local_source(show_id):
            return
        feed = self.feeds.get(show_id)
        if feed is None or feed.closed or self.viewer_count(show_id) == 0:
            return
        origin = origin or await self._origin_of(show_id)
        current = self._pulls.get(show_id)
        if origin is None or origin == self.edge.node_url:
            return
        if current is not None and current[1] == origin:
            return
        try:
            await self._pull_flight.run(show_id, lambda: self._start_pull(show_id, origin))
        except MediaRejected as exc:
            log.info("could not pull show %s from its origin: %s", show_id, exc.code)

    def origin_announced(self, show_id: str, node_url: str) -> None:
        """Another node says it became the show's origin (the bus); handled in the background,
        as a bus handler must not wait on a pull."""
        if self.edge is not None and node_url != self.edge.node_url and not self._closing:
            self._spawn(self._origin_moved(show_id, node_url), "origin")

    async def _origin_moved(self, show_id: str, node_url: str) -> None:
        """Another node became the show's origin (its publisher landed there): a publisher or
        synthetic source still here is stale and closes without pausing the show, and the
        viewers here are served from a pull of the new origin."""
        if self.edge is None or node_url == self.edge.node_url:
            return
        session_id = self._publishers.get(show_id)
        if session_id is not None and session_id in self.sessions:
            log.info("publisher of show %s moved to another node", show_id)
            await self._close_session(self.sessions[session_id], pause=False)
        feed = self.feeds.get(show_id)
        if await self.stop_synthetic_now(show_id) and feed is not None:
            for listener in self.listeners:
                listener.feed_paused(feed)
        try:
            await self._follow_origin(show_id, node_url)
        except Exception:
            log.exception("could not follow the origin of show %s", show_id)

    async def _origin_loop(self) -> None:
        """Every third of the record's TTL: refresh the records of the shows published here
        (a record another node took means the publisher moved there), end the pulls nobody
        watches, and point the pulls of the shows published elsewhere at their origin (it may
        have moved or died)."""
        assert self.edge is not None
        edge = self.edge
        while True:
            await asyncio.sleep(edge.origin_ttl_seconds / 3)
            for show_id in [*self._publishers, *self._synthetic]:
                try:
                    held = await edge.origins.refresh(
                        show_id, edge.node_url, edge.origin_ttl_seconds
                    )
                    moved_to = None if held else await edge.origins.origin(show_id)
                except Exception:
                    log.warning("could not refresh the origin record of show %s", show_id)
                    continue
                if moved_to is not None:
                    await self._origin_moved(show_id, moved_to)
            for show_id in list(self._pulls):
                if self.viewer_count(show_id) == 0:  # e.g. its only viewer was refused (cap)
                    self._linger(show_id)
            for show_id in list(self.feeds):
                try:
                    await self._follow_origin(show_id)
                except Exception:  # one show's failed pull must not stop the others' care
                    log.exception("could not follow the origin of show %s", show_id)

    # -- lifecycle --------------------------------------------------------------------------------
    async def paused_elsewhere(self, show_id: str) -> None:
        """Another node paused a show whose media still flows here (its start-up reconcile
        cannot know which shows other nodes carry): put it back on air."""
        feed = self.feeds.get(show_id)
        on_air = show_id in self._synthetic or show_id in self._publishers
        if not on_air or feed is None or feed.last_packet_ms is None:
            return
        if time.time() * 1000 - feed.last_packet_ms < self.config.publisher_stall_seconds * 1000:
            await self.gate.mark_live(show_id, int(time.time() * 1000))

    async def end_show(self, show_id: str) -> None:
        """The show has ended (announced by the lifecycle): close its publisher, viewers and
        feed, and let the packager finish the replay. Safe to call twice or for another node's
        show."""
        self._unlinger(show_id)
        await self.stop_synthetic_now(show_id)
        for session in [s for s in self.sessions.values() if s.show_id == show_id]:
            await self._close_session(session, pause=False)
        feed = self.feeds.pop(show_id, None)
        if feed is not None:
            feed.close()
            for listener in self.listeners:
                await listener.feed_ended(feed)

    async def stop_synthetic_now(self, show_id: str) -> bool:
        """Stop a synthetic producer without pausing the show; True if one was running."""
        producer = self._synthetic.pop(show_id, None)
        if producer is None:
            return False
        await producer.stop()
        await self._release_origin(show_id)
        return True

    async def close(self) -> None:
        """App shutdown: pause the shows published here (their publishers must come back to
        another node or this one restarted), then close every peer connection, producer and
        background task."""
        for show_id in [*self._publishers, *self._synthetic]:
            feed = self.feeds.get(show_id)
            try:
                await self.gate.mark_paused(show_id, feed.last_packet_ms if feed else None)
            except Exception:
                log.exception("could not pause show %s on shutdown", show_id)
        self._closing = True
        for show_id in list(self._lingers):
            self._unlinger(show_id)
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
