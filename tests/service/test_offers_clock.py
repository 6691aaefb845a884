"""Offers on the show's clock with real adapters (in-process + SQLite, and Redis + PostgreSQL):
a flash sale runs its duration from *Start*, ending a show closes its offers and releases held
stock, an end takes effect at once, pins come and go on the show's on-air time, and only the
show's staff manage offers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from livecommerce.domain.access import Principal
from livecommerce.domain.offers import OfferKind, OfferStatus
from livecommerce.domain.orders import OrderStatus
from livecommerce.domain.shows import ShowStatus
from livecommerce.errors import OfferClosed, OfferNotActive, PermissionDenied
from livecommerce.services.offers import OFFER_CACHE_MS
from tests.conftest import SettingsFactory
from tests.support.shop import ShopEnv, shop_env

PAYS = "4242 4242 4242 4242"


@pytest.fixture(params=["memory", pytest.param("redis+postgres", marks=pytest.mark.postgres)])
async def env(
    request: pytest.FixtureRequest, settings_factory: SettingsFactory
) -> AsyncIterator[ShopEnv]:
    sections: dict[str, Any] = {
        "shop": {"sweep_interval_seconds": 3600, "stock_update_interval_seconds": 0}
    }
    if request.param != "memory":
        sections["store"] = {"url": request.getfixturevalue("postgres_url")}
        sections["redis"] = {"url": request.getfixturevalue("redis_url")}
    async with shop_env(settings_factory(**sections)) as running:
        yield running


async def buy(env: ShopEnv, buyer: Principal, offer_id: str, key: str, qty: int = 1) -> Any:
    order, _ = await env.shop.checkout.start(buyer, env.show_id, offer_id, None, qty, key)
    return order


async def test_flash_sale_prepared_before_the_show_runs_its_full_duration(env: ShopEnv) -> None:
    """Created an hour early with no price, a five-minute flash sale shows no clock, sells at the
    product's price once started and closes five minutes after *Start*."""
    offer = await env.shop.offers.create(
        env.seller, env.show_id, product_id=env.product.id, kind=OfferKind.FLASH,
        cap=3, duration_ms=300_000,
    )  # fmt: skip
    view = await env.shop.offers.view(offer)
    assert (None, None, None, 300) == (
        view["starts_at"], view["ends_at"], view["countdown"], view["duration_seconds"]
    )  # fmt: skip
    buyer = await env.buyer()
    with pytest.raises(OfferNotActive) as early:
        await buy(env, buyer, offer.id, "early-key-1")
    assert "offer_not_active" == early.value.code
    env.clock.advance(3600)
    started = await env.shop.offers.start(env.seller, env.show_id, offer.id)
    now = env.clock.now_ms()
    assert (now, now + 300_000) == (started.starts_at_ms, started.ends_at_ms)
    env.clock.advance(299)
    order = await buy(env, buyer, offer.id, "in-window-1")
    assert 4900 == order.unit_price.minor  # the product's price: a pure stock-limited drop
    env.clock.advance(1)
    with pytest.raises(OfferClosed):
        await buy(env, buyer, offer.id, "after-window")


async def test_ending_the_show_closes_offers_and_releases_held_stock(env: ShopEnv) -> None:
    """After the seller ends the show every open offer is ended and announced, unpaid holds are
    expired with their units back, paid orders stay paid, a late payment is refused as after any
    expiry, checkout answers `offer_closed`, and closing again changes nothing."""
    flash = await env.offer(stock=5, kind=OfferKind.FLASH, price=1000)
    fixed = await env.offer(stock=4)
    draft = await env.offer(stock=2, start=False)
    payer, holder = await env.buyer("payer"), await env.buyer("holder")
    paid = await buy(env, payer, flash.id, "end-paid-01", 2)
    await env.shop.payments.confirm_demo(payer, paid.id, PAYS)
    held = await buy(env, holder, flash.id, "end-held-01", 1)
    held_fixed = await buy(env, holder, fixed.id, "end-held-02", 3)
    assert OrderStatus.PENDING_PAYMENT is held.status
    updates = await env.bus_events("offer.updated")
    env.clock.advance(30)

    await env.shop.lifecycle.end(env.seller, env.show_id)

    offers = {o.id: o for o in await env.shop.offers.list(env.show_id)}
    assert {OfferStatus.ENDED} == {o.status for o in offers.values()}
    ended_views = {u["offer"]["id"] for u in updates if u["offer"]["status"] == "ended"}
    assert {flash.id, fixed.id, draft.id} == ended_views
    orders = env.adapters.orders
    for order_id, status in (
        (paid.id, OrderStatus.PAID),
        (held.id, OrderStatus.EXPIRED),
        (held_fixed.id, OrderStatus.EXPIRED),
    ):
        got = await orders.get_order(order_id)
        assert got is not None
        assert status is got.status
    flash_level = await env.cap(flash)
    assert (2, 0, 3) == (flash_level.sold, flash_level.reserved, flash_level.available)
    assert 4 == (await env.cap(fixed)).available

    late = await env.shop.payments.confirm_demo(holder, held.id, PAYS)
    assert OrderStatus.EXPIRED is late.status
    with pytest.raises(OfferClosed) as refused:
        await buy(env, holder, flash.id, "end-after-1")
    assert "offer_closed" == refused.value.code
    replay = await buy(env, payer, flash.id, "end-paid-01", 2)
    assert (paid.id, OrderStatus.PAID) == (replay.id, replay.status)

    timeline = await env.shop.offers.timeline(env.show_id)
    ends = [e for e in timeline if e["type"] == "offer.ended"]
    assert 3 == len(ends)
    assert {30.0} == {e["media_ts"] for e in ends}
    assert [] == await env.shop.offers.close_show(env.show_id)
    assert flash_level == await env.cap(flash)
    assert timeline == await env.shop.offers.timeline(env.show_id)


async def test_an_ended_show_refuses_checkout_even_if_its_offers_were_left_open(
    env: ShopEnv,
) -> None:
    """A crash between ending a show and closing its offers leaves them `live` in the store:
    checkout still refuses them once the cache turns over, and closing again finishes the job."""
    offer = await env.offer(stock=3)
    buyer = await env.buyer()
    held = await buy(env, buyer, offer.id, "crash-held-1")
    await env.shop.shows.move(env.show_id, ShowStatus.ENDED)
    env.clock.advance(OFFER_CACHE_MS / 1000)
    with pytest.raises(OfferClosed):
        await buy(env, buyer, offer.id, "crash-new-01")
    assert OfferStatus.LIVE is (await env.shop.offers.get(env.show_id, offer.id)).status
    assert [offer.id] == [o.id for o in await env.shop.offers.close_show(env.show_id)]
    got = await env.adapters.orders.get_order(held.id)
    assert got is not None
    assert OrderStatus.EXPIRED is got.status
    assert 3 == (await env.cap(offer)).available


async def test_ending_an_offer_takes_effect_at_once_on_this_node(env: ShopEnv) -> None:
    """A checkout right after the seller ends a (cached) live offer is refused, without waiting
    for the cache; holds already made keep running until their deadline."""
    offer = await env.offer(stock=3)
    buyer = await env.buyer()
    held = await buy(env, buyer, offer.id, "cache-key-01")
    ended = await env.shop.offers.end(env.seller, env.show_id, offer.id)
    assert OfferStatus.ENDED is ended.status
    with pytest.raises(OfferClosed):
        await buy(env, buyer, offer.id, "cache-key-02")
    got = await env.adapters.orders.get_order(held.id)
    assert got is not None
    assert OrderStatus.PENDING_PAYMENT is got.status
    with pytest.raises(OfferClosed):
        await env.shop.offers.start(env.seller, env.show_id, offer.id)


async def test_pins_follow_the_on_air_clock_and_unpin(env: ShopEnv) -> None:
    """Pins and unpins are stamped in on-air time (a pause does not count), a new pin replaces
    the old one, and unpinning announces `offer.unpinned` and leaves nothing on screen."""
    a = await env.offer(stock=2)
    b = await env.offer(stock=2, start=False)
    unpinned = await env.bus_events("offer.unpinned")
    env.clock.advance(10)
    await env.shop.lifecycle.publisher_gone(env.show_id)
    env.clock.advance(100)
    await env.shop.lifecycle.went_live(env.show_id)
    env.clock.advance(5)
    await env.shop.offers.pin(env.seller, env.show_id, a.id)
    env.clock.advance(1)
    await env.shop.offers.pin(env.seller, env.show_id, b.id)
    listed = {o.id: o for o in await env.shop.offers.list(env.show_id)}
    assert listed[a.id].unpinned_at_ms is not None  # b's pin took a off screen
    assert [b.id] == [o.id for o in listed.values() if (await env.shop.offers.view(o))["pinned"]]
    env.clock.advance(1)
    await env.shop.offers.unpin(env.seller, env.show_id, b.id)
    await env.shop.offers.unpin(env.seller, env.show_id, b.id)  # again: nothing more happens
    assert [(env.show_id, b.id)] == [(u["show_id"], u["offer_id"]) for u in unpinned]
    views = [await env.shop.offers.view(o) for o in await env.shop.offers.list(env.show_id)]
    assert [False, False] == [v["pinned"] for v in views]
    timeline = await env.shop.offers.timeline(env.show_id)
    assert [("offer.pinned", 15.0), ("offer.pinned", 16.0), ("offer.unpinned", 17.0)] == [
        (e["type"], e["media_ts"]) for e in timeline if e["type"] != "offer.started"
    ]


async def test_staff_manage_offers_and_viewers_may_not(env: ShopEnv) -> None:
    """A host may pin, unpin, start and end; a viewer gets `forbidden` for each; nothing is
    created or started in an ended show."""
    host, host_user = await env.user("Hana")
    await env.shop.shows.grant_host(env.seller, env.show_id, host_user.id)
    viewer = await env.buyer("viewer")
    offer = await env.offer(stock=2, start=False)
    offers = env.shop.offers
    for action in (offers.pin, offers.unpin, offers.start, offers.end):
        with pytest.raises(PermissionDenied):
            await action(viewer, env.show_id, offer.id)
    await offers.pin(host, env.show_id, offer.id)
    await offers.unpin(host, env.show_id, offer.id)
    assert OfferStatus.LIVE is (await offers.start(host, env.show_id, offer.id)).status
    assert OfferStatus.ENDED is (await offers.end(host, env.show_id, offer.id)).status
    other = await env.offer(stock=1, start=False)
    await env.shop.lifecycle.end(env.seller, env.show_id)
    with pytest.raises(OfferClosed):
        await offers.start(env.seller, env.show_id, other.id)
    with pytest.raises(OfferClosed):
        await env.offer(stock=1, start=False)
