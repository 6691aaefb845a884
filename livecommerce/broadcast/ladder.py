"""The HLS ladder on disk: one muxer per rendition and the multivariant playlist listing them.

A rendition is either pass-through (the feed's H.264 packets remuxed, no encoder) or transcoded
(one libx264 encoder whose keyframes sit on the segment grid, so segments and LL-HLS parts are
only ever cut where we chose). Each is written by FFmpeg's ``hls`` muxer (``index.m3u8``,
``init.mp4``, ``seg_NNNNN.m4s``), or, for LL-HLS, by the ``mp4`` muxer into ~200 ms CMAF parts
(see :mod:`livecommerce.broadcast.llhls`). Muxers open lazily, once the first picture gives the
size, and each carries its own AAC encoder because AAC is what every HLS player plays. Used only
from the packager thread.
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
from livecommerce.broadcast.llhls import LowLatencyPlaylist

__all__ = ["VIDEO_TIME_BASE", "RenditionMuxer", "parameter_sets", "write_multivariant"]

VIDEO_TIME_BASE = fractions.Fraction(1, 90_000)
_AUDIO_TIME_BASE = fractions.Fraction(1, 48_000)


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


class RenditionMuxer:
    """One rendition's FFmpeg muxer; opened lazily when the first picture is known."""

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
        stream.width, stream.height, stream.time_base = width, height, VIDEO_TIME_BASE
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
        audio.time_base = _AUDIO_TIME_BASE
        self.audio = audio

    def encode_audio(self, frame: av.AudioFrame, pts: int) -> None:
        if self.container is None or self.audio is None:
            return
        frame.pts, frame.time_base = pts, _AUDIO_TIME_BASE
        for packet in self.audio.encode(frame):
            self.container.mux(packet)

    def open_encoder(self, source_width: int, source_height: int) -> None:
        height = min(self.spec.height, source_height)
        width = max(2, round(source_width * height / source_height / 2) * 2)
        container = self._open()
        stream = container.add_stream("libx264", rate=self.fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.time_base = VIDEO_TIME_BASE
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

    def mux_packet(self, data: bytes, keyframe: bool, pts: int) -> None:
        assert self.container is not None
        assert self.stream is not None
        packet = av.Packet(data)
        packet.pts = packet.dts = pts
        packet.time_base = VIDEO_TIME_BASE
        packet.is_keyframe = keyframe
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
        scaled.pts, scaled.time_base = pts, VIDEO_TIME_BASE
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


def write_multivariant(directory: Path, renditions: list[RenditionMuxer], has_audio: bool) -> None:
    """Write ``index.m3u8`` atomically, so a player never reads a half-written ladder."""
    lines = ["#EXTM3U", "#EXT-X-VERSION:7", "#EXT-X-INDEPENDENT-SEGMENTS"]
    codecs = "avc1.42e01f,mp4a.40.2" if has_audio else "avc1.42e01f"
    for rendition in renditions:
        width, height = rendition.size
        bandwidth = rendition.spec.bitrate or 2_500_000
        lines.append(
            f"#EXT-X-STREAM-INF:BANDWIDTH={int(bandwidth * 1.1)},"
            f'RESOLUTION={width}x{height},CODECS="{codecs}"'
        )
        lines.append(f"{rendition.spec.name}/index.m3u8")
    tmp = directory / "index.m3u8.tmp"
    tmp.write_text("\n".join(lines) + "\n")
    os.replace(tmp, directory / "index.m3u8")
