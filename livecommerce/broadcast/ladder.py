"""The HLS ladder on disk: one muxer per rendition and the multivariant playlist listing them.

A rendition is either pass-through (the feed's H.264 packets remuxed, no encoder) or transcoded
(one libx264 encoder whose keyframes sit on the segment grid, so segments and LL-HLS parts are
only ever cut where we chose). Each is written by PyAV's ``mp4`` muxer in CMAF fragments into a
:class:`~livecommerce.broadcast.cmaf.FragmentSplitter`, and our
:class:`~livecommerce.broadcast.playlist.MediaPlaylist` makes the files and the playlist. A
muxer lives for one *run*: it opens lazily, once a picture gives the size, and closes when the
format changes (new SPS for pass-through, new output size for transcoded), when the publisher
pauses, or when it fails; the next run starts a new init segment after a discontinuity, with
media time continuing where the last one stopped (``frag_discont`` keeps ``tfdt`` absolute).
Each carries its own AAC encoder because AAC is what every HLS player plays. Packets are
written with ``mux_one`` (no interleaving queue), so a missing audio track never holds video
back. Used only from the packager thread.
"""

from __future__ import annotations

import contextlib
import fractions
import os
from pathlib import Path

import av
from av.video.frame import PictureType

from livecommerce.broadcast.cmaf import FragmentSplitter
from livecommerce.broadcast.config import Rendition
from livecommerce.broadcast.h264 import SpsInfo, parse_sps
from livecommerce.broadcast.playlist import MediaPlaylist

__all__ = ["VIDEO_TIME_BASE", "InjectedFault", "RenditionMuxer", "write_multivariant"]

VIDEO_TIME_BASE = fractions.Fraction(1, 90_000)
_AUDIO_TIME_BASE = fractions.Fraction(1, 48_000)
_DEFAULT_CODEC = "avc1.42e01f"  # constrained baseline 3.1, until a rendition's SPS says more


class InjectedFault(RuntimeError):
    """Raised inside a rendition's real mux path when a test asked it to fail
    (:meth:`~livecommerce.broadcast.packager.ShowPackager.inject_fault`)."""


class RenditionMuxer:
    """One rendition's current muxer run and how it was opened."""

    def __init__(self, spec: Rendition, playlist: MediaPlaylist, fps: int, audio: bool) -> None:
        self.spec = spec
        self.playlist = playlist
        self.fps = fps
        self.with_audio = audio
        self.container: av.container.OutputContainer | None = None
        self.stream: av.VideoStream | None = None
        self.audio: av.AudioStream | None = None
        self.size = (0, 0)  # output picture size of the current (or last) run
        self.codec: str | None = None  # RFC 6381 video codec of the current (or last) run
        self.extradata = b""  # pass-through: the SPS/PPS the current run was opened with
        self.source_size = (0, 0)  # transcoded: the input size the current run was opened for
        self.next_keyframe_pts = 0
        self.last_pts = -1
        self.fault_pending = False  # set by ShowPackager.inject_fault (tests)

    @property
    def passthrough(self) -> bool:
        """Remux of the feed's H.264 (no encoder)."""
        return not self.spec.height

    @property
    def is_open(self) -> bool:
        """Whether a run is in progress."""
        return self.container is not None

    def _open(self) -> av.container.OutputContainer:
        self.playlist.directory.mkdir(parents=True, exist_ok=True)
        options = {
            # frag_discont: tfdt carries the absolute media time, so a new run continues the
            # show's timeline instead of restarting at zero.
            "movflags": "cmaf+frag_keyframe+empty_moov+default_base_moof+frag_discont",
            "flush_packets": "1",
        }
        if self.playlist.part_target is not None:
            # The muxer cuts before the first packet at least frag_duration after the part's
            # first one: one frame (plus 1 ms of slack) under the part target makes every
            # part exactly the target's frames, never one frame over PART-TARGET.
            cut = max(0.001, self.playlist.part_target - 1 / self.fps + 0.001)
            options["frag_duration"] = str(int(cut * 1_000_000))
        sink = FragmentSplitter(self.playlist.on_init, self.playlist.on_fragment)
        return av.open(sink, mode="w", format="mp4", options=options)

    def open_passthrough(self, sps: SpsInfo, extradata: bytes) -> None:
        """Start a run that remuxes H.264 with these parameter sets."""
        container = self._open()
        stream = container.add_stream("h264", rate=self.fps)
        stream.width, stream.height, stream.time_base = sps.width, sps.height, VIDEO_TIME_BASE
        stream.codec_context.extradata = extradata
        self.container, self.stream = container, stream
        self.size, self.codec, self.extradata = (sps.width, sps.height), sps.codec, extradata
        self._add_audio(container)

    def open_encoder(self, source_width: int, source_height: int) -> None:
        """Start a run that encodes pictures of this source size (scaled to the spec height)."""
        width, height = self.output_size(source_width, source_height)
        container = self._open()
        stream = container.add_stream("libx264", rate=self.fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        # The encoder works on the 90 kHz clock too: with the default 1/fps time base every
        # pts is rounded to the frame grid, and a publisher whose frame rate drifts or changes
        # makes two pictures share a tick, which the muxer refuses (EINVAL).
        stream.time_base = stream.codec_context.time_base = VIDEO_TIME_BASE
        stream.bit_rate = self.spec.bitrate or 800_000
        stream.codec_context.options = {
            "preset": "ultrafast",
            "tune": "zerolatency",
            "profile": "baseline",
            # Keyframes only where we force them (the segment grid): no GOP or scene cuts
            # that would start segments or LL-HLS parts off the grid.
            "g": str(max(1, int(self.fps * self.playlist.segment_seconds * 10))),
            "x264-params": "scenecut=0",
        }
        self.container, self.stream = container, stream
        self.size, self.source_size = (width, height), (source_width, source_height)
        self.codec = None  # read from the encoder's SPS once it has produced one
        self.next_keyframe_pts, self.last_pts = 0, -1
        self._add_audio(container)

    def output_size(self, source_width: int, source_height: int) -> tuple[int, int]:
        """The picture size a transcoded run opened for this source would have."""
        height = min(self.spec.height, source_height)
        width = max(2, round(source_width * height / source_height / 2) * 2)
        return width, max(2, height // 2 * 2)

    def _add_audio(self, container: av.container.OutputContainer) -> None:
        """AAC (what every HLS player plays) from the show's decoded Opus, per rendition."""
        if not self.with_audio:
            return
        audio = container.add_stream("aac", rate=48_000)
        audio.layout = "stereo"
        audio.bit_rate = 128_000
        audio.time_base = _AUDIO_TIME_BASE
        self.audio = audio

    def _check_fault(self) -> None:
        if self.fault_pending:
            self.fault_pending = False
            raise InjectedFault(f"fault injected into rendition {self.spec.name}")

    def encode_audio(self, frame: av.AudioFrame, pts: int) -> None:
        """Encode one decoded Opus frame (48 kHz clock) into this run's AAC track."""
        if self.container is None or self.audio is None:
            return
        frame.pts, frame.time_base = pts, _AUDIO_TIME_BASE
        for packet in self.audio.encode(frame):
            self.container.mux_one(packet)

    def mux_packet(self, data: bytes, keyframe: bool, pts: int, duration: int) -> None:
        """Remux one H.264 access unit (pass-through)."""
        assert self.container is not None
        assert self.stream is not None
        self._check_fault()
        packet = av.Packet(data)
        packet.pts = packet.dts = pts
        packet.duration = duration  # the last sample of a run keeps a real duration
        packet.time_base = VIDEO_TIME_BASE
        packet.is_keyframe = keyframe
        packet.stream = self.stream
        self.container.mux_one(packet)

    def encode(self, frame: av.VideoFrame, pts: int, duration: int) -> None:
        """Scale and encode one decoded picture (transcoded)."""
        assert self.container is not None
        assert self.stream is not None
        self._check_fault()
        # A decoder can release several frames for one packet: keep encoder input strictly
        # increasing, or the muxer refuses the output (EINVAL on non-monotonic DTS).
        pts = max(pts, self.last_pts + 1)
        self.last_pts = pts
        scaled = frame.reformat(width=self.size[0], height=self.size[1], format="yuv420p")
        scaled.pts, scaled.time_base = pts, VIDEO_TIME_BASE
        if pts >= self.next_keyframe_pts:  # keyframes on the segment grid
            scaled.pict_type = PictureType.I
            self.next_keyframe_pts = pts + int(self.playlist.segment_seconds * 90_000)
        for packet in self.stream.encode(scaled):
            packet.duration = packet.duration or duration  # 90 kHz, like the pts
            self.container.mux_one(packet)
        if self.codec is None and self.stream.codec_context.extradata:
            info = parse_sps(self.stream.codec_context.extradata)
            self.codec = info.codec if info is not None else _DEFAULT_CODEC

    def close(self) -> None:
        """End the run cleanly: flush encoders and the muxer, list the last segment."""
        container, self.container = self.container, None
        if container is None:
            return
        try:
            if self.stream is not None and not self.passthrough:
                for packet in self.stream.encode(None):
                    container.mux_one(packet)
            if self.audio is not None:
                for packet in self.audio.encode(None):
                    container.mux_one(packet)
            container.close()  # writes the last fragment into the splitter
        finally:
            self.stream = self.audio = None
            self.playlist.end_run()

    def abort(self) -> None:
        """End a run that failed: keep what was already written, drop what the muxer held."""
        container, self.container = self.container, None
        self.stream = self.audio = None
        if container is not None:
            with contextlib.suppress(Exception):  # the muxer is in an unknown state
                container.close()
        self.playlist.end_run()

    def finish(self) -> None:
        """The show ended: close the run and write the final playlist (ENDLIST)."""
        try:
            self.close()
        finally:
            self.playlist.finish()


def write_multivariant(directory: Path, renditions: list[RenditionMuxer], has_audio: bool) -> None:
    """Write ``index.m3u8`` atomically, so a player never reads a half-written ladder."""
    lines = ["#EXTM3U", "#EXT-X-VERSION:7", "#EXT-X-INDEPENDENT-SEGMENTS"]
    for rendition in renditions:
        width, height = rendition.size
        bandwidth = rendition.spec.bitrate or 2_500_000
        codecs = rendition.codec or _DEFAULT_CODEC
        if has_audio:
            codecs += ",mp4a.40.2"
        lines.append(
            f"#EXT-X-STREAM-INF:BANDWIDTH={int(bandwidth * 1.1)},"
            f'RESOLUTION={width}x{height},CODECS="{codecs}"'
        )
        lines.append(f"{rendition.spec.name}/index.m3u8")
    tmp = directory / "index.m3u8.tmp"
    tmp.write_text("\n".join(lines) + "\n")
    os.replace(tmp, directory / "index.m3u8")
