"""RB-09 coupon_and_limit_overrun_race: 50 parallel redemptions of a single-use coupon, and each
customer's parallel buys against an offer's per-buyer limit, over the real HTTP API on Redis +
PostgreSQL. The coupon's redemptions are counted by one Redis script per coupon and the limit in
the same atomic reservation as the stock, so parallel requests cannot each see room for
themselves; what is paid still counts against the limit."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import ClientSession

from livecommerce.domain.orders import OrderStatus
from tests.conftest import SettingsFactory
from tests.support.shop import UNHURRIED_SHOP, ShopEnv, post_json, production_sections, shop_env

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

PAYS = "4242 4242 4242 4242"


@pytest.fixture
async def env(
    settings_factory: SettingsFactory, postgres_url: str, redis_url: str
) -> AsyncIterator[ShopEnv]:
    settings = settings_factory(shop=UNHURRIED_SHOP, **production_sections(postgres_url, redis_url))
    async with shop_env(settings) as running:
        yield running


async def test_parallel_buys_never_pass_the_per_customer_limit(env: ShopEnv) -> None:
    """Three customers each send 20 buys at once (1 or 2 units) against a limit of 2: each gets
    at most 2 units, every loser a clean 409 `limit_reached`, and paid units keep counting."""
    offer = await env.offer(stock=50, per_buyer_limit=2)
    url = f"{env.base_url}/api/v1/shows/{env.show_id}/checkout"
    tokens = [await env.token((await env.user(f"c{n}"))[1]) for n in range(3)]
    async with ClientSession() as http:

        async def buy(customer: int, i: int, quantity: int) -> tuple[int, Any]:
            key = f"rb09-{customer}-{i:03d}"
            body = {"offer_id": offer.id, "quantity": quantity, "idempotency_key": key}
            return await post_json(http, url, body, tokens[customer])

        attempts = [(c, i, 1 + (i % 3 == 0)) for c in range(3) for i in range(20)]
        answers = await asyncio.gather(*[buy(c, i, q) for c, i, q in attempts])
        units: Counter[int] = Counter()
        for (customer, _i, quantity), (status, body) in zip(attempts, answers, strict=True):
            if status == 201:
                units[customer] += quantity
                confirm = body["payment"]["confirm_url"]
                assert 200 == (await post_json(http, confirm, {"card": PAYS}, tokens[customer]))[0]
            else:
                assert (409, "limit_reached") == (status, body["error"]["code"]), body
        assert all(1 <= units[c] <= 2 for c in range(3)), units
        status, body = await buy(0, 99, 1)
        assert (409, "limit_reached") == (status, body["error"]["code"])

    paid = await env.adapters.orders.offer_orders(offer.id, [OrderStatus.PAID])
    per_buyer = Counter[str]()
    for order in paid:
        per_buyer[order.buyer_id] += order.quantity
    assert sorted(units.values()) == sorted(per_buyer.values())
    level = await env.cap(offer)
    assert (sum(units.values()), 0) == (level.sold, level.reserved)


async def test_parallel_redemptions_of_a_single_use_coupon(env: ShopEnv) -> None:
    """50 customers check out at once with a coupon of one redemption: exactly one order gets
    the discount, every loser a clean 409 `coupon_exhausted` with nothing held for them."""
    offer = await env.offer(stock=100)
    seller_token = await env.token(env.seller_user)
    users = [(await env.user(f"r{n}"))[1] for n in range(50)]
    tokens = [await env.token(user) for user in users]
    url = f"{env.base_url}/api/v1/shows/{env.show_id}/checkout"
    async with ClientSession() as http:
        coupon = {"code": "only-one", "kind": "amount", "value": 900, "currency": "USD",
                  "max_redemptions": 1}  # fmt: skip
        status, _ = await post_json(http, f"{env.base_url}/api/v1/coupons", coupon, seller_token)
        assert 201 == status
        answers = await asyncio.gather(
            *(post_json(http, url, {"offer_id": offer.id, "quantity": 1, "coupon_code": "ONLY-ONE",
                                    "idempotency_key": f"rb09-coupon-{n:03d}"}, token)
              for n, token in enumerate(tokens))
        )  # fmt: skip
    won = [body for status, body in answers if status == 201]
    assert 1 == len(won)
    assert {"amount": 900, "currency": "USD"} == won[0]["order"]["discount"]
    refused = Counter((status, body["error"]["code"]) for status, body in answers if status != 201)
    assert Counter({(409, "coupon_exhausted"): 49}) == refused
    assert 1 == (await env.cap(offer)).reserved
