"""SqlBidLog: auctions and their bid logs in the durable store (tables `auctions` and
`auction_bids`, migration 0700). Rows are inserted with `ON CONFLICT DO NOTHING` on
(offer, seq), so the accepting node's write and the closer's completion from the live store
never clash; settlement is a conditional update, so exactly one closer records it."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

from livecommerce.adapters.sql.database import Database, Row
from livecommerce.adapters.sql.notifications import write_outbox
from livecommerce.domain.auctions import AuctionSettings, AuctionState, BidRow
from livecommerce.domain.notifications import OutboxEvent
from livecommerce.services.ports import AuctionRecord, OwnedRow


def _record(row: Row) -> AuctionRecord:
    return AuctionRecord(
        offer_id=row["offer_id"],
        show_id=row["show_id"],
        product_id=row["product_id"],
        variant_id=row["variant_id"],
        settings=AuctionSettings.from_wire(json.loads(row["settings"])),
        salt=row["salt"],
        settled=bool(row["settled"]),
        winner_id=row["winner_id"],
        amount=row["amount"],
        order_id=row["order_id"],
        second_order_id=row["second_order_id"],
        head=row["head"],
        closed_at_ms=row["closed_at"],
        refused=json.loads(row["refused"] or "{}"),
        announced=bool(row["announced"]),
    )


class SqlBidLog:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def add_auction(self, record: AuctionRecord) -> None:
        await self._db.execute(
            "INSERT INTO auctions (offer_id, show_id, product_id, variant_id, settings, salt) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            record.offer_id,
            record.show_id,
            record.product_id,
            record.variant_id,
            json.dumps(record.settings.to_wire()),
            record.salt,
        )

    async def auction(self, offer_id: str) -> AuctionRecord | None:
        row = await self._db.fetchone("SELECT * FROM auctions WHERE offer_id = ?", offer_id)
        return None if row is None else _record(row)

    async def append(
        self, offer_id: str, rows: Sequence[OwnedRow], state: AuctionState | None = None
    ) -> None:
        async with self._db.transaction() as tx:
            if state is not None:
                await tx.execute(
                    "UPDATE auctions SET state = ?, state_version = ? WHERE offer_id = ? "
                    "AND (state_version IS NULL OR state_version < ?)",
                    json.dumps(state.to_wire()),
                    state.version,
                    offer_id,
                    state.version,
                )
            for row, user_id in rows:
                await tx.execute(
                    "INSERT INTO auction_bids "
                    "(offer_id, seq, bidder, user_id, amount, max_applied, at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (offer_id, seq) DO NOTHING",
                    offer_id,
                    row.seq,
                    row.bidder,
                    user_id,
                    row.amount,
                    int(row.max_applied),
                    row.at,
                )

    async def snapshot(self, offer_id: str) -> AuctionState | None:
        row = await self._db.fetchone("SELECT state FROM auctions WHERE offer_id = ?", offer_id)
        if row is None or row["state"] is None:
            return None
        return AuctionState.from_wire(json.loads(row["state"]))

    async def rows(self, offer_id: str) -> list[OwnedRow]:
        found = await self._db.fetchall(
            "SELECT seq, bidder, user_id, amount, max_applied, at FROM auction_bids "
            "WHERE offer_id = ? ORDER BY seq",
            offer_id,
        )
        return [
            (
                BidRow(
                    seq=r["seq"],
                    offer_id=offer_id,
                    bidder=r["bidder"],
                    amount=r["amount"],
                    max_applied=bool(r["max_applied"]),
                    at=r["at"],
                ),
                r["user_id"],
            )
            for r in found
        ]

    async def settle(
        self,
        offer_id: str,
        *,
        winner_id: str | None,
        amount: int | None,
        order_id: str | None,
        head: str,
        at_ms: int,
        refused: Mapping[str, int],
        events: Sequence[OutboxEvent] = (),
    ) -> bool:
        async with self._db.transaction() as tx:
            changed = await tx.execute(
                "UPDATE auctions SET settled = 1, winner_id = ?, amount = ?, order_id = ?, "
                "head = ?, closed_at = ?, refused = ? WHERE offer_id = ? AND settled = 0",
                winner_id,
                amount,
                order_id,
                head,
                at_ms,
                json.dumps(dict(refused), sort_keys=True),
                offer_id,
            )
            if changed != 1:
                return False
            await write_outbox(tx, events)
        return True

    async def set_second_chance(self, offer_id: str, order_id: str) -> bool:
        changed = await self._db.execute(
            "UPDATE auctions SET second_order_id = ? WHERE offer_id = ? "
            "AND second_order_id IS NULL",
            order_id,
            offer_id,
        )
        return changed == 1

    async def unsettled(self, limit: int = 100) -> list[str]:
        # drafts never close: leave them out, so they cannot crowd started auctions past `limit`
        found = await self._db.fetchall(
            "SELECT a.offer_id FROM auctions a JOIN offers o ON o.id = a.offer_id "
            "WHERE a.settled = 0 AND o.status <> 'draft' ORDER BY a.offer_id LIMIT ?",
            limit,
        )
        return [r["offer_id"] for r in found]

    async def mark_announced(self, offer_id: str) -> None:
        await self._db.execute("UPDATE auctions SET announced = 1 WHERE offer_id = ?", offer_id)

    async def unannounced(self, closed_before_ms: int, limit: int = 100) -> list[str]:
        found = await self._db.fetchall(
            "SELECT offer_id FROM auctions WHERE settled = 1 AND announced = 0 "
            "AND closed_at < ? ORDER BY closed_at LIMIT ?",
            closed_before_ms,
            limit,
        )
        return [r["offer_id"] for r in found]
