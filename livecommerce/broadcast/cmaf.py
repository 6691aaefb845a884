"""Just enough ISO-BMFF parsing to cut a fragmented MP4 stream into HLS parts and segments.

FFmpeg's ``mp4`` muxer (``frag_keyframe``, plus ``frag_duration`` for LL-HLS) writes
``ftyp moov`` once per run and then one ``moof mdat`` pair per fragment into our file object;
:class:`FragmentSplitter` reassembles those top-level boxes and reports each fragment with the
timing of its video track (``tfdt`` + ``trun`` durations, in seconds) and whether it starts
with a sync sample: what an ``EXT-X-PART`` line needs (DURATION, INDEPENDENT), where a segment
may start, and how long it is. :func:`read_fragments` times stored media the same way.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass

__all__ = ["Fragment", "FragmentSplitter", "boxes", "read_fragments"]


def boxes(data: bytes, start: int = 0, end: int | None = None) -> Iterator[tuple[bytes, int, int]]:
    """(type, payload start, box end) of the boxes in ``data[start:end]``."""
    end = len(data) if end is None else end
    pos = start
    while pos + 8 <= end:
        size, kind = struct.unpack_from(">I4s", data, pos)
        header = 8
        if size == 1:
            (size,) = struct.unpack_from(">Q", data, pos + 8)
            header = 16
        elif size == 0:
            size = end - pos
        if size < header or pos + size > end:
            return
        yield kind, pos + header, pos + size
        pos += size


def _child(data: bytes, start: int, end: int, kind: bytes) -> tuple[int, int] | None:
    for k, s, e in boxes(data, start, end):
        if k == kind:
            return s, e
    return None


@dataclass(frozen=True)
class _Track:
    timescale: int
    default_duration: int
    default_flags: int
    video: bool


@dataclass(frozen=True)
class Fragment:
    """One ``moof``+``mdat``: the bytes of an LL-HLS part and its timing."""

    data: bytes
    start: float  # seconds (media time of its first video sample)
    duration: float  # seconds of video in the fragment
    independent: bool  # starts with a video sync sample


def _parse_moov(data: bytes, start: int, end: int) -> dict[int, _Track]:
    tracks: dict[int, tuple[int, bool]] = {}
    defaults: dict[int, tuple[int, int]] = {}
    for kind, s, e in boxes(data, start, end):
        if kind == b"trak":
            tkhd = _child(data, s, e, b"tkhd")
            mdia = _child(data, s, e, b"mdia")
            if tkhd is None or mdia is None:
                continue
            version = data[tkhd[0]]
            track_id = struct.unpack_from(">I", data, tkhd[0] + (20 if version == 1 else 12))[0]
            mdhd = _child(data, mdia[0], mdia[1], b"mdhd")
            hdlr = _child(data, mdia[0], mdia[1], b"hdlr")
            if mdhd is None or hdlr is None:
                continue
            v = data[mdhd[0]]
            timescale = struct.unpack_from(">I", data, mdhd[0] + (20 if v == 1 else 12))[0]
            handler = data[hdlr[0] + 8 : hdlr[0] + 12]
            tracks[track_id] = (timescale, handler == b"vide")
        elif kind == b"mvex":
            for k2, s2, _e2 in boxes(data, s, e):
                if k2 == b"trex":
                    track_id, _, duration, _, flags = struct.unpack_from(">IIIII", data, s2 + 4)
                    defaults[track_id] = (duration, flags)
    return {
        tid: _Track(ts, *defaults.get(tid, (0, 0)), video=video)
        for tid, (ts, video) in tracks.items()
    }


def _traf_timing(
    data: bytes, s: int, e: int, tracks: dict[int, _Track]
) -> tuple[int, float, float, bool] | None:
    tfhd = _child(data, s, e, b"tfhd")
    if tfhd is None:
        return None
    flags = int.from_bytes(data[tfhd[0] + 1 : tfhd[0] + 4], "big")
    track_id = struct.unpack_from(">I", data, tfhd[0] + 4)[0]
    track = tracks.get(track_id)
    if track is None or not track.timescale:
        return None
    pos = tfhd[0] + 8
    default_duration, default_flags = track.default_duration, track.default_flags
    if flags & 0x01:
        pos += 8
    if flags & 0x02:
        pos += 4
    if flags & 0x08:
        (default_duration,) = struct.unpack_from(">I", data, pos)
        pos += 4
    if flags & 0x10:
        pos += 4
    if flags & 0x20:
        (default_flags,) = struct.unpack_from(">I", data, pos)
    base = 0
    tfdt = _child(data, s, e, b"tfdt")
    if tfdt is not None:
        fmt = ">Q" if data[tfdt[0]] == 1 else ">I"
        (base,) = struct.unpack_from(fmt, data, tfdt[0] + 4)
    total, first_flags = 0, None
    for kind, ts, _te in boxes(data, s, e):
        if kind != b"trun":
            continue
        tflags = int.from_bytes(data[ts + 1 : ts + 4], "big")
        (count,) = struct.unpack_from(">I", data, ts + 4)
        pos = ts + 8 + (4 if tflags & 0x01 else 0)
        if tflags & 0x04:
            (first_flags,) = struct.unpack_from(">I", data, pos)
            pos += 4
        for i in range(count):
            duration, sample_flags = default_duration, default_flags
            if tflags & 0x100:
                (duration,) = struct.unpack_from(">I", data, pos)
                pos += 4
            if tflags & 0x200:
                pos += 4
            if tflags & 0x400:
                (sample_flags,) = struct.unpack_from(">I", data, pos)
                pos += 4
            if tflags & 0x800:
                pos += 4
            if i == 0 and first_flags is None:
                first_flags = sample_flags
            total += duration
    sync = first_flags is not None and not (first_flags >> 16) & 1
    return track_id, base / track.timescale, total / track.timescale, sync and track.video


class FragmentSplitter:
    """A write-only file object for PyAV's mp4 muxer that reports init and fragments."""

    def __init__(
        self, on_init: Callable[[bytes], None], on_fragment: Callable[[Fragment], None]
    ) -> None:
        self._buffer = bytearray()
        self._init = bytearray()
        self._moof: bytes | None = None
        self._tracks: dict[int, _Track] = {}
        self._on_init = on_init
        self._on_fragment = on_fragment

    def write(self, data: bytes) -> int:
        """Take muxer output; emit every complete box it finishes."""
        self._buffer += data
        while len(self._buffer) >= 8:
            size, kind = struct.unpack_from(">I4s", self._buffer, 0)
            if size == 1 and len(self._buffer) >= 16:
                (size,) = struct.unpack_from(">Q", self._buffer, 8)
            if size < 8 or len(self._buffer) < size:
                break
            box = bytes(self._buffer[:size])
            del self._buffer[:size]
            self._box(kind, box)
        return len(data)

    def _box(self, kind: bytes, box: bytes) -> None:
        if kind == b"ftyp":
            self._init = bytearray(box)
        elif kind == b"moov":
            self._init += box
            self._tracks = _parse_moov(box, 8, len(box))
            self._on_init(bytes(self._init))
        elif kind == b"moof":
            self._moof = box
        elif kind == b"mdat" and self._moof is not None:
            moof, self._moof = self._moof, None
            self._on_fragment(self._fragment(moof + box, len(moof)))

    def _fragment(self, data: bytes, moof_end: int) -> Fragment:
        video: tuple[int, float, float, bool] | None = None
        other: tuple[int, float, float, bool] | None = None
        for kind, s, e in boxes(data, 8, moof_end):
            if kind == b"traf":
                timing = _traf_timing(data, s, e, self._tracks)
                if timing is None:
                    continue
                if self._tracks[timing[0]].video:
                    video = timing
                elif other is None:
                    other = timing
        chosen = video or other
        if chosen is None:
            return Fragment(data, 0.0, 0.0, False)
        return Fragment(data, chosen[1], chosen[2], chosen[3])


def read_fragments(init: bytes, media: bytes) -> list[Fragment]:
    """The fragments of stored CMAF media (a part or segment file), timed by its init segment.

    Used when a recording is picked up again after a crash: the parts of the segment that was
    open are on disk, but their durations were only in the dead process's memory.
    """
    found: list[Fragment] = []
    splitter = FragmentSplitter(lambda _init: None, found.append)
    splitter.write(init)
    splitter.write(media)
    return found
