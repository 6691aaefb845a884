"""SqlCatalogAdmin: the writes the seller's catalog needs after creation (edit, reprice, delete;
stock changes are inventory movements, adapters/sql/stock.py).

The foundation's SqlCatalogStore creates and reads products; these are the shop's additions,
kept in their own adapter so the two planes never edit the same file.
"""

from __future__ import annotations

from typing import Any

from livecommerce.adapters.sql.database import Database


class SqlCatalogAdmin:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def update_product(self, product_id: str, fields: dict[str, Any]) -> None:
        """Set the given columns (names are fixed by the service, values are placeholders)."""
        allowed = {"name", "description", "price_minor", "image_url", "requires_shipping"}
        cols = [c for c in fields if c in allowed]
        if not cols:
            return
        assignments = ", ".join(f"{c} = ?" for c in cols)
        await self._db.execute(
            f"UPDATE products SET {assignments} WHERE id = ?",  # noqa: S608 why: whitelisted columns
            *[fields[c] for c in cols],
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
