"""SqlStockLedger: inventory movements, and the on-hand stock they add up to.

A movement row and the variant's `stock` column change in one transaction (`write_movements`,
shared with the order store, which writes a sale in the same transaction as the order's move to
paid), so `product_variants.stock` is always the sum of the variant's movements. Movements are
unique on their idempotency key: a replayed sale or refund restock writes nothing. Each gets the
variant's next `seq` while the variant's row is locked by the stock update, so a variant's
movements have one order even when many land in the same millisecond.
"""

from __future__ import annotations

from collections.abc import Sequence

from livecommerce.adapters.sql.database import Database, Executor, Row, UniqueViolation
from livecommerce.domain.inventory import MovementReason, StockMovement
from livecommerce.errors import NotFound

_COLUMNS = (
    "id, product_id, variant_id, delta, reason, idempotency_key, order_id, actor_id, note, at"
)


class _KeyTaken(Exception):
    """Internal: roll back, a movement with this key exists."""


async def write_movements(tx: Executor, movements: Sequence[StockMovement]) -> bool:
    """Insert the movements and move each variant's on-hand stock, inside the caller's
    transaction; False (roll back) when a key was written before. NotFound for a variant that
    does not belong to the movement's product."""
    for m in movements:
        changed = await tx.execute(
            "UPDATE product_variants SET stock = stock + ? WHERE id = ? AND product_id = ?",
            m.delta,
            m.variant_id,
            m.product_id,
        )
        if changed != 1:
            raise NotFound("no such variant")
        try:
            await tx.execute(
                f"INSERT INTO inventory_movements ({_COLUMNS}, seq) "  # noqa: S608 why: constant column list
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
                "(SELECT COALESCE(MAX(seq), 0) + 1 FROM inventory_movements WHERE variant_id = ?))",
                m.id,
                m.product_id,
                m.variant_id,
                m.delta,
                str(m.reason),
                m.key,
                m.order_id,
                m.actor_id,
                m.note,
                m.at_ms,
                m.variant_id,
            )
        except UniqueViolation:
            return False
    return True


def _movement(row: Row) -> StockMovement:
    return StockMovement(
        id=row["id"],
        product_id=row["product_id"],
        variant_id=row["variant_id"],
        delta=int(row["delta"]),
        reason=MovementReason(row["reason"]),
        key=row["idempotency_key"],
        at_ms=int(row["at"]),
        order_id=row["order_id"],
        actor_id=row["actor_id"],
        note=row["note"],
    )


class SqlStockLedger:
    """The StockLedger port over `Database` (SQLite or PostgreSQL)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def add_movement(self, movement: StockMovement) -> bool:
        try:
            async with self._db.transaction() as tx:
                if not await write_movements(tx, [movement]):
                    raise _KeyTaken
        except _KeyTaken:
            return False
        return True

    async def movements(self, variant_id: str, limit: int = 100) -> list[StockMovement]:
        rows = await self._db.fetchall(
            f"SELECT {_COLUMNS} FROM inventory_movements WHERE variant_id = ? "  # noqa: S608 why: constant column list
            "ORDER BY seq DESC LIMIT ?",
            variant_id,
            max(1, min(limit, 1000)),
        )
        return [_movement(r) for r in rows]

    async def on_hand(self, product_id: str) -> dict[str, int]:
        rows = await self._db.fetchall(
            "SELECT id, stock FROM product_variants WHERE product_id = ?", product_id
        )
        return {r["id"]: int(r["stock"]) for r in rows}
