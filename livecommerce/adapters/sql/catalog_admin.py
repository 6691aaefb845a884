"""SqlCatalogAdmin: the writes the seller's catalog needs after creation (edit, reprice, rename,
delete, add variants, archive, the photo's sizes; stock changes are inventory movements,
adapters/sql/stock.py).

The foundation's SqlCatalogStore creates and reads products; these are the shop's additions,
kept in their own adapter so the two planes never edit the same file.
"""

from __future__ import annotations

from typing import Any

from livecommerce.adapters.sql.catalog import images_json
from livecommerce.adapters.sql.database import Database, UniqueViolation
from livecommerce.errors import Conflict
from livecommerce.services.ports import Variant


class SqlCatalogAdmin:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def update_product(self, product_id: str, fields: dict[str, Any]) -> None:
        """Set the given columns (names are fixed by the service, values are placeholders)."""
        allowed = {
            "name", "description", "price_minor", "image_url", "requires_shipping", "archived",
            "option_name", "images",
        }  # fmt: skip
        cols = [c for c in fields if c in allowed]
        if not cols:
            return
        values = {**fields}
        if "archived" in values:
            values["archived"] = int(bool(values["archived"]))
        if "images" in values:
            values["images"] = images_json(values["images"])
        assignments = ", ".join(f"{c} = ?" for c in cols)
        await self._db.execute(
            f"UPDATE products SET {assignments} WHERE id = ?",  # noqa: S608 why: whitelisted columns
            *[values[c] for c in cols],
            product_id,
        )

    async def update_variant(self, product_id: str, variant_id: str, price_minor: int) -> bool:
        changed = await self._db.execute(
            "UPDATE product_variants SET price_minor = ? WHERE id = ? AND product_id = ?",
            price_minor,
            variant_id,
            product_id,
        )
        return changed == 1

    async def edit_variant(self, product_id: str, variant_id: str, fields: dict[str, Any]) -> bool:
        cols = [c for c in fields if c in ("label", "sku", "price_minor")]
        if not cols:
            row = await self._db.fetchone(
                "SELECT 1 AS n FROM product_variants WHERE id = ? AND product_id = ?",
                variant_id,
                product_id,
            )
            return row is not None
        assignments = ", ".join(f"{c} = ?" for c in cols)
        try:
            changed = await self._db.execute(
                f"UPDATE product_variants SET {assignments} "  # noqa: S608 why: whitelisted columns
                "WHERE id = ? AND product_id = ?",
                *[fields[c] for c in cols],
                variant_id,
                product_id,
            )
        except UniqueViolation as exc:
            raise Conflict("another variant of this product has this SKU") from exc
        return changed == 1

    async def add_variant(self, product_id: str, variant: Variant) -> None:
        async with self._db.transaction() as tx:
            row = await tx.fetchone(
                "SELECT COALESCE(MAX(position), -1) + 1 AS next, "
                "SUM(CASE WHEN label = ? THEN 1 ELSE 0 END) AS same "
                "FROM product_variants WHERE product_id = ?",
                variant.label,
                product_id,
            )
            if row is not None and row["same"]:
                raise Conflict("this product already has a variant with this label")
            try:
                await tx.execute(
                    "INSERT INTO product_variants (id, product_id, label, stock, price_minor, "
                    "position, sku) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    variant.id,
                    product_id,
                    variant.label,
                    0,  # on hand is the sum of movements: the service records the first one
                    variant.price_minor,
                    int(row["next"]) if row is not None else 0,
                    variant.sku,
                )
            except UniqueViolation as exc:
                raise Conflict("another variant of this product has this SKU") from exc

    async def offers_of(self, product_id: str) -> int:
        row = await self._db.fetchone(
            "SELECT COUNT(*) AS n FROM offers WHERE product_id = ?", product_id
        )
        return int(row["n"]) if row else 0

    async def delete_product(self, product_id: str) -> None:
        async with self._db.transaction() as tx:
            await tx.execute("DELETE FROM inventory_movements WHERE product_id = ?", product_id)
            await tx.execute("DELETE FROM product_variants WHERE product_id = ?", product_id)
            await tx.execute("DELETE FROM products WHERE id = ?", product_id)
