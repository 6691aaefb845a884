"""RB-10 price_and_payload_tampering: what a buyer's client says about money is never read.
REST checkout bodies and socket `checkout.start` payloads carrying a price, a currency, a total,
an order status or `paid`, a quantity that is not a small positive integer, or another seller's
offer or variant are refused (4xx, the same codes on both wires) and hold nothing; the one
honest checkout is charged at Stripe (the local server) the catalog's price times the quantity,
and the ledger posts that amount. Against Redis + PostgreSQL with the real `stripe` library."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import ClientSession

from livecommerce.domain.access import Role
from livecommerce.domain.ledger import EntryKind
from livecommerce.domain.money import Money
from livecommerce.domain.offers import OfferKind
from livecommerce.domain.orders import OrderStatus
from livecommerce.errors import InvalidInput
from livecommerce.services.catalog import VariantSpec
from tests.reliability.conftest import StripeShopSettings
from tests.support.fake_stripe import FakeStripe
from tests.support.hub_clients import clients
from tests.support.shop import (
    WHSEC,
    ShopEnv,
    post_json,
    shop_env,
)

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

PRICE = 1234  # the offer's price; the product's own is 4900

#: Money and state fields a client might add; quantities a client might forge.
TAMPERED_FIELDS: list[dict[str, Any]] = [
    {"price": 1},
    {"unit_price": {"amount": 1, "currency": "USD"}},
    {"total": {"amount": 1, "currency": "USD"}},
    {"currency": "JPY"},
    {"amount": 1},
    {"status": "paid"},
    {"paid": True},
]
BAD_QUANTITIES: list[Any] = [0, -1, -(2**31), 101, 10**9, 10**30, 1.5, 2.0, "2", True, None]


@pytest.fixture
async def env(fake: FakeStripe, stripe_shop_settings: StripeShopSettings) -> AsyncIterator[ShopEnv]:
    async with shop_env(stripe_shop_settings()) as running:
        fake.add_endpoint(f"{running.base_url}/webhooks/stripe", WHSEC)
        yield running


async def test_tampered_payloads_are_refused_and_the_catalog_sets_the_charge(
    fake: FakeStripe, env: ShopEnv
) -> None:
    """Every tampered REST body and socket payload is 4xx with nothing held or charged; the
    honest checkout's PaymentIntent and ledger entry are the catalog price times the quantity."""
    offer = await env.offer(stock=5, kind=OfferKind.FLASH, price=PRICE)
    other_seller, _ = await env.user("Other seller", Role.SELLER)
    other_show, _key = await env.shop.shows.create(other_seller, "Elsewhere")
    other_product = await env.shop.catalog.create_product(
        other_seller, name="Lamp", price=Money(100, "USD"), variants=[VariantSpec("blue", 9)]
    )
    other_offer = await env.shop.offers.create(
        other_seller, other_show.id, product_id=other_product.id, kind=OfferKind.FIXED,
        price_minor=None, cap=9, per_buyer_limit=None,
    )  # fmt: skip
    honest = {"offer_id": offer.id, "quantity": 1, "idempotency_key": "rb10-honest-1"}
    tampered: list[tuple[dict[str, Any], int, str]] = [
        ({**honest, **extra}, 422, "invalid_input") for extra in TAMPERED_FIELDS
    ]
    tampered += [({**honest, "quantity": q}, 422, "invalid_input") for q in BAD_QUANTITIES]
    tampered += [
        ({**honest, "variant_id": other_product.variants[0].id}, 422, "invalid_input"),
        ({**honest, "offer_id": other_offer.id}, 404, "not_found"),
    ]
    _, user = await env.user("Mallory")
    token = await env.token(user)
    url = f"{env.base_url}/api/v1/shows/{env.show_id}/checkout"

    async with ClientSession() as http:
        for n, (body, status, code) in enumerate(tampered):
            answer = await post_json(
                http, url, {**body, "idempotency_key": f"rb10-http-{n}"}, token
            )
            assert (status, code) == (answer[0], answer[1]["error"]["code"]), body
        async with clients(1) as (socket,):
            await socket.connect(env.base_url, token)
            assert (await socket.call("show.join", {"show_id": env.show_id}))["ok"]
            for n, (body, _status, code) in enumerate(tampered):
                payload = {**body, "show_id": env.show_id, "idempotency_key": f"rb10-sock-{n}"}
                ack = await socket.call("checkout.start", payload)
                assert (False, code) == (ack["ok"], ack["error"]["code"]), body
        assert 5 == (await env.cap(offer)).available
        assert [] == await env.adapters.orders.offer_orders(offer.id, list(OrderStatus))
        assert {} == fake.payment_intents

        status, out = await post_json(http, url, {**honest, "quantity": 3}, token)
        assert (201, {"amount": 3 * PRICE, "currency": "USD"}) == (status, out["order"]["total"])
    order_id = out["order"]["id"]
    pi = fake.payment_intents[out["payment"]["client_secret"].split("_secret_")[0]]
    assert (3 * PRICE, "usd", order_id) == (
        pi["amount"],
        pi["currency"],
        pi["metadata"]["order_id"],
    )
    fake.pay_out_of_band(pi["id"])
    assert 200 == await fake.deliver(fake.events[-1])
    payments = [
        t for t in await env.adapters.orders.journal(order_id) if t.kind is EntryKind.PAYMENT
    ]
    assert [3 * PRICE] == [t.amount for t in payments]
    level = await env.cap(offer)
    assert (3, 0, 2) == (level.sold, level.reserved, level.available)


async def test_the_service_itself_refuses_forged_quantities(env: ShopEnv) -> None:
    """Below the wire models, checkout validates the quantity again: nothing held, no order."""
    offer = await env.offer(stock=5)
    buyer = await env.buyer()
    for i, quantity in enumerate(BAD_QUANTITIES):
        with pytest.raises(InvalidInput):
            await env.shop.checkout.start(
                buyer, env.show_id, offer.id, None, quantity, f"bad-q-{i:03d}"
            )
    assert 5 == (await env.cap(offer)).available
    assert [] == await env.adapters.orders.offer_orders(offer.id, list(OrderStatus))
