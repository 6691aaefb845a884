"""The app with `payments.provider: stripe` against the local Stripe-compatible server, through
the real `stripe` library: one PaymentIntent per order, webhooks verified on the raw body,
deduplicated and order-insensitive, expiry cancelling at Stripe first, refunds."""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import ClientSession

from livecommerce.domain.ledger import EntryKind
from livecommerce.domain.orders import OrderStatus
from livecommerce.errors import IdempotencyConflict
from tests.conftest import SettingsFactory
from tests.support.fake_stripe import FakeStripe, sign
from tests.support.shop import ShopEnv, shop_env

WHSEC = "whsec_local_test"


@pytest.fixture
async def fake() -> AsyncIterator[FakeStripe]:
    async with FakeStripe(auto_deliver=False) as server:
        yield server


@pytest.fixture
async def env(fake: FakeStripe, settings_factory: SettingsFactory) -> AsyncIterator[ShopEnv]:
    settings = settings_factory(
        payments={
            "provider": "stripe",
            "stripe_secret_key": fake.api_key,
            "stripe_publishable_key": "pk_test_local",
            "stripe_webhook_secret": WHSEC,
            "stripe_api_base": fake.url,
        },
        shop={
            "sweep_interval_seconds": 3600,
            "checkout_rates": [{"limit": 10_000, "per_seconds": 1}],
        },
    )
    async with shop_env(settings) as running:
        fake.add_endpoint(f"{running.base_url}/webhooks/stripe", WHSEC)
        yield running


async def test_parallel_same_key_makes_one_payment_intent(fake: FakeStripe, env: ShopEnv) -> None:
    """Twenty parallel checkouts with one key: one order, one PaymentIntent, one client secret."""
    offer = await env.offer(stock=3)
    buyer = await env.buyer()
    results = await asyncio.gather(
        *[
            env.shop.checkout.start(buyer, env.show_id, offer.id, None, 1, "stripe-key-01")
            for _ in range(20)
        ]
    )
    assert 1 == len({order.id for order, _ in results})
    assert 1 == len(fake.payment_intents)
    pi = next(iter(fake.payment_intents.values()))
    assert {pay.client["client_secret"] for _, pay in results} == {pi["client_secret"]}
    assert pi["automatic_payment_methods"]["enabled"] is True
    assert (pi["amount"], pi["currency"]) == (4900, "usd")
    with pytest.raises(IdempotencyConflict):
        await env.shop.checkout.start(buyer, env.show_id, offer.id, None, 2, "stripe-key-01")
    assert 1 == len(fake.payment_intents)


async def test_webhooks_duplicated_and_shuffled_post_once(fake: FakeStripe, env: ShopEnv) -> None:
    """Every event delivered 1-5 times in shuffled order: one journal payment per paid order."""
    offer = await env.offer(stock=10)
    orders = []
    for i in range(6):
        buyer = await env.buyer(f"b{i}")
        order, pay = await env.shop.checkout.start(
            buyer, env.show_id, offer.id, None, 1, f"hook-key-{i:02d}"
        )
        orders.append(order)
        if i < 4:
            fake.pay_out_of_band(pay.ref)
        elif i == 4:
            with pytest.raises(Exception, match="declined"):
                fake.pay_out_of_band(pay.ref, "4000000000000002")
    rng = random.Random(5)
    deliveries = [e for e in fake.events for _ in range(rng.randint(1, 5))]
    rng.shuffle(deliveries)
    statuses = []
    for chunk in range(0, len(deliveries), 8):
        statuses += await asyncio.gather(*[fake.deliver(e) for e in deliveries[chunk : chunk + 8]])
    assert {200} == set(statuses)
    journal = await env.adapters.orders.journal()
    payments = [t for t in journal if t.kind is EntryKind.PAYMENT]
    assert sorted(t.order_id for t in payments) == sorted(o.id for o in orders[:4])
    final = [await env.adapters.orders.get_order(o.id) for o in orders]
    assert [o.status for o in final if o] == [OrderStatus.PAID] * 4 + [
        OrderStatus.PENDING_PAYMENT
    ] * 2
    level = await env.cap(offer)
    assert (level.sold, level.reserved) == (4, 2)


async def test_forged_stale_and_modified_webhooks_are_refused(
    fake: FakeStripe, env: ShopEnv
) -> None:
    """Bad signature, wrong secret, stale timestamp or a changed body: 400 and nothing moves."""
    offer = await env.offer(stock=2)
    buyer = await env.buyer()
    order, pay = await env.shop.checkout.start(buyer, env.show_id, offer.id, None, 1, "forge-k-01")
    fake.pay_out_of_band(pay.ref)
    event = next(e for e in fake.events if e["type"] == "payment_intent.succeeded")
    assert 400 == await fake.deliver(event, secret="whsec_attacker")
    assert 400 == await fake.deliver(event, timestamp=int(time.time()) - 400)
    assert 400 == await fake.deliver(event, tamper=True)
    url = f"{env.base_url}/webhooks/stripe"
    async with ClientSession() as session:
        async with session.post(url, data=json.dumps(event)) as resp:
            assert 400 == resp.status
            assert "invalid_signature" == (await resp.json())["error"]["code"]
        body = json.dumps(event).encode()
        header = sign(body, WHSEC)
        async with session.post(url, data=body + b" ", headers={"Stripe-Signature": header}) as r:
            assert 400 == r.status
    got = await env.adapters.orders.get_order(order.id)
    assert got is not None
    assert got.status is OrderStatus.PENDING_PAYMENT
    assert [] == await env.adapters.orders.journal(order.id)
    assert 200 == await fake.deliver(event)
    got = await env.adapters.orders.get_order(order.id)
    assert got is not None
    assert got.status is OrderStatus.PAID


async def test_event_body_is_not_trusted(fake: FakeStripe, env: ShopEnv) -> None:
    """A validly signed 'succeeded' event for an unpaid intent changes nothing (re-read wins)."""
    offer = await env.offer(stock=2)
    buyer = await env.buyer()
    order, pay = await env.shop.checkout.start(buyer, env.show_id, offer.id, None, 1, "trust-k-01")
    created = next(e for e in fake.events if e["type"] == "payment_intent.created")
    lie: dict[str, Any] = json.loads(json.dumps(created))
    lie["id"] = "evt_forged_success"
    lie["type"] = "payment_intent.succeeded"
    lie["data"]["object"]["status"] = "succeeded"
    assert 200 == await fake.deliver(lie)
    got = await env.adapters.orders.get_order(order.id)
    assert got is not None
    assert got.status is OrderStatus.PENDING_PAYMENT
    assert pay.ref == created["data"]["object"]["id"]


async def test_sweeper_cancels_at_stripe_before_expiring(fake: FakeStripe, env: ShopEnv) -> None:
    """Expiry cancels an open PaymentIntent and releases; a PI paid meanwhile makes it paid."""
    offer = await env.offer(stock=2)
    a, b = await env.buyer("a"), await env.buyer("b")
    open_order, open_pay = await env.shop.checkout.start(
        a, env.show_id, offer.id, None, 1, "sweep-k-a"
    )
    paid_order, paid_pay = await env.shop.checkout.start(
        b, env.show_id, offer.id, None, 1, "sweep-k-b"
    )
    fake.pay_out_of_band(paid_pay.ref)  # webhook never arrives
    env.clock.advance(601)
    assert 1 == await env.shop.payments.sweep()
    assert "canceled" == fake.payment_intents[open_pay.ref]["status"]
    got_open = await env.adapters.orders.get_order(open_order.id)
    got_paid = await env.adapters.orders.get_order(paid_order.id)
    assert got_open is not None
    assert got_paid is not None
    assert (got_open.status, got_paid.status) == (OrderStatus.EXPIRED, OrderStatus.PAID)
    level = await env.cap(offer)
    assert (level.sold, level.reserved, level.available) == (1, 0, 1)


async def test_refund_through_stripe(fake: FakeStripe, env: ShopEnv) -> None:
    """A seller's partial refund goes to Stripe once per key and posts one reversing entry."""
    offer = await env.offer(stock=2)
    buyer = await env.buyer()
    order, pay = await env.shop.checkout.start(buyer, env.show_id, offer.id, None, 1, "refund-s-1")
    fake.pay_out_of_band(pay.ref)
    await env.shop.payments.sync(order.id)
    first = await env.shop.payments.refund(env.seller, order.id, 900, "refund-req-0001")
    again = await env.shop.payments.refund(env.seller, order.id, 900, "refund-req-0001")
    assert first.status is OrderStatus.PARTIALLY_REFUNDED
    assert 900 == again.refunded_minor
    assert 1 == len(fake.refunds)
    refunds = [t for t in await env.adapters.orders.journal(order.id) if t.kind is EntryKind.REFUND]
    assert [900] == [t.amount for t in refunds]


async def test_dashboard_refunds_reach_the_ledger_once(fake: FakeStripe, env: ShopEnv) -> None:
    """Refunds made outside the API are recorded from webhooks; API refunds are not doubled."""
    offer = await env.offer(stock=2)
    buyer = await env.buyer()
    order, pay = await env.shop.checkout.start(buyer, env.show_id, offer.id, None, 1, "dash-ref-1")
    fake.pay_out_of_band(pay.ref)
    await env.shop.payments.sync(order.id)
    await env.shop.payments.refund(env.seller, order.id, 1000, "api-refund-001")
    fake.refund_out_of_band(pay.ref, 500)
    for event in fake.events * 3:
        assert 200 == await fake.deliver(event)
    got = await env.adapters.orders.get_order(order.id)
    assert got is not None
    assert (OrderStatus.PARTIALLY_REFUNDED, 1500) == (got.status, got.refunded_minor)
    refunds = [t for t in await env.adapters.orders.journal(order.id) if t.kind is EntryKind.REFUND]
    assert [500, 1000] == sorted(t.amount for t in refunds)


async def test_sweeper_keeps_holding_while_stripe_is_down(fake: FakeStripe, env: ShopEnv) -> None:
    """If Stripe cannot be asked, an expired hold is kept (it might be paid), not released."""
    offer = await env.offer(stock=1)
    buyer = await env.buyer()
    order, _ = await env.shop.checkout.start(buyer, env.show_id, offer.id, None, 1, "down-key-1")
    await fake.close()
    env.clock.advance(601)
    assert 0 == await env.shop.payments.sweep()
    got = await env.adapters.orders.get_order(order.id)
    assert got is not None
    assert OrderStatus.PENDING_PAYMENT is got.status
    assert 1 == (await env.cap(offer)).reserved
