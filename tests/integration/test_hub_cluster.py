"""Two app instances sharing one store and a redis-server the tests start: every node enforces
the same moderation and limits (chat across a Redis restart: RB-15)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio as aioredis
from aiohttp import web

from livecommerce import keys
from livecommerce.adapters.redis.fanout import PING_SECONDS, SILENT_SECONDS
from livecommerce.adapters.redis.inventory import RedisInventory
from livecommerce.domain.money import Money
from livecommerce.domain.offers import Offer, OfferKind
from livecommerce.domain.shows import ShowStatus
from livecommerce.services.catalog import VariantSpec
from livecommerce.services.ports import Product
from tests.conftest import SettingsFactory
from tests.support.app import RunningApp, running_app
from tests.support.hub_clients import Cast, Cluster, HubClient, cluster_of, join_show, make_cast
from tests.support.proxy import SilentLink

pytestmark = [pytest.mark.redis, pytest.mark.timeout(90)]
ROOMY = {
    "chat_rates": [{"limit": 1000, "per_seconds": 1}],
    "viewers_push_seconds": 0.3,
    "presence_heartbeat_seconds": 0.5,
}


@pytest.fixture
async def cluster(settings_factory: SettingsFactory, redis_url: str) -> AsyncIterator[Cluster]:
    async with cluster_of(settings_factory, redis_url, ROOMY) as made:
        yield made


async def join(node: RunningApp, cast: Cast, token: str | None) -> HubClient:
    return (await join_show(node.base_url, cast.show_id, token))[0]


async def say(client: HubClient, cast: Cast, text: str) -> Any:
    return await client.call("chat.send", {"show_id": cast.show_id, "text": text})


async def test_chat_and_moderation_cross_nodes(cluster: Cluster) -> None:
    """Lines, deletes, timeouts and bans made on node A reach and bind clients on node B."""
    cast = cluster.cast
    host = await join(cluster.a, cast, cast.host.token)
    alice_b = await join(cluster.b, cast, cast.alice.token)
    bob_b = await join(cluster.b, cast, cast.bob.token)
    watcher_a = await join(cluster.a, cast, None)
    try:
        line = (await say(bob_b, cast, "from node b"))["message"]
        assert (await watcher_a.expect("chat.message"))["id"] == line["id"]
        assert (await alice_b.expect("chat.message"))["id"] == line["id"]
        hello = (await say(host, cast, "from node a"))["message"]
        assert (await bob_b.expect("chat.message", lambda d: d["id"] == hello["id"]))["seq"] == 2

        await host.call("mod.delete", {"show_id": cast.show_id, "message_id": line["id"]})
        for client in (alice_b, bob_b, watcher_a):
            assert (await client.expect("chat.deleted"))["id"] == line["id"]

        await host.call(
            "mod.timeout", {"show_id": cast.show_id, "user_id": cast.alice.user_id, "seconds": 60}
        )
        await alice_b.expect("mod.applied", lambda d: d["action"] == "timeout")
        assert (await say(alice_b, cast, "hi"))["error"]["code"] == "muted"

        await host.call("mod.ban", {"show_id": cast.show_id, "user_id": cast.bob.user_id})
        await bob_b.expect("show.left")
        await alice_b.expect("mod.applied", lambda d: d["action"] == "ban")
        rejoin = await bob_b.call("show.join", {"show_id": cast.show_id})
        assert rejoin["error"]["code"] == "banned"
    finally:
        for client in (host, alice_b, bob_b, watcher_a):
            await client.close()


async def test_rate_limit_holds_across_nodes(
    settings_factory: SettingsFactory, redis_url: str
) -> None:
    """The per-user budget is shared: two lines on A and two on B make the fourth refused."""
    async with cluster_of(settings_factory, redis_url, {}) as cluster:
        cast = cluster.cast
        on_a = await join(cluster.a, cast, cast.alice.token)
        on_b = await join(cluster.b, cast, cast.alice.token)
        try:
            results = []
            for client in (on_a, on_b, on_a, on_b):
                ack = await say(client, cast, "x")
                results.append(ack["ok"] or ack["error"]["code"])
            assert results == [True, True, True, "rate_limited"]
        finally:
            await on_a.close()
            await on_b.close()


async def test_viewer_count_across_nodes(cluster: Cluster) -> None:
    """viewers.count sums the viewers of both nodes."""
    cast = cluster.cast
    on_a = await join(cluster.a, cast, None)
    on_b = await join(cluster.b, cast, None)
    try:
        await on_a.expect("viewers.count", lambda d: d["count"] == 2, within=10)
        await on_b.expect("viewers.count", lambda d: d["count"] == 2, within=10)
    finally:
        await on_a.close()
        await on_b.close()


async def test_chat_and_counts_cross_nodes_on_a_redis_cluster(
    settings_factory: SettingsFactory, redis_cluster_url: str
) -> None:
    """On a three-master Redis Cluster (sharded pub/sub, tagged presence keys), a line said on
    node A reaches node B once and the viewer count sums both nodes."""
    async with cluster_of(settings_factory, redis_cluster_url, ROOMY, redis_cluster=True) as made:
        cast = made.cast
        on_a = await join(made.a, cast, cast.alice.token)
        on_b = await join(made.b, cast, None)
        try:
            line = (await say(on_a, cast, "across the cluster"))["message"]
            assert line["id"] == (await on_b.expect("chat.message", within=10))["id"]
            await on_b.expect("viewers.count", lambda d: d["count"] == 2, within=10)
        finally:
            await on_a.close()
            await on_b.close()


async def _pinned_offer(app: web.Application, cast: Cast) -> tuple[Product, Offer]:
    """A live flash offer of a 10-unit product, pinned in the cast's show (now live)."""
    services = app[keys.SERVICES]
    seller = await services.accounts.authenticate(cast.seller.token)
    product = await services.catalog.create_product(
        seller, name="Tote", price=Money(2500, "USD"), variants=[VariantSpec("One", 10)]
    )
    await services.shows.move(cast.show_id, ShowStatus.LIVE)
    offer = await services.offers.create(
        seller, cast.show_id, product_id=product.id, kind=OfferKind.FLASH, price_minor=1900,
        duration_ms=600_000,
    )  # fmt: skip
    await services.offers.start(seller, cast.show_id, offer.id)
    return product, await services.offers.pin(seller, cast.show_id, offer.id)


async def _unannounced_sale(redis_url: str, product: Product, units: int) -> None:
    """Take units straight from the Redis inventory, as a node that died before announcing."""
    redis = aioredis.Redis.from_url(redis_url, decode_responses=True)
    try:
        await RedisInventory(redis).adjust(product.id, product.variants[0].id, -units)
    finally:
        await redis.aclose()


async def test_a_node_whose_fan_out_came_back_re_sends_the_offers(cluster: Cluster) -> None:
    """Stock that changed unannounced reaches a node's viewers once its fan-out reconnects
    (here redis-py re-connects it by itself after `CLIENT KILL`, raising nothing), with no
    further change to the offer."""
    cast = cluster.cast
    product, offer = await _pinned_offer(cluster.a.app, cast)
    viewer, ack = await join_show(cluster.b.base_url, cast.show_id, None)
    try:
        assert 10 == ack["pinned"]["stock_left"]
        redis_url = cluster.a.app[keys.SETTINGS].redis.url
        await _unannounced_sale(redis_url, product, 3)
        redis = aioredis.Redis.from_url(redis_url)
        try:
            assert await redis.client_kill_filter(_type="pubsub") > 0
        finally:
            await redis.aclose()
        pinned = await viewer.expect(
            "offer.pinned", lambda d: d["offer"]["id"] == offer.id, within=10
        )
        assert 7 == pinned["offer"]["stock_left"]
    finally:
        await viewer.close()


async def test_a_silent_link_to_redis_is_noticed_and_the_viewers_catch_up(
    settings_factory: SettingsFactory, redis_url: str
) -> None:
    """A link to Redis that goes silent (packets dropped, sockets left open: no error ever
    comes) is held dead after SILENT_SECONDS without an answer to the fan-out's ping; once the
    link is back the node reconnects and its viewers get the offer's stock as it is now."""
    link = SilentLink(int(redis_url.rsplit(":", 1)[1].split("/")[0]))
    await link.start()
    try:
        async with running_app(settings_factory(redis={"url": link.url}, hub=ROOMY)) as node:
            cast = await make_cast(node.app)
            product, offer = await _pinned_offer(node.app, cast)
            viewer, ack = await join_show(node.base_url, cast.show_id, None)
            try:
                assert 10 == ack["pinned"]["stock_left"]
                link.pause()
                await _unannounced_sale(redis_url, product, 4)
                await asyncio.sleep(SILENT_SECONDS + 2 * PING_SECONDS)
                link.resume()
                pinned = await viewer.expect(
                    "offer.pinned", lambda d: d["offer"]["id"] == offer.id, within=10
                )
                assert 6 == pinned["offer"]["stock_left"]
            finally:
                await viewer.close()
    finally:
        await link.close()
