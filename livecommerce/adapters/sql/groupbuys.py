"""SqlGroupBuyStore: group offers' tiers and close decisions (table `group_buys`, migration
0820). The close is a conditional update on `closed_at IS NULL`, so exactly one closer's
decision is recorded; buyers are counted from the orders table (distinct buyers with an
`authorized` order)."""

from __future__ import annotations

import json

from livecommerce.adapters.sql.database import Database, Row
from livecommerce.domain.groupbuy import Tier
from livecommerce.domain.offers import OfferKind, OfferStatus
from livecommerce.domain.orders import OrderStatus
from livecommerce.services.ports import GroupRecord


def _record(row: Row) -> GroupRecord:
    return GroupRecord(
        offer_id=row["offer_id"],
        show_id=row["show_id"],
        variant_id=row["variant_id"],
        tiers=tuple(Tier(t["min_buyers"], t["price"]) for t in json.loads(row["tiers"])),
        currency=row["currency"],
        buyers=row["buyers"],
        final_price=row["final_price"],
        closed_at_ms=row["closed_at"],
        settled_at_ms=row["settled_at"],
    )


class SqlGroupBuyStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def add_group(self, record: GroupRecord) -> None:
        await self._db.execute(
            "INSERT INTO group_buys (offer_id, show_id, variant_id, tiers, currency) "
            "VALUES (?, ?, ?, ?, ?)",
            record.offer_id,
            record.show_id,
            record.variant_id,
            json.dumps([t.to_wire() for t in record.tiers]),
            record.currency,
        )

    async def group(self, offer_id: str) -> GroupRecord | None:
        row = await self._db.fetchone("SELECT * FROM group_buys WHERE offer_id = ?", offer_id)
        return None if row is None else _record(row)

    async def buyers(self, offer_id: str) -> int:
        row = await self._db.fetchone(
            "SELECT COUNT(DISTINCT buyer_id) AS n FROM orders WHERE offer_id = ? AND status = ?",
            offer_id,
            str(OrderStatus.AUTHORIZED),
        )
        return 0 if row is None else int(row["n"])

    async def freeze(
        self, offer_id: str, buyers: int, final_price: int | None, at_ms: int
    ) -> GroupRecord:
        await self._db.execute(
            "UPDATE group_buys SET buyers = ?, final_price = ?, closed_at = ? "
            "WHERE offer_id = ? AND closed_at IS NULL",
            buyers,
            final_price,
            at_ms,
            offer_id,
        )
        record = await self.group(offer_id)
        assert record is not None
        return record

    async def mark_settled(self, offer_id: str, at_ms: int) -> bool:
        changed = await self._db.execute(
            "UPDATE group_buys SET settled_at = ? "
            "WHERE offer_id = ? AND closed_at IS NOT NULL AND settled_at IS NULL",
            at_ms,
            offer_id,
        )
        return bool(changed)

    async def due(self, now_ms: int, limit: int = 100) -> list[str]:
        rows = await self._db.fetchall(
            "SELECT g.offer_id FROM group_buys g JOIN offers o ON o.id = g.offer_id "
            "WHERE o.kind = ? AND ("
            "  (g.settled_at IS NULL AND (o.status = ? OR (o.status = ? AND o.ends_at <= ?)))"
            "  OR (g.settled_at IS NOT NULL AND EXISTS ("
            "    SELECT 1 FROM orders r WHERE r.offer_id = g.offer_id AND r.status = ?))"
            ") ORDER BY g.offer_id LIMIT ?",
            str(OfferKind.GROUP),
            str(OfferStatus.ENDED),
            str(OfferStatus.LIVE),
            now_ms,
            str(OrderStatus.AUTHORIZED),
            limit,
        )
        return [row["offer_id"] for row in rows]
