"""HLS media playlists written by our own writer: fMP4 segments, LL-HLS parts, discontinuities.

Every rendition is muxed by PyAV's ``mp4`` muxer into a :class:`~livecommerce.broadcast.cmaf.
FragmentSplitter` (FFmpeg's ``hls`` muxer has no LL-HLS and dies for good on the first error or
format change), and this writer turns the fragments into the playlist. A recording is a series
of *runs*: one muxer from its init segment until it closes (the publisher paused, a format
change, an error the packager recovered from). Each run starts with the muxer's init segment
(``init.mp4``; a run whose init differs from the previous one gets ``init_<n>.mp4`` and a new
``#EXT-X-MAP``), and its first segment carries ``#EXT-X-DISCONTINUITY``. Segment numbers
(``seg_MMMMM.m4s``) continue across runs and are never reused: players and CDNs cache them
for good. A segment starts at the first independent fragment once the current one has reached
the target duration; its ``#EXTINF`` is measured from the fragments' own timing (``tfdt`` of
the next segment, or the ``trun`` sample durations at the end of a run).

With LL-HLS on, each fragment is also a part file (``part_MMMMM_P.m4s``) the moment it is
complete, listed with ``EXT-X-PART`` for the last three segments, and after every part the
playlist is rewritten and the event loop told (``PartPosition``), so the HTTP layer can answer
blocking reloads. Next to it goes the delta update (``delta.m3u8``, RFC 8216bis §6.2.5.1): the
same playlist with the segments older than ``CAN-SKIP-UNTIL`` replaced by ``EXT-X-SKIP``, what
a client asking ``_HLS_skip=YES`` gets, so a long show's reload stays small. Without LL-HLS only
whole segments are listed (version 7, what ffmpeg and every player read).

Playlists are type EVENT while live and get ``#EXT-X-ENDLIST`` when the show ends; they are the
replay. A packager started on a directory that already holds a recording (the node was killed
while live) calls :meth:`MediaPlaylist.recover` and appends to it. Runs in the packager thread;
touches no loop state.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from livecommerce.broadcast.cmaf import Fragment, read_fragments

__all__ = ["MediaPlaylist", "PartPosition", "Segment", "aligned_part_seconds", "recorded_until"]

PARTS_LISTED_SEGMENTS = 3  # parts stay listed for the last three segments (RFC 8216bis §4.4.4.9)
PLAYLIST = "index.m3u8"
DELTA_PLAYLIST = "delta.m3u8"  # the _HLS_skip=YES answer (not addressable by name)
SKIP_TARGETS = 6  # CAN-SKIP-UNTIL = 6 target durations, the least RFC 8216bis allows
PART_HOLD_BACK_PARTS = 3  # PART-HOLD-BACK = 3 part targets (the spec's recommendation)
FIRST_INIT = "init.mp4"

_SEGMENT_URI = re.compile(r"^seg_(\d{5})\.m4s$")
_MAP_URI = re.compile(r'^#EXT-X-MAP:URI="([^"]+)"')
_INIT_NAME = re.compile(r"^init(?:_(\d{1,5}))?\.mp4$")
_PART_DURATION = re.compile(r"^#EXT-X-PART:DURATION=([0-9.]+)")


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


@dataclass(frozen=True)
class Segment:
    """A finished segment as the playlist lists it."""

    msn: int
    wall: float  # capture wall-clock time of its first picture (PROGRAM-DATE-TIME)
    duration: float  # seconds (EXTINF)
    init: str  # its init segment (EXT-X-MAP URI)
    discontinuity: bool  # first segment of a run that follows another run


@dataclass
class _OpenSegment:
    msn: int
    wall: float
    init: str
    discontinuity: bool
    parts: list[Fragment] = field(default_factory=list)

    @property
    def duration(self) -> float:
        return sum(p.duration for p in self.parts)


@dataclass
class _Parsed:
    """What a playlist on disk says (see :func:`_parse`)."""

    segments: list[Segment]
    open_wall: float | None  # PROGRAM-DATE-TIME after the last segment (its open segment)
    open_init: str | None
    open_discontinuity: bool
    open_part_seconds: float  # EXT-X-PART durations listed after the last segment


def aligned_part_seconds(part_seconds: float, segment_seconds: float, fps: int) -> float:
    """The part duration actually used: a whole number of frames that divides the segment's
    frames, nearest to ``part_seconds``, so every part ends on a frame boundary and a segment
    is a whole number of parts (1 s at 30 fps, 0.33 asked: 10 frames, 1/3 s)."""
    segment_frames = max(1, round(segment_seconds * fps))
    wanted = part_seconds * fps
    frames = min(
        (n for n in range(1, segment_frames + 1) if segment_frames % n == 0),
        key=lambda n: (abs(n - wanted), n),
    )
    return frames / fps


def _up(seconds: float) -> str:
    """A duration attribute rounded up to the 5 decimals written (never below the truth)."""
    return f"{math.ceil(seconds * 100_000 - 1e-6) / 100_000:.5f}"


def _write(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _wall(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


def _iso(wall: float) -> str:
    return datetime.fromtimestamp(wall, tz=UTC).isoformat(timespec="milliseconds")


def _parse(text: str) -> _Parsed:
    segments: list[Segment] = []
    init: str | None = None
    wall: float | None = None
    duration: float | None = None
    discontinuity = False
    part_seconds = 0.0
    for line in text.splitlines():
        line = line.strip()
        if line == "#EXT-X-DISCONTINUITY":
            discontinuity = True
        elif match := _MAP_URI.match(line):
            init = match.group(1)
        elif line.startswith("#EXT-X-PROGRAM-DATE-TIME:"):
            wall = _wall(line.split(":", 1)[1])
        elif line.startswith("#EXTINF:"):
            duration = float(line.split(":", 1)[1].split(",", 1)[0])
        elif match := _PART_DURATION.match(line):
            part_seconds += float(match.group(1))
        elif (match := _SEGMENT_URI.match(line)) and duration is not None and init is not None:
            if wall is None:
                wall = segments[-1].wall + segments[-1].duration if segments else time.time()
            segments.append(Segment(int(match.group(1)), wall, duration, init, discontinuity))
            wall, duration, discontinuity, part_seconds = None, None, False, 0.0
    return _Parsed(segments, wall, init, discontinuity, part_seconds)


def recorded_until(directory: Path) -> float | None:
    """Wall-clock time (epoch seconds) up to which a rendition's playlist on disk has media:
    the newest segment's PROGRAM-DATE-TIME plus its duration, or the listed parts of the
    segment still open. None without a playlist or segment."""
    try:
        parsed = _parse((directory / PLAYLIST).read_text())
    except (OSError, ValueError):
        return None
    ends = [s.wall + s.duration for s in parsed.segments[-1:]]
    if parsed.open_wall is not None and parsed.open_part_seconds > 0:
        ends.append(parsed.open_wall + parsed.open_part_seconds)
    return max(ends, default=None)


class MediaPlaylist:
    """One rendition's output directory and playlist, across every run of its muxer."""

    def __init__(
        self,
        directory: Path,
        segment_seconds: float,
        part_seconds: float | None,
        notify: Callable[[PartPosition], None],
    ) -> None:
        self.directory = directory
        self.segment_seconds = segment_seconds
        self.part_target = part_seconds  # None: no LL-HLS parts
        self._notify = notify
        self.reset()

    def reset(self) -> None:
        """Forget every segment: the next run starts a new recording."""
        self.segments: list[Segment] = []
        self._recent: list[_OpenSegment] = []  # closed segments whose parts are still listed
        self._current: _OpenSegment | None = None
        self._next_msn = 0
        self._init_name: str | None = None
        self._init_bytes: bytes | None = None
        self._inits = 0  # init files written so far (names the next one)
        self._discontinuity = False  # the next segment starts a run after another run
        self._wall0: float | None = None  # PROGRAM-DATE-TIME anchor of the current run
        self._media0 = 0.0
        self._max_segment = self.segment_seconds
        self.finished = False

    @property
    def low_latency(self) -> bool:
        """Whether parts are written and listed (LL-HLS)."""
        return self.part_target is not None

    # -- the recording so far ------------------------------------------------------------------
    def recover(self) -> bool:
        """Take over the recording a previous process left in the directory (it was killed, or
        the show resumes after its packager was replaced): keep every listed segment, turn the
        parts of the segment that was open into a finished segment, and continue the numbering
        after them. Returns whether there was anything to take over."""
        try:
            parsed = _parse((self.directory / PLAYLIST).read_text())
        except (OSError, ValueError):
            return False
        self.segments = list(parsed.segments)
        self._next_msn = self.segments[-1].msn + 1 if self.segments else 0
        self._inits = max(
            (
                int(m.group(1) or 0) + 1
                for p in self.directory.glob("init*.mp4")
                if (m := _INIT_NAME.match(p.name))
            ),
            default=0,
        )
        # Unreadable parts leave that segment unlisted, as a player last saw it.
        if parsed.open_init is not None:
            with contextlib.suppress(OSError, ValueError, struct.error):
                self._adopt_open_parts(parsed)
        if self.segments:
            self._init_name = self.segments[-1].init
            try:
                self._init_bytes = (self.directory / self._init_name).read_bytes()
            except OSError:
                self._init_bytes = None
            self._max_segment = max(self._max_segment, *(s.duration for s in self.segments))
        self._publish()
        return bool(self.segments)

    def _adopt_open_parts(self, parsed: _Parsed) -> None:
        """The open segment's parts are on disk (and may have been served): finish it."""
        assert parsed.open_init is not None
        try:
            init = (self.directory / parsed.open_init).read_bytes()
        except OSError:
            return
        parts: list[Fragment] = []
        data = bytearray()
        index = 0
        while (path := self.directory / f"part_{self._next_msn:05d}_{index}.m4s").is_file():
            found = read_fragments(init, path.read_bytes())
            if len(found) != 1 or (index == 0 and not found[0].independent):
                break
            parts += found
            data += found[0].data
            index += 1
        if not parts:
            return
        msn = self._next_msn
        last = self.segments[-1] if self.segments else None
        wall = parsed.open_wall
        if wall is None:
            wall = last.wall + last.duration if last is not None else time.time()
        _write(self.directory / f"seg_{msn:05d}.m4s", bytes(data))
        duration = sum(p.duration for p in parts)
        self.segments.append(
            Segment(msn, wall, duration, parsed.open_init, parsed.open_discontinuity)
        )
        self._next_msn = msn + 1

    def recorded_until(self) -> float | None:
        """Wall-clock time (epoch seconds) up to which this rendition has media."""
        current = self._current
        if current is not None and current.parts:
            return current.wall + current.duration
        if self.segments:
            return self.segments[-1].wall + self.segments[-1].duration
        return None

    # -- muxer output ---------------------------------------------------------------------------
    def on_init(self, data: bytes) -> None:
        """A muxer run starts (ftyp+moov): a new init file unless it is byte-identical to the
        previous run's, and a discontinuity before the run's first segment."""
        self.directory.mkdir(parents=True, exist_ok=True)
        if data != self._init_bytes or self._init_name is None:
            name = FIRST_INIT if self._inits == 0 else f"init_{self._inits}.mp4"
            _write(self.directory / name, data)
            self._inits += 1
            self._init_name, self._init_bytes = name, data
        self._discontinuity = bool(self.segments)
        self._wall0 = None

    def on_fragment(self, fragment: Fragment) -> None:
        """A fragment is complete: store it, maybe start a segment, publish the playlist."""
        if self._init_name is None:
            return  # no init yet: nothing a player could decode it with
        if self._wall0 is None:
            self._wall0, self._media0 = time.time() - fragment.duration, fragment.start
        current = self._current
        if current is None and not fragment.independent:
            return  # a segment must start with a picture a player can decode
        if (
            current is not None
            and fragment.independent
            and current.duration >= self.segment_seconds - 1e-3
        ):
            self._close_segment(next_start=fragment.start)
            current = None
        if current is None:
            wall = self._wall0 + (fragment.start - self._media0)
            current = _OpenSegment(self._next_msn, wall, self._init_name, self._discontinuity)
            self._current = current
            self._next_msn += 1
            self._discontinuity = False
        if self.low_latency:
            _write(
                self.directory / f"part_{current.msn:05d}_{len(current.parts)}.m4s", fragment.data
            )
        current.parts.append(fragment)
        if not self.low_latency and current.duration >= self.segment_seconds - 1e-3:
            # Without parts nothing is listed until the segment closes: close it now (every
            # fragment starts at a keyframe here, so the next one can start a segment).
            self._close_segment(next_start=None)
        self._publish()

    def end_run(self) -> None:
        """The muxer closed (pause, restart, format change): list what it wrote."""
        self._close_segment(next_start=None)
        self._publish()

    def finish(self) -> None:
        """The show ended: close the last segment and write the final (ENDLIST) playlist."""
        self._close_segment(next_start=None)
        self.finished = True
        self._publish()

    def _close_segment(self, next_start: float | None) -> None:
        segment = self._current
        self._current = None
        if segment is None or not segment.parts:
            return
        duration = segment.duration
        if next_start is not None and next_start > segment.parts[0].start:
            # The next segment's tfdt: exact even when the muxer had to guess the duration
            # of the last sample of a fragment.
            duration = next_start - segment.parts[0].start
        _write(
            self.directory / f"seg_{segment.msn:05d}.m4s",
            b"".join(p.data for p in segment.parts),
        )
        self.segments.append(
            Segment(segment.msn, segment.wall, duration, segment.init, segment.discontinuity)
        )
        self._max_segment = max(self._max_segment, duration)
        if self.low_latency:
            self._recent = [*self._recent, segment][-PARTS_LISTED_SEGMENTS:]

    # -- the playlist ----------------------------------------------------------------------------
    def _publish(self) -> None:
        final = self.finished
        parts = self.low_latency and not final
        # RFC 8216bis §4.4.3.1: every EXTINF *rounded to the nearest integer* is at most the
        # target (a 1.03 s segment, a dropped frame late, keeps a 1 s target).
        target = max(1, math.floor(self._max_segment + 0.5))
        header = [
            "#EXTM3U",
            f"#EXT-X-VERSION:{9 if self.low_latency else 7}",
            f"#EXT-X-TARGETDURATION:{target}",
            "#EXT-X-PLAYLIST-TYPE:EVENT",
            "#EXT-X-MEDIA-SEQUENCE:0",
            "#EXT-X-INDEPENDENT-SEGMENTS",
        ]
        if parts and self.part_target is not None:
            part_target = _up(self.part_target)  # fixed: players size their buffers from it
            hold_back = _up(PART_HOLD_BACK_PARTS * float(part_target))
            header += [
                f"#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,"
                f"CAN-SKIP-UNTIL={SKIP_TARGETS * target:.1f},PART-HOLD-BACK={hold_back}",
                f"#EXT-X-PART-INF:PART-TARGET={part_target}",
            ]
        recent = {s.msn: s for s in self._recent} if parts else {}
        blocks: list[list[str]] = []  # one per listed segment: its tags and URI
        last_init: str | None = None
        for segment in self.segments:
            block = _header(segment.discontinuity, segment.init, last_init, segment.wall)
            last_init = segment.init
            if segment.msn in recent:
                block += _part_lines(recent[segment.msn])
            block += [f"#EXTINF:{segment.duration:.5f},", f"seg_{segment.msn:05d}.m4s"]
            blocks.append(block)
        tail: list[str] = []
        current = self._current
        if final:
            tail.append("#EXT-X-ENDLIST")
        elif parts and current is not None:
            tail += _header(current.discontinuity, current.init, last_init, current.wall)
            tail += _part_lines(current)
            # A full segment ends at the next keyframe, which the encoders put right there:
            # hint the next segment's first part, not one that will never exist.
            if current.duration >= self.segment_seconds - 1e-3:
                hint = f"part_{current.msn + 1:05d}_0.m4s"
            else:
                hint = f"part_{current.msn:05d}_{len(current.parts)}.m4s"
            tail.append(f'#EXT-X-PRELOAD-HINT:TYPE=PART,URI="{hint}"')
        self.directory.mkdir(parents=True, exist_ok=True)
        full = [*header, *(line for block in blocks for line in block), *tail]
        _write(self.directory / PLAYLIST, ("\n".join(full) + "\n").encode())
        if parts:
            delta = [*header, *self._skipped(blocks, SKIP_TARGETS * target), *tail]
            _write(self.directory / DELTA_PLAYLIST, ("\n".join(delta) + "\n").encode())
        else:
            with contextlib.suppress(FileNotFoundError):
                (self.directory / DELTA_PLAYLIST).unlink()
        if final:
            self._notify(PartPosition(self._next_msn, 0, finished=True))
        elif current is not None:
            self._notify(PartPosition(current.msn, len(current.parts)))
        else:
            self._notify(PartPosition(self._next_msn, 0))

    def _skipped(self, blocks: list[list[str]], skip_until: float) -> list[str]:
        """The segment lines of a delta update: every segment that ends more than
        ``skip_until`` seconds before the end of the playlist becomes one ``EXT-X-SKIP``
        (RFC 8216bis §4.4.5.2); the first one kept repeats the ``EXT-X-MAP`` in force."""
        total = sum(s.duration for s in self.segments)
        if self._current is not None:
            total += self._current.duration
        skipped, elapsed = 0, 0.0
        for segment in self.segments:
            if total - (elapsed + segment.duration) < skip_until:
                break
            elapsed += segment.duration
            skipped += 1
        if skipped == 0:
            return [line for block in blocks for line in block]
        kept = blocks[skipped:]
        lines = [f"#EXT-X-SKIP:SKIPPED-SEGMENTS={skipped}"]
        following = kept[0] if kept else []  # with nothing kept, the open segment follows
        init = self.segments[skipped].init if kept else self.segments[-1].init
        if not any(line.startswith("#EXT-X-MAP:") for line in following):
            lines.append(f'#EXT-X-MAP:URI="{init}"')
        return lines + [line for block in kept for line in block]


def _header(discontinuity: bool, init: str, last_init: str | None, wall: float) -> list[str]:
    lines = ["#EXT-X-DISCONTINUITY"] if discontinuity else []
    if init != last_init:
        lines.append(f'#EXT-X-MAP:URI="{init}"')
    lines.append(f"#EXT-X-PROGRAM-DATE-TIME:{_iso(wall)}")
    return lines


def _part_lines(segment: _OpenSegment) -> list[str]:
    out = []
    for i, part in enumerate(segment.parts):
        independent = ",INDEPENDENT=YES" if part.independent else ""
        out.append(
            f'#EXT-X-PART:DURATION={part.duration:.5f},URI="part_{segment.msn:05d}_{i}.m4s"'
            + independent
        )
    return out
