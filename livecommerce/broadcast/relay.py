"""Encode-once fan-out: one :class:`ShowFeed` per live show, one :class:`FeedTrack` per viewer.

The feed holds no decoder and no encoder. Whatever produces the show's media (pass-through WHIP
ingest, or the single synthetic encoder) publishes *encoded* ``av.Packet``s into it. With shared
packetization (the default) the feed splits each packet into RTP payloads once
(:mod:`livecommerce.broadcast.packetizer`) and every viewer track hands that same
:class:`~livecommerce.broadcast.packetizer.RtpFrame` to its
:class:`~livecommerce.broadcast.packetizer.SharedRtpSender`, which only writes its own headers and
protects them with SRTP. Without it (``shared_packetization=False``, kept as the benchmark's
baseline) each viewer's aiortc sender packetizes the shared ``av.Packet`` itself. Either way a
viewer never costs an encoder (aiortc's ``MediaRelay`` shares decoded frames, encodes per viewer).

Pass-through needs keyframes on demand: a video track starts gated (dropping packets until the
next keyframe) and asks the feed for one at its first ``recv()`` (the sender only starts reading
once DTLS is up, so asking earlier would start the viewer a GOP behind); a viewer's PLI/FIR is
routed here too. The feed rate-limits requests to one per ``keyframe_interval`` seconds and
defers, never loses, a request that arrives inside the window.

Queues are bounded and drop: a video viewer that falls behind is flushed and re-gated on the next
keyframe (a clean picture beats a growing delay); audio drops its oldest packet.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import av
from aiortc import MediaStreamTrack
from aiortc.mediastreams import MediaStreamError

from livecommerce.broadcast.packetizer import RtpFrame, SharedPacketizer

if TYPE_CHECKING:
    from av.stream import Stream

    EncodedPacket = av.Packet[Stream]
    #: What a viewer track carries: a shared RTP frame, or the packet itself (baseline mode).
    ViewerItem = RtpFrame | EncodedPacket

__all__ = ["FeedCodec", "FeedStats", "FeedTrack", "ShowFeed"]

log = logging.getLogger(__name__)

VIDEO_QUEUE = 90  # ~3 s of 30 fps video before a slow viewer is flushed
AUDIO_QUEUE = 100  # ~2 s of 20 ms Opus packets
_VIDEO_STEP = 3000  # one 30 fps frame at 90 kHz
_AUDIO_STEP = 960  # one 20 ms Opus packet at 48 kHz


@dataclass(frozen=True)
class FeedCodec:
    """The codec of one kind of the feed, as negotiated with the publisher (or chosen locally)."""

    mime_type: str  # "video/H264", "video/VP8" or "audio/opus"
    parameters: dict[str, str | int | None] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """Codec name as in SDP rtpmap (``H264``, ``VP8``, ``opus``)."""
        return self.mime_type.split("/", 1)[1]


@dataclass
class FeedStats:
    """Counters a test or the metrics endpoint can read."""

    video_packets: int = 0
    audio_packets: int = 0
    keyframes: int = 0
    keyframe_requests: int = 0  # requests actually passed to the source (after rate limiting)
    viewer_drops: int = 0  # packets dropped from slow viewers' queues


class ShowFeed:
    """Latest encoded packets of one show, fanned out to subscriber tracks without re-encoding."""

    def __init__(
        self, show_id: str, keyframe_interval: float = 1.0, shared_packetization: bool = True
    ) -> None:
        self.show_id = show_id
        #: Packetize once per show (viewers get :class:`RtpFrame`), or per viewer (``av.Packet``).
        self.shared_packetization = shared_packetization
        self._packetizers: dict[str, SharedPacketizer] = {}
        self.video_codec: FeedCodec | None = None
        self.audio_codec: FeedCodec | None = None
        self.stats = FeedStats()
        self._keyframe_interval = keyframe_interval
        self._keyframe_source: Callable[[], None] | None = None
        self._last_keyframe_request = -1e9
        self._deferred: asyncio.TimerHandle | None = None
        self._tracks: dict[str, set[FeedTrack]] = {"video": set(), "audio": set()}
        self._taps: set[Callable[[EncodedPacket, str], None]] = set()
        self._last_pts: dict[str, int] = {}
        self._pts_offset: dict[str, int] = {"video": 0, "audio": 0}
        self._on_flowing: Callable[[int], None] | None = None
        #: Wall-clock time (epoch ms) of the newest packet: where a pause begins.
        self.last_packet_ms: int | None = None
        self.closed = False

    # -- the source side -------------------------------------------------------------------
    def attach_source(
        self,
        video: FeedCodec | None,
        audio: FeedCodec | None,
        request_keyframe: Callable[[], None],
        on_flowing: Callable[[int], None] | None = None,
    ) -> None:
        """Declare what the current source sends and how to ask it for a keyframe.

        ``on_flowing`` is called once, with the wall-clock time, when the source's first packet
        arrives: a show is on air when its media flows, not when its offer was answered.
        """
        self.video_codec, self.audio_codec = video, audio
        self._packetizers.clear()
        if self.shared_packetization:
            for kind, codec in (("video", video), ("audio", audio)):
                if codec is not None:
                    self._packetizers[kind] = SharedPacketizer(codec)
        self._keyframe_source = request_keyframe
        self._on_flowing = on_flowing

    def detach_source(self) -> None:
        """The source went away (publisher reconnects keep the same feed and viewers)."""
        self._keyframe_source = None
        self._on_flowing = None

    def publish(self, packet: EncodedPacket, kind: str) -> None:
        """Hand one encoded packet to every subscriber (called on the event loop).

        Timestamps are made monotonic per kind: a reconnecting publisher starts again at 0,
        and viewers that stayed connected must not see time run backwards.
        """
        pts = (packet.pts or 0) + self._pts_offset[kind]
        last = self._last_pts.get(kind)
        if last is not None and pts <= last:
            step = _VIDEO_STEP if kind == "video" else _AUDIO_STEP
            self._pts_offset[kind] += last + step - pts
            pts = last + step
        self._last_pts[kind] = pts
        packet.pts = packet.dts = pts
        self.last_packet_ms = int(time.time() * 1000)
        if self._on_flowing is not None:
            flowing, self._on_flowing = self._on_flowing, None
            flowing(self.last_packet_ms)
        if kind == "video":
            self.stats.video_packets += 1
            if packet.is_keyframe:
                self.stats.keyframes += 1
        else:
            self.stats.audio_packets += 1
        tracks = self._tracks[kind]
        packetizer = self._packetizers.get(kind)
        item: ViewerItem = packetizer.packetize(packet) if tracks and packetizer else packet
        for track in tracks:
            track.offer(item)
        for tap in self._taps:
            tap(packet, kind)

    # -- keyframes ---------------------------------------------------------------------------
    def request_keyframe(self) -> None:
        """Ask the source for a keyframe, at most once per interval (later asks are deferred)."""
        if self.closed:
            return
        loop = asyncio.get_running_loop()
        now = loop.time()
        due = self._last_keyframe_request + self._keyframe_interval
        if now >= due:
            self._send_keyframe_request(now)
        elif self._deferred is None:
            self._deferred = loop.call_at(due, self._deferred_request)

    def _deferred_request(self) -> None:
        self._deferred = None
        self._send_keyframe_request(asyncio.get_running_loop().time())

    def _send_keyframe_request(self, now: float) -> None:
        self._last_keyframe_request = now
        if self._keyframe_source is not None:
            self.stats.keyframe_requests += 1
            try:
                self._keyframe_source()
            except Exception:  # a source going away mid-request must not break viewers
                log.exception("keyframe request failed for show %s", self.show_id)

    # -- the viewer side -----------------------------------------------------------------------
    def subscribe(self, kind: str) -> FeedTrack:
        """A new track for one viewer's sender; it ends when the feed closes or it is stopped."""
        track = FeedTrack(self, kind)
        self._tracks[kind].add(track)
        return track

    def unsubscribe(self, track: FeedTrack) -> None:
        """Forget a track (called by the track when it stops)."""
        self._tracks[track.kind].discard(track)

    def add_tap(self, tap: Callable[[EncodedPacket, str], None]) -> None:
        """Register a synchronous consumer of every packet (the HLS packager's bounded queue)."""
        self._taps.add(tap)

    def remove_tap(self, tap: Callable[[EncodedPacket, str], None]) -> None:
        """Unregister a tap."""
        self._taps.discard(tap)

    @property
    def viewer_tracks(self) -> int:
        """Number of live subscriber tracks (two per audio+video viewer)."""
        return sum(len(tracks) for tracks in self._tracks.values())

    def close(self) -> None:
        """End every subscriber track and cancel pending keyframe requests."""
        self.closed = True
        if self._deferred is not None:
            self._deferred.cancel()
            self._deferred = None
        for track in [t for tracks in self._tracks.values() for t in tracks]:
            track.stop()
        self._taps.clear()


class FeedTrack(MediaStreamTrack):
    """One viewer's view of a feed: ``recv()`` returns shared RTP frames or encoded packets."""

    def __init__(self, feed: ShowFeed, kind: str) -> None:
        super().__init__()
        self.kind = kind
        self._feed = feed
        self._queue: asyncio.Queue[ViewerItem | None] = asyncio.Queue(
            VIDEO_QUEUE if kind == "video" else AUDIO_QUEUE
        )
        self._gated = kind == "video"  # video waits for a keyframe before the first packet
        self._asked = False
        self.delivered = 0

    def offer(self, packet: ViewerItem) -> None:
        """Queue a packet for this viewer, dropping instead of growing when the viewer lags."""
        if self.readyState != "live":
            return
        if self._gated:
            if not packet.is_keyframe:
                return
            self._gated = False
        if self._queue.full():
            if self.kind == "video":
                # Flush and wait for the next keyframe: decoding resumes cleanly there.
                self._feed.stats.viewer_drops += self._queue.qsize()
                while not self._queue.empty():
                    self._queue.get_nowait()
                self._gated = True
                self._feed.request_keyframe()
                return
            self._queue.get_nowait()
            self._feed.stats.viewer_drops += 1
        self._queue.put_nowait(packet)

    def request_keyframe(self) -> None:
        """The viewer lost a picture (PLI/FIR): ask the one source, not a per-viewer encoder."""
        self._feed.request_keyframe()

    async def recv(self) -> ViewerItem:  # type: ignore[override]  # RtpFrame: SharedRtpSender
        """The next shared RTP frame (its sender writes headers) or packet (its sender packs it)."""
        if self.readyState != "live":
            raise MediaStreamError
        if not self._asked and self.kind == "video":
            self._asked = True
            self._feed.request_keyframe()
        packet = await self._queue.get()
        if packet is None:
            raise MediaStreamError
        self.delivered += 1
        return packet

    def stop(self) -> None:
        """Stop the track, wake a pending ``recv()`` and leave the feed."""
        if self.readyState == "live":
            self._feed.unsubscribe(self)
            while not self._queue.empty():
                self._queue.get_nowait()
            self._queue.put_nowait(None)
        super().stop()
