"""The HLS packager never takes the show down: publisher format changes, injected errors, a dead
thread, pauses and a killed node all leave one complete, ffprobe-readable recording.

The packager is driven directly (a ShowFeed with the synthetic encoder, or an aiortc publisher
through the BroadcastManager with an in-memory show gate), so these tests do not depend on the
show lifecycle; every check reads the files a player would read, with the real ffprobe.
"""

from __future__ import annotations

import asyncio
import fractions
import itertools
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import av
import pytest
from aiortc import MediaStreamTrack

from livecommerce.broadcast.config import Rendition
from livecommerce.broadcast.encoder import SyntheticShowSource
from livecommerce.broadcast.hls import HlsPackagers
from livecommerce.broadcast.manager import BroadcastManager
from livecommerce.broadcast.packager import RestartReason
from livecommerce.broadcast.playlist import recorded_until
from livecommerce.broadcast.relay import ShowFeed
from livecommerce.broadcast.synthetic import VIDEO_CLOCK_RATE, SyntheticSource
from tests.support.media import LOOPBACK, FakeShowGate, Publisher

LADDER = (Rendition("source"), Rendition("360p", 360, 800_000))
SEGMENT = 1.0
FFPROBE = "/usr/bin/ffprobe"
REPO = str(Path(__file__).resolve().parents[2])

Restarts = list[tuple[str, RestartReason]]


def _packagers(root: Path, part_seconds: float | None = None) -> tuple[HlsPackagers, Restarts]:
    packagers = HlsPackagers(root, LADDER, SEGMENT, 30, part_seconds)
    restarts: Restarts = []
    packagers.restart_hooks.append(lambda rendition, why: restarts.append((rendition, why)))
    return packagers, restarts


def _text(rendition_dir: Path) -> str:
    try:
        return (rendition_dir / "index.m3u8").read_text()
    except FileNotFoundError:
        return ""


def _segment_names(rendition_dir: Path) -> list[str]:
    return re.findall(r"^seg_\d{5}\.m4s$", _text(rendition_dir), re.MULTILINE)


def _extinf_total(rendition_dir: Path) -> float:
    return sum(float(d) for d in re.findall(r"^#EXTINF:([0-9.]+),", _text(rendition_dir), re.M))


async def _wait_for(predicate: Callable[[], bool], within: float) -> None:
    async def poll() -> None:
        while not predicate():  # noqa: ASYNC110  # why: polling files the packager thread writes
            await asyncio.sleep(0.05)

    await asyncio.wait_for(poll(), within)


def _probe(path: Path) -> dict[str, float]:
    """ffprobe a file: its video's width and decoded frame count, and the media time its
    packets span (start, end); any ffprobe complaint fails the test."""
    frames = subprocess.run(
        [FFPROBE, "-v", "error", "-count_frames", "-select_streams", "v:0", "-show_entries",
         "stream=width,nb_read_frames", "-of", "json", str(path)],
        capture_output=True, text=True, check=True, timeout=30,
    )  # fmt: skip
    packets = subprocess.run(
        [FFPROBE, "-v", "error", "-select_streams", "v:0", "-show_entries",
         "packet=pts_time,duration_time", "-of", "json", str(path)],
        capture_output=True, text=True, check=True, timeout=30,
    )  # fmt: skip
    assert "" == frames.stderr.strip() + packets.stderr.strip()
    stream = json.loads(frames.stdout)["streams"][0]
    times = [
        (float(p["pts_time"]), float(p["duration_time"]))
        for p in json.loads(packets.stdout)["packets"]
    ]
    return {
        "width": float(stream["width"]),
        "frames": float(stream["nb_read_frames"]),
        "start": min(t for t, _ in times),
        "end": max(t + d for t, d in times),
    }


def _probe_every_segment(rendition_dir: Path, scratch: Path) -> list[dict[str, float]]:
    """Every listed segment, prefixed with the init segment its EXT-X-MAP names, as a player
    would feed a decoder."""
    probes = []
    init = None
    for line in _text(rendition_dir).splitlines():
        if match := re.match(r'#EXT-X-MAP:URI="([^"]+)"', line):
            init = match.group(1)
        elif line.startswith("seg_"):
            assert init is not None
            joined = scratch / f"{rendition_dir.name}-{line}.mp4"
            joined.write_bytes(
                (rendition_dir / init).read_bytes() + (rendition_dir / line).read_bytes()
            )
            probe = _probe(joined)
            assert probe["frames"] > 0
            probes.append(probe)
    return probes


def _playlist_duration(rendition_dir: Path) -> float:
    out = subprocess.run(
        [FFPROBE, "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0",
         str(rendition_dir / "index.m3u8")],
        capture_output=True, text=True, check=True, timeout=30,
    )  # fmt: skip
    return float(out.stdout)


def _assert_continuous(probes: list[dict[str, float]], gaps_allowed: int = 0) -> None:
    """Media time runs on from segment to segment (no pause recorded, nothing overlapping)."""
    gaps = [round(b["start"] - a["end"], 3) for a, b in itertools.pairwise(probes)]
    assert all(g > -0.05 for g in gaps), gaps
    assert sum(1 for g in gaps if g > 0.1) <= gaps_allowed, gaps


@pytest.mark.expected_traceback  # the killed packager thread's, asserted through `restarts`
async def test_injected_errors_restart_one_rendition_and_a_dead_thread_is_replaced(
    tmp_path: Path,
) -> None:
    """A fault in the 360p mux restarts 360p within a segment after a discontinuity while the
    source rendition never stops; a killed packager thread is restarted; both are counted and
    every segment stays readable."""
    packagers, restarts = _packagers(tmp_path / "hls")
    feed = ShowFeed("shw_fault")
    producer = SyntheticShowSource(feed, SyntheticSource(640, 368, 30))
    producer.start()
    packagers.feed_started(feed)
    show = tmp_path / "hls" / "shw_fault"
    source, low = show / "source", show / "360p"
    try:
        await _wait_for(lambda: len(_segment_names(low)) >= 2, 15)
        packager = packagers.packagers["shw_fault"]
        source_before = len(_segment_names(source))
        injected = time.time()
        packager.inject_fault("360p")
        await _wait_for(lambda: ("360p", RestartReason.ERROR) in restarts, 5)
        await _wait_for(lambda: "#EXT-X-DISCONTINUITY" in _text(low), 5)
        await _wait_for(lambda: _after_break(low), 5)
        # The first segment of the restarted run starts within one segment of the fault.
        first_after = re.search(
            r"#EXT-X-DISCONTINUITY\n(?:#EXT-X-MAP.*\n)?#EXT-X-PROGRAM-DATE-TIME:(\S+)", _text(low)
        )
        assert first_after is not None
        assert datetime.fromisoformat(first_after.group(1)).timestamp() - injected < SEGMENT
        assert "#EXT-X-DISCONTINUITY" not in _text(source)
        assert len(_segment_names(source)) > source_before

        low_before = len(_segment_names(low))
        packager.inject_fault(None)  # the thread dies; the watchdog starts another
        await _wait_for(lambda: ("source", RestartReason.THREAD_DIED) in restarts, 5)
        await _wait_for(lambda: len(_segment_names(low)) >= low_before + 2, 10)
        await _wait_for(lambda: _text(source).count("#EXT-X-DISCONTINUITY") >= 1, 5)
    finally:
        await producer.stop()
        await packagers.feed_ended(feed)
    assert {
        ("360p", RestartReason.ERROR),
        ("source", RestartReason.THREAD_DIED),
        ("360p", RestartReason.THREAD_DIED),
    } == set(restarts)
    for rendition in (source, low):
        assert "#EXT-X-ENDLIST" in _text(rendition)
        probes = await asyncio.to_thread(_probe_every_segment, rendition, tmp_path)
        assert len(_segment_names(rendition)) == len(probes)
        # Each restart loses at most what was in flight (a frame, or up to the next keyframe).
        _assert_continuous(probes, gaps_allowed=2)
        assert (
            abs(_extinf_total(rendition) - await asyncio.to_thread(_playlist_duration, rendition))
            < 0.01
        )
    assert abs(_extinf_total(source) - _extinf_total(low)) < 2 * SEGMENT


def _after_break(rendition_dir: Path) -> bool:
    """Whether a segment is listed after the first discontinuity."""
    text = _text(rendition_dir)
    return "seg_" in text.split("#EXT-X-DISCONTINUITY", 1)[-1]


async def test_pauses_close_the_open_segment_and_resume_the_same_playlists(tmp_path: Path) -> None:
    """A publisher that goes silent (noticed after 1.5 segments) and one that leaves
    (feed_paused) both have their last segment listed at once; each resume continues the same
    playlists after a discontinuity with media time running on, so the recording is
    as long as the show was live, pauses excluded."""
    packagers, restarts = _packagers(tmp_path / "hls")
    feed = ShowFeed("shw_pause")
    source = tmp_path / "hls" / "shw_pause" / "source"
    live = 0.0
    for stretch in range(3):
        producer = SyntheticShowSource(feed, SyntheticSource(640, 368, 30))
        started = time.time()
        producer.start()
        packagers.feed_started(feed)
        await asyncio.sleep(3.0)
        await producer.stop()
        stopped = time.time()
        live += stopped - started
        listed = _listed_after(source, stopped - 0.3)
        if stretch == 0:
            # Silent publisher: the packager notices by itself within 1.5 segments.
            await _wait_for(listed, 3)
        elif stretch == 1:
            packagers.feed_paused(feed)
            await _wait_for(listed, 1)
        await asyncio.sleep(1.0)  # paused: nothing is recorded
        until = recorded_until(source)
        assert until is not None
        assert until < stopped + 0.2
    await packagers.feed_ended(feed)
    assert [] == restarts
    text = _text(source)
    assert 2 == text.count("#EXT-X-DISCONTINUITY")
    assert "#EXT-X-ENDLIST" in text
    assert 1 == text.count("#EXT-X-MAP")  # same format throughout: one init segment
    names = _segment_names(source)
    assert [f"seg_{n:05d}.m4s" for n in range(len(names))] == names
    for rendition in (source, source.parent / "360p"):
        probes = await asyncio.to_thread(_probe_every_segment, rendition, tmp_path)
        _assert_continuous(probes)
        total = _extinf_total(rendition)
        assert abs(total - live) < 0.6, (total, live)  # the first keyframe of each stretch
        assert abs(total - await asyncio.to_thread(_playlist_duration, rendition)) < 0.01


def _listed_after(rendition_dir: Path, wall: float) -> Callable[[], bool]:
    """Whether the listed segments reach ``wall`` (epoch seconds)."""
    return lambda: (recorded_until(rendition_dir) or 0) > wall


_CHILD = """
import asyncio, sys
from pathlib import Path
from livecommerce.broadcast.config import Rendition
from livecommerce.broadcast.encoder import SyntheticShowSource
from livecommerce.broadcast.hls import HlsPackagers
from livecommerce.broadcast.relay import ShowFeed
from livecommerce.broadcast.synthetic import SyntheticSource

async def main() -> None:
    ladder = (Rendition("source"), Rendition("360p", 360, 800_000))
    packagers = HlsPackagers(Path(sys.argv[1]), ladder, 1.0, 30, 0.2)
    feed = ShowFeed(sys.argv[2])
    SyntheticShowSource(feed, SyntheticSource(640, 368, 30)).start()
    packagers.feed_started(feed)
    await asyncio.sleep(60)

asyncio.run(main())
"""


async def test_recording_of_a_killed_node_is_appended_to(tmp_path: Path) -> None:
    """kill -9 of a node while live: the next packager of the show keeps every segment and
    part already written (the open segment is finished from its parts), numbers on after
    them, and continues after a discontinuity; last_media_ms says when media stopped."""
    root = tmp_path / "hls"
    source = root / "shw_crash" / "source"
    env = {**os.environ, "PYTHONPATH": REPO}
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _CHILD, str(root), "shw_crash", env=env
    )
    try:
        await _wait_for(lambda: len(_segment_names(source)) >= 3, 30)
        await _wait_for(lambda: "part_" in _text(source).split("seg_")[-1], 5)
    finally:
        child.kill()
        await child.wait()
    killed = time.time()
    listed = _segment_names(source)
    kept = {name: (source / name).read_bytes() for name in listed}
    packagers, restarts = _packagers(root, part_seconds=0.2)
    last = packagers.last_media_ms("shw_crash")
    assert last is not None
    assert killed - 1.0 < last / 1000 < killed + 0.1
    assert packagers.last_media_ms("shw_unknown") is None

    feed = ShowFeed("shw_crash")
    producer = SyntheticShowSource(feed, SyntheticSource(640, 368, 30))
    producer.start()
    packagers.feed_started(feed)
    await _wait_for(lambda: len(_segment_names(source)) >= len(listed) + 3, 15)
    await producer.stop()
    await packagers.feed_ended(feed)
    assert [] == restarts
    names = _segment_names(source)
    assert [f"seg_{n:05d}.m4s" for n in range(len(names))] == names
    assert names[: len(listed)] == listed
    assert all((source / name).read_bytes() == data for name, data in kept.items())
    text = _text(source)
    # The segment open at the kill is finished from its parts, then the new run starts.
    adopted = f"seg_{len(listed):05d}.m4s"
    assert text.index(adopted) < text.index("#EXT-X-DISCONTINUITY")
    assert 1 == text.count("#EXT-X-DISCONTINUITY")
    for rendition in (source, source.parent / "360p"):
        probes = await asyncio.to_thread(_probe_every_segment, rendition, tmp_path)
        assert len(_segment_names(rendition)) == len(probes)
        assert "#EXT-X-ENDLIST" in _text(rendition)


class _AdaptingTrack(MediaStreamTrack):
    """A camera under load: stamped frames whose size and rate change at given moments (the
    encoder in aiortc reopens on a new size, so the publisher sends a new SPS)."""

    kind = "video"

    def __init__(self, phases: list[tuple[int, int, int, float]]) -> None:
        super().__init__()
        # SyntheticSource draws multiples of 16; other sizes are scaled (the stamp survives).
        self._phases = [
            (SyntheticSource(w, (h + 15) // 16 * 16, fps), (w, h), fps, seconds)
            for w, h, fps, seconds in phases
        ]
        self._start: float | None = None
        self._due = 0.0
        self._counter = 0
        self.done = asyncio.Event()

    async def recv(self) -> av.VideoFrame:
        loop = asyncio.get_running_loop()
        if self._start is None:
            self._start = loop.time()
        elapsed, offset = self._due, 0.0
        phase = self._phases[-1]
        for candidate in self._phases:
            if elapsed < offset + candidate[3]:
                phase = candidate
                break
            offset += candidate[3]
        else:
            self.done.set()
        delay = self._start + self._due - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        source, (width, height), fps, _ = phase
        frame = source.video_frame(self._counter)
        if (width, height) != (source.width, source.height):
            frame = frame.reformat(width=width, height=height)
        frame.pts = round(self._due * VIDEO_CLOCK_RATE)
        frame.time_base = fractions.Fraction(1, VIDEO_CLOCK_RATE)
        self._counter += 1
        self._due += 1 / fps
        return frame


async def test_publisher_changing_resolution_and_frame_rate_keeps_hls_advancing(
    tmp_path: Path,
) -> None:
    """An aiortc publisher going 1280x720@30 → 640x360@15 → 1280x720@30: the packager never
    dies, HLS keeps advancing through every change, the pass-through rendition has a new init
    after a discontinuity at each change, and ffprobe reads every segment at its size."""
    packagers, restarts = _packagers(tmp_path / "hls")
    manager = BroadcastManager(FakeShowGate({"shw_adapt": "key"}), LOOPBACK)
    manager.listeners.append(packagers)
    track = _AdaptingTrack([(1280, 720, 30, 4.0), (640, 360, 15, 4.0), (1280, 720, 30, 4.0)])
    publisher = Publisher(SyntheticSource(640, 368))
    video_sender = next(s for s in publisher.pc.getSenders() if s.track and s.track.kind == "video")
    video_sender.replaceTrack(track)

    async def signal(offer: str) -> str:
        _, answer = await manager.publish("shw_adapt", "key", offer)
        return answer

    source = tmp_path / "hls" / "shw_adapt" / "source"
    low = source.parent / "360p"
    counts: list[int] = []
    try:
        await publisher.connect(signal)
        for _ in range(3):
            await asyncio.sleep(4.0)
            counts.append(len(_segment_names(source)))
        await asyncio.wait_for(track.done.wait(), 5)
    finally:
        await publisher.close()
        await manager.end_show("shw_adapt")
        await manager.close()
        await packagers.close()
    assert counts == sorted(counts)
    assert counts[0] < counts[1] < counts[2]
    assert not [r for r in restarts if r[1] is not RestartReason.FORMAT_CHANGE], restarts
    assert 2 <= restarts.count(("source", RestartReason.FORMAT_CHANGE))
    text = _text(source)
    assert "#EXT-X-ENDLIST" in text
    assert 2 <= text.count("#EXT-X-DISCONTINUITY")
    maps = re.findall(r'#EXT-X-MAP:URI="([^"]+)"', text)
    assert maps[:3] == ["init.mp4", "init_1.mp4", "init_2.mp4"]
    probes = await asyncio.to_thread(_probe_every_segment, source, tmp_path)
    widths = [int(p["width"]) for p in probes]
    # Runs of 1280, then 640, then 1280 again (aiortc may adapt on its own as well).
    assert 1280 == widths[0]
    assert 640 in widths
    assert 1280 == widths[-1]
    _assert_continuous(probes, gaps_allowed=0)
    low_probes = await asyncio.to_thread(_probe_every_segment, low, tmp_path)
    assert {640} == {int(p["width"]) for p in low_probes}
    for rendition in (source, low):
        total = _extinf_total(rendition)
        assert abs(total - await asyncio.to_thread(_playlist_duration, rendition)) < 0.01
        assert 10.0 < total < 13.0
