"""Issue 12 finding 7: one refund key with amounts 100, 200, 300 answered three 200s; the ledger
said 100 while the demo provider had refunded 600. A key names one refund: the same key again is
the same refund (nothing refunded twice), another amount under it is ``idempotency_conflict``."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import ClientSession

from tests.conftest import SettingsFactory
from tests.support.shop import ShopEnv, post_json, shop_env


@pytest.fixture
async def env(settings_factory: SettingsFactory) -> AsyncIterator[ShopEnv]:
    async with shop_env(settings_factory(shop={"sweep_interval_seconds": 3600})) as running:
        yield running


async def test_one_refund_key_is_one_refund(env: ShopEnv) -> None:
    offer = await env.offer(stock=3)
    _, buyer = await env.user("Ruth")
    buyer_token = await env.token(buyer)
    seller_token = await env.token(env.seller_user)
    async with ClientSession() as http:
        status, out = await post_json(
            http,
            f"{env.base_url}/api/v1/shows/{env.show_id}/checkout",
            {"offer_id": offer.id, "quantity": 1, "idempotency_key": "refund-idem-buy-1"},
            buyer_token,
        )
        assert status == 201, out
        status, paid = await post_json(
            http, out["payment"]["confirm_url"], {"card": "4242424242424242"}, buyer_token
        )
        assert (status, paid["status"]) == (200, "paid")
        url = f"{env.base_url}/api/v1/orders/{paid['id']}/refund"
        key = "refund-key-0001"
        status, first = await post_json(
            http, url, {"amount": 100, "idempotency_key": key}, seller_token
        )
        assert (status, first["refunded"]["amount"]) == (200, 100), first
        for amount in (200, 300):
            status, body = await post_json(
                http, url, {"amount": amount, "idempotency_key": key}, seller_token
            )
            assert (status, body["error"]["code"]) == (409, "idempotency_conflict"), body
        status, again = await post_json(
            http, url, {"amount": 100, "idempotency_key": key}, seller_token
        )
        assert (status, again["refunded"]["amount"]) == (200, 100), again  # the same refund
    row = await env.adapters.db.fetchone(
        "SELECT refunded FROM demo_payments WHERE order_id = ?", paid["id"]
    )
    assert row is not None and row["refunded"] == 100  # the provider agrees with the ledger
    entries = await env.adapters.orders.journal(paid["id"])
    assert sum(1 for e in entries if e.idempotency_key.startswith("refund:")) == 1
