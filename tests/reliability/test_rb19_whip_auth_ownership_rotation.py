"""RB-19 ``whip_auth_ownership_rotation`` (../shared/RELIABILITY.md): no, wrong and rotated keys
are refused; one seller's key opens nothing of another's show; one publisher per show; a DELETE
on another seller's session URL is refused; a rotated key stops working at once and its live
session ends."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from livecommerce import keys
from livecommerce.broadcast.synthetic import SyntheticSource
from tests.support.media import Publisher
from tests.support.media_app import SMALL, post_sdp, running_media_app, until


async def test_rb19_whip_auth_ownership_rotation(tmp_path: Path) -> None:
    async with running_media_app(tmp_path, SMALL) as env:
        other_show, other_key = await env.new_show()
        probe = Publisher(SyntheticSource(320, 176), audio=False)
        offer = await probe.offer()
        await probe.close()
        path = f"/whip/{env.show_id}"
        for key in (None, "", "sk_wrong", other_key):
            status, headers, _ = await post_sdp(env, path, offer, key)
            assert status == 401, key
            assert headers.get("WWW-Authenticate", "").startswith("Bearer")
        assert env.manager.peer_count == 0

        publisher = Publisher(SyntheticSource(320, 176), audio=False)
        await publisher.connect(env.whip)
        await until(lambda: bool(env.manager.feeds.get(env.show_id)), 10)
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
        status, _, _ = await post_sdp(env, path, offer, env.stream_key)
        assert status == 401
        assert time.monotonic() - rotated_at < 1.0
        await until(lambda: session.id not in env.manager.sessions, 5)
        deadline = time.monotonic() + 5
        while await env.status() != "paused":  # the ended session pauses the show, not ends it
            assert time.monotonic() < deadline
            await asyncio.sleep(0.05)
        resumed = Publisher(SyntheticSource(320, 176), audio=False)
        await resumed.connect(lambda o: env.whip(o, key=new_key))
        await until(lambda: env.manager.peer_count == 1, 5)
        for peer in (publisher, second, resumed):
            await peer.close()
        assert other_show not in env.manager.feeds
