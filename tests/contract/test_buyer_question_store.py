"""The buyer-question store on SQLite and PostgreSQL: questions routed at once from two nodes
(two connections to one database) never ask a buyer more than three times in a week, and use
every ask the week has left; only opted-in verified buyers are routed to."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from livecommerce.adapters.sql.accounts import SqlAccountStore
from livecommerce.adapters.sql.buyer_questions import SqlBuyerQuestionStore
from livecommerce.adapters.sql.database import PostgresDatabase, SqliteDatabase, open_database
from livecommerce.domain.access import Role
from livecommerce.domain.buyer_questions import ROUTE_MAX, WEEKLY_CAP, BuyerQuestion
from livecommerce.ids import new_id
from livecommerce.services.ports import User

pytestmark = pytest.mark.timeout(60)
NOW = 1_800_000_000_000


async def buyer(db: SqliteDatabase | PostgresDatabase, product_id: str, *, status: str = "paid",
                opted_in: bool = True) -> str:  # fmt: skip
    """A user with one order of the product in ``status``, opted in (or not) to questions."""
    user = User(new_id("usr"), "Buyer", f"{new_id('m')}@example.test", Role.VIEWER, False, 0)
    await SqlAccountStore(db).add_user(user)
    await db.execute(
        "INSERT INTO orders (id, buyer_id, seller_id, show_id, offer_id, product_id, variant_id, "
        "quantity, unit_price_minor, total_minor, currency, status, idempotency_key, "
        "request_hash, created_at, updated_at, expires_at) "
        "VALUES (?, ?, 'usr_seller', 'shw_x', 'off_x', ?, NULL, 1, 100, 100, 'USD', ?, ?, 'h', "
        "?, ?, ?)",
        new_id("ord"), user.id, product_id, status, new_id("k"), NOW - 1, NOW - 1, NOW,
    )  # fmt: skip
    await db.execute(
        "INSERT INTO notification_preferences (user_id, answer_buyer_questions, updated_at) "
        "VALUES (?, ?, ?)",
        user.id,
        int(opted_in),
        NOW,
    )
    return user.id


def question(product_id: str) -> BuyerQuestion:
    return BuyerQuestion(
        id=new_id("bqn"), product_id=product_id, product_name="Boot", seller_id="usr_seller",
        asker_id=new_id("usr"), asker_name="Asker", text="Warm?", asked_at_ms=NOW, routed_to=0,
    )  # fmt: skip


async def test_questions_at_once_on_two_nodes_keep_the_weekly_cap(
    db: SqliteDatabase | PostgresDatabase, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """Twelve questions routed at once over two connections use exactly the eight buyers'
    twenty-four asks of the week, three each, and never reach the others."""
    url = (
        f"sqlite:///{tmp_path / 'store.db'}"
        if isinstance(db, SqliteDatabase)
        else request.getfixturevalue("postgres_url")
    )
    other = await open_database(url)
    try:
        product = new_id("prd")
        buyers = [await buyer(db, product) for _ in range(8)]
        outsiders = [
            await buyer(db, product, status="refunded"),
            await buyer(db, product, opted_in=False),
            await buyer(db, new_id("prd")),
        ]
        nodes = (SqlBuyerQuestionStore(db), SqlBuyerQuestionStore(other))
        routed = await asyncio.gather(
            *(nodes[n % 2].add_question(question(product), ROUTE_MAX) for n in range(12))
        )
        assert len(buyers) * WEEKLY_CAP == sum(len(r) for r in routed)
        assert all(len(r) <= ROUTE_MAX and len(set(r)) == len(r) for r in routed)
        counts = {b: sum(b in r for r in routed) for b in buyers + outsiders}
        assert {WEEKLY_CAP} == {counts[b] for b in buyers}
        assert {0} == {counts[b] for b in outsiders}
        stored = await db.fetchone("SELECT COUNT(*) AS n FROM buyer_question_routes")
        assert stored is not None and len(buyers) * WEEKLY_CAP == stored["n"]
        events = await db.fetchone(
            "SELECT COUNT(*) AS n FROM outbox WHERE topic = 'buyer_question.asked'"
        )
        assert events is not None and sum(1 for r in routed if r) == events["n"]
    finally:
        await other.close()
