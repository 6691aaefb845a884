"""Pass-through ingest: publisher RTP in, re-assembled *encoded* frames out, no decoder.

aiortc's receiver always decodes: its per-receiver thread runs ``decoder_worker``, which it
looks up in ``aiortc.rtcrtpreceiver`` when the receiver starts. We replace that name once with a
dispatcher: receivers whose track was marked by :func:`mark_passthrough` get a worker that turns
each re-assembled frame (the jitter buffer, NACK/RTX and the timestamp unwrapping all stay
aiortc's) into an ``av.Packet`` with pts, time base and the keyframe flag; every other receiver
(for instance a test's WHEP viewer in the same process) keeps aiortc's decoding worker.

:func:`consume_ingest` reads such a track and publishes into the show's :class:`ShowFeed`;
:func:`request_publisher_keyframe` sends the publisher a PLI (RTCP) for the feed's keyframe needs.
"""

from __future__ import annotations

import asyncio
import fractions
import logging
import queue
import threading
from typing import Any

import aiortc.rtcrtpreceiver
import av
from aiortc import MediaStreamTrack, RTCRtpReceiver
from aiortc.mediastreams import MediaStreamError

from livecommerce.broadcast.relay import ShowFeed

__all__ = [
    "consume_ingest",
    "install_passthrough_worker",
    "is_keyframe",
    "mark_passthrough",
    "request_publisher_keyframe",
]

log = logging.getLogger(__name__)

_MARK = "_livecommerce_passthrough"
_VIDEO_TIME_BASE = fractions.Fraction(1, 90_000)
_original_worker = aiortc.rtcrtpreceiver.decoder_worker


def is_keyframe(codec_name: str, data: bytes) -> bool:
    """Whether an encoded frame starts a decodable picture (H.264 IDR/SPS, VP8 key frame)."""
    name = codec_name.lower()
    if name == "vp8":
        return len(data) > 0 and (data[0] & 0x01) == 0
    if name == "h264":
        i = data.find(b"\x00\x00\x01")
        while i != -1 and i + 3 < len(data):
            if data[i + 3] & 0x1F in (5, 7):  # IDR slice or SPS
                return True
            i = data.find(b"\x00\x00\x01", i + 3)
        return False
    return True  # audio: every packet stands alone


def _passthrough_worker(
    loop: asyncio.AbstractEventLoop,
    input_q: queue.Queue[Any],
    output_q: asyncio.Queue[Any],
    decode_error: threading.Event,
) -> None:
    """aiortc decoder-thread replacement that emits encoded packets instead of frames."""
    while True:
        task = input_q.get()
        if task is None:
            asyncio.run_coroutine_threadsafe(output_q.put(None), loop)
            return
        codec, encoded_frame = task
        packet = av.Packet(encoded_frame.data)
        packet.pts = packet.dts = encoded_frame.timestamp
        packet.time_base = (
            _VIDEO_TIME_BASE
            if codec.mimeType.lower().startswith("video/")
            else fractions.Fraction(1, codec.clockRate)
        )
        packet.is_keyframe = is_keyframe(codec.name, encoded_frame.data)
        asyncio.run_coroutine_threadsafe(output_q.put(packet), loop)


def _dispatching_worker(
    loop: asyncio.AbstractEventLoop,
    input_q: queue.Queue[Any],
    output_q: asyncio.Queue[Any],
    decode_error: threading.Event,
) -> None:
    if getattr(output_q, _MARK, False):
        _passthrough_worker(loop, input_q, output_q, decode_error)
    else:
        _original_worker(loop, input_q, output_q, decode_error)


def install_passthrough_worker() -> None:
    """Route aiortc receiver threads through the dispatcher (idempotent)."""
    if aiortc.rtcrtpreceiver.decoder_worker is not _dispatching_worker:
        aiortc.rtcrtpreceiver.decoder_worker = _dispatching_worker


def mark_passthrough(track: MediaStreamTrack) -> None:
    """Make this remote track yield encoded packets (call in ``pc.on("track")``)."""
    install_passthrough_worker()
    setattr(getattr(track, "_queue"), _MARK, True)  # noqa: B009  # why: aiortc internal


async def request_publisher_keyframe(receiver: RTCRtpReceiver) -> None:
    """Send a PLI for the publisher's primary (non-RTX) video SSRC."""
    rtx = set(getattr(receiver, "_RTCRtpReceiver__rtx_ssrc", {}))
    for source in receiver.getSynchronizationSources():
        if source.source not in rtx:
            await receiver._send_rtcp_pli(source.source)
            return


async def consume_ingest(track: MediaStreamTrack, feed: ShowFeed) -> None:
    """Read a pass-through track until it ends, publishing every packet into the feed."""
    kind = track.kind
    while True:
        try:
            data = await track.recv()
        except MediaStreamError:
            return
        if isinstance(data, av.Packet):
            feed.publish(data, kind)
