"""Reliability battery, media group (../shared/RELIABILITY.md):

- RB-19 ``whip_auth_ownership_rotation``: no, wrong and rotated keys are refused; one seller's
  key opens nothing of another's show; one publisher per show; a DELETE on another seller's
  session URL is refused; a rotated key stops working at once and its live session ends.
- RB-20 ``sdp_and_signaling_dos``: oversized, candidate-stuffed, m-line-stuffed and malformed
  offers are refused fast with 413/400; a POST flood gets 429 + Retry-After; trickle PATCH
  floods get 405; a peer that never completes ICE/DTLS is closed; a legitimate publisher still
  connects in the middle of the flood; nothing leaks a peer connection.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from pathlib import Path

import aiohttp

from livecommerce import keys
from livecommerce.broadcast.synthetic import SyntheticSource
from tests.support.media import Publisher, Viewer
from tests.support.media_app import MediaApp, running_media_app

SMALL = {"synthetic_width": 320, "synthetic_height": 176}


async def _post(
    env: MediaApp, path: str, body: str | bytes, key: str | None = None
) -> tuple[int, dict[str, str], str]:
    headers = {"Content-Type": "application/sdp"}
    if key is not None:
        headers["Authorization"] = f"Bearer {key}"
    data = body.encode() if isinstance(body, str) else body
    async with env.http.post(env.base_url + path, data=data, headers=headers) as resp:
        return resp.status, dict(resp.headers), await resp.text()


async def _until(predicate: object, within: float) -> float:
    started = time.monotonic()
    while not predicate():  # type: ignore[operator]
        assert time.monotonic() - started < within
        await asyncio.sleep(0.02)
    return time.monotonic() - started


async def test_rb19_whip_auth_ownership_rotation(tmp_path: Path) -> None:
    async with running_media_app(tmp_path, SMALL) as env:
        other_show, other_key = await env.new_show()
        probe = Publisher(SyntheticSource(320, 176), audio=False)
        offer = await probe.offer()
        await probe.close()
        path = f"/whip/{env.show_id}"
        for key in (None, "", "sk_wrong", other_key):
            status, headers, _ = await _post(env, path, offer, key)
            assert status == 401, key
            assert headers.get("WWW-Authenticate", "").startswith("Bearer")
        assert env.manager.peer_count == 0

        publisher = Publisher(SyntheticSource(320, 176), audio=False)
        await publisher.connect(env.whip)
        await _until(lambda: bool(env.manager.feeds.get(env.show_id)), 10)
        sessions = [s for s in env.manager.sessions.values() if s.role == "publisher"]
        assert len(sessions) == 1
        session = sessions[0]
        assert len(session.id) >= 22  # ≥ 128 bits of token_urlsafe
        # one publisher per show: a second offer with the key replaces, never adds
        second = Publisher(SyntheticSource(320, 176), audio=False)
        await second.connect(env.whip)
        publishers = [s for s in env.manager.sessions.values() if s.role == "publisher"]
        assert len(publishers) == 1 and publishers[0].id != session.id
        session = publishers[0]
        # another seller's key cannot DELETE this session, even knowing its URL
        location = f"{env.base_url}/whip/{env.show_id}/{session.id}"
        for key in (other_key, "sk_wrong"):
            async with env.http.delete(location, headers={"Authorization": f"Bearer {key}"}) as r:
                assert r.status == 401
        async with env.http.delete(location) as r:
            assert r.status == 401
        assert session.id in env.manager.sessions

        # rotation: the old key is refused at once, the live session ends within 5 s
        deadline = time.monotonic() + 10
        while await env.status() != "live":
            assert time.monotonic() < deadline
            await asyncio.sleep(0.05)
        rotated_at = time.monotonic()
        new_key = await env.app[keys.SERVICES].shows.rotate_stream_key(env.principal, env.show_id)
        status, _, _ = await _post(env, path, offer, env.stream_key)
        assert status == 401
        assert time.monotonic() - rotated_at < 1.0
        await _until(lambda: session.id not in env.manager.sessions, 5)
        deadline = time.monotonic() + 5
        while await env.status() != "paused":  # the ended session pauses the show, not ends it
            assert time.monotonic() < deadline
            await asyncio.sleep(0.05)
        resumed = Publisher(SyntheticSource(320, 176), audio=False)
        await resumed.connect(lambda o: env.whip(o, key=new_key))
        await _until(lambda: env.manager.peer_count == 1, 5)
        for peer in (publisher, second, resumed):
            await peer.close()
        assert other_show not in env.manager.feeds


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
            status, _, text = await _post(env, path, body, key)
            assert time.monotonic() - started < 1.0, name  # refused fast, before any peer
            assert status == (expected or status) and status in (400, 413), (name, text)
            assert env.manager.peer_count == 0, name
        # a never-completing peer (offer answered, ICE/DTLS never done) is closed in time
        env.manager.config = dataclasses.replace(env.manager.config, connect_timeout_seconds=2.0)
        ghost = Publisher(SyntheticSource(320, 176), audio=False)
        status, _, _ = await _post(env, path, await ghost.offer(), key)
        assert status == 201
        await ghost.pc.close()  # it goes away without DTLS or a DELETE
        await _until(lambda: env.manager.peer_count == 0, 10)


async def test_rb20_a_flood_without_the_key_does_not_lock_the_seller_out(tmp_path: Path) -> None:
    async with running_media_app(tmp_path, {**SMALL, "whip_rate_per_minute": 40}) as env:
        probe = Publisher(SyntheticSource(320, 176), audio=False)
        offer = await probe.offer()
        await probe.close()
        path = f"/whip/{env.show_id}"
        key = env.stream_key

        # someone without the key floods offers and trickle PATCHes from 127.0.0.1: 429/405
        async def flood() -> list[int]:
            return [(await _post(env, path, offer, "sk_guess"))[0] for _ in range(60)]

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
        status, headers, _ = await _post(env, path, offer, "sk_guess")
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
        await _until(lambda: env.manager.peer_count == 0, 30)
