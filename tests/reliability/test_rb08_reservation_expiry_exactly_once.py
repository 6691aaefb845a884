"""RB-08 reservation_expiry_exactly_once: a hold past its deadline is given up at Stripe first
(its PaymentIntent cancelled), then expired and its units returned — once, whatever runs the
sweep how many times and whatever cancellation events arrive how often; a hold whose payment
went through is never released, whether its `succeeded` was delivered or not. Stripe's
`checkout.session.expired` is, for PaymentIntents, `payment_intent.canceled`."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from livecommerce.domain.inventory import VariantStock
from livecommerce.domain.ledger import EntryKind
from livecommerce.domain.orders import OrderStatus
from livecommerce.errors import InvalidInput
from tests.conftest import SettingsFactory
from tests.reliability.conftest import StripeShopSettings
from tests.support.fake_stripe import FakeStripe
from tests.support.shop import (
    UNHURRIED_SHOP,
    WHSEC,
    ShopEnv,
    production_sections,
    shop_env,
)

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

TTL_S = 600
PAYS = "4242 4242 4242 4242"


@pytest.fixture
async def env(fake: FakeStripe, stripe_shop_settings: StripeShopSettings) -> AsyncIterator[ShopEnv]:
    async with shop_env(stripe_shop_settings(reservation_ttl_seconds=TTL_S)) as running:
        fake.add_endpoint(f"{running.base_url}/webhooks/stripe", WHSEC)
        yield running


def event(fake: FakeStripe, type_: str, pi_id: str) -> dict[str, Any]:
    return next(e for e in fake.events if e["type"] == type_ and e["data"]["object"]["id"] == pi_id)


async def test_expiry_releases_once_and_never_a_paid_hold(fake: FakeStripe, env: ShopEnv) -> None:
    """A: open at its deadline → cancelled at Stripe, expired, 2 units back once (ten sweepers
    at once, its `canceled` event twice). B: paid, webhook not yet in → the sweep makes it paid.
    C: paid and delivered, then a `canceled` event → still paid. Stripe unreachable → nothing
    released. After TTL + one sweep no hold is left."""
    offer = await env.offer(stock=4)
    a, b, c = await env.buyer("a"), await env.buyer("b"), await env.buyer("c")
    open_order, open_pay = await env.shop.checkout.start(
        a, env.show_id, offer.id, None, 2, "rb08-key-a"
    )
    late, late_pay = await env.shop.checkout.start(b, env.show_id, offer.id, None, 1, "rb08-key-b")
    done, done_pay = await env.shop.checkout.start(c, env.show_id, offer.id, None, 1, "rb08-key-c")
    fake.pay_out_of_band(late_pay.ref)  # its webhook is still on the way at the deadline
    fake.pay_out_of_band(done_pay.ref)
    assert 200 == await fake.deliver(event(fake, "payment_intent.succeeded", done_pay.ref))
    completed = event(fake, "payment_intent.succeeded", done_pay.ref)
    expired_after_completed = json.loads(json.dumps(completed))
    expired_after_completed["id"] = "evt_rb08_canceled_after_succeeded"
    expired_after_completed["type"] = "payment_intent.canceled"
    expired_after_completed["data"]["object"]["status"] = "canceled"
    assert 200 == await fake.deliver(expired_after_completed)

    env.clock.advance(TTL_S + 1)
    key, fake.api_key = fake.api_key, "sk_test_unreachable"  # every Stripe call now fails
    assert 0 == await env.shop.payments.sweep()
    assert "requires_payment_method" == fake.payment_intents[open_pay.ref]["status"]
    held = await env.cap(offer)
    assert (1, 3) == (held.sold, held.reserved)  # A and B still hold: either might be paid
    fake.api_key = key

    released = await asyncio.gather(*[env.shop.payments.sweep() for _ in range(10)])
    assert 1 == sum(released)
    assert "canceled" == fake.payment_intents[open_pay.ref]["status"]
    level = await env.cap(offer)
    assert (2, 0, 2) == (level.sold, level.reserved, level.available)
    assert VariantStock(498, 0) == await env.variant()
    assert [] == await env.adapters.inventory.due(env.clock.now_ms(), 100)

    canceled = event(fake, "payment_intent.canceled", open_pay.ref)
    assert [200, 200] == [await fake.deliver(canceled) for _ in range(2)]
    with pytest.raises(Exception, match="canceled"):
        fake.pay_out_of_band(open_pay.ref)  # the buyer's card form is too late
    assert 0 == await env.shop.payments.sweep()
    assert level == await env.cap(offer)
    assert VariantStock(498, 0) == await env.variant()

    statuses = [await env.adapters.orders.get_order(o.id) for o in (open_order, late, done)]
    assert [OrderStatus.EXPIRED, OrderStatus.PAID, OrderStatus.PAID] == [
        o.status for o in statuses if o is not None
    ]
    payments = [t for t in await env.adapters.orders.journal() if t.kind is EntryKind.PAYMENT]
    assert sorted([late.id, done.id]) == sorted(t.order_id for t in payments)


@pytest.fixture
async def demo_env(
    settings_factory: SettingsFactory, postgres_url: str, redis_url: str
) -> AsyncIterator[ShopEnv]:
    settings = settings_factory(
        shop={**UNHURRIED_SHOP, "reservation_ttl_seconds": TTL_S},
        **production_sections(postgres_url, redis_url),
    )
    async with shop_env(settings) as running:
        yield running


async def test_demo_expiry_releases_once_and_never_a_paid_hold(demo_env: ShopEnv) -> None:
    """The demo provider the same way: ten sweepers release the unpaid hold once, a payment
    made at the provider just before the sweep wins, a confirm after expiry is too late."""
    env = demo_env
    offer = await env.offer(stock=4)
    a, b, c = await env.buyer("a"), await env.buyer("b"), await env.buyer("c")
    unpaid, _ = await env.shop.checkout.start(a, env.show_id, offer.id, None, 2, "expire-k-1")
    paid, _ = await env.shop.checkout.start(b, env.show_id, offer.id, None, 1, "expire-k-2")
    raced, _ = await env.shop.checkout.start(c, env.show_id, offer.id, None, 1, "expire-k-3")
    await env.shop.payments.confirm_demo(b, paid.id, PAYS)
    demo: Any = env.shop.payments.gateway("demo")
    await demo.confirm(raced, PAYS)  # paid at the provider, our side not told yet
    env.clock.advance(TTL_S + 1)
    released = await asyncio.gather(*[env.shop.payments.sweep() for _ in range(10)])
    assert 1 == sum(released)
    level = await env.cap(offer)
    assert (2, 0, 2) == (level.sold, level.reserved, level.available)
    assert [] == await env.adapters.inventory.due(env.clock.now_ms(), 100)
    with pytest.raises(InvalidInput):  # the demo takes Stripe's test cards only
        await env.shop.payments.confirm_demo(a, unpaid.id, "1234 5678 9012 3456")
    await env.shop.payments.confirm_demo(a, unpaid.id, PAYS)  # too late: payment was cancelled
    got = [await env.adapters.orders.get_order(o.id) for o in (unpaid, paid, raced)]
    assert [OrderStatus.EXPIRED, OrderStatus.PAID, OrderStatus.PAID] == [
        o.status for o in got if o is not None
    ]
    assert level == await env.cap(offer)
