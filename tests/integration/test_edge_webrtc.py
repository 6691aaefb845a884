"""Edge WebRTC: two nodes sharing a redis-server and one store; WHEP viewers on the node that
does not hold the publisher are served from one pull of the origin, over real aiortc peers."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp
import pytest

from livecommerce import keys
from livecommerce.broadcast.edge import NODE_TOKEN_HEADER, node_token, pull_key
from livecommerce.broadcast.synthetic import SyntheticSource
from livecommerce.domain.access import Principal, Role
from tests.conftest import SettingsFactory
from tests.support.app import running_app
from tests.support.media import Publisher, Viewer
from tests.support.media_app import MediaApp, post_sdp, until

pytestmark = [pytest.mark.redis, pytest.mark.timeout(120)]

BROADCAST = {
    "ice": {"host_addresses": ["127.0.0.1"]},
    "hls_enabled": False,
    "whip_rate_per_minute": 1000,
    "edge_linger_seconds": 1.0,
    "origin_ttl_seconds": 3.0,
    "reconnect_grace_seconds": 60.0,
}


@dataclass
class Nodes:
    a: MediaApp
    b: MediaApp


@contextlib.asynccontextmanager
async def two_nodes(settings_factory: SettingsFactory, redis_url: str) -> AsyncIterator[Nodes]:
    """Nodes A and B: one data dir (store and secret key), one Redis, a seller's show."""
    async with (
        running_app(settings_factory(redis={"url": redis_url}, broadcast=BROADCAST)) as a,
        running_app(settings_factory(redis={"url": redis_url}, broadcast=BROADCAST)) as b,
        aiohttp.ClientSession() as http,
    ):
        services = a.app[keys.SERVICES]
        user = await services.accounts.create_user(
            "Seller", "seller@example.test", "correct horse battery", Role.SELLER
        )
        seller = Principal(user.id, user.name, Role.SELLER)
        show, key = await services.shows.create(seller, "edge show")
        yield Nodes(
            MediaApp(a.base_url, a.app, http, show.id, key, seller),
            MediaApp(b.base_url, b.app, http, show.id, key, seller),
        )


async def wait_status(node: MediaApp, status: str, within: float = 10.0) -> None:
    async def reached() -> None:
        while await node.status() != status:  # noqa: ASYNC110  # why: polling the store
            await asyncio.sleep(0.1)

    await asyncio.wait_for(reached(), within)


async def test_edge_viewers_share_one_pull_that_stops_after_the_last_leaves(
    settings_factory: SettingsFactory, redis_url: str
) -> None:
    """Two viewers on B decode A's publisher through exactly one pull; a later viewer on B
    gets a picture at once (its keyframe request reaches A's source over the pull); the pull
    ends a linger after the last viewer on B left."""
    async with two_nodes(settings_factory, redis_url) as nodes:
        a, b = nodes.a, nodes.b
        publisher = Publisher(SyntheticSource(320, 176))
        await publisher.connect(a.whip)
        viewers = [Viewer(), Viewer()]
        try:
            await asyncio.gather(*(viewer.connect(b.whep) for viewer in viewers))
            for viewer in viewers:
                await viewer.wait_frames(15, within=30)
                assert viewer.audio_frames > 0
            assert 1 == b.manager.pulls_started
            assert 1 == a.manager.edge_count(a.show_id)
            assert (0, 2) == (a.manager.viewer_count(), b.manager.viewer_count())
            async with b.http.get(f"{b.base_url}/metrics") as resp:
                assert "livecommerce_broadcast_edge_pulls 1.0" in await resp.text()

            origin_feed = a.manager.feeds[a.show_id]
            asked = origin_feed.stats.keyframe_requests
            late = Viewer()
            viewers.append(late)
            await late.connect(b.whep)
            await late.wait_frames(5, within=10)
            assert origin_feed.stats.keyframe_requests > asked
            assert 1 == b.manager.pulls_started
        finally:
            for viewer in viewers:
                await viewer.close()
        await until(lambda: b.manager.peer_count == 0, within=20)
        await until(lambda: a.manager.edge_count() == 0, within=10)
        assert 1 == a.manager.peer_count  # the publisher alone
        await publisher.close()


async def test_publisher_moving_to_the_edge_makes_it_the_origin(
    settings_factory: SettingsFactory, redis_url: str
) -> None:
    """The publisher leaves A and comes back on B: B becomes the origin, and the viewer that
    stayed on A keeps receiving frames, now pulled from B."""
    async with two_nodes(settings_factory, redis_url) as nodes:
        a, b = nodes.a, nodes.b
        first = Publisher(SyntheticSource(320, 176), audio=False)
        await first.connect(a.whip)
        viewer = Viewer(audio=False)
        second = Publisher(SyntheticSource(320, 176), audio=False)
        try:
            await viewer.connect(a.whep)
            await viewer.wait_frames(10, within=30)
            assert 0 == a.manager.pulls_started
            await first.close()
            await second.connect(b.whip)
            seen = len(viewer.stamps)
            await viewer.wait_frames(seen + 15, within=30)
            assert 1 == a.manager.pulls_started
            assert 1 == b.manager.edge_count(b.show_id)
            # A keeps its viewer and its pull; the old publisher's session is gone
            await until(lambda: a.manager.peer_count == 2, within=10)
            # whichever node saw its publisher go first, the show ends up live on B's media
            await wait_status(b, "live")
        finally:
            await viewer.close()
            await first.close()
            await second.close()


async def test_pulls_need_a_node_token(settings_factory: SettingsFactory, redis_url: str) -> None:
    """A WHEP offer posing as a node with a forged or stale token is refused 401; a valid
    token on a node that is not the show's origin gets 409 (pulls never chain)."""
    async with two_nodes(settings_factory, redis_url) as nodes:
        a, b = nodes.a, nodes.b
        probe = Viewer(audio=False)
        try:
            offer = await probe.offer()
            key = pull_key(a.app[keys.SECRET_KEY])
            for token in (
                node_token(b"not the key", a.show_id),
                node_token(key, a.show_id, at=1_000_000),
                node_token(key, "shw_another"),
                "1.2",
            ):
                status, _, body = await post_sdp(
                    b, f"/whep/{b.show_id}", offer, extra={NODE_TOKEN_HEADER: token}
                )
                assert 401 == status, body
            valid = {NODE_TOKEN_HEADER: node_token(key, b.show_id)}
            status, _, body = await post_sdp(b, f"/whep/{b.show_id}", offer, extra=valid)
            assert (409, "not_origin") == (status, json.loads(body)["error"]["code"])
            assert 0 == b.manager.peer_count
        finally:
            await probe.close()
