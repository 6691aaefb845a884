"""Buying over the hub with an address: `checkout.start` refuses a shipped product without one
before anything is held, takes `shipping_address` in the payload (a guest with an e-mail too),
and `order.updated` brings the buyer and the seller's feed the product, variant, address and,
after fulfilment, the tracking number."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import ClientSession

from tests.conftest import SettingsFactory
from tests.support.hub_clients import clients
from tests.support.shop import ShopEnv, post_json, shop_env

ADDRESS = {
    "name": "Ren Buyer",
    "line1": "1-1 Chiyoda",
    "city": "Tokyo",
    "region": "Tokyo",
    "postal_code": "100-0001",
    "country": "jp",
}


@pytest.fixture
async def env(settings_factory: SettingsFactory) -> AsyncIterator[ShopEnv]:
    async with shop_env(settings_factory(shop={"stock_update_interval_seconds": 0})) as running:
        yield running


async def test_guest_checkout_over_the_hub_with_address_and_tracking(env: ShopEnv) -> None:
    """No address: `shipping_address_required`, stock left unchanged. With one in the payload:
    the ack and `order.updated` carry product, variant and address; after the seller fulfils,
    the buyer's `order.updated` has the tracking number."""
    offer = await env.offer(stock=4)
    issued = await env.shop.accounts.guest("Ren", "ren@example.test")
    seller_token = await env.token(env.seller_user)
    body: dict[str, Any] = {"show_id": env.show_id, "offer_id": offer.id, "quantity": 1,
                            "idempotency_key": "hub-addr-001"}  # fmt: skip
    async with clients(2) as (seller, buyer), ClientSession() as http:
        await seller.connect(env.base_url, seller_token)
        await buyer.connect(env.base_url, issued.token)
        for client in (seller, buyer):
            assert (await client.call("show.join", {"show_id": env.show_id}))["ok"]
        ack = await buyer.call("checkout.start", body)
        assert (False, "shipping_address_required") == (ack["ok"], ack["error"]["code"])
        assert 4 == (await env.shop.offers.view(offer))["stock_left"]
        ack = await buyer.call(
            "checkout.start", {**body, "shipping_address": {**ADDRESS, "postal_code": 1000001}}
        )
        assert (False, "invalid_input") == (ack["ok"], ack["error"]["code"])

        ack = await buyer.call("checkout.start", {**body, "shipping_address": ADDRESS})
        assert ack["ok"], ack
        order = ack["order"]
        expected_address = {**ADDRESS, "country": "JP", "line2": None}
        assert (expected_address, "Sneaker", "42", None) == (
            order["shipping_address"],
            order["product"]["name"],
            order["variant"]["label"],
            order["fulfilment"],
        )
        feed = await seller.expect("order.updated", lambda d: d["order"]["id"] == order["id"])
        assert ("Ren", expected_address) == (
            feed["order"]["buyer_name"],
            feed["order"]["shipping_address"],
        )
        status, paid = await post_json(
            http,
            ack["payment"]["confirm_url"],
            {"card": "4242424242424242"},
            issued.token,
        )
        assert (200, "paid") == (status, paid["status"])
        status, done = await post_json(
            http,
            f"{env.base_url}/api/v1/orders/{order['id']}/fulfil",
            {"carrier": "Japan Post", "tracking_number": "EJ123456789JP"},
            seller_token,
        )
        assert (200, "fulfilled") == (status, done["status"])
        shipped = await buyer.expect("order.updated", lambda d: d["order"]["status"] == "fulfilled")
        assert ("Japan Post", "EJ123456789JP") == (
            shipped["order"]["fulfilment"]["carrier"],
            shipped["order"]["fulfilment"]["tracking_number"],
        )
