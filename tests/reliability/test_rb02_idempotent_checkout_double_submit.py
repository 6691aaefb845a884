"""RB-02 idempotent_checkout_double_submit: one checkout's idempotency key (the REST body's
`idempotency_key`, the socket's the same) sent twenty times at once over HTTP, then with another
body, then a day later on the app's clock, against Redis + PostgreSQL and the local Stripe server.

Decision for keys older than 24 h: Stripe forgets a key after 24 h, we never do. The order id is
derived from (buyer, key), so the same key is the same order for as long as the order exists:
after 24 h it answers that order in its current state, and never holds, orders or charges again.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest
from aiohttp import ClientSession

from livecommerce.domain.orders import OrderStatus
from tests.reliability.conftest import StripeShopSettings
from tests.support.fake_stripe import FakeStripe
from tests.support.shop import (
    ShopEnv,
    shop_env,
)

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

DAY_S = 24 * 3600


@pytest.fixture
async def env(stripe_shop_settings: StripeShopSettings) -> AsyncIterator[ShopEnv]:
    # a two-day hold, so the order is still unpaid when Stripe has forgotten the key
    async with shop_env(stripe_shop_settings(reservation_ttl_seconds=2 * DAY_S)) as running:
        yield running


def creates(fake: FakeStripe) -> list[tuple[str, str, str | None]]:
    """The PaymentIntent create calls the local Stripe received."""
    return [r for r in fake.requests if r[:2] == ("POST", "/v1/payment_intents")]


async def test_same_key_twenty_times_is_one_order_and_one_payment(
    fake: FakeStripe, env: ShopEnv
) -> None:
    """Twenty at once: one order, one PaymentIntent create call, byte-identical answers; another
    body under the key is refused; the key still answers the same order after 23 h 59 and after
    24 h (when Stripe itself has forgotten it), and once the hold expired."""
    offer = await env.offer(stock=5)
    _, user = await env.user("Ada")
    headers = {"Authorization": f"Bearer {await env.token(user)}"}
    url = f"{env.base_url}/api/v1/shows/{env.show_id}/checkout"
    body = {"offer_id": offer.id, "quantity": 1, "idempotency_key": "rb02-double-0001"}

    async with ClientSession() as http:

        async def submit(payload: dict[str, object]) -> tuple[int, bytes]:
            async with http.post(url, json=payload, headers=headers) as resp:
                return resp.status, await resp.read()

        answers = await asyncio.gather(*[submit(body) for _ in range(20)])
        assert {201} == {status for status, _ in answers}, answers[0]
        assert 1 == len({raw for _, raw in answers})
        first = answers[0][1]
        orders = await env.adapters.orders.offer_orders(offer.id, list(OrderStatus))
        assert 1 == len(orders)
        assert (1, 1) == (len(fake.payment_intents), len(creates(fake)))
        pi = next(iter(fake.payment_intents.values()))
        assert pi["client_secret"] == json.loads(first)["payment"]["client_secret"]
        assert pi["automatic_payment_methods"]["enabled"] is True
        assert 1 == (await env.cap(offer)).reserved

        status, raw = await submit({**body, "quantity": 2})
        assert (409, "idempotency_conflict") == (status, json.loads(raw)["error"]["code"])
        assert 1 == (await env.cap(offer)).reserved

        env.clock.advance(DAY_S - 60)  # 23 h 59 later
        assert (201, first) == await submit(body)
        env.clock.advance(120)  # 24 h 01: Stripe has pruned the key by now
        fake.forget_idempotency_keys()
        assert (201, first) == await submit(body)
        assert (1, 1) == (len(fake.payment_intents), len(creates(fake)))

        env.clock.advance(DAY_S + 60)  # past the two-day hold: it expires
        assert 1 == await env.shop.payments.sweep()
        status, raw = await submit(body)
        order = json.loads(first)["order"]
        assert (201, {**order, "status": "expired"}) == (status, json.loads(raw)["order"])
        assert (1, 1) == (len(fake.payment_intents), len(creates(fake)))
        level = await env.cap(offer)
        assert (0, 0, 5) == (level.sold, level.reserved, level.available)
        assert 1 == len(await env.adapters.orders.offer_orders(offer.id, list(OrderStatus)))
