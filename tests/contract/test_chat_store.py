"""The hub's SQL store on SQLite and on a real PostgreSQL: seq, history, moderation, Q&A."""

from __future__ import annotations

import asyncio

from livecommerce.adapters.sql.database import PostgresDatabase, SqliteDatabase
from livecommerce.adapters.sql.hub import SqlHubStore
from livecommerce.domain.chat import ChatAuthor, MessageStatus
from livecommerce.domain.moderation import AuditEntry, ChatPolicy, ModAction, ReportStatus
from livecommerce.domain.qa import Question
from livecommerce.services.ports import Report

Db = SqliteDatabase | PostgresDatabase
ALICE = ChatAuthor("usr_a", "Alice", ())
BOB = ChatAuthor("usr_b", "Bob", ("guest",))


async def test_seq_is_per_show_and_never_repeats(db: Db) -> None:
    """Concurrent appends get distinct consecutive seqs; each show counts on its own."""
    store = SqlHubStore(db)
    lines = await asyncio.gather(
        *(store.append("s1", ALICE, f"l{i}", i, MessageStatus.VISIBLE) for i in range(20))
    )
    assert sorted(m.seq for m in lines) == list(range(1, 21))
    other = await store.append("s2", BOB, "hi", 1, MessageStatus.VISIBLE)
    assert other.seq == 1
    assert other.author.badges == ("guest",)


async def test_history_recent_and_after(db: Db) -> None:
    """recent() gives the last visible lines oldest first; after() everything past a seq."""
    store = SqlHubStore(db)
    for i in range(5):
        await store.append("s", ALICE, f"l{i}", i, MessageStatus.VISIBLE)
    held = await store.append("s", BOB, "held", 9, MessageStatus.HELD)
    assert [m.seq for m in await store.recent("s", 3)] == [3, 4, 5]
    assert [m.text for m in await store.after("s", 3, 100)] == ["l3", "l4"]
    assert [m.id for m in await store.held("s", 10)] == [held.id]
    released = await store.release(held.id, 10)
    assert released is not None
    assert (released.status, released.seq) == (MessageStatus.VISIBLE, 7)
    assert [m.seq for m in await store.after("s", 5, 100)] == [7]


async def test_delete_and_hide_user(db: Db) -> None:
    """Deleted and hidden lines leave history; hide_user reports the lines it hid."""
    store = SqlHubStore(db)
    a1 = await store.append("s", ALICE, "a1", 1, MessageStatus.VISIBLE)
    b1 = await store.append("s", BOB, "b1", 2, MessageStatus.VISIBLE)
    b2 = await store.append("s", BOB, "b2", 3, MessageStatus.VISIBLE)
    deleted = await store.set_status(b1.id, MessageStatus.DELETED)
    assert deleted is not None
    assert deleted.status is MessageStatus.DELETED
    hidden = await store.hide_user("s", BOB.id)
    assert [m.id for m in hidden] == [b2.id]
    assert [m.id for m in await store.recent("s", 10)] == [a1.id]
    assert await store.last_message_ms("s", BOB.id) == 3
    assert await store.last_message_ms("s", "nobody") == 0


async def test_moderation_state(db: Db) -> None:
    """Policy, bans, timeouts, reports and the audit log round-trip."""
    store = SqlHubStore(db)
    assert await store.policy("s") == ChatPolicy()
    policy = ChatPolicy(slow_mode_seconds=5, banned_words=("spam",), hold_for_review=True)
    await store.set_policy("s", policy, 1)
    await store.set_policy("s", policy, 2)
    assert await store.policy("s") == policy
    await store.ban("s", "u", "mod", "abuse", 1)
    await store.ban("s", "u", "mod", "again", 2)
    await store.mute("s", "v", 5000)
    await store.mute("s", "v", 9000)
    assert (await store.standing("s", "u")).banned
    assert (await store.standing("s", "v")).muted_until_ms == 9000
    assert await store.unban("s", "u")
    assert not await store.unban("s", "u")
    line = await store.append("s", BOB, "x", 1, MessageStatus.VISIBLE)
    report = Report("rep_1", "s", line.id, "usr_a", "rude", 5)
    assert await store.add_report(report)
    assert not await store.add_report(Report("rep_2", "s", line.id, "usr_a", "again", 6))
    assert [r.id for r in await store.reports("s", ReportStatus.OPEN)] == ["rep_1"]
    resolved = await store.resolve_report("rep_1")
    assert resolved is not None
    assert resolved.status is ReportStatus.RESOLVED
    for i, action in enumerate((ModAction.DELETE, ModAction.BAN)):
        await store.append_audit(
            AuditEntry(f"aud_{i}", "s", "mod", "Mod", action, i, "u", None, "", {"n": i})
        )
    entries = await store.audit("s", 10)
    assert [(e.action, e.detail) for e in entries] == [
        (ModAction.BAN, {"n": 1}),
        (ModAction.DELETE, {"n": 0}),
    ]


async def test_one_vote_per_user(db: Db) -> None:
    """A user's second upvote changes nothing; answers keep the media timestamp."""
    store = SqlHubStore(db)
    await store.add_question(Question("q", "s", ALICE, "red?", 0, 1))
    assert await store.upvote("q", "usr_b", 2)
    assert not await store.upvote("q", "usr_b", 3)
    answered = await store.answer("q", "seller", "yes", 4, 61.5)
    assert answered is not None
    assert (answered.votes, answered.answered, answered.on_air_media_ts) == (1, True, 61.5)
    assert [q.id for q in await store.questions("s", 10)] == ["q"]
