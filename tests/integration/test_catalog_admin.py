"""Sellers edit, restock, delete and illustrate their products: images are type-checked by
declared type and by their bytes, size-capped, stored under random names and served back."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable
from typing import Any

import pytest
from aiohttp import ClientSession

from livecommerce.domain.access import Role
from tests.conftest import SettingsFactory
from tests.support import images
from tests.support.shop import ShopEnv, shop_env

PNG = images.png(64, 48)
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64


@pytest.fixture
async def env(settings_factory: SettingsFactory) -> AsyncIterator[ShopEnv]:
    async with shop_env(settings_factory(shop={"image_max_bytes": 4096})) as running:
        yield running


async def test_image_upload_checks_type_bytes_and_size(env: ShopEnv, http: ClientSession) -> None:
    """A real PNG is stored (re-encoded, never wider than it was) and served; wrong types, lying
    bytes, unreadable pictures and big files are refused."""
    token = await env.token(env.seller_user)
    url = f"{env.base_url}/api/v1/products/{env.product.id}/image"

    async def put(
        data: bytes, content_type: str, auth: str = token
    ) -> tuple[int, dict[str, object]]:
        headers = {"Authorization": f"Bearer {auth}", "Content-Type": content_type}
        async with http.put(url, data=data, headers=headers) as resp:
            return resp.status, await resp.json()

    status, product = await put(PNG, "image/png")
    assert 200 == status, product
    image_url = str(product["image_url"])
    assert image_url.startswith("/uploads/products/")
    assert image_url.endswith("-64.webp")
    assert [{"width": 64, "height": 48, "url": image_url}] == product["images"]
    async with http.get(env.base_url + image_url) as resp:
        stored = await resp.read()
        assert (200, "image/webp") == (resp.status, resp.content_type)
    assert (64, 48) == (images.decode(stored).width, images.decode(stored).height)
    assert (406, "unsupported_media") == await _code(put(PNG, "text/plain"))
    assert (422, "invalid_input") == await _code(put(JPEG, "image/png"))
    assert (422, "invalid_input") == await _code(put(JPEG, "image/jpeg"))
    assert (413, "payload_too_large") == await _code(put(PNG + b"\x00" * 5000, "image/png"))
    _, other = await env.user("Other seller", Role.SELLER)
    assert (403, "forbidden") == await _code(put(PNG, "image/png", await env.token(other)))
    for bad in ("..%2Fsecret_key", ".hidden.png", "nothing-here.png", "x.txt"):
        async with http.get(f"{env.base_url}/uploads/products/{bad}") as resp:
            assert 404 == resp.status, bad


async def _code(call: Awaitable[tuple[int, dict[str, Any]]]) -> tuple[int, str]:
    status, body = await call
    return status, str(body["error"]["code"])


async def test_edit_restock_and_delete(env: ShopEnv, http: ClientSession) -> None:
    """Sellers edit and restock their products; an offered product cannot be deleted."""
    token = await env.token(env.seller_user)
    headers = {"Authorization": f"Bearer {token}"}
    base = f"{env.base_url}/api/v1/products"
    async with http.patch(
        f"{base}/{env.product.id}", json={"name": "Runner", "price": 5100}, headers=headers
    ) as resp:
        body = await resp.json()
    assert (200, "Runner", 5100) == (resp.status, body["name"], body["price"]["amount"])
    variant = env.product.variants[0].id
    async with http.patch(
        f"{base}/{env.product.id}/variants/{variant}", json={"stock": 7}, headers=headers
    ) as resp:
        body = await resp.json()
    assert [7] == [v["stock"] for v in body["variants"]]
    await env.offer(stock=2)
    async with http.delete(f"{base}/{env.product.id}", headers=headers) as resp:
        assert 409 == resp.status
    async with http.post(
        base,
        json={"name": "Mug", "price": 900, "variants": [{"label": "one", "stock": 1}]},
        headers=headers,
    ) as resp:
        mug = await resp.json()
    async with http.delete(f"{base}/{mug['id']}", headers=headers) as resp:
        assert 204 == resp.status
    async with http.get(f"{base}/{mug['id']}") as resp:
        assert 404 == resp.status
