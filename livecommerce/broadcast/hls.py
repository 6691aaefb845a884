"""HLS packager: one per live show, fMP4/CMAF segments with EXT-X-PROGRAM-DATE-TIME, and replay.

Owns ``<media_dir>/hls/<show_id>/``: a multivariant ``index.m3u8`` written by us, and one
directory per rendition with FFmpeg's ``hls`` muxer output (``index.m3u8``, ``init.mp4``,
``seg_NNNNN.m4s``). The default ladder is pass-through (the feed's H.264 packets remuxed, no
encoder) plus 360p (one decoder and one libx264 encoder per show, however many HLS viewers).

Everything heavy runs in one thread per show fed by a bounded queue that the feed fills from
the event loop; when the queue is full packets are dropped and the packager resynchronises on
the next keyframe, so a slow disk or CPU costs picture, never memory or latency of the loop.
Segments can only be cut at keyframes: when none has arrived for a segment duration the
packager asks the feed for one (the publisher gets a PLI, the synthetic encoder an I-frame).

Playlists are type EVENT, so they list every segment; when the show ends FFmpeg appends
``#EXT-X-ENDLIST`` and the same files become the replay, served as VOD under ``/replays/``.
LL-HLS (``hls_low_latency``): each rendition is muxed by the ``mp4`` muxer into ~200 ms CMAF
parts instead (see :mod:`livecommerce.broadcast.llhls`); the HTTP layer blocks playlist reloads
on :meth:`ShowPackager.wait_for_part`.

Audio: the feed's Opus is decoded once per show and encoded to AAC in each rendition (AAC is
what every HLS player plays). VP8 feeds get only the transcoded renditions (no VP8 in HLS).
"""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import logging
import os
import queue
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import av
from av.video.frame import PictureType

from livecommerce.broadcast.cmaf import FragmentSplitter
from livecommerce.broadcast.config import Rendition
from livecommerce.broadcast.llhls import LowLatencyPlaylist, PartPosition
from livecommerce.broadcast.relay import ShowFeed

if TYPE_CHECKING:
    from livecommerce.broadcast.relay import EncodedPacket

__all__ = ["HlsPackagers", "ShowPackager", "parameter_sets"]

log = logging.getLogger(__name__)

QUEUE_PACKETS = 240  # ~8 s of 30 fps video between the loop and the packager thread
_TB = fractions.Fraction(1, 90_000)


def parameter_sets(annexb: bytes) -> bytes:
    """The SPS and PPS NAL units (with start codes) of an Annex-B H.264 access unit."""
    out = bytearray()
    starts = []
    i = annexb.find(b"\x00\x00\x01")
    while i != -1:
        starts.append(i)
        i = annexb.find(b"\x00\x00\x01", i + 3)
    for n, start in enumerate(starts):
        end = starts[n + 1] if n + 1 < len(starts) else len(annexb)
        nal = annexb[start + 3 : end].rstrip(b"\x00")
        if nal and nal[0] & 0x1F in (7, 8):
            out += b"\x00\x00\x00\x01" + nal
    return bytes(out)


@dataclass
class _Item:
    kind: str
    data: bytes
    pts: int
    keyframe: bool


_AUDIO_TB = fractions.Fraction(1, 48_000)


class _Rendition:
    """One rendition's FFmpeg hls muxer; opened lazily when the first picture is known."""

    def __init__(
        self,
        spec: Rendition,
        directory: Path,
        segment_seconds: float,
        fps: int,
        audio: bool,
        low_latency: LowLatencyPlaylist | None = None,
    ) -> None:
        self.spec = spec
        self.low_latency = low_latency
        self.with_audio = audio
        self.audio: av.AudioStream | None = None
        self.directory = directory
        self.segment_seconds = segment_seconds
        self.fps = fps
        self.container: av.container.OutputContainer | None = None
        self.stream: av.VideoStream | None = None
        self.size = (0, 0)
        self.next_keyframe_pts = 0
        self.last_pts = -1

    def _open(self) -> av.container.OutputContainer:
        self.directory.mkdir(parents=True, exist_ok=True)
        if self.low_latency is not None:
            part_us = int(self.low_latency.part_target * 1_000_000)
            sink = FragmentSplitter(self.low_latency.on_init, self.low_latency.on_fragment)
            return av.open(
                sink,
                mode="w",
                format="mp4",
                options={
                    "movflags": "cmaf+frag_keyframe+empty_moov+default_base_moof",
                    "frag_duration": str(part_us),
                    "flush_packets": "1",
                },
            )
        return av.open(
            str(self.directory / "index.m3u8"),
            mode="w",
            format="hls",
            options={
                "hls_time": str(self.segment_seconds),
                "hls_segment_type": "fmp4",
                "hls_flags": "program_date_time+independent_segments+temp_file",
                "hls_playlist_type": "event",
                "hls_segment_filename": str(self.directory / "seg_%05d.m4s"),
                "hls_fmp4_init_filename": "init.mp4",
            },
        )

    def open_passthrough(self, width: int, height: int, extradata: bytes) -> None:
        container = self._open()
        stream = container.add_stream("h264", rate=self.fps)
        stream.width, stream.height, stream.time_base = width, height, _TB
        stream.codec_context.extradata = extradata
        self.container, self.stream, self.size = container, stream, (width, height)
        self._add_audio(container)

    def _add_audio(self, container: av.container.OutputContainer) -> None:
        """AAC (what every HLS player plays) from the show's decoded Opus, per rendition."""
        if not self.with_audio:
            return
        audio = container.add_stream("aac", rate=48_000)
        audio.layout = "stereo"
        audio.bit_rate = 128_000
        audio.time_base = _AUDIO_TB
        self.audio = audio

    def encode_audio(self, frame: av.AudioFrame, pts: int) -> None:
        if self.container is None or self.audio is None:
            return
        frame.pts, frame.time_base = pts, _AUDIO_TB
        for packet in self.audio.encode(frame):
            self.container.mux(packet)

    def open_encoder(self, source_width: int, source_height: int) -> None:
        height = min(self.spec.height, source_height)
        width = max(2, round(source_width * height / source_height / 2) * 2)
        container = self._open()
        stream = container.add_stream("libx264", rate=self.fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.time_base = _TB
        stream.bit_rate = self.spec.bitrate or 800_000
        stream.codec_context.options = {
            "preset": "ultrafast",
            "tune": "zerolatency",
            "profile": "baseline",
            # Keyframes only where we force them (the segment grid): no GOP or scene cuts
            # that would start segments or LL-HLS parts off the grid.
            "g": str(max(1, int(self.fps * self.segment_seconds * 10))),
            "x264-params": "scenecut=0",
        }
        self.container, self.stream, self.size = container, stream, (width, height)
        self._add_audio(container)

    def mux_packet(self, item: _Item, pts: int) -> None:
        assert self.container is not None
        assert self.stream is not None
        packet = av.Packet(item.data)
        packet.pts = packet.dts = pts
        packet.time_base = _TB
        packet.is_keyframe = item.keyframe
        packet.stream = self.stream
        self.container.mux(packet)

    def encode(self, frame: av.VideoFrame, pts: int) -> None:
        assert self.container is not None
        assert self.stream is not None
        # A decoder can release several frames for one packet: keep encoder input strictly
        # increasing, or the muxer refuses the output (EINVAL on non-monotonic DTS).
        pts = max(pts, self.last_pts + 1)
        self.last_pts = pts
        scaled = frame.reformat(width=self.size[0], height=self.size[1], format="yuv420p")
        scaled.pts, scaled.time_base = pts, _TB
        if pts >= self.next_keyframe_pts:  # keyframes on the segment grid
            scaled.pict_type = PictureType.I
            self.next_keyframe_pts = pts + int(self.segment_seconds * 90_000)
        for packet in self.stream.encode(scaled):
            self.container.mux(packet)

    def close(self) -> None:
        if self.container is None:
            return
        if self.stream is not None and self.spec.height:
            with contextlib.suppress(av.FFmpegError):
                for packet in self.stream.encode(None):
                    self.container.mux(packet)
        if self.audio is not None:
            with contextlib.suppress(av.FFmpegError):
                for packet in self.audio.encode(None):
                    self.container.mux(packet)
        self.container.close()  # hls muxer: writes #EXT-X-ENDLIST; mp4: the last part
        self.container = None
        if self.low_latency is not None:
            self.low_latency.finish()


class ShowPackager:
    """Packages one show's feed into HLS renditions in a dedicated thread."""

    def __init__(
        self,
        feed: ShowFeed,
        directory: Path,
        ladder: tuple[Rendition, ...],
        segment_seconds: float = 2.0,
        fps: int = 30,
        part_seconds: float | None = None,
    ) -> None:
        self.feed = feed
        self.directory = directory
        self.part_seconds = part_seconds
        self.positions: dict[str, PartPosition] = {}
        self._changed: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.segment_seconds = segment_seconds
        codec = (feed.video_codec.name if feed.video_codec else "h264").lower()
        self.codec = codec
        # No VP8 in HLS: a VP8 feed keeps only transcoded renditions.
        self.ladder = tuple(r for r in ladder if r.height or codec == "h264")
        self.has_audio = feed.audio_codec is not None
        self.renditions = [
            _Rendition(
                r,
                directory / r.name,
                segment_seconds,
                fps,
                self.has_audio,
                self._low_latency(r.name, directory / r.name),
            )
            for r in self.ladder
        ]
        self.dropped = 0
        self.packets = 0
        self.failed = False  # the thread died; the tap stops queueing
        self._queue: queue.Queue[_Item | None] = queue.Queue(QUEUE_PACKETS)
        self._resync = True
        self._thread = threading.Thread(target=self._run, name=f"hls-{feed.show_id}", daemon=True)
        self._watchdog: asyncio.Task[None] | None = None
        self._last_keyframe = 0.0
        self.ready = threading.Event()  # set once the multivariant playlist exists

    def _low_latency(self, name: str, directory: Path) -> LowLatencyPlaylist | None:
        if self.part_seconds is None:
            return None

        def notify(position: PartPosition) -> None:  # packager thread → event loop
            if self._loop is not None:
                self._loop.call_soon_threadsafe(self._moved, name, position)

        return LowLatencyPlaylist(directory, self.segment_seconds, self.part_seconds, notify)

    # -- event loop side -------------------------------------------------------------------
    def _moved(self, name: str, position: PartPosition) -> None:
        self.positions[name] = position
        if self._changed is not None:
            self._changed.set()
            self._changed = asyncio.Event()

    async def wait_for_part(
        self, rendition: str, msn: int, part: int | None, within: float
    ) -> bool:
        """Block until segment ``msn`` (part ``part``) of a rendition exists (LL-HLS reload)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while True:
            position = self.positions.get(rendition)
            if position is not None and position.has(msn, part):
                return True
            remaining = deadline - loop.time()
            if remaining <= 0 or self._changed is None:
                return False
            try:
                await asyncio.wait_for(self._changed.wait(), remaining)
            except TimeoutError:
                return False

    def start(self) -> None:
        """Start the thread, tap the feed and watch the keyframe cadence."""
        self._loop = asyncio.get_running_loop()
        self._changed = asyncio.Event()
        if self.directory.exists():
            shutil.rmtree(self.directory)  # a restarted show starts a fresh recording
        self.directory.mkdir(parents=True)
        self._thread.start()
        self.feed.add_tap(self._tap)
        self._last_keyframe = asyncio.get_running_loop().time()
        self._watchdog = asyncio.create_task(self._keyframe_watchdog())

    def _tap(self, packet: EncodedPacket, kind: str) -> None:
        if self.failed:
            return
        if kind == "audio":
            with contextlib.suppress(queue.Full):  # a lost 20 ms of audio needs no resync
                self._queue.put_nowait(_Item(kind, bytes(packet), packet.pts or 0, True))
            return
        if packet.is_keyframe:
            self._last_keyframe = asyncio.get_running_loop().time()
            self._resync = False
        elif self._resync:
            return
        try:
            self._queue.put_nowait(_Item(kind, bytes(packet), packet.pts or 0, packet.is_keyframe))
        except queue.Full:
            self.dropped += 1
            self._resync = True  # decoding resumes cleanly only at the next keyframe

    async def _keyframe_watchdog(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self.segment_seconds / 4)
            if loop.time() - self._last_keyframe > self.segment_seconds:
                self.feed.request_keyframe()

    async def stop(self) -> None:
        """Stop tapping, let the thread drain and close every playlist with ENDLIST."""
        self.feed.remove_tap(self._tap)
        if self._watchdog is not None:
            self._watchdog.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watchdog
        await asyncio.to_thread(self._finish_thread)

    def _finish_thread(self) -> None:
        """Hand the thread its end marker without ever blocking on a dead thread's full queue."""
        while self._thread.is_alive():
            try:
                self._queue.put(None, timeout=0.5)
                break
            except queue.Full:
                continue
        self._thread.join()

    # -- packager thread -----------------------------------------------------------------------
    def _run(self) -> None:
        decoder = av.CodecContext.create(self.codec, "r")
        assert isinstance(decoder, av.VideoCodecContext)
        opus = av.CodecContext.create("opus", "r")
        assert isinstance(opus, av.AudioCodecContext)
        base: int | None = None
        last = -1
        audio_base: int | None = None
        last_audio = -1
        try:
            while (item := self._queue.get()) is not None:
                if item.kind == "audio":
                    if last < 0:
                        continue  # nothing to align with before the first picture
                    # Start audio where the video is now, then follow its own clock.
                    if audio_base is None or item.pts - audio_base <= last_audio:
                        now = max(last_audio + 960, last * 48_000 // 90_000)
                        audio_base = item.pts - now
                    last_audio = item.pts - audio_base
                    self._package_audio(opus, item, last_audio)
                    continue
                # Timestamps restart when a publisher reconnects: keep output monotonic.
                if base is None or item.pts - base <= last:
                    base = item.pts - (last + 3000 if last >= 0 else 0)
                pts = item.pts - base
                last = pts
                self.packets += 1
                self._package(decoder, item, pts)
        except Exception:
            log.exception("HLS packager for show %s failed", self.feed.show_id)
            self.failed = True
        finally:
            for rendition in self.renditions:
                try:
                    rendition.close()
                except Exception:
                    log.exception("closing HLS rendition %s failed", rendition.spec.name)

    def _package(self, decoder: av.VideoCodecContext, item: _Item, pts: int) -> None:
        packet = av.Packet(item.data)
        packet.pts = packet.dts = pts
        packet.time_base = _TB
        try:
            frames = decoder.decode(packet)
        except av.FFmpegError:
            frames = []
        for frame in frames:
            assert isinstance(frame, av.VideoFrame)
            frame_pts = frame.pts if frame.pts is not None else pts
            for rendition in self.renditions:
                if rendition.container is None and item.keyframe:
                    if rendition.spec.height:
                        rendition.open_encoder(frame.width, frame.height)
                    else:
                        rendition.open_passthrough(
                            frame.width, frame.height, parameter_sets(item.data)
                        )
            if not self.ready.is_set() and all(r.container for r in self.renditions):
                self._write_multivariant()
            for rendition in self.renditions:
                if rendition.container is not None and rendition.spec.height:
                    rendition.encode(frame, frame_pts)
        for rendition in self.renditions:
            if rendition.container is not None and not rendition.spec.height:
                rendition.mux_packet(item, pts)

    def _package_audio(self, opus: av.AudioCodecContext, item: _Item, pts: int) -> None:
        try:
            frames = opus.decode(av.Packet(item.data))
        except av.FFmpegError:
            return
        for frame in frames:
            for rendition in self.renditions:
                rendition.encode_audio(frame, pts)
            pts += frame.samples

    def _write_multivariant(self) -> None:
        lines = ["#EXTM3U", "#EXT-X-VERSION:7", "#EXT-X-INDEPENDENT-SEGMENTS"]
        codecs = "avc1.42e01f,mp4a.40.2" if self.has_audio else "avc1.42e01f"
        for rendition in self.renditions:
            width, height = rendition.size
            bandwidth = rendition.spec.bitrate or 2_500_000
            lines.append(
                f"#EXT-X-STREAM-INF:BANDWIDTH={int(bandwidth * 1.1)},"
                f'RESOLUTION={width}x{height},CODECS="{codecs}"'
            )
            lines.append(f"{rendition.spec.name}/index.m3u8")
        tmp = self.directory / "index.m3u8.tmp"
        tmp.write_text("\n".join(lines) + "\n")
        os.replace(tmp, self.directory / "index.m3u8")
        self.ready.set()


class HlsPackagers:
    """The packagers of this node, following the manager's feeds (a ``FeedListener``)."""

    def __init__(
        self,
        root: Path,
        ladder: tuple[Rendition, ...],
        segment_seconds: float,
        fps: int,
        part_seconds: float | None = None,
    ) -> None:
        self.root = root
        self.part_seconds = part_seconds
        self.ladder = ladder
        self.segment_seconds = segment_seconds
        self.fps = fps
        self.packagers: dict[str, ShowPackager] = {}

    def show_dir(self, show_id: str) -> Path:
        """Where a show's playlists and segments live (also its replay)."""
        return self.root / show_id

    def feed_started(self, feed: ShowFeed) -> None:
        """Start packaging a feed (a reconnecting publisher keeps the running packager)."""
        current = self.packagers.get(feed.show_id)
        if current is not None and current.feed is feed:
            return
        packager = ShowPackager(
            feed,
            self.show_dir(feed.show_id),
            self.ladder,
            self.segment_seconds,
            self.fps,
            self.part_seconds,
        )
        self.packagers[feed.show_id] = packager
        packager.start()

    async def feed_ended(self, feed: ShowFeed) -> None:
        """Finish the show's playlists; they stay on disk as the replay."""
        packager = self.packagers.pop(feed.show_id, None)
        if packager is not None:
            await packager.stop()

    async def close(self) -> None:
        """Shutdown: finish every packager."""
        for show_id in list(self.packagers):
            await self.packagers.pop(show_id).stop()
