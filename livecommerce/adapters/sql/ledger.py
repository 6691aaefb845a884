"""SqlLedger: the append-only journal in the SQL store (SQLite or PostgreSQL).

A journal transaction is one row in `journal_transactions`, unique on (order_id, idempotency_key),
plus its signed lines. Nothing here updates or deletes; balances are sums over lines.
"""

from __future__ import annotations

from collections import defaultdict

from livecommerce.adapters.sql.database import Database, Executor, UniqueViolation
from livecommerce.domain.ledger import Account, EntryKind, JournalLine, JournalTransaction
from livecommerce.ids import new_id

_SELECT_LINES = (
    "SELECT t.id, t.order_id, t.idempotency_key, t.kind, t.currency, t.amount, "
    "t.created_at, l.line_no, l.account, l.party, l.amount AS line_amount "
    "FROM journal_transactions t JOIN journal_lines l ON l.transaction_id = t.id "
)


async def post(tx: Executor, txn: JournalTransaction) -> bool:
    """Append `txn` inside the caller's transaction; False if its key was already posted.

    The existence check makes the common replay cheap; the unique constraint is what makes it
    safe when two nodes race (the caller's transaction then rolls back on UniqueViolation).
    """
    seen = await tx.fetchone(
        "SELECT id FROM journal_transactions WHERE order_id = ? AND idempotency_key = ?",
        txn.order_id,
        txn.idempotency_key,
    )
    if seen is not None:
        return False
    txn_id = new_id("jtx")
    await tx.execute(
        "INSERT INTO journal_transactions (id, order_id, idempotency_key, kind, currency, amount, "
        "created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        txn_id,
        txn.order_id,
        txn.idempotency_key,
        str(txn.kind),
        txn.currency,
        txn.amount,
        txn.at_ms,
    )
    for line_no, line in enumerate(txn.lines):
        await tx.execute(
            "INSERT INTO journal_lines (transaction_id, line_no, account, party, amount) "
            "VALUES (?, ?, ?, ?, ?)",
            txn_id,
            line_no,
            str(line.account),
            line.party,
            line.amount,
        )
    return True


class SqlLedger:
    """Reads of the journal; writes go through `post` inside an order's transaction."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def transactions(self, order_id: str | None = None) -> list[JournalTransaction]:
        where, args = ("WHERE t.order_id = ?", [order_id]) if order_id else ("", [])
        sql = _SELECT_LINES + where + " ORDER BY t.created_at, t.id, l.line_no"
        rows = await self._db.fetchall(sql, *args)
        lines: dict[str, list[JournalLine]] = defaultdict(list)
        heads: dict[str, dict[str, object]] = {}
        for row in rows:
            heads.setdefault(row["id"], row)
            lines[row["id"]].append(
                JournalLine(Account(row["account"]), row["party"], int(row["line_amount"]))
            )
        return [
            JournalTransaction(
                order_id=str(head["order_id"]),
                idempotency_key=str(head["idempotency_key"]),
                kind=EntryKind(str(head["kind"])),
                currency=str(head["currency"]),
                amount=int(str(head["amount"])),
                lines=tuple(lines[txn_id]),
                at_ms=int(str(head["created_at"])),
            )
            for txn_id, head in heads.items()
        ]

    async def balance(self, account: Account, party: str, currency: str) -> int:
        """One account's balance, derived from the lines."""
        row = await self._db.fetchone(
            "SELECT COALESCE(SUM(l.amount), 0) AS total FROM journal_lines l "
            "JOIN journal_transactions t ON t.id = l.transaction_id "
            "WHERE l.account = ? AND l.party = ? AND t.currency = ?",
            str(account),
            party,
            currency,
        )
        return int(row["total"]) if row else 0


__all__ = ["SqlLedger", "UniqueViolation", "post"]
