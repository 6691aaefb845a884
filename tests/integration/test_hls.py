"""HLS packaging of a live show: playlists, fMP4 segments PyAV decodes, replay, no traversal."""

from __future__ import annotations

import asyncio
import re
import subprocess
from pathlib import Path

import av
import pytest
import yarl

from livecommerce import keys
from livecommerce.broadcast import HLS
from livecommerce.broadcast.synthetic import SyntheticSource, read_stamp
from tests.support.media_app import MediaApp, running_media_app


async def _get(env: MediaApp, path: str) -> tuple[int, str, dict[str, str], bytes]:
    async with env.http.get(env.base_url + path) as resp:
        return resp.status, resp.content_type, dict(resp.headers), await resp.read()


async def _wait_segments(env: MediaApp, rendition: str, count: int) -> str:
    async def poll() -> str:
        while True:
            status, _, _, body = await _get(env, f"/hls/{env.show_id}/{rendition}/index.m3u8")
            if status == 200 and body.decode().count("#EXTINF:") >= count:
                return body.decode()
            await asyncio.sleep(0.2)

    return await asyncio.wait_for(poll(), 20)


def _decode(url: str) -> tuple[list[int], int]:
    """Decode an HLS URL with PyAV (FFmpeg's demuxer): burnt-in counters and audio samples."""
    counters = []
    samples = 0
    with av.open(url, options={"live_start_index": "0"}) as container:
        for frame in container.decode(*container.streams):
            if isinstance(frame, av.VideoFrame):
                stamp = read_stamp(frame)
                if stamp is not None:
                    counters.append(stamp.counter)
            elif isinstance(frame, av.AudioFrame):
                samples += frame.samples
    return counters, samples


async def test_live_hls_ladder_decodes_and_becomes_replay(tmp_path: Path) -> None:
    """Both renditions decode (video + AAC) with PyAV, stamps advance; the end makes a replay."""
    async with running_media_app(tmp_path, {"hls_segment_seconds": 1.0}) as env:
        await env.manager.start_synthetic(env.show_id)
        playlist = await _wait_segments(env, "source", 2)
        await _wait_segments(env, "360p", 2)
        assert "#EXT-X-PROGRAM-DATE-TIME:" in playlist
        assert '#EXT-X-MAP:URI="init.mp4"' in playlist

        status, ctype, headers, body = await _get(env, f"/hls/{env.show_id}/index.m3u8")
        assert (status, ctype) == (200, "application/vnd.apple.mpegurl")
        assert headers["Cache-Control"] == "no-cache"
        assert "source/index.m3u8" in body.decode()
        assert "360p/index.m3u8" in body.decode()
        status, ctype, headers, _ = await _get(env, f"/hls/{env.show_id}/source/seg_00000.m4s")
        assert (status, ctype) == (200, "video/iso.segment")
        assert "immutable" in headers["Cache-Control"]
        # Not a replay while live.
        assert (await _get(env, f"/replays/{env.show_id}/index.m3u8"))[0] == 404

        await env.end_show()
        status, _, _, body = await _get(env, f"/replays/{env.show_id}/source/index.m3u8")
        assert status == 200
        assert "#EXT-X-PLAYLIST-TYPE:VOD" in body.decode()
        assert "#EXT-X-ENDLIST" in body.decode()
        for rendition in ("source", "360p"):
            url = f"{env.base_url}/replays/{env.show_id}/{rendition}/index.m3u8"
            counters, samples = await asyncio.to_thread(_decode, url)
            assert len(counters) >= 30
            assert counters == sorted(counters)
            # AAC audio covers (about) as long as the video does.
            assert samples / 48_000 > 0.8 * len(counters) / 30
        assert (await env.app[keys.SERVICES].shows.get(env.show_id)).status.value == "ended"


async def test_hls_serves_only_packager_files(tmp_path: Path) -> None:
    """Traversal attempts and names the packager never writes get 404."""
    async with running_media_app(tmp_path, {"hls_segment_seconds": 1.0}) as env:
        await env.manager.start_synthetic(env.show_id)
        await _wait_segments(env, "source", 1)
        (tmp_path / "secret.txt").write_text("nope")
        for path in (
            f"/hls/{env.show_id}/../../secret.txt",
            f"/hls/{env.show_id}/%2e%2e/%2e%2e/secret.txt",
            f"/hls/{env.show_id}/source/..%2f..%2f..%2fsecret.txt",
            f"/hls/{env.show_id}/source/index.m3u8.tmp",
            f"/hls/{env.show_id}/source/seg_00000.m4s.tmp",
            "/hls/../secret.txt",
            f"/hls/{env.show_id}/source/",
            "/hls/shw_unknown/index.m3u8",
        ):
            # encoded=True: send the path as written, without client-side normalisation
            async with env.http.get(yarl.URL(env.base_url + path, encoded=True)) as resp:
                assert (path, resp.status) == (path, 404)


_PART = re.compile(
    r'#EXT-X-PART:DURATION=([0-9.]+),URI="part_(\d{5})_(\d+)\.m4s"(,INDEPENDENT=YES)?'
)
_HINT = re.compile(r'#EXT-X-PRELOAD-HINT:TYPE=PART,URI="part_(\d{5})_(\d+)\.m4s"')
_REPORT = re.compile(
    r'#EXT-X-RENDITION-REPORT:URI="\.\./([a-z0-9]+)/index\.m3u8",LAST-MSN=(\d+),LAST-PART=(\d+)'
)


def _attribute(playlist: str, name: str) -> float:
    match = re.search(rf"{name}[=:]([0-9.]+)", playlist)
    assert match is not None, name
    return float(match.group(1))


def _probe(data: bytes, scratch: Path, decode: bool) -> list[tuple[str, float]]:
    """ffprobe's video packets (flags, pts seconds) of an init segment and parts after it;
    with ``decode`` every picture is decoded too, and any decoder complaint fails."""
    path = scratch / "parts.mp4"
    path.write_bytes(data)
    out = subprocess.run(
        ["/usr/bin/ffprobe", "-v", "error" if decode else "quiet", "-select_streams", "v:0",
         *(["-count_frames"] if decode else []), "-show_entries", "packet=flags,pts_time",
         "-of", "csv=p=0", str(path)],
        capture_output=True, text=True, check=True, timeout=30,
    )  # fmt: skip
    assert "" == out.stderr.strip()
    return [(f, float(t)) for t, f in (line.split(",")[:2] for line in out.stdout.split())]


async def _timed_get(env: MediaApp, path: str) -> tuple[int, dict[str, str], str, float]:
    loop = asyncio.get_running_loop()
    started = loop.time()
    status, _, headers, body = await _get(env, path)
    return status, headers, body.decode(), loop.time() - started


async def test_ll_hls_by_default_parts_blocking_reload_reports_and_limits(tmp_path: Path) -> None:
    """With the default settings: frame-aligned parts ffprobe reads (INDEPENDENT exactly on
    keyframe parts), blocking reloads held until the part exists, rendition reports a player
    can block on, the RFC's 400s and cacheable answers."""
    async with running_media_app(tmp_path) as env:
        await env.manager.start_synthetic(env.show_id)
        base = f"/hls/{env.show_id}/source"
        playlist = await _wait_segments(env, "source", 2)
        part_target = _attribute(playlist, "PART-TARGET")
        assert 1 / 3 <= part_target < 0.334
        assert round(3 * part_target, 5) <= _attribute(playlist, "PART-HOLD-BACK")
        target = _attribute(playlist, "#EXT-X-TARGETDURATION")
        assert 6 * target == _attribute(playlist, "CAN-SKIP-UNTIL")

        # Every listed part: at most PART-TARGET, decodable after the earlier parts of its
        # segment, a keyframe first exactly when marked INDEPENDENT.
        init = (await _get(env, f"{base}/init.mp4"))[3]
        parts = _PART.findall(playlist)
        assert len(parts) >= 6
        so_far: dict[str, bytes] = {}  # segment -> init and its parts so far
        last_of_segment = {msn: index for _, msn, index, _ in parts}
        for duration, msn, index, independent in parts:
            assert float(duration) <= part_target
            # RFC 8216bis §4.4.4.9: at least 85 % of the target but for these two.
            if not independent and index != last_of_segment[msn]:
                assert float(duration) >= 0.85 * part_target, (msn, index, duration)
            status, ctype, headers, data = await _get(env, f"{base}/part_{msn}_{index}.m4s")
            assert (200, "video/iso.segment") == (status, ctype)
            assert "public, max-age=31536000, immutable" == headers["Cache-Control"]
            alone = await asyncio.to_thread(_probe, init + data, tmp_path, False)
            assert bool(independent) == ("K" in alone[0][0])
            # Its pictures span DURATION (a frame the loaded encoder dropped leaves a gap).
            span = alone[-1][1] - alone[0][1] + 1 / 30
            assert float(duration) == pytest.approx(span, abs=1 / 30 + 2e-3)
            so_far[msn] = so_far.get(msn, init) + data
            await asyncio.to_thread(_probe, so_far[msn], tmp_path, True)

        # Blocking reload: the hinted part is not there yet; the answer waits for it.
        hint = _HINT.search(playlist)
        assert hint is not None
        msn, part = int(hint.group(1)), int(hint.group(2))
        status, headers, body, _ = await _timed_get(
            env, f"{base}/index.m3u8?_HLS_msn={msn}&_HLS_part={part}"
        )
        assert 200 == status
        assert f"part_{msn:05d}_{part}.m4s" in body.split("PRELOAD-HINT")[0]
        assert f"public, max-age={6}" == headers["Cache-Control"]
        # ...and the next hinted part, which the packager has not written when asked, is
        # answered once it has (within a few part durations).
        position = env.app[HLS].packagers[env.show_id].positions["source"]
        for _ in range(10):
            after = _HINT.search(body)
            assert after is not None
            if not position.has(int(after.group(1)), int(after.group(2))):
                break
            # the packager wrote it before we could ask (a loaded machine): the next one
            status, _, body, _ = await _timed_get(env, f"{base}/index.m3u8")
        else:
            pytest.fail("every hinted part was written before it could be asked for")
        status, _, body, waited = await _timed_get(
            env, f"{base}/index.m3u8?_HLS_msn={after.group(1)}&_HLS_part={after.group(2)}"
        )
        assert 200 == status
        assert f"part_{after.group(1)}_{after.group(2)}.m4s" in body.split("PRELOAD-HINT")[0]
        assert waited < 2.0

        # Rendition reports name the other rendition where it is; blocking on them answers
        # at once with that part listed.
        reports = _REPORT.findall(body)
        assert ["360p"] == [name for name, _, _ in reports]
        _, report_msn, report_part = reports[0]
        status, _, other, waited = await _timed_get(
            env,
            f"/hls/{env.show_id}/360p/index.m3u8?_HLS_msn={report_msn}&_HLS_part={report_part}",
        )
        assert 200 == status
        assert waited < 0.5, waited
        assert f'URI="part_{int(report_msn):05d}_{report_part}.m4s"' in other
        assert ["source"] == [name for name, _, _ in _REPORT.findall(other)]

        # RFC 8216bis §6.2.5.2: past the last segment + 2, or the Advance Part Limit, is a 400.
        last_msn = int(after.group(1)) - 1  # the segment before the open one is the last
        too_far = [
            f"_HLS_msn={last_msn + 3}",
            f"_HLS_msn={int(after.group(1))}&_HLS_part={int(after.group(2)) + 10}",
            "_HLS_part=1",
            "_HLS_msn=x",
            "_HLS_skip=NO",
        ]
        for query in too_far:
            assert (query, 400) == (query, (await _get(env, f"{base}/index.m3u8?{query}"))[0])
        status, headers, _, _ = await _timed_get(env, f"{base}/index.m3u8?_HLS_msn={last_msn + 2}")
        assert 200 == status  # allowed: held until that segment starts
        status, _, headers, _ = await _get(env, f"{base}/part_99999_0.m4s")
        assert (404, "no-store") == (status, headers["Cache-Control"])
        assert "no-cache" == (await _get(env, f"{base}/index.m3u8"))[2]["Cache-Control"]


def _segment_uris(playlist: str) -> list[str]:
    return [line for line in playlist.splitlines() if line.startswith("seg_")]


async def test_ll_hls_delta_update_skips_old_segments_and_agrees_with_the_full_playlist(
    tmp_path: Path,
) -> None:
    """``_HLS_skip=YES`` answers a delta update whose EXT-X-SKIP stands for exactly the
    segments older than CAN-SKIP-UNTIL of the full playlist fetched at the same position, and
    ffmpeg reads the LL-HLS playlist as a plain one."""
    async with running_media_app(tmp_path) as env:
        await env.manager.start_synthetic(env.show_id)
        base = f"/hls/{env.show_id}/source/index.m3u8"
        playlist = await _wait_segments(env, "source", 9)
        hint = _HINT.search(playlist)
        assert hint is not None
        at = f"_HLS_msn={int(hint.group(1)) + 1}&_HLS_part=0"  # both answered at one position
        full_task = asyncio.create_task(_get(env, f"{base}?{at}"))
        status, _, _, delta_body = await _get(env, f"{base}?{at}&_HLS_skip=YES")
        full = (await full_task)[3].decode()
        delta = delta_body.decode()
        assert 200 == status
        skipped = re.search(r"^#EXT-X-SKIP:SKIPPED-SEGMENTS=(\d+)$", delta, re.M)
        assert skipped is not None
        count = int(skipped.group(1))
        full_segments = _segment_uris(full)
        assert full_segments[count:] == _segment_uris(delta)
        # Only segments that end more than CAN-SKIP-UNTIL before the end were skipped,
        # and no more of them could have been.
        durations = [float(d) for d in re.findall(r"^#EXTINF:([0-9.]+),", full, re.M)]
        open_part = sum(float(d) for d, m, _, _ in _PART.findall(full) if int(m) == len(durations))
        total = sum(durations) + open_part
        skip_until = _attribute(full, "CAN-SKIP-UNTIL")
        assert total - sum(durations[:count]) >= skip_until
        assert total - sum(durations[: count + 1]) < skip_until
        assert '#EXT-X-MAP:URI="init.mp4"' in delta.split(full_segments[count])[0]
        assert "#EXT-X-VERSION:9" in delta
        # The header and the live end (parts, preload hint) are those of the full playlist.
        assert full.split("#EXT-X-MAP")[0] == delta.split("#EXT-X-SKIP")[0]
        assert full.split(full_segments[-1])[1] == delta.split(full_segments[-1])[1]
        # A player without LL-HLS (ffmpeg) reads the same playlist from its first segment.
        await asyncio.to_thread(_ffmpeg_reads, f"{env.base_url}/hls/{env.show_id}/index.m3u8")


def _ffmpeg_reads(url: str) -> None:
    """``ffmpeg -live_start_index 0`` decodes 45 pictures of a live playlist without an error."""
    out = subprocess.run(
        ["/usr/bin/ffmpeg", "-nostdin", "-v", "error", "-live_start_index", "0", "-i", url,
         "-map", "0:v:0", "-frames:v", "45", "-f", "null", "-"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert (0, "") == (out.returncode, out.stderr.strip())


async def test_plain_hls_when_low_latency_is_off_reads_with_ffmpeg(tmp_path: Path) -> None:
    """``hls_low_latency: false``: a version-7 playlist of whole segments, no LL-HLS tags,
    blocking parameters ignored, and ``ffmpeg -live_start_index 0`` reads it live."""
    async with running_media_app(tmp_path, {"hls_low_latency": False}) as env:
        await env.manager.start_synthetic(env.show_id)
        playlist = await _wait_segments(env, "source", 2)
        assert "#EXT-X-VERSION:7" in playlist
        for tag in ("#EXT-X-PART", "#EXT-X-SERVER-CONTROL", "PRELOAD-HINT", "RENDITION-REPORT"):
            assert tag not in playlist
        base = f"/hls/{env.show_id}/source/index.m3u8"
        status, _, body, waited = await _timed_get(env, f"{base}?_HLS_msn=99&_HLS_skip=YES")
        assert 200 == status
        assert waited < 0.5
        assert "#EXT-X-SKIP" not in body
        await asyncio.to_thread(_ffmpeg_reads, f"{env.base_url}/hls/{env.show_id}/index.m3u8")


def _ffprobe_duration(url: str) -> float:
    out = subprocess.run(
        ["/usr/bin/ffprobe", "-v", "error", "-show_entries", "format=duration", "-of",
         "csv=p=0", url],
        capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    assert "" == out.stderr.strip()
    return float(out.stdout)


async def test_replay_is_every_second_on_air_across_a_pause_a_resize_and_a_fault(
    tmp_path: Path,
) -> None:
    """A show paused, resumed at another size, with a forced packager error in 360p: the
    replay's ffprobe duration is the show's on-air time (pauses excluded) to within a segment,
    the new init segment is served, and the restart is counted in /metrics."""
    settings = {"hls_segment_seconds": 1.0, "reconnect_grace_seconds": 30}
    async with running_media_app(tmp_path, settings) as env:
        await env.manager.start_synthetic(env.show_id)
        await _wait_segments(env, "360p", 2)
        env.app[HLS].packagers[env.show_id].inject_fault("360p")
        await asyncio.sleep(1.5)
        await env.manager.stop_synthetic(env.show_id)
        await asyncio.sleep(1.5)
        assert "paused" == await env.status()
        await env.manager.start_synthetic(env.show_id, SyntheticSource(1280, 720, 30))
        await asyncio.sleep(3.0)
        status, _, _, body = await _get(env, f"/hls/{env.show_id}/source/index.m3u8")
        assert '#EXT-X-MAP:URI="init_1.mp4"' in body.decode()
        status, ctype, _, data = await _get(env, f"/hls/{env.show_id}/source/init_1.mp4")
        assert (status, ctype, data[4:8]) == (200, "video/mp4", b"ftyp")
        await env.end_show()

        async def replay_ready() -> None:
            while (await _get(env, f"/replays/{env.show_id}/index.m3u8"))[0] != 200:  # noqa: ASYNC110  # why: polling over HTTP
                await asyncio.sleep(0.1)

        await asyncio.wait_for(replay_ready(), 10)
        assert data == (await _get(env, f"/replays/{env.show_id}/source/init_1.mp4"))[3]
        show = await env.app[keys.SERVICES].shows.get(env.show_id)
        on_air = show.live_ms / 1000
        assert 5.0 < on_air < 8.0
        for rendition in ("source", "360p"):
            url = f"{env.base_url}/replays/{env.show_id}/{rendition}/index.m3u8"
            duration = await asyncio.to_thread(_ffprobe_duration, url)
            assert abs(duration - on_air) < 1.0, (rendition, duration, on_air)
        status, _, _, metrics = await _get(env, "/metrics")
        assert (
            'livecommerce_hls_rendition_restarts_total{reason="error",rendition="360p"} 1.0'
            in metrics.decode()
        )
