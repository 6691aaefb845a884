"""HLS media playlist writer: segments, discontinuities, init changes, LL-HLS parts, and taking
over a recording a killed process left behind."""

from __future__ import annotations

import fractions
import re
from pathlib import Path

import av

from livecommerce.broadcast.cmaf import Fragment, FragmentSplitter, read_fragments
from livecommerce.broadcast.encoder import make_h264_encoder
from livecommerce.broadcast.h264 import parameter_sets, parse_sps
from livecommerce.broadcast.playlist import (
    MediaPlaylist,
    PartPosition,
    aligned_part_seconds,
    recorded_until,
)
from livecommerce.broadcast.synthetic import SyntheticSource


def _fragment(start: float, duration: float = 0.5, independent: bool = True) -> Fragment:
    return Fragment(f"frag@{start:.3f}".encode(), start, duration, independent)


def _playlist(
    directory: Path, part_seconds: float | None = None
) -> tuple[MediaPlaylist, list[PartPosition]]:
    positions: list[PartPosition] = []
    return MediaPlaylist(directory, 1.0, part_seconds, positions.append), positions


def _lines(directory: Path) -> list[str]:
    return (directory / "index.m3u8").read_text().splitlines()


def _durations(directory: Path) -> list[float]:
    return [float(line[8:].rstrip(",")) for line in _lines(directory) if line.startswith("#EXTINF")]


def test_segments_are_cut_at_independent_fragments_with_measured_durations(
    tmp_path: Path,
) -> None:
    """With parts, a segment closes once it reaches the target at an independent fragment and
    EXTINF is the media time to the next segment's start; the file holds the parts' bytes.
    Without parts (every fragment starts at a keyframe) it closes as soon as it is long enough."""
    playlist, _ = _playlist(tmp_path / "ll", part_seconds=0.5)
    playlist.on_init(b"init-a")
    playlist.on_fragment(_fragment(0.0))
    playlist.on_fragment(_fragment(0.5, independent=False))
    playlist.on_fragment(_fragment(1.0, independent=False))  # not a place to cut
    playlist.on_fragment(_fragment(1.52, 0.4))  # the muxer's guess for 1.0 was 20 ms short
    playlist.finish()
    assert [1.52, 0.4] == _durations(tmp_path / "ll")
    assert b"frag@0.000frag@0.500frag@1.000" == (tmp_path / "ll/seg_00000.m4s").read_bytes()
    playlist, _ = _playlist(tmp_path)
    playlist.on_init(b"init-a")
    playlist.on_fragment(_fragment(0.0, 0.6))
    assert [] == _durations(tmp_path)  # nothing listed before a whole segment exists
    playlist.on_fragment(_fragment(0.6, 0.6))
    assert [1.2] == _durations(tmp_path)
    playlist.on_fragment(_fragment(1.2, 0.4))
    playlist.finish()
    assert [1.2, 0.4] == _durations(tmp_path)
    lines = _lines(tmp_path)
    assert '#EXT-X-MAP:URI="init.mp4"' in lines
    assert "#EXT-X-ENDLIST" == lines[-1]
    assert "#EXT-X-DISCONTINUITY" not in lines
    assert b"init-a" == (tmp_path / "init.mp4").read_bytes()


def test_new_run_gets_discontinuity_and_a_new_map_only_when_init_changes(tmp_path: Path) -> None:
    """Every run after the first starts with a discontinuity; a byte-identical init keeps its
    file and MAP, a different one gets init_<n>.mp4 and a new MAP; numbering continues."""
    playlist, _ = _playlist(tmp_path)
    playlist.on_init(b"init-720p")
    playlist.on_fragment(_fragment(0.0, 1.0))
    playlist.end_run()
    playlist.on_init(b"init-720p")  # restart, same format
    playlist.on_fragment(_fragment(1.0, 1.0))
    playlist.end_run()
    playlist.on_init(b"init-360p")  # format change
    playlist.on_fragment(_fragment(2.0, 1.0))
    playlist.finish()
    text = (tmp_path / "index.m3u8").read_text()
    blocks = text.split("#EXT-X-DISCONTINUITY")
    assert 3 == len(blocks)
    assert '#EXT-X-MAP:URI="init.mp4"' in blocks[0]
    assert "#EXT-X-MAP" not in blocks[1]  # same init: the MAP in force still applies
    assert '#EXT-X-MAP:URI="init_1.mp4"' in blocks[2]
    assert ["seg_00000.m4s", "seg_00001.m4s", "seg_00002.m4s"] == re.findall(r"seg_\d+\.m4s", text)
    assert b"init-360p" == (tmp_path / "init_1.mp4").read_bytes()
    assert not (tmp_path / "init_2.mp4").exists()


def test_low_latency_lists_parts_and_hint_while_live_and_plain_segments_at_the_end(
    tmp_path: Path,
) -> None:
    """With parts on, each fragment is a part file listed with EXT-X-PART and a preload hint;
    positions follow the parts; the final playlist lists only segments."""
    playlist, positions = _playlist(tmp_path, part_seconds=0.5)
    playlist.on_init(b"init")
    playlist.on_fragment(_fragment(0.0))
    playlist.on_fragment(_fragment(0.5, independent=False))
    playlist.on_fragment(_fragment(1.0))
    lines = _lines(tmp_path)
    assert "#EXT-X-PART-INF:PART-TARGET=0.50000" in lines
    assert '#EXT-X-PART:DURATION=0.50000,URI="part_00001_0.m4s",INDEPENDENT=YES' in lines
    assert '#EXT-X-PRELOAD-HINT:TYPE=PART,URI="part_00001_1.m4s"' == lines[-1]
    assert b"frag@0.500" == (tmp_path / "part_00000_1.m4s").read_bytes()
    assert PartPosition(1, 1) == positions[-1]
    playlist.on_fragment(_fragment(1.5, independent=False))  # segment 1 is full: it ends here
    assert '#EXT-X-PRELOAD-HINT:TYPE=PART,URI="part_00002_0.m4s"' == _lines(tmp_path)[-1]
    playlist.end_run()  # the publisher paused: the open segment is listed, nothing is hinted
    assert "seg_00001.m4s" in _lines(tmp_path)
    assert not any(line.startswith("#EXT-X-PRELOAD-HINT") for line in _lines(tmp_path))
    assert PartPosition(2, 0) == positions[-1]
    playlist.finish()
    assert not any(line.startswith("#EXT-X-PART") for line in _lines(tmp_path))
    assert PartPosition(2, 0, finished=True) == positions[-1]


def test_delta_update_skips_segments_older_than_six_target_durations(tmp_path: Path) -> None:
    """delta.m3u8 is the full playlist with every segment ending more than CAN-SKIP-UNTIL
    (6 x 1 s) before the end replaced by one EXT-X-SKIP, the init map repeated after it;
    the final playlist has no delta."""
    playlist, _ = _playlist(tmp_path, part_seconds=0.5)
    playlist.on_init(b"init")
    for n in range(19):  # 9.5 s listed: 9 whole segments and the open one's first part
        playlist.on_fragment(_fragment(n * 0.5, independent=n % 2 == 0))
    full = (tmp_path / "index.m3u8").read_text()
    delta = (tmp_path / "delta.m3u8").read_text()
    assert "CAN-SKIP-UNTIL=6.0," in full
    assert "#EXT-X-SKIP" not in full
    # Segments 0-2 end at 3 s or earlier, >= 6 s before the 9.5 s end; segment 3 ends at 4 s.
    assert "#EXT-X-SKIP:SKIPPED-SEGMENTS=3" in delta
    head, kept = delta.split("#EXT-X-SKIP:SKIPPED-SEGMENTS=3\n")
    assert full.startswith(head)
    assert kept.startswith('#EXT-X-MAP:URI="init.mp4"\n')
    assert full.endswith(kept.split("\n", 1)[1])  # the rest is verbatim, from segment 3 on
    assert "seg_00002.m4s" not in delta
    playlist.finish()
    assert not (tmp_path / "delta.m3u8").exists()


def test_parts_are_whole_frames_dividing_the_segment() -> None:
    """The part duration used is the nearest whole number of frames that divides a segment."""
    assert 10 / 30 == aligned_part_seconds(0.33, 1.0, 30)
    assert 6 / 30 == aligned_part_seconds(0.2, 2.0, 30)
    assert 5 / 15 == aligned_part_seconds(0.33, 2.0, 15)
    assert 5 / 25 == aligned_part_seconds(0.2, 1.0, 25)
    assert 8 / 24 == aligned_part_seconds(0.4, 1.0, 24)  # 9.6 frames: 8 divides 24, 10 not


def test_recover_appends_after_the_recorded_segments(tmp_path: Path) -> None:
    """A new writer on a directory with a recording keeps its segments, numbers on after them,
    starts its first run with a discontinuity and a new init name, and keeps PDT and EXTINF."""
    first, _ = _playlist(tmp_path)
    first.on_init(b"init-a")
    first.on_fragment(_fragment(0.0, 1.0))
    first.on_fragment(_fragment(1.0, 1.0))
    first.end_run()
    first.on_init(b"init-b")
    first.on_fragment(_fragment(2.0, 1.0))
    before = (tmp_path / "index.m3u8").read_text()  # killed here: no ENDLIST
    assert "#EXT-X-ENDLIST" not in before
    second, _ = _playlist(tmp_path)
    assert second.recover()
    assert [s.msn for s in second.segments] == [s.msn for s in first.segments]
    # PROGRAM-DATE-TIME is written to the millisecond
    assert all(
        abs(a.wall - b.wall) < 1e-3 for a, b in zip(second.segments, first.segments, strict=True)
    )
    second.on_init(b"init-b")  # same format as the last run: the file is reused
    second.on_fragment(_fragment(0.0, 0.8))
    second.finish()
    text = (tmp_path / "index.m3u8").read_text()
    assert ["seg_00000.m4s", "seg_00001.m4s", "seg_00002.m4s", "seg_00003.m4s"] == re.findall(
        r"seg_\d+\.m4s", text
    )
    assert [1.0, 1.0, 1.0, 0.8] == _durations(tmp_path)
    assert 2 == text.count("#EXT-X-DISCONTINUITY")
    assert text.index("#EXT-X-DISCONTINUITY", text.index("seg_00002")) < text.index("seg_00003")
    third, _ = _playlist(tmp_path)
    third.recover()
    third.on_init(b"init-c")
    assert (tmp_path / "init_2.mp4").exists()  # init.mp4 and init_1.mp4 are never rewritten


def _cmaf_parts(count: int) -> tuple[bytes, list[Fragment]]:
    """Real CMAF output: an init segment and ~0.2 s fragments of 640x368 H.264."""
    inits: list[bytes] = []
    fragments: list[Fragment] = []
    splitter = FragmentSplitter(inits.append, fragments.append)
    encoder = make_h264_encoder(640, 368, 30, 500_000, gop_seconds=0.4)
    source = SyntheticSource(640, 368, 30)
    packets = [p for i in range(count * 6) for p in encoder.encode(source.video_frame(i))]
    container = av.open(
        splitter,
        mode="w",
        format="mp4",
        options={
            "movflags": "cmaf+frag_keyframe+empty_moov+default_base_moof+frag_discont",
            "frag_duration": "200000",
        },
    )
    stream = container.add_stream("h264", rate=30)
    stream.width, stream.height = 640, 368
    stream.time_base = fractions.Fraction(1, 90_000)
    stream.codec_context.extradata = parameter_sets(bytes(packets[0]))
    for packet in packets:
        packet.stream = stream
        packet.duration = 3000
        container.mux_one(packet)
    container.close()
    return inits[0], fragments


def test_recover_finishes_the_open_segment_from_its_part_files(tmp_path: Path) -> None:
    """LL-HLS parts of the segment a killed process left open (listed or not) become that
    segment, timed from the files themselves, so no part a player may hold is ever renamed."""
    init, fragments = _cmaf_parts(8)
    assert 1.6 == round(sum(f.duration for f in fragments), 3)
    first, _ = _playlist(tmp_path, part_seconds=0.2)
    first.on_init(init)
    for fragment in fragments[:7]:  # segment 0 is 1.2 s (cut at a keyframe), 1 is open
        first.on_fragment(fragment)
    assert ["seg_00000.m4s"] == re.findall(r"seg_\d+\.m4s", (tmp_path / "index.m3u8").read_text())
    (tmp_path / "part_00001_1.m4s").write_bytes(fragments[7].data)  # written, never listed
    until = recorded_until(tmp_path)
    assert until is not None
    second, _ = _playlist(tmp_path, part_seconds=0.2)
    assert second.recover()
    assert [0, 1] == [s.msn for s in second.segments]
    assert 0.4 == round(second.segments[1].duration, 3)
    assert (tmp_path / "seg_00001.m4s").read_bytes() == fragments[6].data + fragments[7].data
    assert abs(second.segments[1].wall - (until - 0.2)) < 2e-3  # listed part 0 ends at until
    assert [f.duration for f in read_fragments(init, (tmp_path / "seg_00001.m4s").read_bytes())]
    second.on_init(init)
    for fragment in fragments[:2]:
        second.on_fragment(fragment)
    assert "part_00002_1.m4s" in (tmp_path / "index.m3u8").read_text()


def test_recorded_until_reads_pdt_plus_durations(tmp_path: Path) -> None:
    """The end of the recorded media is the newest PDT plus what follows it."""
    playlist, _ = _playlist(tmp_path)
    assert recorded_until(tmp_path) is None
    playlist.on_init(b"init")
    playlist.on_fragment(_fragment(0.0, 1.0))
    playlist.on_fragment(_fragment(1.0, 1.0))
    last = playlist.segments[-1]
    until = recorded_until(tmp_path)
    assert until is not None
    assert abs(last.wall + last.duration - until) < 2e-3
    assert playlist.recorded_until() == last.wall + last.duration


def test_sps_gives_size_and_codec_for_every_profile() -> None:
    """Picture size (with cropping) and avc1 codec string are read from x264's SPS."""
    for width, height, profile, codec in (
        (640, 368, "baseline", "avc1.42c01e"),
        (640, 360, "baseline", "avc1.42c01e"),
        (1280, 720, "high", "avc1.64001f"),
        (322, 180, "main", "avc1.4d400d"),
    ):
        encoder = av.CodecContext.create("libx264", "w")
        assert isinstance(encoder, av.VideoCodecContext)
        encoder.width, encoder.height, encoder.pix_fmt = width, height, "yuv420p"
        encoder.time_base = fractions.Fraction(1, 90_000)
        encoder.framerate = fractions.Fraction(30)
        encoder.options = {"profile": profile, "x264-params": "repeat-headers=1"}
        frame = av.VideoFrame(width, height, "yuv420p")
        frame.pts = 0
        packets = [*encoder.encode(frame), *encoder.encode(None)]
        info = parse_sps(parameter_sets(bytes(packets[0])))
        assert info is not None
        assert (width, height, codec) == (info.width, info.height, info.codec)
    assert parse_sps(b"\x00\x00\x00\x01\x65\x88") is None  # an IDR slice, no SPS
    assert b"" == parameter_sets(b"\x00\x00\x01\x41\x9a")  # a P slice carries no SPS/PPS
