"""The catalog page's API: photos uploaded as multipart are stored re-encoded at three widths
with no EXIF left; the CSV import reports row errors in a dry run, writes nothing while any
remain, and matches SKUs so a second import changes nothing; archived products are not offered."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from livecommerce.adapters.files import FileProductImages
from livecommerce.errors import InvalidInput
from tests.support import images
from tests.support.shop import ShopEnv

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
async def seller(env: ShopEnv) -> AsyncIterator[Client]:
    async with aiohttp.ClientSession() as http:
        yield Client(http, env.base_url, await env.token(env.seller_user))


class Client:
    def __init__(self, http: aiohttp.ClientSession, base: str, token: str) -> None:
        self.http, self.base, self.headers = http, base, {"Authorization": f"Bearer {token}"}

    async def call(self, method: str, path: str, **kw: Any) -> tuple[int, Any]:
        async with self.http.request(
            method, self.base + path, headers={**self.headers, **kw.pop("headers", {})}, **kw
        ) as resp:
            if resp.content_type == "application/json":
                return resp.status, await resp.json()
            return resp.status, await resp.text()

    async def csv(self, text: str, dry_run: bool = False) -> tuple[int, Any]:
        query = "?dry_run=1" if dry_run else ""
        return await self.call(
            "POST",
            f"/api/v1/products/import{query}",
            data=text.encode(),
            headers={"Content-Type": "text/csv"},
        )

    async def catalog(self) -> list[dict[str, Any]]:
        status, body = await self.call("GET", "/api/v1/products?include_archived=1")
        assert 200 == status
        return list(body["products"])


async def test_photo_is_resized_upright_and_stripped(env: ShopEnv, seller: Client) -> None:
    """A 1600 x 1200 JPEG with an EXIF block (orientation 6, a GPS note) becomes three WebP files
    160, 480 and 1080 px wide, turned upright, with no EXIF and no trace of the note."""
    upload = images.jpeg_with_exif(1600, 1200, orientation=6)
    assert images.EXIF_SECRET in upload
    form = aiohttp.FormData()
    form.add_field("image", upload, filename="phone.jpg", content_type="image/jpeg")
    status, product = await seller.call(
        "POST", f"/api/v1/products/{env.product.id}/images", data=form
    )
    assert 200 == status, product
    sizes = [(i["width"], i["height"]) for i in product["images"]]
    assert [(160, 213), (480, 640), (1080, 1440)] == sizes
    assert product["image_url"] == product["images"][1]["url"]
    for image in product["images"]:
        async with seller.http.get(seller.base + image["url"]) as resp:
            stored = await resp.read()
        assert stored.startswith(b"RIFF") and stored[8:12] == b"WEBP"
        assert b"Exif" not in stored and images.EXIF_SECRET not in stored
        frame = images.decode(stored)
        assert (image["width"], image["height"]) == (frame.width, frame.height)
        pixels = frame.to_ndarray(format="rgb24")
        # the red left half of the sensor image is on top once turned upright
        assert pixels[2, frame.width // 2][0] > 200 and pixels[-3, frame.width // 2][2] > 200

    status, body = await seller.call(
        "POST",
        f"/api/v1/products/{env.product.id}/images",
        data=b"x",
        headers={"Content-Type": "image/png"},
    )
    assert (422, "invalid_input") == (status, body["error"]["code"])


async def test_photo_jpeg_fallback_and_unreadable_pictures(tmp_path: Path) -> None:
    """Without WebP the sizes are JPEGs (still without EXIF); small pictures are never
    enlarged; bytes FFmpeg cannot read are refused."""
    store = FileProductImages(tmp_path, encoding="jpeg")
    stored = await store.save_photo("p", "jpg", images.jpeg_with_exif(300, 200), (160, 480))
    assert [(160, 107), (300, 200)] == [(s.width, s.height) for s in stored]
    for item in stored:
        data = (tmp_path / item.name).read_bytes()
        assert item.name.endswith(".jpg") and data.startswith(b"\xff\xd8")
        assert b"Exif" not in data and images.EXIF_SECRET not in data
    webp = await FileProductImages(tmp_path, "webp").save_photo(
        "w", "webp", images.webp(100, 60), (160,)
    )
    assert [(100, 60)] == [(s.width, s.height) for s in webp]
    with pytest.raises(InvalidInput):
        await store.save_photo("bad", "png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, (160,))


GOOD = """sku,name,description,option,value,price,currency,stock,requires_shipping
TEE-S,Logo tee,Soft cotton,Size,S,12.50,USD,5,
TEE-M,Logo tee,,Size,M,12.50,USD,7,
TEE-XL,Logo tee,,Size,XL,14.00,USD,2,
GIFT-25,Gift card,Spend it in any show,,,25,USD,100,no
"""

BAD = """sku,name,price,stock,value
A-1,Hat,12.505,3,
A-2,,10,x,
A-1,Hat,10,1,
B-1,Scarf,9.90,1,Red
"""


async def test_csv_import_dry_run_then_idempotent(env: ShopEnv, seller: Client) -> None:
    """A dry run lists every row error with its line and column and writes nothing; the real
    import of a bad file is refused whole; a good file creates products with variants, and
    importing it again (or its export) updates in place and creates nothing."""
    before = await seller.catalog()
    status, report = await seller.csv(BAD, dry_run=True)
    assert 200 == status, report
    assert [
        (2, "price"),
        (3, "name"),
        (3, "stock"),
        (4, "sku"),
    ] == [(e["line"], e["column"]) for e in report["errors"]]
    assert "USD prices have 2 decimals at most" == report["errors"][0]["message"]
    status, refused = await seller.csv(BAD)
    assert (422, "invalid_csv") == (status, refused["error"]["code"])
    assert 4 == len(refused["error"]["details"]["errors"])
    assert before == await seller.catalog()

    status, dry = await seller.csv(GOOD, dry_run=True)
    assert (200, [], {"create": 2, "update": 0}) == (status, dry["errors"], dry["products"])
    assert before == await seller.catalog()
    status, done = await seller.csv(GOOD)
    assert 200 == status, done
    assert ({"create": 2, "update": 0}, {"create": 4, "update": 0}) == (
        done["products"],
        done["variants"],
    )
    after = await seller.catalog()
    tee = next(p for p in after if p["name"] == "Logo tee")
    assert ("Size", 1250, "Soft cotton") == (
        tee["option_name"],
        tee["price"]["amount"],
        tee["description"],
    )
    assert [("S", "TEE-S", 5, 1250), ("M", "TEE-M", 7, 1250), ("XL", "TEE-XL", 2, 1400)] == [
        (v["label"], v["sku"], v["stock"], v["price"]["amount"]) for v in tee["variants"]
    ]
    assert tee["requires_shipping"] is True
    gift = next(p for p in after if p["name"] == "Gift card")
    assert [("default", "GIFT-25", 100)] == [
        (v["label"], v["sku"], v["stock"]) for v in gift["variants"]
    ]
    assert gift["requires_shipping"] is False

    status, again = await seller.csv(GOOD)
    assert ({"create": 0, "update": 2}, {"create": 0, "update": 4}) == (
        again["products"],
        again["variants"],
    )
    assert after == await seller.catalog()

    status, exported = await seller.call("GET", "/api/v1/products/export.csv")
    assert 200 == status
    header, *lines = exported.strip().splitlines()
    assert header.startswith("product_id,sku,name,description,option,value,price,currency,stock")
    assert any(
        line.endswith(",TEE-XL,Logo tee,Soft cotton,Size,XL,14.00,USD,2,true,false")
        for line in lines
    )
    restock = exported.replace(",Size,M,12.50,USD,7,true,", ",Size,M,12.50,USD,9,true,")
    status, round_trip = await seller.csv(restock)
    assert (200, 0) == (status, round_trip["products"]["create"] + round_trip["variants"]["create"])
    tee = next(p for p in await seller.catalog() if p["name"] == "Logo tee")
    assert [5, 9, 2] == [v["stock"] for v in tee["variants"]]
    medium = tee["variants"][1]["id"]
    _, log = await seller.call("GET", f"/api/v1/products/{tee['id']}/variants/{medium}/movements")
    assert [("import", 2, "CSV import"), ("initial", 7, "")] == [
        (m["reason"], m["delta"], m["note"]) for m in log["movements"]
    ]


async def test_archived_products_are_not_offered(env: ShopEnv, seller: Client) -> None:
    """An archived product leaves the public list and cannot be offered until unarchived."""
    path = f"/api/v1/products/{env.product.id}"
    status, product = await seller.call("PATCH", path, json={"archived": True})
    assert (200, True) == (status, product["archived"])
    _, public = await seller.call("GET", f"/api/v1/products?seller_id={env.seller_user.id}")
    assert [] == public["products"]
    offers = f"/api/v1/shows/{env.show_id}/offers"
    status, refused = await seller.call("POST", offers, json={"product_id": env.product.id})
    assert (409, "product_archived") == (status, refused["error"]["code"])
    await seller.call("PATCH", path, json={"archived": False})
    status, offer = await seller.call("POST", offers, json={"product_id": env.product.id})
    assert 201 == status, offer


async def test_variants_added_renamed_and_skus_unique(env: ShopEnv, seller: Client) -> None:
    """A seller adds a variant with a SKU, renames it; a SKU used by another variant of the
    seller is refused."""
    base = f"/api/v1/products/{env.product.id}/variants"
    status, product = await seller.call(
        "POST", base, json={"label": "43", "sku": "SNK-43", "stock": 4, "price": 5200}
    )
    assert 201 == status, product
    added = product["variants"][-1]
    assert ("43", "SNK-43", 4, 5200) == (
        added["label"],
        added["sku"],
        added["stock"],
        added["price"]["amount"],
    )
    _, log = await seller.call("GET", f"{base}/{added['id']}/movements")
    assert [("initial", 4)] == [(m["reason"], m["delta"]) for m in log["movements"]]
    status, clash = await seller.call("POST", base, json={"label": "44", "sku": "SNK-43"})
    assert (409, "conflict") == (status, clash["error"]["code"])
    status, renamed = await seller.call(
        "PATCH", f"{base}/{added['id']}", json={"label": "43 EU", "sku": "SNK-43-EU"}
    )
    assert (200, ["42", "43 EU"]) == (status, [v["label"] for v in renamed["variants"]])
    status, body = await seller.call(
        "POST",
        "/api/v1/products",
        json={"name": "Sock", "price": 500, "variants": [{"label": "one", "sku": "SNK-43-EU"}]},
    )
    assert (409, "conflict") == (status, body["error"]["code"])
