"""The stock API on the real app: sellers adjust a variant's stock and read its movements, a
PATCH that sets the stock becomes an adjustment, and offers take `cap` (or its older name
`stock`) and show what each variant can still sell."""

from __future__ import annotations

from typing import Any

from aiohttp import ClientSession

from livecommerce.domain.access import Role
from tests.support.shop import ShopEnv


async def call(
    http: ClientSession, method: str, url: str, token: str, body: Any = None
) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {token}"}
    async with http.request(method, url, json=body, headers=headers) as resp:
        return resp.status, await resp.json()


async def test_adjust_and_list_movements(env: ShopEnv, http: ClientSession) -> None:
    """POST …/stock records an adjustment and answers with the movement and the variant's new
    stock; GET …/movements lists them newest first; bad deltas, held units and strangers are
    refused with structured errors."""
    token = await env.token(env.seller_user)
    variant = env.product.variants[0].id
    base = f"{env.base_url}/api/v1/products/{env.product.id}/variants/{variant}"

    status, body = await call(
        http, "POST", f"{base}/stock", token, {"delta": -20, "note": "count after the fair"}
    )
    assert (201, -20, "adjustment", "count after the fair", 480) == (
        status,
        body["movement"]["delta"],
        body["movement"]["reason"],
        body["movement"]["note"],
        body["variant"]["stock"],
    )
    assert (env.seller_user.id, None) == (
        body["movement"]["actor_id"],
        body["movement"]["order_id"],
    )
    status, body = await call(http, "PATCH", base, token, {"stock": 500})
    assert (200, [500]) == (status, [v["stock"] for v in body["variants"]])
    status, body = await call(http, "GET", f"{base}/movements?limit=10", token)
    assert 200 == status
    assert [(20, "adjustment"), (-20, "adjustment"), (500, "initial")] == [
        (m["delta"], m["reason"]) for m in body["movements"]
    ]
    assert {"id", "delta", "reason", "order_id", "actor_id", "note", "at"} == set(
        body["movements"][0]
    )

    for bad in ({"delta": 0}, {"delta": 1.5}, {"delta": "3"}, {"delta": 2_000_000}, {}):
        status, body = await call(http, "POST", f"{base}/stock", token, bad)
        assert (422, "invalid_input") == (status, body["error"]["code"]), bad
    status, body = await call(http, "POST", f"{base}/stock", token, {"delta": -501})
    assert (409, "stock_held") == (status, body["error"]["code"])
    _, other = await env.user("Other seller", Role.SELLER)
    stranger = await env.token(other)
    for method, url, payload in (
        ("POST", f"{base}/stock", {"delta": 1}),
        ("GET", f"{base}/movements", None),
    ):
        status, body = await call(http, method, url, stranger, payload)
        assert (403, "forbidden") == (status, body["error"]["code"])
    missing = f"{env.base_url}/api/v1/products/{env.product.id}/variants/var_nope/movements"
    assert 404 == (await call(http, "GET", missing, token))[0]


async def test_offers_take_a_cap_and_show_stock_per_variant(
    env: ShopEnv, http: ClientSession
) -> None:
    """An offer's `cap` (or `stock`, its older name) limits what it sells; without one it sells
    what its variants have; the view carries `cap`, `stock` and per-variant `stock_left`."""
    token = await env.token(env.seller_user)
    offers = f"{env.base_url}/api/v1/shows/{env.show_id}/offers"
    product = env.product.id
    status, capped = await call(http, "POST", offers, token, {"product_id": product, "cap": 5})
    assert (201, 5, 5, 5) == (status, capped["cap"], capped["stock"], capped["stock_left"])
    variant = env.product.variants[0]
    assert [{"id": variant.id, "label": variant.label, "stock_left": 5}] == capped["variants"]
    _, older = await call(http, "POST", offers, token, {"product_id": product, "stock": 4})
    assert (4, 4) == (older["cap"], older["stock_left"])
    _, open_ = await call(http, "POST", offers, token, {"product_id": product})
    assert (None, None, 500) == (open_["cap"], open_["stock"], open_["stock_left"])
    status, body = await call(
        http, "POST", offers, token, {"product_id": product, "cap": 5, "stock": 6}
    )
    assert (422, "invalid_input") == (status, body["error"]["code"])
