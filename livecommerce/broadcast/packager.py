"""The packager of one show: a thread that turns the feed's packets into the HLS ladder, and
keeps doing so whatever the publisher sends, for as long as the show lasts.

Everything heavy (one H.264/VP8 decoder, one Opus decoder, the renditions' encoders and muxers)
runs in one thread per show fed by a bounded queue that the feed's tap fills from the event
loop; when the queue is full packets are dropped and the packager resynchronises on the next
keyframe, so a slow disk or CPU costs picture, never memory or latency of the loop. Segments can
only be cut at keyframes: while media flows and none has arrived for a segment duration the
packager asks the feed for one (the publisher gets a PLI, the synthetic encoder an I-frame).

Nothing the publisher does takes the show's HLS down. Browsers change resolution and frame rate
under load and OBS restarts with new parameter sets: a pass-through rendition starts a new run
(new init segment, ``#EXT-X-DISCONTINUITY``) at the keyframe that carries a new SPS, a
transcoded one reopens its encoder when its output size changes, and timestamps that jump are
re-based so media time stays continuous. Any error in one rendition aborts only that
rendition's run; it restarts at the next picture (transcoded) or keyframe, asked for at once
(pass-through), while the other renditions go on. A failing decoder is recreated. An error
outside the renditions restarts them all, and if the thread dies anyway the watchdog starts a
new one. Every restart is logged with its show, rendition and reason and counted
(``on_restart``).

A pause (the publisher left, :meth:`ShowPackager.pause`, or no media for 1.5 segments) closes
every run, so the open segment is listed rather than lost; the resumed feed
(:meth:`ShowPackager.attach`) continues the same playlists after a discontinuity, its media
time right after the last recorded picture: the recording holds every second the show was
live and none of its pauses. A packager started on a directory that holds a recording already
(the node was killed while live) appends to it.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypeVarTuple

import av

from livecommerce.broadcast.config import Rendition
from livecommerce.broadcast.h264 import parameter_sets, parse_sps
from livecommerce.broadcast.ladder import VIDEO_TIME_BASE, RenditionMuxer, write_multivariant
from livecommerce.broadcast.playlist import MediaPlaylist, PartPosition, aligned_part_seconds
from livecommerce.broadcast.relay import ShowFeed

if TYPE_CHECKING:
    from livecommerce.broadcast.relay import EncodedPacket

__all__ = ["RestartReason", "ShowPackager"]

log = logging.getLogger(__name__)

QUEUE_PACKETS = 240  # ~8 s of 30 fps video between the loop and the packager thread
IDLE_SEGMENTS = 1.5  # no media for this many segment durations: the publisher is gone
_VIDEO_RATE, _AUDIO_RATE = 90_000, 48_000
_MAX_VIDEO_GAP = 5 * _VIDEO_RATE  # a longer jump is a timestamp reset, not a frozen picture
_MAX_AUDIO_GAP = 5 * _AUDIO_RATE
_FRAME_STEPS = (_VIDEO_RATE // 120, _VIDEO_RATE // 4)  # frame durations believed (120–4 fps)


class RestartReason(enum.StrEnum):
    """Why a rendition (or the decoder, or the thread) started over; a metric label."""

    FORMAT_CHANGE = "format_change"  # new SPS or output size: a new init segment
    ERROR = "error"  # the rendition's encoder or muxer raised
    DECODER_ERROR = "decoder_error"  # the shared decoder raised and was recreated
    THREAD_DIED = "thread_died"  # the packager thread ended unexpectedly and was restarted


class _Control(enum.Enum):
    PAUSE = "pause"  # the publisher left: close every run
    RESUME = "resume"  # a publisher is back: close every run, new decoders


@dataclass(frozen=True)
class _Packet:
    kind: str
    data: bytes
    pts: int
    keyframe: bool


_Item = _Packet | _Control | None  # None: the show ended
_Args = TypeVarTuple("_Args")


class _ThreadKilled(BaseException):
    """Raised in the packager thread by ``inject_fault(None)``: escapes every error handler the
    way an unexpected death would, so tests exercise the watchdog's restart."""


class _Clock:
    """The show's media time (90 kHz video, 48 kHz audio), continuous across runs, pauses and
    publisher restarts: a new run or a timestamp jump continues one frame after the last
    picture; a gap shorter than ``_MAX_VIDEO_GAP`` (a frozen picture while live) is kept."""

    def __init__(self, start: int = 0) -> None:
        self.start = start
        self.step = _VIDEO_RATE // 30  # duration of the latest frame
        self._last_video = -1
        self._last_audio = -1
        self._video_offset: int | None = None
        self._audio_offset: int | None = None

    def restart(self) -> None:
        """The next packets come from a new run (or a new publisher): re-base them."""
        self._video_offset = self._audio_offset = None

    def video(self, pts: int) -> int:
        """Media time of a video packet."""
        if self._video_offset is not None:
            out = pts + self._video_offset
            delta = out - self._last_video
            if 0 < delta <= _MAX_VIDEO_GAP:
                self.step = min(max(delta, _FRAME_STEPS[0]), _FRAME_STEPS[1])
                self._last_video = out
                return out
        out = self._last_video + self.step if self._last_video >= 0 else self.start
        self._video_offset = out - pts
        self._audio_offset = None  # audio follows the re-based video
        self._last_video = out
        return out

    def audio(self, pts: int) -> int | None:
        """Media time of an audio packet; None before the first picture of a run."""
        if self._video_offset is None:
            return None
        if self._audio_offset is not None:
            out = pts + self._audio_offset
            delta = out - self._last_audio
            if 0 < delta <= _MAX_AUDIO_GAP:
                self._last_audio = out
                return out
        # Start audio where the video is now, then follow its own clock.
        out = max(self._last_audio + 960, self._last_video * _AUDIO_RATE // _VIDEO_RATE)
        self._audio_offset = out - pts
        self._last_audio = out
        return out


class _Decoders:
    """The thread's decoders; recreated when they fail, on a new publisher, on a new thread."""

    def __init__(self, codec: str) -> None:
        self.video = _video_decoder(codec)
        self.opus = _opus_decoder()
        self.video_waits_keyframe = True


def _video_decoder(codec: str) -> av.VideoCodecContext:
    decoder = av.CodecContext.create(codec, "r")
    assert isinstance(decoder, av.VideoCodecContext)
    return decoder


def _opus_decoder() -> av.AudioCodecContext:
    decoder = av.CodecContext.create("opus", "r")
    assert isinstance(decoder, av.AudioCodecContext)
    return decoder


class ShowPackager:
    """Packages one show's feed into HLS renditions in a dedicated, self-healing thread."""

    def __init__(
        self,
        feed: ShowFeed,
        directory: Path,
        ladder: tuple[Rendition, ...],
        segment_seconds: float = 2.0,
        fps: int = 30,
        part_seconds: float | None = None,
        on_restart: Callable[[str, RestartReason], None] | None = None,
    ) -> None:
        self.feed = feed
        self.directory = directory
        if part_seconds is not None:
            part_seconds = aligned_part_seconds(part_seconds, segment_seconds, fps)
        self.part_seconds = part_seconds
        self.segment_seconds = segment_seconds
        self.positions: dict[str, PartPosition] = {}
        self._changed: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.codec = _codec_name(feed)
        # No VP8 in HLS: a VP8 feed keeps only transcoded renditions.
        self.ladder = tuple(r for r in ladder if r.height or self.codec == "h264")
        self.has_audio = feed.audio_codec is not None
        self.renditions = [
            RenditionMuxer(
                r,
                MediaPlaylist(
                    directory / r.name, segment_seconds, part_seconds, self._notifier(r.name)
                ),
                fps,
                self.has_audio,
            )
            for r in self.ladder
        ]
        self._on_restart = on_restart
        self.dropped = 0
        self.packets = 0
        self._queue: queue.Queue[_Item] = queue.Queue(QUEUE_PACKETS)
        self._resync = True
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._finished = False
        self._kill_thread = False
        self._recovered = False  # the recording on disk has been taken over
        self._clock = _Clock()
        self._parameter_sets = b""  # latest SPS/PPS of the feed (an IDR may come without)
        self._ladder_shape: tuple[tuple[tuple[int, int], str | None], ...] | None = None
        self._watchdog: asyncio.Task[None] | None = None
        self._last_keyframe = 0.0
        self._last_video = -1e9
        self.ready = threading.Event()  # set once the multivariant playlist exists

    def _notifier(self, name: str) -> Callable[[PartPosition], None]:
        def notify(position: PartPosition) -> None:  # packager thread → event loop
            loop = self._loop
            if loop is not None and not loop.is_closed():
                with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                    loop.call_soon_threadsafe(self._moved, name, position)

        return notify

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
        """Start the thread (which first takes over any recording in the directory), tap the
        feed and watch the thread and the keyframe cadence."""
        self._loop = asyncio.get_running_loop()
        self._changed = asyncio.Event()
        self.directory.mkdir(parents=True, exist_ok=True)
        self._start_thread()
        self.feed.add_tap(self._tap)
        self._last_keyframe = self._loop.time()
        self._watchdog = asyncio.create_task(self._watch())

    def _start_thread(self) -> None:
        self._thread = threading.Thread(
            target=self._run, name=f"hls-{self.feed.show_id}", daemon=True
        )
        self._thread.start()

    def pause(self) -> None:
        """The publisher left: close every run now, so the open segment is listed, and idle.
        The tap comes off too: if the show moves to another node, this node's feed is filled
        by a pull of the new origin, whose own packager makes the show's HLS."""
        self.feed.remove_tap(self._tap)
        self._control(_Control.PAUSE)

    def attach(self, feed: ShowFeed) -> None:
        """A publisher is back (the same feed, or a new one for the same show): continue the
        same playlists after a discontinuity, media time right after the last picture."""
        self.feed.remove_tap(self._tap)
        self.feed = feed
        feed.add_tap(self._tap)
        self._resync = True
        self._control(_Control.RESUME)

    def _control(self, item: _Control) -> None:
        try:
            self._queue.put_nowait(item)
        except queue.Full:  # the idle flush and the clock's jump check cover it
            log.warning("HLS show %s: queue full, %s not queued", self.feed.show_id, item.value)

    def inject_fault(self, rendition: str | None) -> None:
        """Test hook: make one rendition's next mux raise :class:`InjectedFault` (``None``: kill
        the packager thread), exercising the real restart paths. Not used in production."""
        if rendition is None:
            self._kill_thread = True
            return
        for muxer in self.renditions:
            if muxer.spec.name == rendition:
                muxer.fault_pending = True
                return
        raise KeyError(rendition)

    def _tap(self, packet: EncodedPacket, kind: str) -> None:
        if kind == "audio":
            with contextlib.suppress(queue.Full):  # a lost 20 ms of audio needs no resync
                self._queue.put_nowait(_Packet(kind, bytes(packet), packet.pts or 0, True))
            return
        now = asyncio.get_running_loop().time()
        self._last_video = now
        if packet.is_keyframe:
            self._last_keyframe = now
            self._resync = False
        elif self._resync:
            return
        try:
            self._queue.put_nowait(
                _Packet(kind, bytes(packet), packet.pts or 0, packet.is_keyframe)
            )
        except queue.Full:
            self.dropped += 1
            self._resync = True  # decoding resumes cleanly only at the next keyframe

    async def _watch(self) -> None:
        """Restart a dead thread; ask for keyframes while media flows without them."""
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self.segment_seconds / 4)
            thread = self._thread
            if thread is not None and not thread.is_alive() and not self._stopping:
                for muxer in self.renditions:
                    self._count(muxer, RestartReason.THREAD_DIED)
                log.error("HLS packager thread of show %s had died; restarted", self.feed.show_id)
                self._start_thread()
            now = loop.time()
            flowing = now - self._last_video < self.segment_seconds  # idle while paused
            if flowing and now - self._last_keyframe > self.segment_seconds:
                self.feed.request_keyframe()

    def _ask_keyframe(self) -> None:
        """From the thread: a pass-through run restarts at the next keyframe; get one now."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self.feed.request_keyframe)

    async def stop(self) -> None:
        """Stop tapping, let the thread drain and close every playlist with ENDLIST."""
        self._stopping = True
        self.feed.remove_tap(self._tap)
        if self._watchdog is not None:
            self._watchdog.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watchdog
        await asyncio.to_thread(self._finish_thread)

    def _finish_thread(self) -> None:
        """Hand the thread its end marker without ever blocking on a dead thread's full queue;
        finish the playlists here if the thread is gone."""
        thread = self._thread
        while thread is not None and thread.is_alive():
            try:
                self._queue.put(None, timeout=0.5)
                break
            except queue.Full:
                continue
        if thread is not None:
            thread.join()
        if not self._finished:
            self._finish_all()

    def recorded_until(self) -> float | None:
        """Wall-clock time (epoch seconds) of the newest media any rendition has written."""
        return max(
            (t for r in self.renditions if (t := r.playlist.recorded_until()) is not None),
            default=None,
        )

    # -- packager thread -----------------------------------------------------------------------
    def _run(self) -> None:
        try:
            if not self._recovered:  # also when the first thread died while recovering
                self._recover()
                self._recovered = True
            else:
                for muxer in self.renditions:  # the dead thread left them mid-run
                    self._abort(muxer)
            self._clock.restart()
            decoders = _Decoders(self.codec)
            while (item := self._next_item()) is not None:
                if self._kill_thread:
                    self._kill_thread = False
                    raise _ThreadKilled
                try:
                    self._handle(decoders, item)
                except Exception:
                    log.exception(
                        "HLS packager of show %s failed; restarting every rendition",
                        self.feed.show_id,
                    )
                    for muxer in self.renditions:
                        self._count(muxer, RestartReason.ERROR)
                        self._abort(muxer)
                    self._clock.restart()
                    decoders = _Decoders(self.codec)
                    self._ask_keyframe()
        except BaseException:  # the watchdog restarts the thread; nothing may escape it
            log.exception("HLS packager thread of show %s died", self.feed.show_id)
            return
        self._finish_all()

    def _recover(self) -> None:
        """Append to a recording a killed process left, media time after its end. A rendition
        whose files cannot be read is moved aside, never written over (players and CDNs may
        hold its segments)."""
        recovered = []
        for muxer in self.renditions:
            try:
                recovered.append(muxer.playlist.recover())
            except Exception:
                aside = muxer.playlist.directory.with_name(
                    f"{muxer.spec.name}.unreadable-{int(time.time())}"
                )
                log.exception(
                    "HLS show %s: recording unreadable; moved to %s", self.feed.show_id, aside
                )
                muxer.playlist.directory.rename(aside)
                muxer.playlist.reset()
        if any(recovered):
            recorded = max(sum(s.duration for s in m.playlist.segments) for m in self.renditions)
            self._clock = _Clock(start=round(recorded * _VIDEO_RATE) + self._clock.step)
            log.info(
                "HLS show %s: continuing the recording in %s after %.1f s",
                self.feed.show_id,
                self.directory,
                recorded,
            )

    def _next_item(self) -> _Item:
        idle = max(1.0, IDLE_SEGMENTS * self.segment_seconds)
        while True:
            try:
                return self._queue.get(timeout=idle)
            except queue.Empty:
                if any(m.is_open for m in self.renditions):
                    log.info(
                        "HLS show %s: no media for %.1f s; closing the open segments",
                        self.feed.show_id,
                        idle,
                    )
                    self._end_runs()

    def _handle(self, decoders: _Decoders, item: _Packet | _Control) -> None:
        if isinstance(item, _Control):
            self._end_runs()
            if item is _Control.RESUME:
                self.codec = _codec_name(self.feed)
                decoders.video = _video_decoder(self.codec)
                decoders.opus = _opus_decoder()
                decoders.video_waits_keyframe = True
            return
        if item.kind == "audio":
            self._audio(decoders, item)
        else:
            self.packets += 1
            self._video(decoders, item)

    def _end_runs(self) -> None:
        """Close every open run (pause, resume, idle): the open segments are listed."""
        for muxer in self.renditions:
            if muxer.is_open:
                try:
                    muxer.close()
                except Exception as exc:
                    self._restart(muxer, RestartReason.ERROR, exc)
        self._clock.restart()

    def _video(self, decoders: _Decoders, item: _Packet) -> None:
        pts = self._clock.video(item.pts)
        duration = self._clock.step
        if item.keyframe and self.codec == "h264":
            found = parameter_sets(item.data)
            if found:
                self._parameter_sets = found
        for frame in self._decode(decoders, item, pts):
            frame_pts = frame.pts if frame.pts is not None else pts
            for muxer in self.renditions:
                if not muxer.passthrough:
                    self._guarded(muxer, self._encode, muxer, frame, frame_pts, duration)
        if self.codec == "h264":
            for muxer in self.renditions:
                if muxer.passthrough:
                    self._guarded(muxer, self._remux, muxer, item, pts, duration)
        self._write_ladder()

    def _decode(self, decoders: _Decoders, item: _Packet, pts: int) -> list[av.VideoFrame]:
        if decoders.video_waits_keyframe and not item.keyframe:
            return []
        decoders.video_waits_keyframe = False
        packet = av.Packet(item.data)
        packet.pts = packet.dts = pts
        packet.time_base = VIDEO_TIME_BASE
        try:
            frames = decoders.video.decode(packet)
        except (av.FFmpegError, ValueError) as exc:
            log.warning(
                "HLS show %s: %s decoder failed (%s); recreated, waiting for a keyframe",
                self.feed.show_id,
                self.codec,
                exc,
            )
            self._count(None, RestartReason.DECODER_ERROR)
            decoders.video = _video_decoder(self.codec)
            decoders.video_waits_keyframe = True
            self._ask_keyframe()
            return []
        return [f for f in frames if isinstance(f, av.VideoFrame)]

    def _encode(self, muxer: RenditionMuxer, frame: av.VideoFrame, pts: int, duration: int) -> None:
        size = (frame.width, frame.height)
        if muxer.is_open and size != muxer.source_size:
            if muxer.output_size(*size) == muxer.size:
                muxer.source_size = size  # the scaler absorbs it: same output, same run
            else:
                self._format_change(muxer, f"source {size[0]}x{size[1]}")
        if not muxer.is_open:
            muxer.open_encoder(*size)
        muxer.encode(frame, pts, duration)

    def _remux(self, muxer: RenditionMuxer, item: _Packet, pts: int, duration: int) -> None:
        sets = self._parameter_sets
        if item.keyframe and sets and (not muxer.is_open or sets != muxer.extradata):
            sps = parse_sps(sets)
            if sps is not None:
                if muxer.is_open:
                    self._format_change(muxer, f"new SPS {sps.width}x{sps.height} {sps.codec}")
                muxer.open_passthrough(sps, sets)
        if muxer.is_open:
            muxer.mux_packet(item.data, item.keyframe, pts, duration)

    def _format_change(self, muxer: RenditionMuxer, why: str) -> None:
        log.info(
            "HLS show %s rendition %s: %s; new init segment after a discontinuity",
            self.feed.show_id,
            muxer.spec.name,
            why,
        )
        self._count(muxer, RestartReason.FORMAT_CHANGE)
        muxer.close()

    def _audio(self, decoders: _Decoders, item: _Packet) -> None:
        pts = self._clock.audio(item.pts)
        if pts is None:
            return  # nothing to align with before the first picture of a run
        try:
            frames = decoders.opus.decode(av.Packet(item.data))
        except (av.FFmpegError, ValueError):
            decoders.opus = _opus_decoder()  # a lost 20 ms of audio needs no more
            return
        for frame in frames:
            assert isinstance(frame, av.AudioFrame)
            for muxer in self.renditions:
                if muxer.is_open:
                    self._guarded(muxer, muxer.encode_audio, frame, pts)
            pts += frame.samples

    def _guarded(
        self, muxer: RenditionMuxer, work: Callable[[*_Args], None], *args: *_Args
    ) -> None:
        """Run one rendition's step; an error restarts that rendition only."""
        try:
            work(*args)
        except Exception as exc:
            self._restart(muxer, RestartReason.ERROR, exc)

    def _restart(self, muxer: RenditionMuxer, reason: RestartReason, exc: Exception) -> None:
        log.warning(
            "HLS show %s rendition %s restarts (%s): %r",
            self.feed.show_id,
            muxer.spec.name,
            reason.value,
            exc,
            exc_info=not isinstance(exc, av.FFmpegError),
        )
        self._count(muxer, reason)
        self._abort(muxer)
        if muxer.passthrough:
            self._ask_keyframe()

    def _abort(self, muxer: RenditionMuxer) -> None:
        try:
            muxer.abort()
        except Exception:
            log.exception("HLS show %s: aborting %s failed", self.feed.show_id, muxer.spec.name)

    def _count(self, muxer: RenditionMuxer | None, reason: RestartReason) -> None:
        if self._on_restart is not None:
            self._on_restart(muxer.spec.name if muxer is not None else "decoder", reason)

    def _write_ladder(self) -> None:
        """(Re)write the multivariant playlist once every rendition has a size, and again when
        a size or codec changes."""
        shape = tuple((m.size, m.codec) for m in self.renditions)
        if shape == self._ladder_shape or any(m.size == (0, 0) for m in self.renditions):
            return
        write_multivariant(self.directory, self.renditions, self.has_audio)
        self._ladder_shape = shape
        self.ready.set()

    def _finish_all(self) -> None:
        for muxer in self.renditions:
            try:
                muxer.finish()
            except Exception:
                log.exception(
                    "HLS show %s: finishing %s failed", self.feed.show_id, muxer.spec.name
                )
        self._finished = True


def _codec_name(feed: ShowFeed) -> str:
    return (feed.video_codec.name if feed.video_codec else "h264").lower()
