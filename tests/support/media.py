"""Media makers for tests and benchmarks: WHIP publishers and WHEP viewers built on aiortc.

Everything here runs on loopback only: peers come from the same ICE helper as the server
(explicit empty ICE server list, addresses given by the caller).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import av
from aiortc import MediaStreamTrack, RTCRtpSender, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError

from livecommerce.broadcast.errors import not_found, unauthenticated
from livecommerce.broadcast.ice import IcePolicy, ScopedPeerConnection, create_peer_connection
from livecommerce.broadcast.synthetic import (
    Stamp,
    SyntheticAudioTrack,
    SyntheticSource,
    SyntheticVideoTrack,
    read_stamp,
)

__all__ = [
    "LOOPBACK",
    "FakeShowGate",
    "Publisher",
    "Viewer",
]

LOOPBACK = IcePolicy(host_addresses=("127.0.0.1",))

# Signalling: takes an offer SDP, returns the answer SDP (HTTP in integration tests).
Signal = Callable[[str], Awaitable[str]]


@dataclass
class FakeShowGate:
    """In-memory stand-in for the show service: known shows, their keys and status history."""

    keys: dict[str, str] = field(default_factory=dict)
    history: list[tuple[str, str]] = field(default_factory=list)

    async def check_publisher(self, show_id: str, stream_key: str) -> None:
        """404 unknown show, 401 wrong key."""
        if show_id not in self.keys:
            raise not_found()
        if self.keys[show_id] != stream_key:
            raise unauthenticated()

    async def check_viewable(self, show_id: str) -> None:
        """404 unknown show."""
        if show_id not in self.keys:
            raise not_found()

    async def check_stream_key(self, show_id: str, stream_key: str) -> None:
        """404 unknown show, 401 wrong key."""
        await self.check_publisher(show_id, stream_key)

    async def mark_live(self, show_id: str, at_ms: int) -> None:
        """Record the transition."""
        self.history.append((show_id, "live"))

    async def mark_paused(self, show_id: str, at_ms: int | None) -> None:
        """Record the transition."""
        self.history.append((show_id, "paused"))


def _prefer(pc: ScopedPeerConnection, kind: str, mime: str) -> None:
    caps = RTCRtpSender.getCapabilities(kind)
    wanted = [c for c in caps.codecs if c.mimeType.lower() == mime.lower()]
    for transceiver in pc.getTransceivers():
        if transceiver.kind == kind:
            transceiver.setCodecPreferences(wanted)


class Publisher:
    """An aiortc WHIP client sending the stamped synthetic source (encoded by aiortc)."""

    def __init__(
        self,
        source: SyntheticSource,
        video_mime: str = "video/H264",
        policy: IcePolicy = LOOPBACK,
        audio: bool = True,
    ) -> None:
        self.pc = create_peer_connection(policy)
        self.pc.addTrack(SyntheticVideoTrack(source))
        if audio:
            self.pc.addTrack(SyntheticAudioTrack(source))
        if video_mime:  # empty = aiortc's own order (VP8 first, like Chrome)
            _prefer(self.pc, "video", video_mime)

    async def offer(self) -> str:
        """Gather and return the complete offer SDP."""
        await self.pc.setLocalDescription(await self.pc.createOffer())
        return str(self.pc.localDescription.sdp)

    async def connect(self, signal: Signal) -> None:
        """Send the offer through ``signal`` and apply the answer."""
        answer = await signal(await self.offer())
        await self.pc.setRemoteDescription(RTCSessionDescription(answer, "answer"))

    async def close(self) -> None:
        """Close the peer connection."""
        await self.pc.close()


class Viewer:
    """An aiortc WHEP client that decodes what it receives and reads the burnt-in stamps."""

    def __init__(self, policy: IcePolicy = LOOPBACK, audio: bool = True) -> None:
        self.pc = create_peer_connection(policy)
        self.pc.addTransceiver("video", direction="recvonly")
        if audio:
            self.pc.addTransceiver("audio", direction="recvonly")
        self.stamps: list[Stamp] = []
        self.receive_ms: list[int] = []
        self.audio_frames = 0
        # when each picture was decoded, stamped or not (a browser's camera is not stamped)
        self.pictures_at: list[float] = []
        self.frame_sizes: set[tuple[int, int]] = set()
        self._tasks: list[asyncio.Task[None]] = []
        self._new_frame = asyncio.Event()

        @self.pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            self._tasks.append(asyncio.create_task(self._read(track)))

    async def _read(self, track: MediaStreamTrack) -> None:
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            if isinstance(frame, av.VideoFrame):
                stamp = read_stamp(frame)
                self.pictures_at.append(time.monotonic())
                self.frame_sizes.add((frame.width, frame.height))
                if stamp is not None:
                    self.stamps.append(stamp)
                    self.receive_ms.append(int(time.time() * 1000))
                    self._new_frame.set()
            else:
                self.audio_frames += 1

    async def offer(self) -> str:
        """Gather and return the complete offer SDP."""
        await self.pc.setLocalDescription(await self.pc.createOffer())
        return str(self.pc.localDescription.sdp)

    async def connect(self, signal: Signal) -> None:
        """Send the offer through ``signal`` and apply the answer."""
        answer = await signal(await self.offer())
        await self.pc.setRemoteDescription(RTCSessionDescription(answer, "answer"))

    async def wait_frames(self, count: int, within: float = 15.0) -> None:
        """Wait until ``count`` stamped frames were decoded (TimeoutError after ``within`` s)."""

        async def enough() -> None:
            while len(self.stamps) < count:
                self._new_frame.clear()
                await self._new_frame.wait()

        await asyncio.wait_for(enough(), within)

    async def close(self) -> None:
        """Close the peer connection and the reader tasks."""
        await self.pc.close()
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, MediaStreamError):
                await task
