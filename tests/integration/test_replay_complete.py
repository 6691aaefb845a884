"""A 10-minute synthetic show with two publisher drops and one forced packager error: the
replay is every second the show was live (``ffprobe`` over ``/replays/``, within 2 %), and every
moment of the shoppable timeline lands on the right second of the replay (the frame at a pin's
``media_ts`` carries, burnt in, the capture time of the pin, within one segment).

Marked ``long``: ``make test`` runs it in its own process beside the rest of the suite.
``LIVECOMMERCE_REPLAY_TEST_SECONDS`` shortens it while working on it; the default is the
issue's ten minutes.
"""

from __future__ import annotations

import asyncio
import io
import os
import re
import subprocess
import time
from pathlib import Path

import aiohttp
import av
import pytest

from livecommerce import keys
from livecommerce.broadcast import HLS
from livecommerce.broadcast.synthetic import read_stamp
from livecommerce.domain.money import Money
from livecommerce.domain.offers import OfferKind
from livecommerce.services.catalog import VariantSpec
from tests.support.media_app import MediaApp, running_media_app

SHOW_SECONDS = float(os.environ.get("LIVECOMMERCE_REPLAY_TEST_SECONDS", "600"))
SEGMENT = 2.0
DROP_SECONDS = 10.0
PINS_PER_STRETCH = 4

pytestmark = [pytest.mark.long, pytest.mark.timeout(SHOW_SECONDS * 2 + 240)]


async def _ffprobe_duration(url: str) -> float:
    out = await asyncio.to_thread(
        subprocess.run,
        ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", url],
        capture_output=True, text=True, check=True, timeout=120,
    )  # fmt: skip
    return float(out.stdout)


async def _replay_index(http: aiohttp.ClientSession, url: str) -> list[tuple[float, str, str]]:
    """(playhead start, init name, segment name) of every segment of a VOD rendition."""
    async with http.get(url) as resp:
        assert resp.status == 200
        playlist = await resp.text()
    assert "#EXT-X-ENDLIST" in playlist
    out, init, start, duration = [], "", 0.0, 0.0
    for line in playlist.splitlines():
        if match := re.match(r'#EXT-X-MAP:URI="([^"]+)"', line):
            init = match.group(1)
        elif line.startswith("#EXTINF:"):
            duration = float(line[8:].split(",")[0])
        elif line.startswith("seg_"):
            out.append((start, init, line))
            start += duration
    return out


async def _capture_ms_at(
    http: aiohttp.ClientSession, base: str, index: list[tuple[float, str, str]], playhead: float
) -> int:
    """The burnt-in capture time of the replay's frame at ``playhead`` seconds."""
    seg_start, init, name = max((s for s in index if s[0] <= playhead), key=lambda s: s[0])
    data = b""
    for part in (init, name):
        async with http.get(f"{base}/{part}") as resp:
            assert resp.status == 200
            data += await resp.read()

    def nearest() -> int:
        with av.open(io.BytesIO(data), mode="r") as container:
            frames = [f for f in container.decode(video=0) if f.time is not None]
        first = frames[0].time
        assert first is not None
        best = min(frames, key=lambda f: abs(seg_start + (f.time or 0) - first - playhead))
        stamp = read_stamp(best)
        assert stamp is not None
        return stamp.capture_ms

    return await asyncio.to_thread(nearest)


async def _stretch(env: MediaApp, seconds: float, offers: list[str]) -> None:
    """One live stretch of the synthetic source, pinning offers along the way."""
    services = env.app[keys.SERVICES]
    await env.manager.start_synthetic(env.show_id)
    step = seconds / (PINS_PER_STRETCH + 1)
    for n in range(PINS_PER_STRETCH):
        await asyncio.sleep(step)
        await services.offers.pin(env.principal, env.show_id, offers[n % len(offers)])
    await asyncio.sleep(step)


async def test_ten_minute_show_replay_is_complete_and_shoppable(tmp_path: Path) -> None:
    media = {
        "synthetic_width": 320,
        "synthetic_height": 176,
        "synthetic_fps": 15,
        "synthetic_bitrate": 300_000,
        "hls_segment_seconds": SEGMENT,
        "reconnect_grace_seconds": 3600,
    }
    async with running_media_app(tmp_path, media) as env, aiohttp.ClientSession() as http:
        services = env.app[keys.SERVICES]
        product = await services.catalog.create_product(
            env.principal, name="Mug", price=Money(1500, "USD"), variants=[VariantSpec("one", 50)]
        )
        offers = []
        for _ in range(3):
            offer = await services.offers.create(
                env.principal, env.show_id, product_id=product.id, kind=OfferKind.FIXED, cap=5
            )
            offers.append((await services.offers.start(env.principal, env.show_id, offer.id)).id)
        restarts: list[tuple[str, str]] = []
        env.app[HLS].restart_hooks.append(lambda rendition, why: restarts.append((rendition, why)))
        stretch = SHOW_SECONDS / 3
        on_air = 0.0
        for n in range(3):
            began = time.monotonic()
            if n == 1:
                # one forced packager error mid-stretch: the source rendition restarts
                async def fault() -> None:
                    await asyncio.sleep(stretch / 2)
                    env.app[HLS].packagers[env.show_id].inject_fault("source")

                faulted = asyncio.create_task(fault())
            await _stretch(env, stretch, offers)
            await env.manager.stop_synthetic(env.show_id)  # a publisher drop: the show pauses
            on_air += time.monotonic() - began
            if n == 1:
                await faulted
            assert await env.status() == "paused"
            if n < 2:
                await asyncio.sleep(DROP_SECONDS)
        await env.end_show()
        assert ("source", "error") in restarts
        show = await services.shows.get(env.show_id)
        live_seconds = show.live_ms / 1000
        # the server's on-air clock agrees with the time the test kept the source running
        assert abs(live_seconds - on_air) < 1.0 + 0.002 * on_air, (live_seconds, on_air)

        base = f"{env.base_url}/replays/{env.show_id}/source"
        duration = await _ffprobe_duration(f"{base}/index.m3u8")
        assert abs(duration - live_seconds) <= 0.02 * live_seconds, (duration, live_seconds)
        assert abs(await _ffprobe_duration(f"{env.base_url}/replays/{env.show_id}/index.m3u8")
                   - live_seconds) <= 0.02 * live_seconds  # fmt: skip

        index = await _replay_index(http, f"{base}/index.m3u8")
        async with http.get(f"{env.base_url}/api/v1/shows/{env.show_id}/timeline") as resp:
            events = (await resp.json())["events"]
        pinned = [e for e in events if e["type"] == "offer.pinned"]
        assert len(pinned) == 3 * PINS_PER_STRETCH
        misses = []
        for event in pinned:
            captured = await _capture_ms_at(http, base, index, event["media_ts"])
            if abs(captured - event["at"]) > SEGMENT * 1000:
                misses.append((event["media_ts"], captured - event["at"]))
        assert not misses, misses
        print(f"on air {live_seconds:.2f} s, replay {duration:.2f} s, restarts {restarts}")
