"""SqlGiveawayStore: giveaways and their entries in the durable store (tables `giveaways` and
`giveaway_entries`, migration 0810).

An entry and the close meet on the giveaway's row: the entry is one statement that inserts only
while the row says open, reading it with a shared row lock (PostgreSQL `FOR SHARE`; SQLite runs
one write at a time), and the close updates the row before it reads the list, so an entry
either lands before the close reads the list or sees the giveaway closed. The
close, the draw and the settlement are conditional updates: exactly one caller wins each."""

from __future__ import annotations

import json
from collections.abc import Sequence

from livecommerce.adapters.sql.database import Database, Executor, Row
from livecommerce.adapters.sql.notifications import write_outbox
from livecommerce.domain.giveaways import Entry, EntryMode, GiveawayStatus, entries_hash
from livecommerce.domain.notifications import OutboxEvent
from livecommerce.services.ports import GiveawayRecord, OwnedEntry

#: One person's entry, added only while the giveaway is open and before its close (and once).
ENTER = (
    "INSERT INTO giveaway_entries (id, giveaway_id, user_id, entrant, at) "
    "SELECT ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM giveaways "
    "WHERE id = ? AND status = ? AND closes_at > ?) "
    "ON CONFLICT (giveaway_id, user_id) DO NOTHING"
)
#: The same, holding the giveaway's row (shared) so a close waits for it or it sees the close.
ENTER_POSTGRES = ENTER.replace("closes_at > ?)", "closes_at > ? FOR SHARE)")


def _record(row: Row) -> GiveawayRecord:
    return GiveawayRecord(
        id=row["id"],
        show_id=row["show_id"],
        seller_id=row["seller_id"],
        product_id=row["product_id"],
        variant_id=row["variant_id"],
        winners_count=row["winners_count"],
        entry=EntryMode(row["entry_mode"]),
        keyword=row["keyword"],
        requires_follow=bool(row["requires_follow"]),
        seed=row["seed"],
        salt=row["salt"],
        commitment=row["commitment"],
        status=GiveawayStatus(row["status"]),
        created_at_ms=row["created_at"],
        closes_at_ms=row["closes_at"],
        closed_at_ms=row["closed_at"],
        entries_hash=row["entries_hash"],
        drawn_at_ms=row["drawn_at"],
        winners=tuple(json.loads(row["winners"] or "[]")),
        settled=bool(row["settled"]),
    )


async def _entries(tx: Executor, giveaway_id: str) -> list[OwnedEntry]:
    rows = await tx.fetchall(
        "SELECT id, entrant, user_id FROM giveaway_entries WHERE giveaway_id = ? ORDER BY id",
        giveaway_id,
    )
    return [(Entry(r["id"], r["entrant"]), r["user_id"]) for r in rows]


class SqlGiveawayStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def add_giveaway(self, record: GiveawayRecord) -> None:
        await self._db.execute(
            "INSERT INTO giveaways (id, show_id, seller_id, product_id, variant_id, "
            "winners_count, entry_mode, keyword, requires_follow, seed, salt, commitment, "
            "status, created_at, closes_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            record.id,
            record.show_id,
            record.seller_id,
            record.product_id,
            record.variant_id,
            record.winners_count,
            str(record.entry),
            record.keyword,
            int(record.requires_follow),
            record.seed,
            record.salt,
            record.commitment,
            str(record.status),
            record.created_at_ms,
            record.closes_at_ms,
        )

    async def giveaway(self, giveaway_id: str) -> GiveawayRecord | None:
        row = await self._db.fetchone("SELECT * FROM giveaways WHERE id = ?", giveaway_id)
        return None if row is None else _record(row)

    async def latest(self, show_id: str) -> GiveawayRecord | None:
        row = await self._db.fetchone(
            "SELECT * FROM giveaways WHERE show_id = ? ORDER BY created_at DESC, id DESC LIMIT 1",
            show_id,
        )
        return None if row is None else _record(row)

    async def keywords(self, show_id: str) -> list[tuple[str, str]]:
        rows = await self._db.fetchall(
            "SELECT id, keyword FROM giveaways WHERE show_id = ? AND status = ? AND entry_mode = ?",
            show_id,
            str(GiveawayStatus.OPEN),
            str(EntryMode.CHAT_KEYWORD),
        )
        return [(r["id"], r["keyword"]) for r in rows]

    async def entry_of(self, giveaway_id: str, user_id: str) -> str | None:
        row = await self._db.fetchone(
            "SELECT id FROM giveaway_entries WHERE giveaway_id = ? AND user_id = ?",
            giveaway_id,
            user_id,
        )
        return None if row is None else str(row["id"])

    async def enter(self, giveaway_id: str, entry: Entry, user_id: str, at_ms: int) -> str | None:
        sql = ENTER_POSTGRES if self._db.dialect == "postgres" else ENTER
        await self._db.execute(
            sql,
            entry.id,
            giveaway_id,
            user_id,
            entry.entrant,
            at_ms,
            giveaway_id,
            str(GiveawayStatus.OPEN),
            at_ms,
        )
        return await self.entry_of(giveaway_id, user_id)

    async def count(self, giveaway_id: str) -> int:
        row = await self._db.fetchone(
            "SELECT COUNT(*) AS n FROM giveaway_entries WHERE giveaway_id = ?", giveaway_id
        )
        return 0 if row is None else int(row["n"])

    async def entries(self, giveaway_id: str) -> list[OwnedEntry]:
        return await _entries(self._db, giveaway_id)

    async def close(self, giveaway_id: str, now_ms: int) -> bool:
        async with self._db.transaction() as tx:
            changed = await tx.execute(
                "UPDATE giveaways SET status = ?, closed_at = ? "
                "WHERE id = ? AND status = ? AND closes_at <= ?",
                str(GiveawayStatus.CLOSED),
                now_ms,
                giveaway_id,
                str(GiveawayStatus.OPEN),
                now_ms,
            )
            if changed != 1:
                return False
            frozen = [entry for entry, _ in await _entries(tx, giveaway_id)]
            await tx.execute(
                "UPDATE giveaways SET entries_hash = ? WHERE id = ?",
                entries_hash(frozen),
                giveaway_id,
            )
            return True

    async def mark_drawn(
        self,
        giveaway_id: str,
        winners: Sequence[str],
        at_ms: int,
        events: Sequence[OutboxEvent] = (),
    ) -> bool:
        async with self._db.transaction() as tx:
            changed = await tx.execute(
                "UPDATE giveaways SET status = ?, winners = ?, drawn_at = ? "
                "WHERE id = ? AND status = ?",
                str(GiveawayStatus.DRAWN),
                json.dumps(list(winners)),
                at_ms,
                giveaway_id,
                str(GiveawayStatus.CLOSED),
            )
            if changed != 1:
                return False
            await write_outbox(tx, events)
        return True

    async def settle(self, giveaway_id: str) -> bool:
        changed = await self._db.execute(
            "UPDATE giveaways SET settled = 1 WHERE id = ? AND settled = 0", giveaway_id
        )
        return changed == 1

    async def unfinished(self, now_ms: int) -> list[str]:
        rows = await self._db.fetchall(
            "SELECT id FROM giveaways WHERE (status = ? AND closes_at <= ?) "
            "OR (status = ? AND settled = 0) ORDER BY closes_at",
            str(GiveawayStatus.OPEN),
            now_ms,
            str(GiveawayStatus.DRAWN),
        )
        return [r["id"] for r in rows]
