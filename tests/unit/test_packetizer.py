"""Shared packetization: aiortc internals it relies on, payload fidelity, slow viewers."""

from __future__ import annotations

import asyncio
import inspect
from importlib.metadata import version
from typing import TYPE_CHECKING

from aiortc import RTCPeerConnection, RTCRtpSender
from aiortc.codecs.h264 import H264Encoder
from aiortc.rtcdtlstransport import RTCDtlsTransport

from livecommerce.broadcast.encoder import make_h264_encoder
from livecommerce.broadcast.packetizer import INTERNALS, RtpFrame, SharedRtpSender
from livecommerce.broadcast.relay import VIDEO_QUEUE, FeedCodec, ShowFeed
from livecommerce.broadcast.synthetic import SyntheticSource

if TYPE_CHECKING:
    from livecommerce.broadcast.relay import EncodedPacket

H264 = FeedCodec("video/H264")


def _encoded(count: int) -> list[EncodedPacket]:
    """Real libx264 packets of the stamped test pattern (the first one a keyframe)."""
    source = SyntheticSource(320, 240, 30)
    encoder = make_h264_encoder(320, 240, 30, 500_000)
    packets = [p for n in range(count) for p in encoder.encode(source.video_frame(n))]
    return packets + list(encoder.encode(None))


async def test_aiortc_internals_relied_on_are_still_there() -> None:
    """If an aiortc upgrade moves what SharedRtpSender overrides or reads, this fails loudly."""
    assert version("aiortc").startswith("1.16.")
    pc = RTCPeerConnection()
    try:
        sender = pc.addTransceiver("video").sender
        missing = [n for n in INTERNALS if not hasattr(sender, f"_RTCRtpSender__{n}")]
        assert [] == missing
        assert ["self", "codec"] == list(inspect.signature(RTCRtpSender._run_rtp).parameters)
        assert ["self", "sequence_number"] == list(
            inspect.signature(RTCRtpSender._retransmit).parameters
        )
        assert "self._run_rtp(" in inspect.getsource(RTCRtpSender.send)
        assert "self._retransmit(" in inspect.getsource(RTCRtpSender._handle_rtcp_packet)
        assert ["self", "data"] == list(inspect.signature(RTCDtlsTransport._send_rtp).parameters)
        adopted = SharedRtpSender.adopt(sender)
        assert adopted is sender
        assert isinstance(sender, RTCRtpSender)
    finally:
        await pc.close()


async def test_shared_payloads_are_aiortcs_own_packetization() -> None:
    """Every viewer gets the payloads a per-viewer aiortc H.264 sender would have made."""
    feed = ShowFeed("s")
    feed.attach_source(H264, None, lambda: None)
    a, b = feed.subscribe("video"), feed.subscribe("video")
    packets = _encoded(10)
    for packet in packets:
        feed.publish(packet, "video")
    expected = [H264Encoder().pack(p) for p in packets]  # after publish made pts monotonic
    got_a = [await asyncio.wait_for(a.recv(), 1) for _ in packets]
    got_b = [await asyncio.wait_for(b.recv(), 1) for _ in packets]
    assert all(isinstance(f, RtpFrame) for f in got_a)
    assert all(x is y for x, y in zip(got_a, got_b, strict=True))  # made once, shared
    assert expected == [(list(f.payloads), f.timestamp) for f in got_a if isinstance(f, RtpFrame)]
    assert [True, False] == [got_a[0].is_keyframe, got_a[1].is_keyframe]
    feed.close()


async def test_stalled_viewer_is_regated_while_others_get_every_frame() -> None:
    """A viewer not reading is flushed and restarts on a keyframe; a reader loses nothing."""
    feed = ShowFeed("s", keyframe_interval=0.0)
    requests: list[int] = []
    feed.attach_source(H264, None, lambda: requests.append(1))
    stalled, reading = feed.subscribe("video"), feed.subscribe("video")
    packets = _encoded(VIDEO_QUEUE + 10)
    received = []
    for packet in packets:
        feed.publish(packet, "video")
        received.append(await asyncio.wait_for(reading.recv(), 1))
    assert len(packets) == len(received)
    assert feed.stats.viewer_drops >= VIDEO_QUEUE - 1
    assert requests  # the stalled viewer asked the source for a keyframe
    key = _encoded(1)[0]
    feed.publish(key, "video")
    first = await asyncio.wait_for(stalled.recv(), 1)
    assert isinstance(first, RtpFrame)
    assert first.is_keyframe
    feed.close()
