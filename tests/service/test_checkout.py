"""Checkout and settlement with real adapters (in-process + SQLite, and Redis + PostgreSQL
started by the tests): keys reused across offers, sale windows, declines, refunds and rebuilds,
cancel, rate limits. The stampede, double submit, per-buyer limit race, expiry and tampering
criteria live in the reliability battery (tests/reliability/test_rb01, 02, 08, 09, 10)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from livecommerce.adapters.memory.inventory import MemoryInventory
from livecommerce.domain.inventory import VariantStock
from livecommerce.domain.ledger import EntryKind
from livecommerce.domain.offers import OfferKind
from livecommerce.domain.orders import OrderStatus
from livecommerce.errors import (
    Conflict,
    IdempotencyConflict,
    NotFound,
    OfferNotActive,
    PaymentDeclined,
    RateLimited,
    SoldOut,
)
from livecommerce.services.stock import StockService
from tests.conftest import SettingsFactory
from tests.support.shop import FakeClock, ShopEnv, shop_env

PAYS = "4242 4242 4242 4242"
DECLINED = "4000 0000 0000 0002"


@pytest.fixture(params=["memory", pytest.param("redis+postgres", marks=pytest.mark.postgres)])
async def env(
    request: pytest.FixtureRequest, settings_factory: SettingsFactory
) -> AsyncIterator[ShopEnv]:
    sections: dict[str, Any] = {
        "shop": {
            "sweep_interval_seconds": 3600,
            "checkout_rates": [{"limit": 10_000, "per_seconds": 1}],
        }
    }
    if request.param != "memory":
        sections["store"] = {"url": request.getfixturevalue("postgres_url"), "pool_size": 20}
        sections["redis"] = {"url": request.getfixturevalue("redis_url")}
    async with shop_env(settings_factory(**sections)) as running:
        yield running


async def test_key_reused_for_another_offer_is_a_conflict(env: ShopEnv) -> None:
    """Reusing a key on a different offer is idempotency_conflict and holds nothing there."""
    first, second = await env.offer(stock=5), await env.offer(stock=5)
    buyer = await env.buyer()
    await env.shop.checkout.start(buyer, env.show_id, first.id, None, 1, "reuse-key-01")
    with pytest.raises(IdempotencyConflict):
        await env.shop.checkout.start(buyer, env.show_id, second.id, None, 1, "reuse-key-01")
    assert 5 == (await env.cap(second)).available
    assert 4 == (await env.cap(first)).available


async def test_sale_window_and_sold_out_hold_nothing(env: ShopEnv) -> None:
    """Before the start, after the end and when sold out, checkout is refused cleanly."""
    now = env.clock.now_ms()
    later = await env.offer(stock=3, kind=OfferKind.FLASH, price=100,
                            starts_at_ms=now + 60_000, ends_at_ms=now + 120_000)  # fmt: skip
    buyer = await env.buyer()
    with pytest.raises(OfferNotActive):
        await env.shop.checkout.start(buyer, env.show_id, later.id, None, 1, "window-k-1")
    env.clock.advance(121)
    with pytest.raises(OfferNotActive):
        await env.shop.checkout.start(buyer, env.show_id, later.id, None, 1, "window-k-2")
    small = await env.offer(stock=1)
    with pytest.raises(SoldOut):
        await env.shop.checkout.start(buyer, env.show_id, small.id, None, 2, "window-k-3")
    assert 1 == (await env.cap(small)).available


async def test_declined_card_fails_and_releases(env: ShopEnv) -> None:
    """A declined demo card fails the order and releases its units."""
    offer = await env.offer(stock=2)
    buyer = await env.buyer()
    updates = await env.bus_events("order.updated")
    order, _ = await env.shop.checkout.start(buyer, env.show_id, offer.id, None, 2, "decline-k1")
    with pytest.raises(PaymentDeclined):
        await env.shop.payments.confirm_demo(buyer, order.id, DECLINED)
    stored = await env.adapters.orders.get_order(order.id)
    assert stored is not None
    assert stored.status is OrderStatus.FAILED
    assert 2 == (await env.cap(offer)).available
    assert ["pending_payment", "failed"] == [u["order"]["status"] for u in updates]


async def test_refunds_reverse_and_inventory_rebuilds(env: ShopEnv) -> None:
    """Partial then full refunds post reversing entries; an empty inventory store rebuilds the
    same counts from stock movements and the orders still holding stock."""
    offer = await env.offer(stock=5)
    buyer = await env.buyer()
    order, _ = await env.shop.checkout.start(buyer, env.show_id, offer.id, None, 2, "refund-k-1")
    await env.shop.payments.confirm_demo(buyer, order.id, PAYS)
    held, _ = await env.shop.checkout.start(buyer, env.show_id, offer.id, None, 1, "refund-k-2")
    part = await env.shop.payments.refund(env.seller, order.id, 1000, None)
    assert (part.status, part.refunded_minor) == (OrderStatus.PARTIALLY_REFUNDED, 1000)
    full = await env.shop.payments.refund(env.seller, order.id, None, None)
    assert (full.status, full.refunded_minor) == (OrderStatus.REFUNDED, 9800)
    kinds = sorted(t.kind for t in await env.adapters.orders.journal(order.id))
    assert kinds == [EntryKind.PAYMENT, EntryKind.REFUND, EntryKind.REFUND]  # by name
    before = await env.shop.stock.levels(env.product.id)
    fresh = StockService(
        env.adapters.orders, env.adapters.stock, env.adapters.catalog, MemoryInventory(), env.clock
    )
    assert 1 == await fresh.rebuild()
    assert before == await fresh.levels(env.product.id)
    if env.adapters.redis is not None:
        await env.adapters.redis.flushdb()
        assert 1 == await env.shop.stock.rebuild()
        assert before == await env.shop.stock.levels(env.product.id)
    assert (2, 1) == (before.caps[offer.id].sold, before.caps[offer.id].reserved)
    assert VariantStock(498, 1) == before.variants[env.product.variants[0].id]
    assert held.status is OrderStatus.PENDING_PAYMENT


async def test_fake_clock_is_used(env: ShopEnv) -> None:
    """The app runs on the test's clock (so expiry tests never sleep)."""
    assert isinstance(env.clock, FakeClock)


async def test_cancel_releases_unless_already_paid(env: ShopEnv) -> None:
    """Cancelling an unpaid order releases its stock; a payment that went through wins."""
    offer = await env.offer(stock=3)
    buyer, stranger = await env.buyer("b"), await env.buyer("s")
    order, _ = await env.shop.checkout.start(buyer, env.show_id, offer.id, None, 2, "cancel-k-1")
    with pytest.raises(NotFound):
        await env.shop.payments.cancel(stranger, order.id)
    cancelled = await env.shop.payments.cancel(buyer, order.id)
    assert OrderStatus.CANCELLED is cancelled.status
    assert 3 == (await env.cap(offer)).available
    with pytest.raises(Conflict):
        await env.shop.payments.cancel(buyer, order.id)
    raced, _ = await env.shop.checkout.start(buyer, env.show_id, offer.id, None, 1, "cancel-k-2")
    demo: Any = env.shop.payments.gateway("demo")
    await demo.confirm(raced, PAYS)
    with pytest.raises(Conflict):
        await env.shop.payments.cancel(env.seller, raced.id)
    got = await env.adapters.orders.get_order(raced.id)
    assert got is not None
    assert OrderStatus.PAID is got.status


async def test_new_checkouts_per_buyer_are_rate_limited(settings_factory: SettingsFactory) -> None:
    """A buyer's burst of new checkouts is limited; retrying a known key never is."""
    settings = settings_factory(shop={"checkout_rates": [{"limit": 3, "per_seconds": 60}]})
    async with shop_env(settings) as env:
        offer = await env.offer(stock=50)
        buyer = await env.buyer()
        for i in range(3):
            await env.shop.checkout.start(buyer, env.show_id, offer.id, None, 1, f"rate-key-{i}")
        with pytest.raises(RateLimited):
            await env.shop.checkout.start(buyer, env.show_id, offer.id, None, 1, "rate-key-9")
        again, _ = await env.shop.checkout.start(
            buyer, env.show_id, offer.id, None, 1, "rate-key-0"
        )
        assert OrderStatus.PENDING_PAYMENT is again.status
        assert 3 == (await env.cap(offer)).reserved
