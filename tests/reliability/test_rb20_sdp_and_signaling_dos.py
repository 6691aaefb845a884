"""RB-20 ``sdp_and_signaling_dos`` (../shared/RELIABILITY.md): oversized, candidate-stuffed,
m-line-stuffed and malformed offers are refused fast with 413/400; a POST flood gets 429 +
Retry-After; trickle PATCH floods get 405; a peer that never completes ICE/DTLS is closed; a
legitimate publisher still connects in the middle of the flood; nothing leaks a peer connection."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from pathlib import Path

import aiohttp

from livecommerce.broadcast.synthetic import SyntheticSource
from tests.support.media import Publisher, Viewer
from tests.support.media_app import SMALL, post_sdp, running_media_app, until


def _stuffed_candidates(offer: str, count: int) -> str:
    extra = "".join(
        f"a=candidate:{n} 1 udp 2130706431 127.0.0.1 {10000 + n} typ host\r\n" for n in range(count)
    )
    return offer.replace("a=mid:0\r\n", "a=mid:0\r\n" + extra, 1)


def _stuffed_m_lines(offer: str, count: int) -> str:
    video = offer[offer.index("m=video") :]
    return offer + video * count


async def test_rb20_bad_offers_are_refused_fast_and_ghost_peers_closed(tmp_path: Path) -> None:
    async with running_media_app(tmp_path, {**SMALL, "whip_rate_per_minute": 40}) as env:
        probe = Publisher(SyntheticSource(320, 176), audio=False)
        offer = await probe.offer()
        await probe.close()
        path = f"/whip/{env.show_id}"
        key = env.stream_key
        bad = {
            "oversized": (offer + "a=x-pad:" + "x" * (65 * 1024) + "\r\n", 413),
            "1000 candidates": (_stuffed_candidates(offer, 1000), None),
            "50 m-lines": (_stuffed_m_lines(offer, 50), None),
            "malformed": ("v=0\r\nthis is not SDP\r\n" * 50, 400),
            "trickle fragment": ("a=candidate:1 1 udp 1 127.0.0.1 9 typ host\r\n", 400),
        }
        for name, (body, expected) in bad.items():
            started = time.monotonic()
            status, _, text = await post_sdp(env, path, body, key)
            assert time.monotonic() - started < 1.0, name  # refused fast, before any peer
            assert status == (expected or status) and status in (400, 413), (name, text)
            assert env.manager.peer_count == 0, name
        # a never-completing peer (offer answered, ICE/DTLS never done) is closed in time
        env.manager.config = dataclasses.replace(env.manager.config, connect_timeout_seconds=2.0)
        ghost = Publisher(SyntheticSource(320, 176), audio=False)
        status, _, _ = await post_sdp(env, path, await ghost.offer(), key)
        assert status == 201
        await ghost.pc.close()  # it goes away without DTLS or a DELETE
        await until(lambda: env.manager.peer_count == 0, 10)


async def test_rb20_a_flood_without_the_key_does_not_lock_the_seller_out(tmp_path: Path) -> None:
    async with running_media_app(tmp_path, {**SMALL, "whip_rate_per_minute": 40}) as env:
        probe = Publisher(SyntheticSource(320, 176), audio=False)
        offer = await probe.offer()
        await probe.close()
        path = f"/whip/{env.show_id}"
        key = env.stream_key

        # someone without the key floods offers and trickle PATCHes from 127.0.0.1: 429/405
        async def flood() -> list[int]:
            return [(await post_sdp(env, path, offer, "sk_guess"))[0] for _ in range(60)]

        async def patch_flood() -> list[int]:
            out = []
            for _ in range(50):
                async with env.http.patch(f"{env.base_url}/whip/{env.show_id}/x") as r:
                    out.append(r.status)
            return out

        statuses, patches = await asyncio.gather(flood(), patch_flood())
        assert set(statuses) == {401, 429}
        assert statuses.count(429) >= 20
        assert set(patches) == {405}
        status, headers, _ = await post_sdp(env, path, offer, "sk_guess")
        assert (status, headers.get("Retry-After")) == (429, "10")
        assert env.manager.peer_count == 0
        # ... while the seller, from another address, still goes live on that very show
        bound = aiohttp.TCPConnector(local_addr=("127.0.0.2", 0))
        async with aiohttp.ClientSession(connector=bound) as seller_http:

            async def whip(sdp: str) -> str:
                async with seller_http.post(
                    env.base_url + path,
                    data=sdp.encode(),
                    headers={"Content-Type": "application/sdp", "Authorization": f"Bearer {key}"},
                ) as resp:
                    assert resp.status == 201, await resp.text()
                    return await resp.text()

            publisher = Publisher(SyntheticSource(320, 176), audio=False)
            await publisher.connect(whip)
            viewer = Viewer(audio=False)
            await viewer.connect(env.whep)
            await viewer.wait_frames(5, within=20)
            await viewer.close()
            await publisher.close()
        await until(lambda: env.manager.peer_count == 0, 30)
