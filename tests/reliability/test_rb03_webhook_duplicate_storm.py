"""RB-03 webhook_duplicate_storm: Stripe delivers at least once, so every signed event of a
sale (created, charge, succeeded, failed) arrives 1 to 5 times, all at once and split across two
app instances on one PostgreSQL + Redis. Settlement re-reads the PaymentIntent and the journal
is unique per payment, so each paid PaymentIntent posts exactly one payment entry, and every
delivery is acknowledged quickly (Stripe retries slow or failed acks)."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from livecommerce.domain.ledger import EntryKind
from livecommerce.domain.orders import OrderStatus
from tests.reliability.conftest import StripeShopSettings
from tests.support.app import running_app
from tests.support.fake_stripe import FakeStripe
from tests.support.shop import (
    WHSEC,
    ShopEnv,
    percentile,
    shop_env,
)

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


@pytest.fixture
async def env(fake: FakeStripe, stripe_shop_settings: StripeShopSettings) -> AsyncIterator[ShopEnv]:
    """Instance A (with the seller's show) and instance B, both webhook endpoints."""
    async with (
        shop_env(stripe_shop_settings()) as first,
        running_app(stripe_shop_settings()) as second,
    ):
        fake.add_endpoint(f"{first.base_url}/webhooks/stripe", WHSEC)
        fake.add_endpoint(f"{second.base_url}/webhooks/stripe", WHSEC)
        yield first


async def test_each_event_delivered_one_to_five_times_across_two_instances(
    fake: FakeStripe, env: ShopEnv
) -> None:
    """One payment entry per paid PaymentIntent, none for the others, every delivery 2xx, p99
    acknowledgement ≤ 500 ms."""
    offer = await env.offer(stock=20)
    orders = []
    for i in range(12):
        buyer = await env.buyer(f"b{i}")
        order, pay = await env.shop.checkout.start(
            buyer, env.show_id, offer.id, None, 1, f"rb03-key-{i:02d}"
        )
        orders.append(order)
        if i < 8:
            fake.pay_out_of_band(pay.ref)
        elif i == 8:
            with pytest.raises(Exception, match="declined"):
                fake.pay_out_of_band(pay.ref, "4000000000000002")
    rng = random.Random(3)
    events = list(fake.events)
    rng.shuffle(events)  # any order: a `succeeded` may come before its `created`
    in_flight = asyncio.Semaphore(2)  # events overlapping at once, each with all its copies

    async def deliver(i: int, event: dict[str, Any]) -> tuple[int, float]:
        started = time.perf_counter()
        status = await fake.deliver(event, endpoint=fake.endpoints[i % 2])
        return status, time.perf_counter() - started

    async def storm(event: dict[str, Any]) -> list[tuple[int, float]]:
        copies = rng.randint(1, 5)
        async with in_flight:
            return await asyncio.gather(*[deliver(i, event) for i in range(copies)])

    waves = await asyncio.wait_for(asyncio.gather(*[storm(e) for e in events]), 60)
    acks = [ack for wave in waves for ack in wave]
    assert len(acks) > len(events)
    assert {200} == {status for status, _ in acks}
    assert percentile([seconds for _, seconds in acks], 0.99) <= 0.5

    paid_refs = {
        e["data"]["object"]["id"] for e in fake.events if e["type"] == "payment_intent.succeeded"
    }
    assert 8 == len(paid_refs)
    final = {o.id: await env.adapters.orders.get_order(o.id) for o in orders}
    by_ref = {o.payment_ref: o for o in final.values() if o is not None}
    payments = [t for t in await env.adapters.orders.journal() if t.kind is EntryKind.PAYMENT]
    per_ref = {ref: [t for t in payments if t.order_id == by_ref[ref].id] for ref in by_ref}
    assert {ref: 1 if ref in paid_refs else 0 for ref in by_ref} == {
        ref: len(rows) for ref, rows in per_ref.items()
    }
    assert [OrderStatus.PAID] * 8 + [OrderStatus.PENDING_PAYMENT] * 4 == [
        by_ref[o.payment_ref].status for o in (final[x.id] for x in orders) if o is not None
    ]
    level = await env.cap(offer)
    assert (8, 4) == (level.sold, level.reserved)
