"""The shop's HTTP API on the real app: offers, REST checkout, the demo confirm endpoint, order
books for buyers and sellers, CSV, fulfil, refund. (Tampered checkout bodies: the reliability
battery's RB-10.)"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest
from aiohttp import ClientSession

from livecommerce.domain.access import Role
from tests.conftest import SettingsFactory
from tests.support.app import running_app
from tests.support.shop import ShopEnv, post_json, shop_env


@pytest.fixture
async def env(settings_factory: SettingsFactory) -> AsyncIterator[ShopEnv]:
    async with shop_env(settings_factory(shop={"sweep_interval_seconds": 3600})) as running:
        yield running


async def test_demo_checkout_over_http(env: ShopEnv, http: ClientSession) -> None:
    """Seller opens an offer; a buyer checks out, pays with 4242 and sees it in their orders."""
    seller_token = await env.token(env.seller_user)
    base = f"{env.base_url}/api/v1/shows/{env.show_id}"
    status, offer = await post_json(
        http,
        f"{base}/offers",
        {"product_id": env.product.id, "kind": "flash", "price": 2500, "stock": 3,
         "per_buyer_limit": 2, "ends_at": "2999-01-01T00:00:00Z"},
        seller_token,
    )  # fmt: skip
    assert 201 == status, offer
    status, started = await post_json(http, f"{base}/offers/{offer['id']}/start", {}, seller_token)
    assert (status, started["status"], started["stock_left"]) == (200, "live", 3)
    status, _ = await post_json(http, f"{base}/offers/{offer['id']}/pin", {}, seller_token)
    assert 200 == status
    async with http.get(f"{base}/offers") as resp:
        listed = (await resp.json())["offers"]
    assert [(offer["id"], True)] == [(o["id"], o["pinned"]) for o in listed]
    _, buyer_user = await env.user("Buyer")
    buyer_token = await env.token(buyer_user)
    status, out = await post_json(
        http,
        f"{base}/checkout",
        {"offer_id": offer["id"], "quantity": 2, "idempotency_key": "http-key-0001"},
        buyer_token,
    )
    assert 201 == status, out
    assert out["order"]["total"] == {"amount": 5000, "currency": "USD"}
    assert "pending_payment" == out["order"]["status"]
    assert "demo" == out["payment"]["provider"]
    assert "no money" in out["payment"]["notice"]
    status, paid = await post_json(
        http, out["payment"]["confirm_url"], {"card": "4242 4242 4242 4242"}, buyer_token
    )
    assert (status, paid["status"]) == (200, "paid")
    headers = {"Authorization": f"Bearer {buyer_token}"}
    async with http.get(f"{env.base_url}/api/v1/orders", headers=headers) as resp:
        mine = await resp.json()
    assert [o["id"] for o in mine["orders"]] == [out["order"]["id"]]
    async with http.get(f"{env.base_url}/api/v1/orders?scope=seller", headers=headers) as resp:
        assert 403 == resp.status
    async with http.get(f"{env.base_url}/metrics") as resp:
        metrics = await resp.text()
    assert 'livecommerce_checkouts_total{outcome="ok"} 1.0' in metrics
    assert 'livecommerce_order_transitions_total{status="paid"} 1.0' in metrics


async def test_seller_order_book_csv_fulfil_refund(env: ShopEnv, http: ClientSession) -> None:
    """The seller lists, exports, fulfils and refunds shop orders; a declined card is 402."""
    offer = await env.offer(stock=5)
    buyer, _ = await env.user("Buyer")
    order, _pay = await env.shop.checkout.start(buyer, env.show_id, offer.id, None, 1, "book-key-1")
    await env.shop.payments.confirm_demo(buyer, order.id, "4242424242424242")
    other, other_user = await env.user("Other")
    declined, dpay = await env.shop.checkout.start(
        other, env.show_id, offer.id, None, 1, "book-key-2"
    )
    other_token = await env.token(other_user)
    status, err = await post_json(
        http, dpay.client["confirm_url"], {"card": "4000000000000002"}, other_token
    )
    assert (status, err["error"]["code"]) == (402, "payment_declined")
    token = await env.token(env.seller_user)
    headers = {"Authorization": f"Bearer {token}"}
    async with http.get(
        f"{env.base_url}/api/v1/orders?scope=seller&status=paid", headers=headers
    ) as resp:
        book = await resp.json()
    assert [o["id"] for o in book["orders"]] == [order.id]
    async with http.get(
        f"{env.base_url}/api/v1/orders/export.csv?scope=seller", headers=headers
    ) as resp:
        assert "text/csv" == resp.content_type
        lines = (await resp.text()).strip().splitlines()
    assert lines[0].startswith("order_id,created_at_ms,status")
    assert 3 == len(lines)
    status, fulfilled = await post_json(
        http, f"{env.base_url}/api/v1/orders/{order.id}/fulfil", {}, token
    )
    assert (status, fulfilled["status"]) == (200, "fulfilled")
    status, refunded = await post_json(
        http, f"{env.base_url}/api/v1/orders/{order.id}/refund", {"amount": 100}, token
    )
    assert (status, refunded["status"], refunded["refunded"]["amount"]) == (
        200,
        "partially_refunded",
        100,
    )
    status, _denied = await post_json(
        http, f"{env.base_url}/api/v1/orders/{order.id}/refund", {}, other_token
    )
    assert 403 == status
    assert declined.id != order.id


async def test_offers_need_staff_and_appear_in_openapi(env: ShopEnv, http: ClientSession) -> None:
    """A viewer cannot create offers; the shop's routes are in the OpenAPI document."""
    _, viewer = await env.user("Viewer", Role.VIEWER)
    token = await env.token(viewer)
    status, out = await post_json(
        http,
        f"{env.base_url}/api/v1/shows/{env.show_id}/offers",
        {"product_id": env.product.id},
        token,
    )
    assert 403 == status, out
    async with http.get(f"{env.base_url}/api/v1/openapi.json") as resp:
        paths = (await resp.json())["paths"]
    for path in (
        "/api/v1/shows/{show_id}/offers",
        "/api/v1/shows/{show_id}/checkout",
        "/api/v1/orders",
        "/api/v1/orders/{order_id}/refund",
        "/api/v1/payments/demo/{order_id}/confirm",
    ):
        assert path in paths


async def test_demo_show_has_a_pinned_offer_and_a_flash_sale(
    settings_factory: SettingsFactory, http: ClientSession
) -> None:
    """With the demo on, the demo show offers a pinned fixed-price item and a flash sale, once."""
    settings = settings_factory(demo={"enabled": True})
    for _restart in range(2):
        async with running_app(settings) as app:
            demo = json.loads((settings.server.data_dir / "demo.json").read_text())
            async with http.get(f"{app.base_url}/api/v1/shows/{demo['show_id']}/offers") as resp:
                offers = (await resp.json())["offers"]
    assert [("fixed", True, "live"), ("flash", False, "live")] == [
        (o["kind"], o["pinned"], o["status"]) for o in offers
    ]
    assert 2 == offers[1]["per_buyer_limit"]


async def test_offer_start_pin_unpin_end_over_http(env: ShopEnv, http: ClientSession) -> None:
    """A flash sale made with `duration_seconds` and no price opens at `…/start` for its
    duration at the product's price; a host pins, unpins and ends it, a viewer gets 403 for each,
    and checkout then answers 409 `offer_closed`."""
    _, host = await env.user("Hana")
    await env.shop.shows.grant_host(env.seller, env.show_id, host.id)
    host_token, seller_token = await env.token(host), await env.token(env.seller_user)
    _, viewer = await env.user("Viewer")
    viewer_token = await env.token(viewer)
    base = f"{env.base_url}/api/v1/shows/{env.show_id}"
    status, offer = await post_json(
        http,
        f"{base}/offers",
        {"product_id": env.product.id, "kind": "flash", "stock": 3, "duration_seconds": 300},
        seller_token,
    )
    assert 201 == status, offer
    assert ({"amount": 4900, "currency": "USD"}, None, None, 300) == (
        offer["price"], offer["starts_at"], offer["ends_at"], offer["duration_seconds"],
    )  # fmt: skip
    url = f"{base}/offers/{offer['id']}"
    for action in ("start", "pin", "unpin", "end"):
        status, out = await post_json(http, f"{url}/{action}", {}, viewer_token)
        assert (403, "forbidden") == (status, out["error"]["code"]), action
    env.clock.advance(600)
    status, started = await post_json(http, f"{url}/start", {}, host_token)
    assert 200 == status, started
    assert 300_000 == started["ends_at"] - started["starts_at"]
    assert env.clock.now_ms() == started["starts_at"]
    env.clock.advance(1)
    status, pinned = await post_json(http, f"{url}/pin", {}, host_token)
    assert (200, True) == (status, pinned["pinned"])
    env.clock.advance(1)
    status, unpinned = await post_json(http, f"{url}/unpin", {"media_ts": 3.5}, host_token)
    assert (200, False) == (status, unpinned["pinned"])
    env.clock.advance(1)
    status, ended = await post_json(http, f"{url}/end", {}, host_token)
    assert (200, "ended") == (status, ended["status"])
    _, buyer = await env.user("Buyer")
    status, out = await post_json(
        http,
        f"{base}/checkout",
        {"offer_id": offer["id"], "quantity": 1, "idempotency_key": "closed-key-1"},
        await env.token(buyer),
    )
    assert (409, "offer_closed") == (status, out["error"]["code"])
    async with http.get(f"{base}/timeline") as resp:
        events = (await resp.json())["events"]
    assert ["offer.started", "offer.pinned", "offer.unpinned", "offer.ended"] == [
        e["type"] for e in events
    ]
    assert 3.5 == events[2]["media_ts"]


async def test_a_past_end_time_is_refused_at_start_until_a_new_duration(
    env: ShopEnv, http: ClientSession
) -> None:
    """An older client's explicit `ends_at` that has passed by *Start* is 422 with a clear
    message; starting with `duration_seconds` runs the sale for that long from now."""
    token = await env.token(env.seller_user)
    base = f"{env.base_url}/api/v1/shows/{env.show_id}"
    ends_at = env.clock.now_ms() + 60_000
    status, offer = await post_json(
        http,
        f"{base}/offers",
        {"product_id": env.product.id, "kind": "flash", "price": 2500, "stock": 2,
         "ends_at": ends_at / 1000},
        token,
    )  # fmt: skip
    assert 201 == status, offer
    env.clock.advance(120)
    url = f"{base}/offers/{offer['id']}/start"
    status, out = await post_json(http, url, {}, token)
    assert (422, "this flash sale's end time has passed; set a new duration") == (
        status,
        out["error"]["message"],
    )
    status, started = await post_json(http, url, {"duration_seconds": 90}, token)
    assert (200, "live", 90_000) == (
        status,
        started["status"],
        started["ends_at"] - started["starts_at"],
    )
