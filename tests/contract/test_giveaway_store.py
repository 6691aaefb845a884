"""SqlGiveawayStore on SQLite and PostgreSQL: one entry per person, no entry after the close,
the close and the draw happen once, and entries racing the close are either in the frozen,
hashed list or refused, never added after it."""

from __future__ import annotations

import asyncio

from livecommerce.adapters.sql.database import PostgresDatabase, SqliteDatabase, migrate
from livecommerce.adapters.sql.giveaways import SqlGiveawayStore
from livecommerce.domain.giveaways import Entry, EntryMode, GiveawayStatus, entries_hash
from livecommerce.services.ports import GiveawayRecord

CLOSES = 10_000


def giveaway(gid: str) -> GiveawayRecord:
    return GiveawayRecord(
        id=gid, show_id="shw_1", seller_id="usr_s", product_id="prd_1", variant_id="var_1",
        winners_count=2, entry=EntryMode.CHAT_KEYWORD, keyword="win", requires_follow=False,
        seed="00" * 32, salt="salt", commitment="c", status=GiveawayStatus.OPEN,
        created_at_ms=0, closes_at_ms=CLOSES,
    )  # fmt: skip


async def test_entries_close_and_draw_happen_once(db: SqliteDatabase | PostgresDatabase) -> None:
    """A second entry answers the first; the close is refused before its time, happens once
    after it with the hash of the entries; entries after it are refused (a known one is still
    found); the draw is recorded once and the giveaway settles once."""
    await migrate(db)
    store = SqlGiveawayStore(db)
    await store.add_giveaway(giveaway("gvw_1"))
    assert [("gvw_1", "win")] == await store.keywords("shw_1")
    assert "ent_a" == await store.enter("gvw_1", Entry("ent_a", "ea"), "usr_a", 1)
    assert "ent_a" == await store.enter("gvw_1", Entry("ent_x", "ea"), "usr_a", 2)
    assert "ent_b" == await store.enter("gvw_1", Entry("ent_b", "eb"), "usr_b", 3)
    assert await store.enter("gvw_1", Entry("ent_late", "el"), "usr_l", CLOSES) is None
    assert not await store.close("gvw_1", CLOSES - 1)
    assert [True, False] == [await store.close("gvw_1", CLOSES + n) for n in range(2)]
    closed = await store.giveaway("gvw_1")
    assert closed is not None
    frozen = [Entry("ent_a", "ea"), Entry("ent_b", "eb")]
    assert (GiveawayStatus.CLOSED, entries_hash(frozen)) == (closed.status, closed.entries_hash)
    assert [] == await store.keywords("shw_1")
    assert await store.enter("gvw_1", Entry("ent_c", "ec"), "usr_c", 5) is None
    assert "ent_b" == await store.enter("gvw_1", Entry("ent_y", "eb"), "usr_b", 5)
    assert [] == await store.unfinished(CLOSES * 2)
    assert [True, False] == [
        await store.mark_drawn("gvw_1", ["ent_b", "ent_a"], CLOSES + 5) for _ in range(2)
    ]
    drawn = await store.giveaway("gvw_1")
    assert drawn is not None
    assert (GiveawayStatus.DRAWN, ("ent_b", "ent_a")) == (drawn.status, drawn.winners)
    assert ["gvw_1"] == await store.unfinished(CLOSES * 2)
    assert [True, False] == [await store.settle("gvw_1") for _ in range(2)]
    assert [] == await store.unfinished(CLOSES * 2)


async def test_entries_racing_the_close_are_frozen_or_refused(
    db: SqliteDatabase | PostgresDatabase,
) -> None:
    """60 entries sent while the close runs: every accepted one is in the list the close
    hashed, every refused one is not in the store."""
    await migrate(db)
    store = SqlGiveawayStore(db)
    await store.add_giveaway(giveaway("gvw_2"))

    async def enter(n: int) -> str | None:
        return await store.enter("gvw_2", Entry(f"ent_{n:03d}", f"e{n}"), f"usr_{n}", CLOSES - 1)

    results = await asyncio.gather(
        *(enter(n) for n in range(30)),
        store.close("gvw_2", CLOSES),
        *(enter(n) for n in range(30, 60)),
    )
    closed = results[30]
    assert closed is True
    accepted = [r for n, r in enumerate(results) if n != 30 and r is not None]
    stored = await store.entries("gvw_2")
    assert sorted(accepted) == [entry.id for entry, _ in stored]
    record = await store.giveaway("gvw_2")
    assert record is not None
    assert entries_hash([entry for entry, _ in stored]) == record.entries_hash
