"""Synthetic source: a moving test pattern with a machine-readable stamp, and a tone.

Owns the picture the demo show broadcasts and every test and benchmark measures with. Each video
frame carries, in a strip at the top, its frame counter and its capture time (Unix ms) as binary
blocks sized relative to the frame (so they survive H.264/VP8 compression and downscaling to the
360p rendition), plus the same values as human-readable digits below the strip. :func:`read_stamp`
recovers them from a *decoded* frame, which is how tests prove that frames advance and how the
latency benchmark computes glass-to-glass delay without any side channel.

Layout (all sizes relative to the frame): the strip spans the full width and ``height // 45``
rows and holds ``STAMP_BITS`` equal blocks: an 8-bit marker, a 28-bit counter and a 44-bit time.
"""

from __future__ import annotations

import asyncio
import fractions
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import av
import numpy as np
from aiortc import MediaStreamTrack
from numpy.typing import NDArray

__all__ = [
    "AUDIO_RATE",
    "AUDIO_SAMPLES",
    "STAMP_BITS",
    "VIDEO_CLOCK_RATE",
    "Stamp",
    "SyntheticAudioTrack",
    "SyntheticSource",
    "SyntheticVideoTrack",
    "read_stamp",
]

VIDEO_CLOCK_RATE = 90_000  # RTP video clock; synthetic frames use it as their time base
AUDIO_RATE = 48_000  # Opus always runs at 48 kHz on the wire
AUDIO_SAMPLES = 960  # 20 ms per audio frame, the Opus packet duration WebRTC expects
STAMP_BITS = 80
_MARKER = 0b10110010
_MARKER_BITS, _COUNTER_BITS, _TIME_BITS = 8, 28, 44
_LOW, _HIGH = 16, 235  # video-range luma for 0 and 1 blocks

Y = NDArray[np.uint8]

# 5x7 bitmap font for the human-readable line: seven rows of five '#'/'.' per glyph.
_FONT_ROWS = {
    "0": (".###.", "#...#", "#..##", "#.#.#", "##..#", "#...#", ".###."),
    "1": ("..#..", ".##..", "..#..", "..#..", "..#..", "..#..", ".###."),
    "2": (".###.", "#...#", "....#", "...#.", "..#..", ".#...", "#####"),
    "3": ("#####", "...#.", "..#..", "...#.", "....#", "#...#", ".###."),
    "4": ("...#.", "..##.", ".#.#.", "#..#.", "#####", "...#.", "...#."),
    "5": ("#####", "#....", "####.", "....#", "....#", "#...#", ".###."),
    "6": ("..##.", ".#...", "#....", "####.", "#...#", "#...#", ".###."),
    "7": ("#####", "....#", "...#.", "..#..", ".#...", ".#...", ".#..."),
    "8": (".###.", "#...#", "#...#", ".###.", "#...#", "#...#", ".###."),
    "9": (".###.", "#...#", "#...#", ".####", "....#", "...#.", ".##.."),
    ":": (".....", "..#..", "..#..", ".....", "..#..", "..#..", "....."),
    ".": (".....", ".....", ".....", ".....", ".....", ".##..", ".##.."),
    "#": (".#.#.", ".#.#.", "#####", ".#.#.", "#####", ".#.#.", ".#.#."),
    " ": (".....",) * 7,
}
_FONT = {
    ch: np.array([[c == "#" for c in row] for row in rows], dtype=bool)
    for ch, rows in _FONT_ROWS.items()
}


@dataclass(frozen=True)
class Stamp:
    """What a frame says about itself: its index and the wall-clock ms it was captured at."""

    counter: int
    capture_ms: int


def _bits_of(counter: int, capture_ms: int) -> list[int]:
    value = (
        (_MARKER << (_COUNTER_BITS + _TIME_BITS))
        | ((counter % (1 << _COUNTER_BITS)) << _TIME_BITS)
        | (capture_ms % (1 << _TIME_BITS))
    )
    return [(value >> (STAMP_BITS - 1 - i)) & 1 for i in range(STAMP_BITS)]


def read_stamp(frame: av.VideoFrame) -> Stamp | None:
    """Recover the stamp from a decoded frame of any size; None if the strip is not there."""
    luma = frame.to_ndarray(format="gray")
    height, width = luma.shape
    strip = max(2, height // 45)
    row = luma[strip // 4 : strip - strip // 4]
    value = 0
    for i in range(STAMP_BITS):
        x0 = (i * width) // STAMP_BITS
        x1 = ((i + 1) * width) // STAMP_BITS
        margin = max(1, (x1 - x0) // 4)
        level = float(row[:, x0 + margin : x1 - margin].mean())
        value = (value << 1) | (1 if level > (_LOW + _HIGH) / 2 else 0)
    if value >> (_COUNTER_BITS + _TIME_BITS) != _MARKER:
        return None
    counter = (value >> _TIME_BITS) & ((1 << _COUNTER_BITS) - 1)
    return Stamp(counter=counter, capture_ms=value & ((1 << _TIME_BITS) - 1))


class SyntheticSource:
    """Renders stamped test-pattern frames and tone frames (no pacing: callers decide when).

    The background (colour bars) is rendered once; per frame only a moving box, the stamp strip
    and the text line are drawn, so a 720p frame costs well under a millisecond of numpy.
    """

    def __init__(
        self,
        width: int = 1280,
        height: int = 720,
        fps: int = 30,
        tone_hz: float = 440.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if width % 16 or height % 16 or width < STAMP_BITS * 4:
            raise ValueError("synthetic size must be multiples of 16 and at least 320 wide")
        self.width, self.height, self.fps = width, height, fps
        self.tone_hz = tone_hz
        self.clock = clock
        self._strip = max(2, height // 45)
        self._scale = max(1, height // 120)
        self._y, self._u, self._v = self._background()

    def _background(self) -> tuple[Y, Y, Y]:
        # Eight video-range YUV colour bars: white yellow cyan green magenta red blue black.
        bars = [
            (235, 128, 128), (210, 16, 146), (170, 166, 16), (145, 54, 34),
            (106, 202, 222), (81, 90, 240), (41, 240, 110), (16, 128, 128),
        ]  # fmt: skip
        y = np.zeros((self.height, self.width), dtype=np.uint8)
        u = np.zeros((self.height // 2, self.width // 2), dtype=np.uint8)
        v = np.zeros_like(u)
        for i, (by, bu, bv) in enumerate(bars):
            x0, x1 = i * self.width // 8, (i + 1) * self.width // 8
            y[:, x0:x1], u[:, x0 // 2 : x1 // 2], v[:, x0 // 2 : x1 // 2] = by, bu, bv
        return y, u, v

    def _draw_text(self, y: Y, text: str, top: int, left: int) -> None:
        s = self._scale
        for n, ch in enumerate(text):
            glyph = _FONT.get(ch, _FONT[" "])
            block = np.kron(glyph, np.ones((s, s), dtype=bool))
            x = left + n * 6 * s
            if x + 5 * s > y.shape[1]:
                break
            area = y[top : top + 7 * s, x : x + 5 * s]
            area[...] = np.where(block, _HIGH, _LOW)

    def video_frame(self, counter: int, capture_ms: int | None = None) -> av.VideoFrame:
        """Frame number ``counter`` stamped with ``capture_ms`` (default: the clock, now)."""
        if capture_ms is None:
            capture_ms = int(self.clock() * 1000)
        y, u, v = self._y.copy(), self._u.copy(), self._v.copy()
        # A box sweeping left to right gives the encoder real motion to code.
        box = self.height // 6
        x = (counter * 8) % (self.width - box)
        top = self.height // 2 - box // 2
        y[top : top + box, x : x + box] = 128
        u[top // 2 : (top + box) // 2, x // 2 : (x + box) // 2] = 64
        v[top // 2 : (top + box) // 2, x // 2 : (x + box) // 2] = 200
        # Machine-readable strip across the top.
        y[: self._strip + self._strip // 2] = _LOW
        u[: (self._strip + self._strip // 2 + 1) // 2] = 128
        v[: (self._strip + self._strip // 2 + 1) // 2] = 128
        for i, bit in enumerate(_bits_of(counter, capture_ms)):
            if bit:
                y[
                    : self._strip,
                    (i * self.width) // STAMP_BITS : ((i + 1) * self.width) // STAMP_BITS,
                ] = _HIGH
        # Human-readable line: UTC wall clock with ms, and the counter.
        secs, ms = divmod(capture_ms, 1000)
        clock_text = time.strftime("%H:%M:%S", time.gmtime(secs)) + f".{ms:03d}"
        text_top = self._strip * 2
        band = slice(text_top - self._scale, text_top + 8 * self._scale)
        y[band] = _LOW
        u[band.start // 2 : band.stop // 2 + 1] = 128
        v[band.start // 2 : band.stop // 2 + 1] = 128
        self._draw_text(y, f"{clock_text} #{counter}", text_top, self._scale * 2)
        planes = np.concatenate([y, u.reshape(-1, self.width), v.reshape(-1, self.width)])
        frame = av.VideoFrame.from_ndarray(planes, format="yuv420p")
        frame.pts = counter * VIDEO_CLOCK_RATE // self.fps
        frame.time_base = fractions.Fraction(1, VIDEO_CLOCK_RATE)
        return frame

    def audio_frame(self, index: int) -> av.AudioFrame:
        """20 ms of stereo s16 tone; a short louder beep starts every second (an A/V sync mark)."""
        start = index * AUDIO_SAMPLES
        t = (start + np.arange(AUDIO_SAMPLES)) / AUDIO_RATE
        beep = (start % AUDIO_RATE) < AUDIO_RATE // 10
        amplitude = 0.5 if beep else 0.1
        wave = (amplitude * 32767 * np.sin(2 * math.pi * self.tone_hz * t)).astype(np.int16)
        stereo = np.repeat(wave, 2).reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(stereo, format="s16", layout="stereo")
        frame.sample_rate = AUDIO_RATE
        frame.pts = start
        frame.time_base = fractions.Fraction(1, AUDIO_RATE)
        return frame


class SyntheticVideoTrack(MediaStreamTrack):
    """Real-time paced video track of :class:`SyntheticSource` frames (for WHIP clients, bench)."""

    kind = "video"

    def __init__(self, source: SyntheticSource) -> None:
        super().__init__()
        self._source = source
        self._counter = 0
        self._start: float | None = None

    async def recv(self) -> av.VideoFrame:
        """The next frame, due at ``start + counter / fps`` on the monotonic clock."""
        loop = asyncio.get_running_loop()
        if self._start is None:
            self._start = loop.time()
        due = self._start + self._counter / self._source.fps
        delay = due - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        frame = self._source.video_frame(self._counter)
        self._counter += 1
        return frame


class SyntheticAudioTrack(MediaStreamTrack):
    """Real-time paced 20 ms tone frames of :class:`SyntheticSource`."""

    kind = "audio"

    def __init__(self, source: SyntheticSource) -> None:
        super().__init__()
        self._source = source
        self._index = 0
        self._start: float | None = None

    async def recv(self) -> av.AudioFrame:
        """The next 20 ms of tone, paced on the monotonic clock."""
        loop = asyncio.get_running_loop()
        if self._start is None:
            self._start = loop.time()
        due = self._start + self._index * AUDIO_SAMPLES / AUDIO_RATE
        delay = due - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        frame = self._source.audio_frame(self._index)
        self._index += 1
        return frame
