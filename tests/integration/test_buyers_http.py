"""Buying over the HTTP API on the real app: the saved shipping address (`/me/shipping-address`,
`/me`), guests who buy with an e-mail and upgrade, REST checkout with an address, fulfilment with
tracking seen by the buyer, the seller's search and CSV, refunds with restock, and products that
are not shipped."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from tests.conftest import SettingsFactory
from tests.support.http import Api
from tests.support.shop import ShopEnv, shop_env

PAYS = "4242 4242 4242 4242"
ADDRESS = {
    "name": "Kim Buyer",
    "line1": "221B Baker Street",
    "city": "London",
    "postal_code": "NW1 6XE",
    "country": "GB",
}


@pytest.fixture
async def env(settings_factory: SettingsFactory) -> AsyncIterator[ShopEnv]:
    async with shop_env(settings_factory(shop={"sweep_interval_seconds": 3600})) as running:
        yield running


@pytest.fixture
async def api(env: ShopEnv) -> AsyncIterator[Api]:
    async with aiohttp.ClientSession() as session:
        yield Api(session, env.base_url)


async def test_shipping_address_is_saved_read_and_refused_per_field(env: ShopEnv, api: Api) -> None:
    """GET is 404 until a PUT saves a normalised address, which `/me` then carries; each bad
    field is a 422 naming that field, and nothing is saved by a refused PUT."""
    _, user = await env.user("Kim", address=None)
    token = await env.token(user)
    status, body = await api.call("GET", "/api/v1/me/shipping-address", token)
    assert (404, "not_found") == (status, body["error"]["code"])
    status, me = await api.call("GET", "/api/v1/me", token)
    assert (200, None, user.email) == (status, me["shipping_address"], me["email"])
    bad: list[tuple[dict[str, Any], str]] = [
        ({k: v for k, v in ADDRESS.items() if k != "city"}, "city"),
        ({**ADDRESS, "name": "  "}, "name"),
        ({**ADDRESS, "name": "Kim\u0007"}, "name"),
        ({**ADDRESS, "line1": "x" * 201}, "line1"),
        ({**ADDRESS, "line2": "Flat\u202e 2"}, "line2"),
        ({**ADDRESS, "region": "r" * 101}, "region"),
        ({**ADDRESS, "postal_code": "NW1 <6XE>"}, "postal_code"),
        ({**ADDRESS, "country": "UK"}, "country"),
        ({**ADDRESS, "country": 44}, "country"),
        ({**ADDRESS, "phone": "+44 20 7946 0000"}, "phone"),
    ]
    for body_in, field in bad:
        status, body = await api.call("PUT", "/api/v1/me/shipping-address", token, json=body_in)
        assert (422, "invalid_input") == (status, body["error"]["code"]), body_in
        assert [field] == [d["field"] for d in body["error"]["details"]], body
    status, body = await api.call("GET", "/api/v1/me/shipping-address", token)
    assert 404 == status
    status, saved = await api.call(
        "PUT",
        "/api/v1/me/shipping-address",
        token,
        json={**ADDRESS, "country": "gb", "postal_code": "nw1  6xe", "region": ""},
    )
    expected = {**ADDRESS, "line2": None, "region": None}
    assert (200, expected) == (status, saved["shipping_address"])
    status, body = await api.call("GET", "/api/v1/me/shipping-address", token)
    assert (200, expected) == (status, body["shipping_address"])
    status, me = await api.call("GET", "/api/v1/me", token)
    assert expected == me["shipping_address"]
    status, body = await api.call("PUT", "/api/v1/me/shipping-address", json=ADDRESS)
    assert 401 == status


async def test_guest_with_email_buys_with_4242_and_upgrades(env: ShopEnv, api: Api) -> None:
    """A guest with an e-mail checks out over REST with an address, pays with 4242 through the
    demo `confirm_url`, upgrades with a password (same id), logs in and still has the order."""
    offer = await env.offer(stock=3)
    status, issued = await api.call(
        "POST", "/api/v1/auth/guest", json={"name": "Gwen", "email": "gwen@example.test"}
    )
    assert 201 == status, issued
    assert (True, "gwen@example.test") == (issued["user"]["is_guest"], issued["user"]["email"])
    token, guest_id = issued["token"], issued["user"]["id"]
    status, out = await api.call(
        "POST",
        f"/api/v1/shows/{env.show_id}/checkout",
        token,
        json={"offer_id": offer.id, "quantity": 1, "idempotency_key": "guest-http-1",
              "shipping_address": ADDRESS},
    )  # fmt: skip
    assert 201 == status, out
    order = out["order"]
    assert ({**ADDRESS, "line2": None, "region": None}, "Sneaker", "42", "Gwen") == (
        order["shipping_address"],
        order["product"]["name"],
        order["variant"]["label"],
        order["buyer_name"],
    )
    confirm = out["payment"]["confirm_url"].removeprefix(env.base_url)
    status, paid = await api.call("POST", confirm, token, json={"card": PAYS})
    assert (200, "paid") == (status, paid["status"])
    status, me = await api.call("GET", "/api/v1/me", token)
    assert ADDRESS["line1"] == me["shipping_address"]["line1"]  # the first address is kept

    status, body = await api.call("POST", "/api/v1/me/upgrade", token, json={"password": "short"})
    assert (422, "weak_password") == (status, body["error"]["code"])
    status, body = await api.call(
        "POST", "/api/v1/me/upgrade", token, json={"password": "violet-harbour-lantern"}
    )
    assert 200 == status, body
    assert (guest_id, False, "viewer") == (
        body["user"]["id"],
        body["user"]["is_guest"],
        body["user"]["role"],
    )
    status, login = await api.call(
        "POST",
        "/api/v1/auth/login",
        json={"email": "gwen@example.test", "password": "violet-harbour-lantern"},
    )
    assert (200, guest_id) == (status, login["user"]["id"])
    status, mine = await api.call("GET", "/api/v1/orders", login["token"])
    assert [(order["id"], "paid")] == [(o["id"], o["status"]) for o in mine["orders"]]
    status, body = await api.call(
        "POST", "/api/v1/me/upgrade", login["token"], json={"password": "amber-quay-semaphore"}
    )
    assert (409, "conflict") == (status, body["error"]["code"])


async def test_guest_without_email_is_refused(env: ShopEnv, api: Api) -> None:
    """A guest without an e-mail gets 403 `guest_email_required` for checkout and upgrade; a
    malformed guest e-mail is 422."""
    offer = await env.offer(stock=3)
    status, body = await api.call(
        "POST", "/api/v1/auth/guest", json={"name": "Gus", "email": "not an address"}
    )
    assert (422, "invalid_input") == (status, body["error"]["code"])
    status, issued = await api.call("POST", "/api/v1/auth/guest", json={"name": "Gus"})
    assert (201, None) == (status, issued["user"]["email"])
    token = issued["token"]
    status, body = await api.call(
        "POST",
        f"/api/v1/shows/{env.show_id}/checkout",
        token,
        json={"offer_id": offer.id, "quantity": 1, "idempotency_key": "guest-none-1",
              "shipping_address": ADDRESS},
    )  # fmt: skip
    assert (403, "guest_email_required") == (status, body["error"]["code"])
    status, body = await api.call(
        "POST", "/api/v1/me/upgrade", token, json={"password": "violet-harbour-lantern"}
    )
    assert (403, "guest_email_required") == (status, body["error"]["code"])
    status, body = await api.call("GET", "/api/v1/orders", token)
    assert (200, []) == (status, body["orders"])
    assert 3 == (await env.shop.offers.view(offer))["stock_left"]


async def test_fulfil_search_csv_and_refund_with_restock(env: ShopEnv, api: Api) -> None:
    """The seller finds the order by the buyer's name, fulfils it with carrier and tracking
    (the buyer's order shows them), exports the CSV with buyer, item, address and tracking,
    and refunds it with restock."""
    offer = await env.offer(stock=5)
    buyer, buyer_user = await env.user("Quinn Shopper")
    other = await env.buyer("Otto")
    order, _ = await env.shop.checkout.start(buyer, env.show_id, offer.id, None, 2, "ful-key-01")
    await env.shop.payments.confirm_demo(buyer, order.id, PAYS)
    await env.shop.checkout.start(other, env.show_id, offer.id, None, 1, "ful-key-02")
    seller, mine = await env.token(env.seller_user), await env.token(buyer_user)
    status, book = await api.call(
        "GET", "/api/v1/orders?scope=seller&status=paid&q=quinn%20sh", seller
    )
    assert (200, [order.id]) == (status, [o["id"] for o in book["orders"]])
    status, book = await api.call("GET", f"/api/v1/orders?scope=seller&q={'x' * 101}", seller)
    assert 422 == status
    url = f"/api/v1/orders/{order.id}/fulfil"
    status, body = await api.call("POST", url, seller, json={"tracking_number": "x" * 101})
    assert (422, "invalid_input") == (status, body["error"]["code"])
    status, body = await api.call("POST", url, seller, json={"carrier": "DHL\nX"})
    assert (422, ["carrier"]) == (status, [d["field"] for d in body["error"]["details"]])
    status, body = await api.call(
        "POST", url, seller, json={"carrier": "DHL", "tracking_number": "JD014600006281"}
    )
    assert (200, "fulfilled") == (status, body["status"]), body
    status, seen = await api.call("GET", f"/api/v1/orders/{order.id}", mine)
    assert 200 == status
    assert ("DHL", "JD014600006281") == (
        seen["fulfilment"]["carrier"],
        seen["fulfilment"]["tracking_number"],
    )
    assert isinstance(seen["fulfilment"]["fulfilled_at"], int)

    status, text = await api.call("GET", "/api/v1/orders/export.csv?scope=seller", seller)
    assert 200 == status
    rows = {r["order_id"]: r for r in csv.DictReader(io.StringIO(text))}
    assert 2 == len(rows)
    row = rows[order.id]
    assert ("Quinn Shopper", buyer_user.email, "Sneaker", "42", "2") == (
        row["buyer_name"],
        row["buyer_email"],
        row["product_name"],
        row["variant_label"],
        row["quantity"],
    )
    assert ("1 Main St", "Springfield", "12345", "US", "DHL", "JD014600006281") == (
        row["ship_line1"],
        row["ship_city"],
        row["ship_postal_code"],
        row["ship_country"],
        row["carrier"],
        row["tracking_number"],
    )

    status, refunded = await api.call(
        "POST", f"/api/v1/orders/{order.id}/refund", seller, json={"restock": True}
    )
    assert (200, "refunded") == (status, refunded["status"]), refunded
    stored = await env.adapters.orders.get_order(order.id)
    assert stored is not None and stored.restocked
    assert "DHL" == refunded["fulfilment"]["carrier"]


async def test_products_say_whether_they_ship_and_countries_are_listed(
    env: ShopEnv, api: Api
) -> None:
    """`requires_shipping` defaults to true, is set on create and PATCH; the country list and
    the new routes are public and documented."""
    seller = await env.token(env.seller_user)
    status, made = await api.call(
        "POST", "/api/v1/products", seller, json={"name": "Gift card", "price": 2500,
                                                  "requires_shipping": False},
    )  # fmt: skip
    assert (201, False) == (status, made["requires_shipping"]), made
    status, patched = await api.call(
        "PATCH", f"/api/v1/products/{made['id']}", seller, json={"requires_shipping": True}
    )
    assert (200, True) == (status, patched["requires_shipping"])
    status, listed = await api.call("GET", f"/api/v1/products/{env.product.id}")
    assert (200, True) == (status, listed["requires_shipping"])
    status, body = await api.call("GET", "/api/v1/countries")
    codes = {c["code"]: c["name"] for c in body["countries"]}
    assert (200, 249, "Germany") == (status, len(codes), codes["DE"])
    status, doc = await api.call("GET", "/api/v1/openapi.json")
    for path in (
        "/api/v1/me/shipping-address",
        "/api/v1/me/upgrade",
        "/api/v1/countries",
        "/api/v1/orders/{order_id}/fulfil",
    ):
        assert path in doc["paths"], path
