"""SqlReferralStore: share codes, visits and last touches in the SQL store (SQLite and
PostgreSQL). Codes and visits are rows unique on their key, written with ``ON CONFLICT``, so a
repeated share or visit changes nothing; the last touch is an upsert that only moves forward in
time. Commissions are not stored twice: the figures read the journal's `referrer_payable` lines
of the show's orders."""

from __future__ import annotations

from collections import defaultdict

from livecommerce.adapters.sql.database import Database
from livecommerce.domain.ledger import Account, EntryKind
from livecommerce.services.ports import ReferrerFigures, ShareCode

_UPSERT_TOUCH = (
    "INSERT INTO referral_touches (visitor, show_id, code, touched_at) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (visitor, show_id) DO UPDATE SET code = excluded.code, "
    "touched_at = excluded.touched_at WHERE excluded.touched_at >= referral_touches.touched_at"
)


class SqlReferralStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def share_code(self, show_id: str, user_id: str, new_code: str, at_ms: int) -> str:
        await self._db.execute(
            "INSERT INTO referral_codes (code, show_id, user_id, created_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (show_id, user_id) DO NOTHING",
            new_code,
            show_id,
            user_id,
            at_ms,
        )
        row = await self._db.fetchone(
            "SELECT code FROM referral_codes WHERE show_id = ? AND user_id = ?", show_id, user_id
        )
        assert row is not None  # just written, or there already
        return str(row["code"])

    async def code(self, code: str) -> ShareCode | None:
        row = await self._db.fetchone(
            "SELECT code, show_id, user_id FROM referral_codes WHERE code = ?", code
        )
        return None if row is None else ShareCode(row["code"], row["show_id"], row["user_id"])

    async def touch(self, visitor: str, code: ShareCode, at_ms: int) -> None:
        await self._db.execute(_UPSERT_TOUCH, visitor, code.show_id, code.code, at_ms)

    async def count_visit(self, code: str, visitor: str, day: int) -> bool:
        added = await self._db.execute(
            "INSERT INTO referral_visits (code, visitor, day) VALUES (?, ?, ?) "
            "ON CONFLICT (code, visitor, day) DO NOTHING",
            code,
            visitor,
            day,
        )
        return added == 1

    async def claim(self, visitor: str, account: str) -> int:
        rows = await self._db.fetchall(
            "SELECT show_id, code, touched_at FROM referral_touches WHERE visitor = ?", visitor
        )
        for row in rows:
            await self._db.execute(
                _UPSERT_TOUCH, account, row["show_id"], row["code"], row["touched_at"]
            )
        return len(rows)

    async def last_touch(self, visitor: str, show_id: str) -> tuple[ShareCode, int] | None:
        row = await self._db.fetchone(
            "SELECT c.code, c.show_id, c.user_id, t.touched_at FROM referral_touches t "
            "JOIN referral_codes c ON c.code = t.code WHERE t.visitor = ? AND t.show_id = ?",
            visitor,
            show_id,
        )
        if row is None:
            return None
        return ShareCode(row["code"], row["show_id"], row["user_id"]), int(row["touched_at"])

    async def referral_bps(self, show_id: str) -> int:
        row = await self._db.fetchone(
            "SELECT referral_bps FROM referral_programs WHERE show_id = ?", show_id
        )
        return 0 if row is None else int(row["referral_bps"])

    async def set_referral_bps(self, show_id: str, bps: int, at_ms: int) -> None:
        await self._db.execute(
            "INSERT INTO referral_programs (show_id, referral_bps, updated_at) VALUES (?, ?, ?) "
            "ON CONFLICT (show_id) DO UPDATE SET referral_bps = excluded.referral_bps, "
            "updated_at = excluded.updated_at",
            show_id,
            bps,
            at_ms,
        )

    async def figures(self, show_id: str) -> list[ReferrerFigures]:
        codes = await self._db.fetchall(
            "SELECT c.code, c.user_id, u.name, (SELECT COUNT(*) FROM referral_visits v "
            "WHERE v.code = c.code) AS visits FROM referral_codes c "
            "JOIN users u ON u.id = c.user_id WHERE c.show_id = ?",
            show_id,
        )
        lines = await self._db.fetchall(
            "SELECT l.party, t.order_id, t.kind, l.amount FROM journal_lines l "
            "JOIN journal_transactions t ON t.id = l.transaction_id "
            "JOIN orders o ON o.id = t.order_id WHERE o.show_id = ? AND l.account = ?",
            show_id,
            str(Account.REFERRER_PAYABLE),
        )
        orders: dict[str, set[str]] = defaultdict(set)
        earned: dict[str, int] = defaultdict(int)
        for line in lines:
            if line["kind"] == EntryKind.PAYMENT:
                orders[line["party"]].add(line["order_id"])
            earned[line["party"]] -= int(line["amount"])
        out = [
            ReferrerFigures(
                referrer_id=row["user_id"],
                name=row["name"],
                code=row["code"],
                visits=int(row["visits"]),
                orders=len(orders[row["user_id"]]),
                commission=earned[row["user_id"]],
            )
            for row in codes
        ]
        out.sort(key=lambda f: (-f.commission, -f.visits, f.referrer_id))
        return out
