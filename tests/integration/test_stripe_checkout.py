"""The app with `payments.provider: stripe` against the local Stripe-compatible server, through
the real `stripe` library: an event's body is never trusted, refunds (ours and the dashboard's).
Double submit, webhook storms, forgeries and expiry are the reliability battery's RB-02, RB-03,
RB-05 and RB-08."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from livecommerce.domain.ledger import EntryKind
from livecommerce.domain.orders import OrderStatus
from tests.conftest import SettingsFactory
from tests.support.fake_stripe import FakeStripe
from tests.support.shop import UNHURRIED_SHOP, WHSEC, ShopEnv, shop_env, stripe_payments


@pytest.fixture
async def fake() -> AsyncIterator[FakeStripe]:
    async with FakeStripe(auto_deliver=False) as server:
        yield server


@pytest.fixture
async def env(fake: FakeStripe, settings_factory: SettingsFactory) -> AsyncIterator[ShopEnv]:
    settings = settings_factory(
        payments=stripe_payments(fake.url, fake.api_key), shop=UNHURRIED_SHOP
    )
    async with shop_env(settings) as running:
        fake.add_endpoint(f"{running.base_url}/webhooks/stripe", WHSEC)
        yield running


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
