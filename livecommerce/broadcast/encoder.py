"""The one encoder of a synthetic show: stamped frames in, shared H.264 + Opus packets out.

Used by the demo show and by tests/benchmarks that need a live feed without a WHIP publisher.
Exactly one libx264 encoder and one Opus encoder run per show, in a dedicated worker thread
(PyAV releases the GIL while encoding), whatever the number of viewers. A frame that is due
while the previous one is still encoding is dropped, never queued, so a slow machine lowers the
frame rate instead of growing latency. Keyframe requests from the feed mark the next frame as
an I-frame.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import fractions
import logging
from typing import TYPE_CHECKING

import av
from av.video.frame import PictureType

from livecommerce.broadcast.relay import FeedCodec, ShowFeed
from livecommerce.broadcast.synthetic import AUDIO_RATE, AUDIO_SAMPLES, SyntheticSource

if TYPE_CHECKING:
    from livecommerce.broadcast.relay import EncodedPacket

__all__ = ["H264_BASELINE", "OPUS", "SyntheticShowSource", "make_h264_encoder"]

log = logging.getLogger(__name__)

# Constrained baseline, packetization-mode 1: what every browser (and Safari/iOS) can decode.
H264_BASELINE = FeedCodec(
    "video/H264",
    {"level-asymmetry-allowed": "1", "packetization-mode": "1", "profile-level-id": "42e01f"},
)
OPUS = FeedCodec("audio/opus", {})


def make_h264_encoder(
    width: int, height: int, fps: int, bitrate: int, gop_seconds: float = 1.0
) -> av.VideoCodecContext:
    """libx264 for live use: constrained baseline, zero latency, no B-frames, fixed GOP (1 s:
    a keyframe per HLS segment at the default segment length, or every other at 2 s)."""
    encoder = av.CodecContext.create("libx264", "w")
    assert isinstance(encoder, av.VideoCodecContext)
    encoder.width, encoder.height, encoder.pix_fmt = width, height, "yuv420p"
    encoder.time_base = fractions.Fraction(1, 90_000)
    encoder.framerate = fractions.Fraction(fps)
    encoder.bit_rate = bitrate
    encoder.options = {
        "preset": "ultrafast",
        "tune": "zerolatency",
        "profile": "baseline",
        "level": "3.1",
        "g": str(max(1, int(fps * gop_seconds))),
        "x264-params": "repeat-headers=1:bframes=0",  # SPS/PPS on every IDR for joiners
    }
    return encoder


class SyntheticShowSource:
    """Drives a :class:`ShowFeed` from a :class:`SyntheticSource` through one encoder pair."""

    def __init__(
        self,
        feed: ShowFeed,
        source: SyntheticSource,
        bitrate: int = 2_500_000,
    ) -> None:
        self.feed = feed
        self.source = source
        self._video = make_h264_encoder(source.width, source.height, source.fps, bitrate)
        audio = av.CodecContext.create("libopus", "w")
        assert isinstance(audio, av.AudioCodecContext)
        audio.sample_rate = AUDIO_RATE
        audio.layout = "stereo"
        audio.format = "s16"
        audio.time_base = fractions.Fraction(1, AUDIO_RATE)
        audio.bit_rate = 64_000
        self._audio = audio
        self._force_keyframe = False
        self._executor = concurrent.futures.ThreadPoolExecutor(1, f"encode-{feed.show_id}")
        self._task: asyncio.Task[None] | None = None
        self.frames_dropped = 0

    def start(self) -> None:
        """Attach to the feed and start producing in real time."""
        self.feed.attach_source(H264_BASELINE, OPUS, self._request_keyframe)
        self._task = asyncio.create_task(self._run(), name=f"synthetic-{self.feed.show_id}")

    def _request_keyframe(self) -> None:
        self._force_keyframe = True

    def _encode_video(self, counter: int) -> list[EncodedPacket]:
        frame = self.source.video_frame(counter)
        if self._force_keyframe:
            self._force_keyframe = False
            frame.pict_type = PictureType.I
        return list(self._video.encode(frame))

    def _encode_audio(self, index: int) -> list[EncodedPacket]:
        packets = list(self._audio.encode(self.source.audio_frame(index)))
        for packet in packets:
            packet.time_base = fractions.Fraction(1, AUDIO_RATE)
        return packets

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        start = loop.time()
        frame_period = 1 / self.source.fps
        audio_period = AUDIO_SAMPLES / AUDIO_RATE
        counter = audio_index = 0
        pending: asyncio.Future[list[EncodedPacket]] | None = None
        while True:
            now = loop.time()
            # Audio first: 20 ms packets are small and a gap is audible.
            while start + audio_index * audio_period <= now:
                for packet in await loop.run_in_executor(
                    self._executor, self._encode_audio, audio_index
                ):
                    self.feed.publish(packet, "audio")
                audio_index += 1
            if start + counter * frame_period <= now:
                if pending is not None and not pending.done():
                    self.frames_dropped += 1
                else:
                    pending = loop.run_in_executor(self._executor, self._encode_video, counter)
                    pending.add_done_callback(self._publish_video)
                counter += 1
            next_due = min(start + counter * frame_period, start + audio_index * audio_period)
            await asyncio.sleep(max(0.0, next_due - loop.time()))

    def _publish_video(self, future: asyncio.Future[list[EncodedPacket]]) -> None:
        if future.cancelled() or future.exception() is not None:
            if not future.cancelled():
                log.error("synthetic encode failed", exc_info=future.exception())
            return
        for packet in future.result():
            self.feed.publish(packet, "video")

    async def stop(self) -> None:
        """Stop producing and release the encoder thread."""
        self.feed.detach_source()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._executor.shutdown(wait=True)
