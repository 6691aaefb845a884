"""Issue 12 finding 8, catalog input: a NUL in a name, the currency ``ZZZ`` and the image URL
``//evil.example/x.png`` (another site to a browser) were accepted; each is a 422 now."""

from __future__ import annotations

import pytest
from aiohttp import ClientSession

from tests.support.shop import ShopEnv


@pytest.mark.parametrize(
    "bad",
    [
        {"name": "Mug\x00"},
        {"name": "Mug\u202egnp.exe"},
        {"currency": "ZZZ"},
        {"image_url": "//evil.example/x.png"},
        {"image_url": "/\\evil.example/x.png"},
        {"image_url": "https://evil.example/x.png"},
    ],
)
async def test_bad_catalog_input_is_refused(env: ShopEnv, bad: dict[str, str]) -> None:
    token = await env.token(env.seller_user)
    body = {"name": "Mug", "price": 1500, "currency": "USD", **bad}
    async with ClientSession() as http:
        async with http.post(
            f"{env.base_url}/api/v1/products",
            json=body,
            headers={"Authorization": f"Bearer {token}"},
        ) as resp:
            answer = await resp.json()
        assert (resp.status, answer["error"]["code"]) == (422, "invalid_input"), answer
        async with http.get(f"{env.base_url}/api/v1/products") as resp:
            names = [p["name"] for p in (await resp.json())["products"]]
    assert names == [env.product.name]


async def test_good_catalog_input_is_kept(env: ShopEnv) -> None:
    token = await env.token(env.seller_user)
    body = {"name": "Mug", "price": 1500, "currency": "JPY", "image_url": "/static/demo/mug.svg"}
    async with (
        ClientSession() as http,
        http.post(
            f"{env.base_url}/api/v1/products",
            json=body,
            headers={"Authorization": f"Bearer {token}"},
        ) as resp,
    ):
        answer = await resp.json()
    assert resp.status == 201, answer
    assert answer["price"] == {"amount": 1500, "currency": "JPY"}
    assert answer["image_url"] == "/static/demo/mug.svg"
