"""Synthetic source: stamps survive encoding and scaling, audio frames are Opus-sized."""

from __future__ import annotations

import fractions

import av

from livecommerce.broadcast.synthetic import (
    AUDIO_SAMPLES,
    Stamp,
    SyntheticSource,
    read_stamp,
)


def test_stamp_reads_back_from_raw_frame() -> None:
    """The counter and capture time drawn into a frame are read back exactly."""
    source = SyntheticSource(640, 368)
    frame = source.video_frame(123_456, capture_ms=1_795_000_000_123)
    assert Stamp(123_456, 1_795_000_000_123) == read_stamp(frame)


def test_stamp_survives_h264_and_downscale() -> None:
    """After libx264 encode/decode and a scale to 360p every frame still yields its stamp."""
    source = SyntheticSource(1280, 720)
    encoder = av.CodecContext.create("libx264", "w")
    encoder.width, encoder.height, encoder.pix_fmt = 1280, 720, "yuv420p"
    encoder.time_base = fractions.Fraction(1, 90_000)
    encoder.framerate = fractions.Fraction(30)
    encoder.bit_rate = 1_000_000
    encoder.options = {"preset": "ultrafast", "tune": "zerolatency"}
    decoder = av.CodecContext.create("h264", "r")
    packets = []
    for i in range(10):
        packets += encoder.encode(source.video_frame(i, capture_ms=1000 + i))
    packets += encoder.encode(None)
    decoded = [f for p in packets for f in decoder.decode(p)]
    assert [Stamp(i, 1000 + i) for i in range(10)] == [read_stamp(f) for f in decoded]
    small = decoded[3].reformat(width=640, height=360)
    assert Stamp(3, 1003) == read_stamp(small)


def test_plain_picture_has_no_stamp() -> None:
    """A frame without the strip is not mistaken for a stamped one."""
    frame = av.VideoFrame(320, 240, "yuv420p")
    for plane in frame.planes:
        plane.update(bytes(plane.buffer_size))
    assert read_stamp(frame) is None


def test_audio_frames_are_20ms_stereo_48k() -> None:
    """Tone frames are 960 stereo samples at 48 kHz with contiguous pts (what Opus encodes)."""
    source = SyntheticSource(640, 368)
    first, second = source.audio_frame(0), source.audio_frame(1)
    assert (first.samples, first.sample_rate, len(first.layout.channels)) == (
        AUDIO_SAMPLES,
        48_000,
        2,
    )
    assert (second.pts or 0) - (first.pts or 0) == AUDIO_SAMPLES
