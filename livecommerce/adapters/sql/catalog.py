"""SQL catalog store: products and their variants (stock lives per variant: the sum of its
inventory movements, see adapters/sql/stock.py)."""

from __future__ import annotations

import json
from collections.abc import Sequence

from livecommerce.adapters.sql.database import Database, Row
from livecommerce.adapters.sql.stock import write_movements
from livecommerce.domain.inventory import initial_movement
from livecommerce.errors import Conflict
from livecommerce.ids import new_id
from livecommerce.services.ports import ImageSize, Product, Variant


def images_json(images: Sequence[ImageSize]) -> str:
    """The ``products.images`` column: the photo's sizes as JSON."""
    return json.dumps([{"width": i.width, "height": i.height, "url": i.url} for i in images])


def _images(raw: str | None) -> tuple[ImageSize, ...]:
    return tuple(
        ImageSize(int(i["width"]), int(i["height"]), str(i["url"])) for i in json.loads(raw or "[]")
    )


class SqlCatalogStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def add_product(self, product: Product) -> None:
        """Each variant's stock is written as its `initial` movement (by the seller, at the
        product's creation), in the same transaction as the product."""
        initial = [
            initial_movement(
                movement_id=new_id("mov"),
                product_id=product.id,
                variant_id=v.id,
                units=v.stock,
                actor_id=product.seller_id,
                at_ms=product.created_at,
            )
            for v in product.variants
            if v.stock
        ]
        async with self._db.transaction() as tx:
            await tx.execute(
                "INSERT INTO products (id, seller_id, name, description, price_minor, currency, "
                "image_url, created_at, requires_shipping, archived, option_name, images) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                product.id,
                product.seller_id,
                product.name,
                product.description,
                product.price_minor,
                product.currency,
                product.image_url,
                product.created_at,
                product.requires_shipping,
                int(product.archived),
                product.option_name,
                images_json(product.images),
            )
            for position, variant in enumerate(product.variants):
                await tx.execute(
                    "INSERT INTO product_variants (id, product_id, label, stock, price_minor, "
                    "position, sku) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    variant.id,
                    product.id,
                    variant.label,
                    0,
                    variant.price_minor,
                    position,
                    variant.sku,
                )
            if not await write_movements(tx, initial):
                raise Conflict("this product's variants were created before")

    async def _variants(self, product_ids: Sequence[str]) -> dict[str, list[Variant]]:
        out: dict[str, list[Variant]] = {pid: [] for pid in product_ids}
        if not product_ids:
            return out
        marks = ", ".join("?" for _ in product_ids)
        rows = await self._db.fetchall(
            f"SELECT * FROM product_variants WHERE product_id IN ({marks}) "  # noqa: S608 why: only placeholders are interpolated
            "ORDER BY position, id",
            *product_ids,
        )
        for row in rows:
            out[row["product_id"]].append(
                Variant(row["id"], row["label"], row["stock"], row["price_minor"], sku=row["sku"])
            )
        return out

    def _product(self, row: Row, variants: list[Variant]) -> Product:
        return Product(
            id=row["id"],
            seller_id=row["seller_id"],
            name=row["name"],
            description=row["description"],
            price_minor=row["price_minor"],
            currency=row["currency"],
            image_url=row["image_url"],
            created_at=row["created_at"],
            variants=tuple(variants),
            requires_shipping=bool(row["requires_shipping"]),
            archived=bool(row["archived"]),
            option_name=row["option_name"],
            images=_images(row["images"]),
        )

    async def get_product(self, product_id: str) -> Product | None:
        row = await self._db.fetchone("SELECT * FROM products WHERE id = ?", product_id)
        if row is None:
            return None
        variants = await self._variants([product_id])
        return self._product(row, variants[product_id])

    async def list_products(self, seller_id: str | None = None) -> list[Product]:
        if seller_id is None:
            rows = await self._db.fetchall("SELECT * FROM products ORDER BY created_at, id")
        else:
            rows = await self._db.fetchall(
                "SELECT * FROM products WHERE seller_id = ? ORDER BY created_at, id", seller_id
            )
        variants = await self._variants([r["id"] for r in rows])
        return [self._product(r, variants[r["id"]]) for r in rows]
