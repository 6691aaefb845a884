"""The packager of one live show: a thread that turns the feed's packets into the HLS ladder.

Everything heavy (one H.264/VP8 decoder, one Opus decoder, the renditions' encoders and muxers)
runs in one thread per show fed by a bounded queue that the feed's tap fills from the event
loop; when the queue is full packets are dropped and the packager resynchronises on the next
keyframe, so a slow disk or CPU costs picture, never memory or latency of the loop. Segments can
only be cut at keyframes: when none has arrived for a segment duration the packager asks the
feed for one (the publisher gets a PLI, the synthetic encoder an I-frame). Timestamps are kept
monotonic across publisher reconnects, the Opus is decoded once per show for every rendition's
AAC, and a VP8 feed gets only the transcoded renditions (no VP8 in HLS). With LL-HLS on, part
positions flow back to the loop so the HTTP layer can block on :meth:`ShowPackager.wait_for_part`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import av

from livecommerce.broadcast.config import Rendition
from livecommerce.broadcast.ladder import (
    VIDEO_TIME_BASE,
    RenditionMuxer,
    parameter_sets,
    write_multivariant,
)
from livecommerce.broadcast.llhls import LowLatencyPlaylist, PartPosition
from livecommerce.broadcast.relay import ShowFeed

if TYPE_CHECKING:
    from livecommerce.broadcast.relay import EncodedPacket

__all__ = ["ShowPackager"]

log = logging.getLogger(__name__)

QUEUE_PACKETS = 240  # ~8 s of 30 fps video between the loop and the packager thread


@dataclass
class _Item:
    kind: str
    data: bytes
    pts: int
    keyframe: bool


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
            RenditionMuxer(
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
        packet.time_base = VIDEO_TIME_BASE
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
                write_multivariant(self.directory, self.renditions, self.has_audio)
                self.ready.set()
            for rendition in self.renditions:
                if rendition.container is not None and rendition.spec.height:
                    rendition.encode(frame, frame_pts)
        for rendition in self.renditions:
            if rendition.container is not None and not rendition.spec.height:
                rendition.mux_packet(item.data, item.keyframe, pts)

    def _package_audio(self, opus: av.AudioCodecContext, item: _Item, pts: int) -> None:
        try:
            frames = opus.decode(av.Packet(item.data))
        except av.FFmpegError:
            return
        for frame in frames:
            for rendition in self.renditions:
                rendition.encode_audio(frame, pts)
            pts += frame.samples
