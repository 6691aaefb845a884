"""HLS packaging of a live show: playlists, fMP4 segments PyAV decodes, replay, no traversal."""

from __future__ import annotations

import asyncio
import re
import subprocess
from pathlib import Path

import av
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


async def test_ll_hls_parts_blocking_reload_and_replay(tmp_path: Path) -> None:
    """LL-HLS: parts and preload hints appear, a blocking reload waits for the next part,
    and the finished show's segments decode as a replay."""
    settings = {"hls_segment_seconds": 1.0, "hls_low_latency": True, "hls_part_seconds": 0.2}
    async with running_media_app(tmp_path, settings) as env:
        await env.manager.start_synthetic(env.show_id)
        playlist = await _wait_segments(env, "source", 2)
        assert "#EXT-X-PART-INF:PART-TARGET=" in playlist
        assert "#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES" in playlist
        assert "INDEPENDENT=YES" in playlist
        hint = re.search(r'#EXT-X-PRELOAD-HINT:TYPE=PART,URI="part_(\d{5})_(\d+)\.m4s"', playlist)
        assert hint is not None
        msn, part = int(hint.group(1)), int(hint.group(2))
        # Blocking reload: ask for the hinted part; the answer must already list it.
        base = f"/hls/{env.show_id}/source"
        loop = asyncio.get_running_loop()
        started = loop.time()
        status, _, _, body = await _get(env, f"{base}/index.m3u8?_HLS_msn={msn}&_HLS_part={part}")
        assert status == 200
        assert f"part_{msn:05d}_{part}.m4s" in body.decode().split("PRELOAD-HINT")[0]
        assert loop.time() - started < 2.0
        # The preload-hinted next part is held until it exists, then served.
        next_hint = re.search(r'PRELOAD-HINT:TYPE=PART,URI="(part_\d{5}_\d+\.m4s)"', body.decode())
        assert next_hint is not None
        status, ctype, _, data = await _get(env, f"{base}/{next_hint.group(1)}")
        assert (status, ctype) == (200, "video/iso.segment")
        assert data[4:8] == b"moof"
        # Too far ahead is refused.
        assert (await _get(env, f"{base}/index.m3u8?_HLS_msn={msn + 50}"))[0] == 400

        await env.end_show()
        url = f"{env.base_url}/replays/{env.show_id}/source/index.m3u8"
        counters, samples = await asyncio.to_thread(_decode, url)
        assert len(counters) >= 30
        assert counters == sorted(counters)
        assert samples > 0


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
