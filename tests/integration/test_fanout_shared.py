"""Shared packetization end to end: real aiortc viewers of one synthetic show over loopback.

One viewer decodes (the shared RTP payloads are valid H.264 and Opus); pass-through viewers
compare the frames they re-assemble byte for byte, one joins mid-stream, one stalls, and one has
a packet dropped on its socket so its receiver's real NACK must be answered by retransmission.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

import av
from aiortc import MediaStreamTrack, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError

from livecommerce.broadcast.config import BroadcastConfig
from livecommerce.broadcast.ice import create_peer_connection
from livecommerce.broadcast.ingest import mark_passthrough
from livecommerce.broadcast.manager import BroadcastManager
from livecommerce.broadcast.packetizer import SharedRtpSender
from livecommerce.broadcast.synthetic import SyntheticSource
from tests.support.media import LOOPBACK, FakeShowGate, Viewer

if TYPE_CHECKING:
    from livecommerce.broadcast.relay import EncodedPacket

SHOW = "shw_shared"


@contextlib.asynccontextmanager
async def _show() -> AsyncIterator[BroadcastManager]:
    """A manager broadcasting a small synthetic show (shared packetization is the default)."""
    manager = BroadcastManager(FakeShowGate({SHOW: "key"}), LOOPBACK, BroadcastConfig())
    try:
        await manager.start_synthetic(SHOW, SyntheticSource(320, 240, 30))
        yield manager
    finally:
        await manager.close()


async def _play(manager: BroadcastManager, offer: str) -> str:
    return (await manager.play(SHOW, offer))[1]


class PacketViewer:
    """A WHEP viewer whose video track yields the re-assembled encoded frames (no decoding)."""

    def __init__(self) -> None:
        self.pc = create_peer_connection(LOOPBACK)
        self.pc.addTransceiver("video", direction="recvonly")
        self.frames: list[EncodedPacket] = []
        self._task: asyncio.Task[None] | None = None

        @self.pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            mark_passthrough(track)
            self._task = asyncio.create_task(self._read(track))

    async def _read(self, track: MediaStreamTrack) -> None:
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            assert isinstance(frame, av.Packet)
            self.frames.append(frame)

    async def connect(self, manager: BroadcastManager) -> None:
        await self.pc.setLocalDescription(await self.pc.createOffer())
        answer = await _play(manager, self.pc.localDescription.sdp)
        await self.pc.setRemoteDescription(RTCSessionDescription(answer, "answer"))

    def on_datagrams(self, handler: Callable[[bytes], bool]) -> None:
        """Route the connected socket's RTP/RTCP through ``handler`` (False = drop it)."""
        dtls = self.pc.getTransceivers()[0].receiver.transport
        protocol = dtls.transport._connection._nominated[1].protocol
        original = protocol.datagram_received

        def datagram_received(data: bytes | str, addr: tuple[Any, ...]) -> None:
            if isinstance(data, str) or not 127 < data[0] < 192 or handler(data):
                original(data, addr)

        protocol.datagram_received = datagram_received  # type: ignore[method-assign]

    async def wait(self, predicate: Callable[[], bool], within: float = 15.0) -> None:
        async def poll() -> None:
            while not predicate():  # noqa: ASYNC110  # why: polling plain test state
                await asyncio.sleep(0.02)

        await asyncio.wait_for(poll(), within)

    async def close(self) -> None:
        await self.pc.close()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


def _viewer_senders(manager: BroadcastManager) -> list[Any]:
    return [
        sender
        for session in manager.sessions.values()
        if session.role == "viewer"
        for sender in session.pc.getSenders()
    ]


async def test_viewers_get_the_same_decodable_frames_and_join_on_a_keyframe() -> None:
    """All viewers get one packetization (decodable H.264 + Opus); a late joiner starts on a
    keyframe with the first viewer's very bytes, while a stalled viewer holds nobody back."""
    async with _show() as manager:
        decoding = Viewer()
        await decoding.connect(lambda offer: _play(manager, offer))
        first, stalled = PacketViewer(), PacketViewer()
        await first.connect(manager)
        await stalled.connect(manager)
        await first.wait(lambda: len(first.frames) >= 10)
        await stalled.wait(lambda: len(stalled.frames) >= 1)
        stalled.on_datagrams(lambda data: False)  # from here on it gets nothing
        stalled_at = len(stalled.frames)
        late = PacketViewer()
        await late.connect(manager)
        await late.wait(lambda: len(late.frames) >= 30)
        await decoding.wait_frames(30, within=20)

        assert late.frames[0].is_keyframe
        first_bytes = [bytes(p) for p in first.frames]
        late_bytes = [bytes(p) for p in late.frames]
        start = first_bytes.index(late_bytes[0])
        shared = min(len(late_bytes), len(first_bytes) - start)
        assert shared >= 20
        assert first_bytes[start : start + shared] == late_bytes[:shared]
        counters = [stamp.counter for stamp in decoding.stamps]
        assert sorted(counters) == counters
        assert counters[-1] - counters[0] >= 20
        assert decoding.audio_frames > 0
        assert stalled_at == len(stalled.frames)
        senders = _viewer_senders(manager)
        assert 5 == len(senders)  # decoding viewer: video + audio; three video-only viewers
        assert all(isinstance(sender, SharedRtpSender) for sender in senders)
        for viewer in (decoding, first, stalled, late):
            await viewer.close()


async def test_a_nacked_packet_is_retransmitted_over_rtx() -> None:
    """A packet dropped on a viewer's socket is NACKed by its aiortc receiver and resent as RTX:
    that viewer still gets every frame another viewer got, byte for byte."""
    async with _show() as manager:
        reference, lossy = PacketViewer(), PacketViewer()
        await reference.connect(manager)
        await lossy.connect(manager)
        await lossy.wait(lambda: len(lossy.frames) >= 5)
        sender = _viewer_senders(manager)[1]
        rtx_ssrc = sender._rtx_ssrc
        seen, dropped, retransmitted = [0], [0], [0]

        def drop_one(data: bytes) -> bool:
            if 192 <= data[1] <= 208:  # RTCP
                return True
            if int.from_bytes(data[8:12], "big") == rtx_ssrc:
                retransmitted[0] += 1
                return True
            seen[0] += 1
            if not dropped[0] and seen[0] >= 20 and not data[1] & 0x80:  # inside a frame
                dropped[0] = 1
                return False
            return True

        lossy.on_datagrams(drop_one)
        after = len(lossy.frames) + 30
        await lossy.wait(lambda: len(lossy.frames) >= after and len(reference.frames) >= after)
        assert [1, 1] == [dropped[0], retransmitted[0]]
        reference_bytes = [bytes(p) for p in reference.frames]
        lossy_bytes = [bytes(p) for p in lossy.frames]
        start = reference_bytes.index(lossy_bytes[0])
        shared = min(len(lossy_bytes), len(reference_bytes) - start)
        assert shared >= after - 5
        assert reference_bytes[start : start + shared] == lossy_bytes[:shared]
        await reference.close()
        await lossy.close()
