"""WHIP ingest and WHEP playback through the real app on loopback, with aiortc peers."""

from __future__ import annotations

import asyncio
from pathlib import Path

from aiortc import RTCSessionDescription

from livecommerce import keys
from livecommerce.broadcast.synthetic import SyntheticSource
from livecommerce.domain.shows import ShowStatus
from tests.support.media import Publisher, Viewer
from tests.support.media_app import running_media_app


async def _wait_for(predicate: object, within: float = 10.0) -> None:
    assert callable(predicate)

    async def poll() -> None:
        while not predicate():  # noqa: ASYNC110  # why: polling plain app state in a test
            await asyncio.sleep(0.05)

    await asyncio.wait_for(poll(), within)


async def test_whip_publisher_fans_out_to_two_whep_viewers(tmp_path: Path) -> None:
    """Two WHEP viewers decode the published stream and its burnt-in counter advances."""
    async with running_media_app(tmp_path) as env:
        publisher = Publisher(SyntheticSource(640, 368))
        await publisher.connect(env.whip)
        viewers = [Viewer(), Viewer()]
        for viewer in viewers:
            await viewer.connect(env.whep)
        for viewer in viewers:
            await viewer.wait_frames(30, within=20)
        for viewer in viewers:
            counters = [s.counter for s in viewer.stamps]
            assert counters == sorted(counters)
            assert counters[-1] - counters[0] >= 20
            assert viewer.audio_frames > 0
        show = await env.app[keys.SERVICES].shows.get(env.show_id)
        assert show.status is ShowStatus.LIVE
        feed = env.manager.feeds[env.show_id]
        assert feed.stats.keyframe_requests >= 1
        assert env.manager.peer_count == 3
        for viewer in viewers:
            await viewer.close()
        await publisher.close()
        await _wait_for(lambda: env.manager.peer_count == 0)
        # The publisher left: the show pauses (never ends by itself inside the grace) ...
        shows = env.app[keys.SERVICES].shows

        async def paused() -> None:
            while (await shows.get(env.show_id)).status is not ShowStatus.PAUSED:  # noqa: ASYNC110
                await asyncio.sleep(0.1)

        await asyncio.wait_for(paused(), 10)
        assert env.show_id in env.manager.feeds
        # ... and only the seller's end ends it, closing its feed.
        await env.end_show()
        assert (await shows.get(env.show_id)).status is ShowStatus.ENDED
        assert env.show_id not in env.manager.feeds


async def test_vp8_publisher_is_passed_through_to_vp8_viewer(tmp_path: Path) -> None:
    """A VP8 publisher's packets reach a viewer that decodes VP8 frames with stamps."""
    async with running_media_app(tmp_path) as env:
        publisher = Publisher(SyntheticSource(640, 368), video_mime="video/VP8", audio=False)
        await publisher.connect(env.whip)
        viewer = Viewer(audio=False)
        await viewer.connect(env.whep)
        await viewer.wait_frames(10, within=20)
        codec = env.manager.feeds[env.show_id].video_codec
        assert codec is not None
        assert codec.name.lower() == "vp8"
        await viewer.close()
        await publisher.close()


async def test_synthetic_show_single_encoder_serves_viewers(tmp_path: Path) -> None:
    """The synthetic source is encoded once and viewers decode stamped frames from it."""
    async with running_media_app(tmp_path) as env:
        await env.manager.start_synthetic(env.show_id)
        viewers = [Viewer(), Viewer()]
        for viewer in viewers:
            await viewer.connect(env.whep)
        for viewer in viewers:
            await viewer.wait_frames(15, within=20)
        assert (await env.app[keys.SERVICES].shows.get(env.show_id)).status is ShowStatus.LIVE
        for viewer in viewers:
            await viewer.close()
        await _wait_for(lambda: env.manager.peer_count == 0)


async def test_key_rotation_ends_live_publisher(tmp_path: Path) -> None:
    """Rotating the stream key closes the live publisher within 5 s and the old key gets 401."""
    async with running_media_app(tmp_path) as env:
        publisher = Publisher(SyntheticSource(640, 368), audio=False)
        offer_again = Publisher(SyntheticSource(640, 368), audio=False)
        await publisher.connect(env.whip)
        assert env.manager.peer_count == 1
        await env.app[keys.SERVICES].shows.rotate_stream_key(env.principal, env.show_id)
        await _wait_for(lambda: env.manager.peer_count == 0, within=5)
        async with env.http.post(
            f"{env.base_url}/whip/{env.show_id}",
            data=(await offer_again.offer()).encode(),
            headers={
                "Content-Type": "application/sdp",
                "Authorization": f"Bearer {env.stream_key}",
            },
        ) as resp:
            assert resp.status == 401
        await publisher.close()
        await offer_again.close()


async def test_publisher_reconnect_within_grace_keeps_show_and_viewers(tmp_path: Path) -> None:
    """A publisher that comes back inside the grace period keeps the show live and the viewer."""
    async with running_media_app(tmp_path, {"reconnect_grace_seconds": 3.0}) as env:
        first = Publisher(SyntheticSource(640, 368), audio=False)
        await first.connect(env.whip)
        viewer = Viewer(audio=False)
        await viewer.connect(env.whep)
        await viewer.wait_frames(10, within=20)
        await first.close()
        await _wait_for(lambda: env.manager.peer_count == 1)  # only the viewer is left
        second = Publisher(SyntheticSource(640, 368), audio=False)
        await second.connect(env.whip)
        seen = len(viewer.stamps)
        await viewer.wait_frames(seen + 20, within=20)
        await asyncio.sleep(3.5)  # past the first publisher's grace period
        show = await env.app[keys.SERVICES].shows.get(env.show_id)
        assert show.status is ShowStatus.LIVE
        assert env.manager.peer_count == 2
        await viewer.close()
        await second.close()


async def test_whip_offers_are_rate_limited(tmp_path: Path) -> None:
    """WHIP POSTs beyond the per-minute rate get 429 with Retry-After, without a peer."""
    async with running_media_app(tmp_path, {"whip_rate_per_minute": 2}) as env:
        statuses = []
        for _ in range(3):
            async with env.http.post(
                f"{env.base_url}/whip/{env.show_id}",
                data=b"v=0\r\n",
                headers={"Content-Type": "application/sdp", "Authorization": "Bearer sk_x"},
            ) as resp:
                statuses.append((resp.status, resp.headers.get("Retry-After")))
        assert statuses == [(401, None), (401, None), (429, "10")]
        assert env.manager.peer_count == 0


async def test_server_picks_h264_when_publisher_offers_vp8_first(tmp_path: Path) -> None:
    """An offer listing VP8 before H.264 (aiortc's and Chrome's order) is answered H.264-only."""
    async with running_media_app(tmp_path) as env:
        publisher = Publisher(SyntheticSource(640, 368), video_mime="", audio=False)
        offer = await publisher.offer()
        video_offer = offer.split("m=video", 1)[1]
        assert video_offer.index("VP8/90000") < video_offer.index("H264/90000")
        answer = await env.whip(offer)
        await publisher.pc.setRemoteDescription(RTCSessionDescription(answer, "answer"))
        video_answer = answer.split("m=video", 1)[1]
        assert "H264/90000" in video_answer
        assert "VP8" not in video_answer
        codec = env.manager.feeds[env.show_id].video_codec
        assert codec is not None
        assert codec.name.lower() == "h264"
        viewer = Viewer(audio=False)
        await viewer.connect(env.whep)
        await viewer.wait_frames(10, within=20)
        await viewer.close()
        await publisher.close()
