"""The show lifecycle over the real app: only the seller's end (or a pause past the grace) ends
a show; every change reaches the room as ``show.state``; ending closes the show's offers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import ClientSession

from livecommerce import keys
from livecommerce.domain.access import Role
from livecommerce.domain.offers import OfferStatus
from livecommerce.domain.shows import ShowStatus
from livecommerce.errors import InvalidTransition
from tests.conftest import SettingsFactory
from tests.support.hub_clients import join_show
from tests.support.media_app import running_media_app
from tests.support.shop import ShopEnv, post_json, shop_env

GRACE = 60.0


@pytest.fixture
async def env(settings_factory: SettingsFactory) -> AsyncIterator[ShopEnv]:
    settings = settings_factory(broadcast={"reconnect_grace_seconds": GRACE})
    async with shop_env(settings) as running:
        yield running


async def test_end_is_the_sellers_and_closes_offers(env: ShopEnv) -> None:
    """Only the seller (or an admin) ends a show; ending twice is harmless; every open offer
    ends with it and the room hears ``show.state`` with the time of the change."""
    offer = await env.offer(stock=5)
    draft = await env.offer(stock=5, start=False)
    _, host = await env.user("Host")
    await env.shop.shows.grant_host(env.seller, env.show_id, host.id)
    _, viewer = await env.user("Viewer")
    _, admin = await env.user("Admin", Role.ADMIN)
    watcher, _ = await join_show(env.base_url, env.show_id, None)
    url = f"{env.base_url}/api/v1/shows/{env.show_id}/end"
    async with ClientSession() as http:
        assert (await post_json(http, url, {}))[0] == 401
        for user in (host, viewer):
            status, body = await post_json(http, url, {}, await env.token(user))
            assert (status, body["error"]["code"]) == (403, "forbidden")
        assert (await env.shop.shows.get(env.show_id)).status is ShowStatus.LIVE
        before = env.clock.now_ms()
        status, show = await post_json(http, url, {}, await env.token(env.seller_user))
        assert (status, show["status"]) == (200, "ended"), show
        state = await watcher.expect("show.state")
        assert state == {
            "show_id": env.show_id,
            "state": "ended",
            "status": "ended",
            "at": before,
        }
        status, again = await post_json(http, url, {}, await env.token(admin))
        assert (status, again["status"], again["ended_at"]) == (200, "ended", show["ended_at"])
    for closed in (offer, draft):
        assert (await env.shop.offers.get(env.show_id, closed.id)).status is OfferStatus.ENDED
    await watcher.close()


async def test_pause_resume_and_the_grace(env: ShopEnv) -> None:
    """A publisher gone pauses the show (the room hears it); coming back resumes it and the
    on-air clock skips the pause; a pause longer than the grace ends the show by itself."""
    watcher, _ = await join_show(env.base_url, env.show_id, None)
    lifecycle = env.shop.lifecycle
    started = (await env.shop.shows.get(env.show_id)).started_at
    assert started is not None
    env.clock.advance(30)
    paused = await lifecycle.publisher_gone(env.show_id)
    assert paused is not None
    assert paused.status is ShowStatus.PAUSED
    assert (await watcher.expect("show.state"))["state"] == "paused"
    env.clock.advance(GRACE - 1)  # a long Wi-Fi drop, still inside the grace
    await asyncio.sleep(1.5)  # the sweep runs every second
    assert (await env.shop.shows.get(env.show_id)).status is ShowStatus.PAUSED
    resumed = await lifecycle.went_live(env.show_id)
    assert (await watcher.expect("show.state"))["state"] == "live"
    assert resumed.started_at == started
    assert resumed.live_ms == 30_000  # on air 30 s; the pause is not replay time
    env.clock.advance(10)
    await lifecycle.publisher_gone(env.show_id)
    env.clock.advance(GRACE + 1)
    ended = await watcher.expect("show.state", lambda p: p["state"] == "ended", within=5)
    assert ended["show_id"] == env.show_id
    show = await env.shop.shows.get(env.show_id)
    assert (show.status, show.live_ms) == (ShowStatus.ENDED, 40_000)
    await watcher.close()


async def test_a_paused_show_keeps_selling_and_an_ended_one_is_not_resumed(env: ShopEnv) -> None:
    """Chat and offers go on while paused; after the end the media plane cannot revive it."""
    offer = await env.offer(stock=3)
    await env.shop.lifecycle.publisher_gone(env.show_id)
    buyer = await env.buyer()
    order, _ = await env.shop.checkout.start(
        buyer, env.show_id, offer.id, None, 1, "paused-show-buy-1"
    )
    assert order.status.value in ("reserved", "pending_payment")
    await env.shop.lifecycle.end(env.seller, env.show_id)
    with pytest.raises(InvalidTransition):
        await env.shop.lifecycle.went_live(env.show_id)  # a late first packet: never revives
    assert (await env.shop.shows.get(env.show_id)).status is ShowStatus.ENDED


async def test_a_pause_from_another_node_is_undone_where_media_flows(tmp_path: Path) -> None:
    """A restarting node pauses every show left live (it cannot know which ones other nodes
    carry); the node whose source still sends puts the show back on air at once."""
    async with running_media_app(
        tmp_path, {"synthetic_width": 320, "synthetic_height": 176}
    ) as env:
        await env.manager.start_synthetic(env.show_id)
        await asyncio.sleep(0.5)
        await env.app[keys.SERVICES].lifecycle.pause_orphans({})
        deadline = asyncio.get_running_loop().time() + 5
        while await env.status() != "live":
            assert asyncio.get_running_loop().time() < deadline
            await asyncio.sleep(0.05)
        await env.manager.stop_synthetic(env.show_id)
        assert await env.status() == "paused"  # its own source leaving does pause it


async def test_a_huge_media_ts_is_refused_and_changes_nothing(env: ShopEnv) -> None:
    """Issue 12 finding 6: a pin with ``media_ts`` 1e20 was a 500 that still saved the pin."""
    offer = await env.offer(stock=3)
    url = f"{env.base_url}/api/v1/shows/{env.show_id}/offers/{offer.id}/pin"
    async with ClientSession() as http:
        status, body = await post_json(
            http, url, {"media_ts": 1e20}, await env.token(env.seller_user)
        )
    assert (status, body["error"]["code"]) == (422, "invalid_input"), body
    assert (await env.shop.offers.get(env.show_id, offer.id)).pinned_at_ms is None
    assert not [
        e for e in await env.shop.offers.timeline(env.show_id) if e["type"] == "offer.pinned"
    ]


async def test_a_host_runs_the_sellers_offers_but_cannot_price_them(env: ShopEnv) -> None:
    """Issue 12 finding 4: a host created ``{price: 0, stock: 1000000}`` and sold the seller's
    goods for free. Preparing offers (price, cap, length) is the seller's; a host pins, starts,
    unpins and ends what the seller prepared."""
    _, host = await env.user("Hana")
    await env.shop.shows.grant_host(env.seller, env.show_id, host.id)
    token = await env.token(host)
    base = f"{env.base_url}/api/v1/shows/{env.show_id}/offers"
    async with ClientSession() as http:
        status, body = await post_json(
            http,
            base,
            {"product_id": env.product.id, "kind": "fixed", "price": 0, "stock": 1_000_000},
            token,
        )
        assert (status, body["error"]["code"]) == (403, "forbidden"), body
        assert await env.shop.offers.list(env.show_id) == []
        prepared = await env.offer(stock=3, start=False)
        status, body = await post_json(
            http, f"{base}/{prepared.id}/start", {"duration_seconds": 99999}, token
        )
        assert (status, body["error"]["code"]) == (403, "forbidden"), body
        for step in ("start", "pin", "unpin", "end"):
            status, body = await post_json(http, f"{base}/{prepared.id}/{step}", {}, token)
            assert status == 200, (step, body)
