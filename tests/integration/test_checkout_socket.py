"""The demo checkout end to end from python-socketio clients: the seller starts and pins an
offer, a buyer checks out over the hub, confirms with 4242 over HTTP, and both the buyer and
the seller's feed receive `order.updated` paid."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import ClientSession

from livecommerce.domain.offers import OfferKind
from tests.conftest import SettingsFactory
from tests.support.fake_stripe import FakeStripe
from tests.support.hub_clients import clients
from tests.support.shop import ShopEnv, post_json, shop_env


@pytest.fixture
async def env(settings_factory: SettingsFactory) -> AsyncIterator[ShopEnv]:
    async with shop_env(settings_factory(shop={"stock_update_interval_seconds": 0})) as running:
        yield running


async def test_demo_checkout_from_socketio_clients(env: ShopEnv) -> None:
    """start → confirm with 4242 → order.updated paid to the buyer and the seller's feed."""
    offer = await env.offer(stock=5, kind=OfferKind.FLASH, price=1500, start=False)
    _, buyer_user = await env.user("Bea")
    buyer_token = await env.token(buyer_user)
    seller_token = await env.token(env.seller_user)
    async with clients(2) as (seller, buyer), ClientSession() as http:
        await seller.connect(env.base_url, seller_token)
        await buyer.connect(env.base_url, buyer_token)
        for client in (seller, buyer):
            joined = await client.call("show.join", {"show_id": env.show_id})
            assert joined["ok"], joined
        ack = await seller.call("offer.start", {"show_id": env.show_id, "offer_id": offer.id})
        assert (True, "live") == (ack["ok"], ack["offer"]["status"])
        env.clock.advance(1)
        ack = await seller.call(
            "offer.pin", {"show_id": env.show_id, "offer_id": offer.id, "media_ts": 12.5}
        )
        assert ack["ok"], ack
        pinned = await buyer.expect("offer.pinned")
        async with clients(1) as (late,):
            await late.connect(env.base_url, buyer_token)
            joined = await late.call("show.join", {"show_id": env.show_id})
            assert (offer.id, "live") == (joined["pinned"]["id"], joined["pinned"]["status"])
        assert (offer.id, 5, 12.5) == (
            pinned["offer"]["id"],
            pinned["offer"]["stock_left"],
            pinned["media_ts"],
        )
        async with http.get(f"{env.base_url}/api/v1/shows/{env.show_id}/timeline") as resp:
            events = (await resp.json())["events"]
        assert ["offer.started", "offer.pinned"] == [e["type"] for e in events]
        assert 12.5 == events[1]["media_ts"]
        assert events[0]["media_ts"] >= 0

        ack = await buyer.call(
            "checkout.start",
            {"show_id": env.show_id, "offer_id": offer.id, "quantity": 2,
             "idempotency_key": "sock-key-0001"},
        )  # fmt: skip
        assert ack["ok"], ack
        order: dict[str, Any] = ack["order"]
        assert ("pending_payment", {"amount": 3000, "currency": "USD"}) == (
            order["status"],
            order["total"],
        )
        assert "demo" == ack["payment"]["provider"]
        left = await buyer.expect("offer.updated", lambda d: d["offer"]["stock_left"] == 3)
        assert offer.id == left["offer"]["id"]

        status, paid = await post_json(
            http, ack["payment"]["confirm_url"], {"card": "4242424242424242"}, buyer_token
        )
        assert (200, "paid") == (status, paid["status"])

        def is_paid(data: Any) -> bool:
            return bool(data["order"]["id"] == order["id"] and data["order"]["status"] == "paid")

        mine = await buyer.expect("order.updated", is_paid)
        feed = await seller.expect("order.updated", is_paid)
        assert mine["order"] == feed["order"]


async def test_socket_checkout_needs_a_join_and_an_account(env: ShopEnv) -> None:
    """Checkout before `show.join` is invalid input; a watch-only client cannot buy (tampered
    payloads: tests/reliability/test_rb10_price_and_payload_tampering.py)."""
    offer = await env.offer(stock=5)
    _, buyer_user = await env.user("Bea")
    token = await env.token(buyer_user)
    async with clients(2) as (buyer, anonymous):
        await buyer.connect(env.base_url, token)
        await anonymous.connect(env.base_url)
        body = {"show_id": env.show_id, "offer_id": offer.id, "quantity": 1,
                "idempotency_key": "sock-key-0002"}  # fmt: skip
        # issue 12: checkout without show.join is refused (HUB.md: join first), nothing held
        ack = await buyer.call("checkout.start", body)
        assert (False, "invalid_input") == (ack["ok"], ack["error"]["code"])
        assert "join the show first" in ack["error"]["message"]
        ack = await anonymous.call("checkout.start", body)
        assert (False, "unauthenticated") == (ack["ok"], ack["error"]["code"])
        assert 5 == (await env.cap(offer)).available


async def test_stripe_checkout_from_socketio_client(settings_factory: SettingsFactory) -> None:
    """With Stripe: the ack carries the client secret; paying (as Stripe.js would) makes the
    local Stripe deliver a signed webhook, and the buyer gets `order.updated` paid."""
    async with FakeStripe() as fake:
        settings = settings_factory(
            payments={
                "provider": "stripe",
                "stripe_secret_key": fake.api_key,
                "stripe_publishable_key": "pk_test_local",
                "stripe_webhook_secret": "whsec_socket_test",
                "stripe_api_base": fake.url,
            }
        )
        async with shop_env(settings) as env:
            fake.add_endpoint(f"{env.base_url}/webhooks/stripe", "whsec_socket_test")
            offer = await env.offer(stock=2)
            _, buyer_user = await env.user("Bea")
            async with clients(1) as (buyer,):
                await buyer.connect(env.base_url, await env.token(buyer_user))
                assert (await buyer.call("show.join", {"show_id": env.show_id}))["ok"]
                ack = await buyer.call(
                    "checkout.start",
                    {"show_id": env.show_id, "offer_id": offer.id, "quantity": 1,
                     "idempotency_key": "stripe-sock-1"},
                )  # fmt: skip
                assert ack["ok"], ack
                assert ("stripe", "pk_test_local") == (
                    ack["payment"]["provider"],
                    ack["payment"]["publishable_key"],
                )
                secret = ack["payment"]["client_secret"]
                pi_id = secret.split("_secret_")[0]
                fake.pay_out_of_band(pi_id)
                paid = await buyer.expect(
                    "order.updated", lambda d: d["order"]["status"] == "paid", within=10
                )
                assert ack["order"]["id"] == paid["order"]["id"]


async def test_studio_unpins_and_ends_offers_over_the_hub(env: ShopEnv) -> None:
    """`offer.unpin` and `offer.end` are acked to staff and refused to viewers; the room hears
    `offer.unpinned` and the ended `offer.updated`, late joiners see nothing pinned, and a buyer's
    checkout is then refused with `offer_closed`."""
    offer = await env.offer(stock=5)
    _, buyer_user = await env.user("Bea")
    buyer_token = await env.token(buyer_user)
    ref = {"show_id": env.show_id, "offer_id": offer.id}
    async with clients(2) as (seller, buyer):
        await seller.connect(env.base_url, await env.token(env.seller_user))
        await buyer.connect(env.base_url, buyer_token)
        for client in (seller, buyer):
            assert (await client.call("show.join", {"show_id": env.show_id}))["ok"]
        for event in ("offer.unpin", "offer.end"):
            ack = await buyer.call(event, ref)
            assert (False, "forbidden") == (ack["ok"], ack["error"]["code"]), event
        assert (await seller.call("offer.pin", ref))["ok"]
        await buyer.expect("offer.pinned")
        env.clock.advance(1)
        ack = await seller.call("offer.unpin", ref)
        assert (True, False) == (ack["ok"], ack["offer"]["pinned"])
        gone = await buyer.expect("offer.unpinned")
        assert (env.show_id, offer.id) == (gone["show_id"], gone["offer_id"])
        async with clients(1) as (late,):
            await late.connect(env.base_url, buyer_token)
            joined = await late.call("show.join", {"show_id": env.show_id})
            assert joined["pinned"] is None
        assert (await seller.call("offer.pin", ref))["ok"]
        env.clock.advance(1)
        ack = await seller.call("offer.end", ref)
        assert (True, "ended") == (ack["ok"], ack["offer"]["status"])
        await buyer.expect("offer.updated", lambda d: d["offer"]["status"] == "ended")
        async with clients(1) as (late,):
            await late.connect(env.base_url, buyer_token)
            joined = await late.call("show.join", {"show_id": env.show_id})
            assert joined["pinned"] is None
        ack = await buyer.call(
            "checkout.start", {**ref, "quantity": 1, "idempotency_key": "sock-closed-1"}
        )
        assert (False, "offer_closed") == (ack["ok"], ack["error"]["code"])
