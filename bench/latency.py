"""Latency: WebRTC glass-to-glass through the server, and HLS segment availability.

The publisher sends the stamped synthetic source (720p30, encoded by aiortc's H.264 encoder as
a browser would) over WHIP to a media server in its own process; a WHEP viewer decodes every
frame and reads the capture time burnt into it, so latency = decode wall time - capture time,
with no side channel. Baseline in the same run: the same publisher connected straight to the
same kind of viewer (aiortc to aiortc, no server in between).

HLS: the server packages the show (pass-through rendition, 1 s segments); the client polls the
packager's playlist file every 50 ms and, when a segment appears, decodes it and reports how old
its first and last frames are at that moment (the first-frame age is the best a player at the
live edge gets; HTTP serving adds a file read). A third run does the same with LL-HLS parts
(0.2 s), decoding each new part after the earlier parts of its segment.

Run: ``python -m bench latency`` inside ``scripts/loopback-ns``; ``LATENCY_WINDOW`` seconds
(default 15).
"""

from __future__ import annotations

import asyncio
import os
import re
import statistics
import tempfile
import time
from io import BytesIO
from pathlib import Path

import aiohttp
import av
from aiortc import RTCSessionDescription

from bench._viewers import media_server
from livecommerce.broadcast.synthetic import SyntheticSource, read_stamp
from tests.support.media import LOOPBACK, Publisher, Viewer

TITLE = "Latency"


def _pct(values: list[int], q: float) -> int:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def _direct(window: float) -> list[int]:
    publisher = Publisher(SyntheticSource(1280, 720), audio=False)
    viewer = _AnsweringViewer()
    await publisher.connect(viewer.answer)
    await viewer.inner.wait_frames(5, within=20)
    start = len(viewer.inner.stamps)
    await asyncio.sleep(window)
    lat = _latencies(viewer.inner, start)
    await publisher.close()
    await viewer.inner.close()
    return lat


class _AnsweringViewer:
    """A decoding viewer on the answering side (for the direct, serverless baseline)."""

    def __init__(self) -> None:
        self.inner = Viewer(audio=False)
        # Drop the offerer-side transceiver; the publisher's offer creates the receiver.
        self.inner.pc = type(self.inner.pc)(LOOPBACK)

        @self.inner.pc.on("track")
        def on_track(track: object) -> None:
            self.inner._tasks.append(asyncio.create_task(self.inner._read(track)))  # type: ignore[arg-type]

    async def answer(self, offer: str) -> str:
        pc = self.inner.pc
        await pc.setRemoteDescription(RTCSessionDescription(offer, "offer"))
        await pc.setLocalDescription(await pc.createAnswer())
        return str(pc.localDescription.sdp)


def _latencies(viewer: Viewer, start: int) -> list[int]:
    return [
        received - stamp.capture_ms
        for stamp, received in zip(viewer.stamps[start:], viewer.receive_ms[start:], strict=True)
    ]


def _segment_stamps(data: bytes) -> list[int]:
    out = []
    with av.open(BytesIO(data), mode="r") as container:
        for frame in container.decode(video=0):
            stamp = read_stamp(frame)
            if stamp is not None:
                out.append(stamp.capture_ms)
    return out


async def _through_server(
    window: float, part_seconds: float = 0.0
) -> tuple[list[int], list[tuple[int, int]]]:
    with tempfile.TemporaryDirectory() as hls_dir:
        args = ["--mode", "passthrough", "--whip", "--hls-dir", hls_dir]
        if part_seconds:
            args += ["--part-seconds", str(part_seconds)]
        async with media_server(args) as server, aiohttp.ClientSession() as http:

            async def post(path: str, offer: str) -> str:
                async with http.post(
                    server.url + path, data=offer, headers={"Content-Type": "application/sdp"}
                ) as resp:
                    assert resp.status == 201, await resp.text()
                    return await resp.text()

            publisher = Publisher(SyntheticSource(1280, 720), audio=False)
            await publisher.connect(lambda offer: post("/whip", offer))
            viewer = Viewer(audio=False)
            await viewer.connect(lambda offer: post("/whep", offer))
            await viewer.wait_frames(5, within=20)
            stop = asyncio.Event()
            start = len(viewer.stamps)
            watcher = asyncio.create_task(_hls_files(hls_dir, stop, bool(part_seconds)))
            await asyncio.sleep(window)
            stop.set()
            ages = await watcher
            lat = _latencies(viewer, start)
            await viewer.close()
            await publisher.close()
    return lat, ages


def _new_segments(hls_dir: str, seen: set[str], parts: bool = False) -> list[tuple[str, bytes]]:
    """(segment, init + data) for every segment not seen before; for LL-HLS parts, the data
    is the segment's parts so far (a non-independent part only decodes after its keyframe).
    File I/O: run in a thread."""
    playlists = list(Path(hls_dir).glob("*/source/index.m3u8"))
    if not playlists:
        return []
    playlist = playlists[0]
    out: list[tuple[str, bytes]] = []
    try:
        text = playlist.read_text()
        init = (playlist.parent / "init.mp4").read_bytes()
        if not parts:
            for name in [n for n in text.splitlines() if n.endswith(".m4s")]:
                if name not in seen:
                    seen.add(name)
                    out.append((name, init + (playlist.parent / name).read_bytes()))
            return out
        names: list[tuple[str, str]] = re.findall(
            r'#EXT-X-PART:[^\n]*URI="(part_(\d{5})_\d+\.m4s)"', text
        )
        for name, msn in names:
            if name not in seen:
                seen.add(name)
                same = [n for n, m in names if m == msn]
                upto = same[: same.index(name) + 1]
                data = b"".join((playlist.parent / n).read_bytes() for n in upto)
                out.append((msn, init + data))
    except OSError:
        return []
    return out


async def _hls_files(
    hls_dir: str, stop: asyncio.Event, parts: bool = False
) -> list[tuple[int, int]]:
    """Watch the packager's files directly (the bench server has no HTTP HLS routes)."""
    seen: set[str] = set()
    decoded: dict[str, int] = {}
    ages: list[tuple[int, int]] = []
    await asyncio.to_thread(_new_segments, hls_dir, seen, parts)  # existing ones say nothing
    while not stop.is_set():
        await asyncio.sleep(0.02 if parts else 0.05)
        items = await asyncio.to_thread(_new_segments, hls_dir, seen, parts)
        now_ms = int(time.time() * 1000)
        for key, data in items:
            stamps = await asyncio.to_thread(_segment_stamps, data)
            fresh = stamps[decoded.get(key, 0) :]
            decoded[key] = len(stamps)
            if fresh:
                ages.append((now_ms - fresh[0], now_ms - fresh[-1]))
    return ages


def run() -> str:
    window = float(os.environ.get("LATENCY_WINDOW", "15"))
    direct = asyncio.run(_direct(window))
    served, hls = asyncio.run(_through_server(window))
    _, ll = asyncio.run(_through_server(window, part_seconds=0.2))
    lines = [
        "Publisher: aiortc sending the stamped synthetic source, 1280x720 at 30 fps, H.264 "
        "encoded by aiortc (as a browser would). Viewer: aiortc, decodes every frame and reads "
        f"the burnt-in capture time. {window:.0f} s windows, loopback, 2-core machine shared by "
        "publisher, server and viewer.",
        "",
        "| path | frames | p50 ms | p95 ms | max ms |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, values in (
        ("baseline: publisher → viewer directly (no server)", direct),
        ("WHIP → server (pass-through) → WHEP", served),
    ):
        if values:
            lines.append(
                f"| {name} | {len(values)} | {statistics.median(values):.0f} | "
                f"{_pct(values, 0.95)} | {max(values)} |"
            )
    if hls:
        first = [a for a, _ in hls]
        last = [b for _, b in hls]
        lines += [
            "",
            "HLS (pass-through rendition, fMP4, 1 s segments), age of a segment's frames when "
            f"the segment appears in the playlist ({len(hls)} segments):",
            "",
            "| frame | p50 ms | max ms |",
            "|---|---:|---:|",
            f"| first (oldest) | {statistics.median(first):.0f} | {max(first)} |",
            f"| last (newest) | {statistics.median(last):.0f} | {max(last)} |",
        ]
    if ll:
        first = [a for a, _ in ll]
        last = [b for _, b in ll]
        lines += [
            "",
            "LL-HLS (same, 0.2 s parts, 1 s segments; second run), age of a part's frames when "
            f"the part appears in the playlist ({len(ll)} parts):",
            "",
            "| frame | p50 ms | max ms |",
            "|---|---:|---:|",
            f"| first (oldest) | {statistics.median(first):.0f} | {max(first)} |",
            f"| last (newest) | {statistics.median(last):.0f} | {max(last)} |",
        ]
    lines += [
        "",
        "A player adds its own buffer (hls.js holds ~3 segments, or PART-HOLD-BACK = 3 parts "
        "in low-latency mode) on top of these availability figures.",
        "",
        "Reproduce: `scripts/loopback-ns .venv/bin/python -m bench latency` "
        "(env `LATENCY_WINDOW`).",
    ]
    return "\n".join(lines)
