"""SQL store for "ask someone who bought it" (SQLite or PostgreSQL): questions, the per-buyer
ask log (``buyer_question_routes``: who each question went to, and when), answers (one per
buyer per question by a unique pair) and the verified-buyer reads over orders, the journal and
the notification preferences.

Routing is one transaction: the question, its routes and its ``buyer_question.asked`` outbox
event commit together. The weekly cap holds under concurrency because the candidates' rows in
``buyer_ask_locks`` are locked (``SELECT … ORDER BY buyer_id FOR UPDATE`` on PostgreSQL, in one
order so two routings never deadlock; ``BEGIN IMMEDIATE`` makes SQLite's writers take turns)
before their asks of the week are counted and the new ones inserted.
"""

from __future__ import annotations

from typing import Any

from livecommerce.adapters.sql.database import Database, Executor, UniqueViolation
from livecommerce.adapters.sql.notifications import write_outbox
from livecommerce.domain.buyer_questions import (
    ROUTE_MAX,
    VERIFIED,
    WEEK_MS,
    WEEKLY_CAP,
    BuyerAnswer,
    BuyerQuestion,
    Candidate,
    Purchase,
    choose_buyers,
)
from livecommerce.domain.notifications import buyer_question_event

Row = dict[str, Any]
#: Candidates read per routing (the least recently asked): enough for `ROUTE_MAX` after the
#: recount under the locks drops any that filled their week meanwhile.
CANDIDATES = 4 * ROUTE_MAX
_VERIFIED = tuple(str(s) for s in VERIFIED)
_IN_VERIFIED = "(" + ", ".join("?" for _ in _VERIFIED) + ")"

_QUESTION = (
    "SELECT q.*, u.name AS asker_name, p.name AS product_name FROM buyer_questions q "
    "LEFT JOIN users u ON u.id = q.asker_id LEFT JOIN products p ON p.id = q.product_id"
)
_ANSWER = (
    "SELECT a.*, u.name AS buyer_name FROM buyer_answers a LEFT JOIN users u ON u.id = a.buyer_id"
)


def _marks(values: list[str]) -> str:
    return ", ".join("?" for _ in values)


def _answer(r: Row) -> BuyerAnswer:
    return BuyerAnswer(
        id=r["id"],
        question_id=r["question_id"],
        product_id=r["product_id"],
        buyer_id=r["buyer_id"],
        buyer_name=r["buyer_name"] or "",
        variant_label=r["variant_label"],
        bought_at_ms=int(r["bought_at"]),
        text=r["text"],
        at_ms=int(r["at"]),
    )


def _question(r: Row, answers: list[BuyerAnswer]) -> BuyerQuestion:
    return BuyerQuestion(
        id=r["id"],
        product_id=r["product_id"],
        product_name=r["product_name"] or "",
        seller_id=r["seller_id"],
        asker_id=r["asker_id"],
        asker_name=r["asker_name"] or "",
        text=r["text"],
        asked_at_ms=int(r["asked_at"]),
        routed_to=int(r["routed_to"]),
        answers=tuple(a for a in answers if a.question_id == r["id"]),
    )


class SqlBuyerQuestionStore:
    """BuyerQuestionStore over the app's Database."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def _candidates(
        self,
        db: Executor,
        question: BuyerQuestion,
        limit: int,
        only: list[str] | None = None,
    ) -> list[Candidate]:
        """Opted-in verified buyers under the cap, least recently asked first (of ``only``
        when given)."""
        excluded = [question.asker_id, question.seller_id]
        among = f" AND o.buyer_id IN ({_marks(only)})" if only else ""
        rows = await db.fetchall(
            "SELECT * FROM (SELECT b.user_id, "  # noqa: S608 why: fixed SQL text and placeholders only
            "(SELECT MAX(r.routed_at) FROM buyer_question_routes r "
            " WHERE r.buyer_id = b.user_id) AS last_asked, "
            "(SELECT COUNT(*) FROM buyer_question_routes r "
            " WHERE r.buyer_id = b.user_id AND r.routed_at > ?) AS recent "
            "FROM (SELECT DISTINCT o.buyer_id AS user_id FROM orders o "
            " JOIN notification_preferences p ON p.user_id = o.buyer_id "
            f" WHERE o.product_id = ? AND o.status IN {_IN_VERIFIED} "
            f" AND p.answer_buyer_questions = 1 AND o.buyer_id NOT IN ({_marks(excluded)})"
            f"{among}) b) c WHERE c.recent < ? "
            "ORDER BY COALESCE(c.last_asked, -1), c.user_id LIMIT ?",
            question.asked_at_ms - WEEK_MS, question.product_id, *_VERIFIED, *excluded,
            *(only or []), WEEKLY_CAP, limit,
        )  # fmt: skip
        return [
            Candidate(
                r["user_id"],
                None if r["last_asked"] is None else int(r["last_asked"]),
                int(r["recent"]),
            )
            for r in rows
        ]

    async def add_question(self, question: BuyerQuestion, limit: int) -> list[str]:
        """Store the question, route it to up to ``limit`` opted-in verified buyers (least
        recently asked first, under the weekly cap) and write its outbox event, in one
        transaction; the buyers it went to."""
        now = question.asked_at_ms
        first = await self._candidates(self._db, question, CANDIDATES)
        for c in sorted(first, key=lambda c: c.user_id):  # lock rows exist before the routing
            await self._db.execute(
                "INSERT INTO buyer_ask_locks (buyer_id, created_at) VALUES (?, ?) "
                "ON CONFLICT (buyer_id) DO NOTHING",
                c.user_id,
                now,
            )
        async with self._db.transaction() as tx:
            ids = [c.user_id for c in first]
            if ids and tx.dialect == "postgres":
                await tx.fetchall(
                    "SELECT buyer_id FROM buyer_ask_locks "  # noqa: S608 why: fixed SQL text and placeholders only
                    f"WHERE buyer_id IN ({_marks(ids)}) ORDER BY buyer_id FOR UPDATE",
                    *ids,
                )
            fresh = await self._candidates(tx, question, limit, only=ids) if ids else []
            chosen = choose_buyers(fresh, limit)
            await tx.execute(
                "INSERT INTO buyer_questions (id, product_id, seller_id, asker_id, text, "
                "routed_to, asked_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                question.id, question.product_id, question.seller_id, question.asker_id,
                question.text, len(chosen), now,
            )  # fmt: skip
            for buyer_id in chosen:
                await tx.execute(
                    "INSERT INTO buyer_question_routes (question_id, buyer_id, routed_at) "
                    "VALUES (?, ?, ?)",
                    question.id,
                    buyer_id,
                    now,
                )
            if chosen:
                event = buyer_question_event(
                    question.id, question.product_id, question.product_name, question.text,
                    chosen, now,
                )  # fmt: skip
                await write_outbox(tx, [event])
        return chosen

    async def purchase(self, product_id: str, user_id: str) -> Purchase | None:
        """The user's first verified order of the product, with when it was paid."""
        row = await self._db.fetchone(
            "SELECT o.id, o.variant_id, COALESCE((SELECT MIN(t.created_at) "  # noqa: S608 why: fixed SQL text and placeholders only
            "FROM journal_transactions t WHERE t.order_id = o.id AND t.kind = 'payment'), "
            "o.created_at) AS paid_at FROM orders o "
            f"WHERE o.product_id = ? AND o.buyer_id = ? AND o.status IN {_IN_VERIFIED} "
            "ORDER BY paid_at, o.id LIMIT 1",
            product_id,
            user_id,
            *_VERIFIED,
        )
        if row is None:
            return None
        return Purchase(row["id"], row["variant_id"], int(row["paid_at"]))

    async def add_answer(self, answer: BuyerAnswer, order_id: str) -> bool:
        """False when this buyer has answered this question already."""
        try:
            await self._db.execute(
                "INSERT INTO buyer_answers (id, question_id, product_id, buyer_id, order_id, "
                "variant_label, bought_at, text, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                answer.id, answer.question_id, answer.product_id, answer.buyer_id, order_id,
                answer.variant_label, answer.bought_at_ms, answer.text, answer.at_ms,
            )  # fmt: skip
        except UniqueViolation:
            return False
        return True

    async def _with_answers(self, rows: list[Row]) -> list[BuyerQuestion]:
        ids = [r["id"] for r in rows]
        answers: list[BuyerAnswer] = []
        if ids:
            answers = [
                _answer(a)
                for a in await self._db.fetchall(
                    _ANSWER + f" WHERE a.question_id IN ({_marks(ids)}) ORDER BY a.at, a.id",
                    *ids,
                )
            ]
        return [_question(r, answers) for r in rows]

    async def get_question(self, question_id: str) -> BuyerQuestion | None:
        row = await self._db.fetchone(_QUESTION + " WHERE q.id = ?", question_id)
        return (await self._with_answers([row]))[0] if row else None

    async def get_answer(self, answer_id: str) -> BuyerAnswer | None:
        row = await self._db.fetchone(_ANSWER + " WHERE a.id = ?", answer_id)
        return _answer(row) if row else None

    async def product_questions(
        self, product_id: str, limit: int, offset: int
    ) -> tuple[list[BuyerQuestion], int]:
        """A page of the product's questions, newest first, and how many it has."""
        rows = await self._db.fetchall(
            _QUESTION + " WHERE q.product_id = ? ORDER BY q.asked_at DESC, q.id DESC "
            "LIMIT ? OFFSET ?",
            product_id,
            limit,
            offset,
        )
        total = await self._db.fetchone(
            "SELECT COUNT(*) AS n FROM buyer_questions WHERE product_id = ?", product_id
        )
        return await self._with_answers(rows), int(total["n"]) if total else 0

    async def routed_to(self, user_id: str, limit: int) -> list[BuyerQuestion]:
        """The questions routed to the user, newest first."""
        rows = await self._db.fetchall(
            _QUESTION + " JOIN buyer_question_routes r ON r.question_id = q.id "
            "WHERE r.buyer_id = ? ORDER BY q.asked_at DESC, q.id DESC LIMIT ?",
            user_id,
            limit,
        )
        return await self._with_answers(rows)
