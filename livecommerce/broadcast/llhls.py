"""LL-HLS media playlists: segments made of ~200 ms CMAF parts, written by our own writer.

FFmpeg has no LL-HLS (no EXT-X-PART, PRELOAD-HINT or SERVER-CONTROL), so when low latency is
on a rendition is muxed by PyAV's ``mp4`` muxer into a :class:`~livecommerce.broadcast.cmaf.
FragmentSplitter`; every fragment becomes a part file (``part_MMMMM_P.m4s``) the moment it is
complete, a new segment starts at the first independent part once the current one has reached
the target duration, and the segment file (``seg_MMMMM.m4s``) is the concatenation of its
parts. After every part the playlist is rewritten atomically and the event loop is told, so the
HTTP layer can answer blocking playlist reloads (``_HLS_msn``/``_HLS_part``) and preload-hint
part requests as soon as the part exists. Runs in the packager thread; touches no loop state.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from livecommerce.broadcast.cmaf import Fragment

__all__ = ["LowLatencyPlaylist", "PartPosition"]

PARTS_LISTED_SEGMENTS = 3  # parts stay listed for the last three segments (RFC 8216bis §4.4.4.9)


@dataclass(frozen=True, order=True)
class PartPosition:
    """Where a rendition is: the open segment's media sequence number and its part count."""

    msn: int
    parts: int
    finished: bool = False

    def has(self, msn: int, part: int | None) -> bool:
        """Whether segment ``msn`` (or its part ``part``) is available."""
        if self.finished or self.msn > msn:
            return True
        return part is not None and self.msn == msn and self.parts > part


@dataclass
class _Segment:
    msn: int
    wall: float  # capture wall-clock time of its first part (PROGRAM-DATE-TIME)
    parts: list[Fragment] = field(default_factory=list)

    @property
    def duration(self) -> float:
        return sum(p.duration for p in self.parts)


def _write(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


class LowLatencyPlaylist:
    """One rendition's LL-HLS output directory and playlist."""

    def __init__(
        self,
        directory: Path,
        segment_seconds: float,
        part_seconds: float,
        notify: Callable[[PartPosition], None],
    ) -> None:
        self.directory = directory
        self.segment_seconds = segment_seconds
        self.part_target = part_seconds
        self._notify = notify
        self._done: list[tuple[int, float, float]] = []  # (msn, wall, duration)
        self._recent: list[_Segment] = []
        self._current: _Segment | None = None
        self._wall0: float | None = None
        self._media0 = 0.0
        self._max_part = 0.0
        self._max_segment = segment_seconds

    def on_init(self, data: bytes) -> None:
        """The muxer wrote ftyp+moov."""
        self.directory.mkdir(parents=True, exist_ok=True)
        _write(self.directory / "init.mp4", data)

    def on_fragment(self, fragment: Fragment) -> None:
        """A part is complete: store it, maybe start a segment, publish the playlist."""
        if self._wall0 is None:
            self._wall0, self._media0 = time.time() - fragment.duration, fragment.start
        current = self._current
        if current is None and not fragment.independent:
            return  # a segment must start with a picture a player can decode
        if current is None or (
            fragment.independent and current.duration >= self.segment_seconds - 1e-3
        ):
            self._close_segment()
            msn = current.msn + 1 if current is not None else 0
            wall = self._wall0 + (fragment.start - self._media0)
            current = self._current = _Segment(msn, wall)
        name = f"part_{current.msn:05d}_{len(current.parts)}.m4s"
        _write(self.directory / name, fragment.data)
        current.parts.append(fragment)
        self._max_part = max(self._max_part, fragment.duration)
        self._publish(final=False)

    def _close_segment(self) -> None:
        segment = self._current
        if segment is None or not segment.parts:
            return
        _write(
            self.directory / f"seg_{segment.msn:05d}.m4s",
            b"".join(p.data for p in segment.parts),
        )
        self._done.append((segment.msn, segment.wall, segment.duration))
        self._max_segment = max(self._max_segment, segment.duration)
        self._recent = [*self._recent, segment][-PARTS_LISTED_SEGMENTS:]
        self._current = None

    def finish(self) -> None:
        """The show ended: close the last segment and write the final (ENDLIST) playlist."""
        last = self._current
        self._close_segment()
        self._publish(final=True, last_msn=last.msn if last else None)

    def _publish(self, final: bool, last_msn: int | None = None) -> None:
        part_target = self.part_target  # fixed: players size their buffers from it
        lines = [
            "#EXTM3U",
            "#EXT-X-VERSION:9",
            f"#EXT-X-TARGETDURATION:{math.ceil(self._max_segment)}",
            "#EXT-X-PLAYLIST-TYPE:EVENT",
            "#EXT-X-MEDIA-SEQUENCE:0",
            "#EXT-X-INDEPENDENT-SEGMENTS",
        ]
        if not final:
            lines += [
                f"#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK={3 * part_target:.3f}",
                f"#EXT-X-PART-INF:PART-TARGET={part_target:.3f}",
            ]
        lines.append('#EXT-X-MAP:URI="init.mp4"')
        recent = {s.msn: s for s in self._recent}
        for msn, wall, duration in self._done:
            lines.append(f"#EXT-X-PROGRAM-DATE-TIME:{_iso(wall)}")
            if not final and msn in recent:
                lines += _part_lines(recent[msn])
            lines += [f"#EXTINF:{duration:.5f},", f"seg_{msn:05d}.m4s"]
        current = self._current
        if final:
            lines.append("#EXT-X-ENDLIST")
        elif current is not None:
            lines.append(f"#EXT-X-PROGRAM-DATE-TIME:{_iso(current.wall)}")
            lines += _part_lines(current)
            lines.append(
                f'#EXT-X-PRELOAD-HINT:TYPE=PART,URI="part_{current.msn:05d}_{len(current.parts)}.m4s"'
            )
        _write(self.directory / "index.m3u8", ("\n".join(lines) + "\n").encode())
        if final:
            self._notify(PartPosition((last_msn or 0) + 1, 0, finished=True))
        elif current is not None:
            self._notify(PartPosition(current.msn, len(current.parts)))


def _part_lines(segment: _Segment) -> list[str]:
    out = []
    for i, part in enumerate(segment.parts):
        independent = ",INDEPENDENT=YES" if part.independent else ""
        out.append(
            f'#EXT-X-PART:DURATION={part.duration:.5f},URI="part_{segment.msn:05d}_{i}.m4s"'
            + independent
        )
    return out


def _iso(wall: float) -> str:
    return datetime.fromtimestamp(wall, tz=UTC).isoformat(timespec="milliseconds")
