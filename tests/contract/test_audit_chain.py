"""The moderation audit log's hash chain on SQLite and PostgreSQL: appends from two nodes at
once (two connections to one database) never fork it, a log written before the chain existed
is chained in its order, and an edited row no longer verifies."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from livecommerce.adapters.sql.database import PostgresDatabase, SqliteDatabase, open_database
from livecommerce.adapters.sql.hub import SqlHubStore
from livecommerce.domain.moderation import AuditEntry, ModAction, audit_genesis, verify_audit
from livecommerce.ids import new_id

pytestmark = pytest.mark.timeout(60)


def entry(show_id: str, n: int) -> AuditEntry:
    return AuditEntry(
        id=new_id("aud"),
        show_id=show_id,
        actor_id="usr_host",
        actor_name="Hana",
        action=ModAction.TIMEOUT,
        at_ms=1_700_000_000_000 + n,
        target_user_id=f"usr_{n}",
        reason=f"rule {n} — “quoted”",
        detail={"seconds": 60, "n": n},
        target_name="Bob",
    )


async def export(store: SqlHubStore, show_id: str) -> dict[str, object]:
    rows = await store.audit(show_id, 10_000)
    return {
        "show_id": show_id,
        "seed": {"log": "livecommerce.moderation_audit", "show_id": show_id},
        "head": rows[0].hash if rows else audit_genesis(show_id),
        "entries": [r.to_wire() for r in rows],
    }


async def test_two_nodes_append_one_chain(
    db: SqliteDatabase | PostgresDatabase, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    url = (
        f"sqlite:///{tmp_path / 'store.db'}"
        if isinstance(db, SqliteDatabase)
        else request.getfixturevalue("postgres_url")
    )
    other = await open_database(url)
    try:
        nodes = (SqlHubStore(db), SqlHubStore(other))
        show = "shw_chain"
        appended = await asyncio.gather(
            *(nodes[n % 2].append_audit(entry(show, n)) for n in range(40))
        )
        assert sorted(a.seq for a in appended) == list(range(1, 41))
        log = await export(nodes[0], show)
        assert verify_audit(log).ok
        assert log["head"] == max(appended, key=lambda a: a.seq).hash
        # another show's chain starts from its own genesis
        first = await nodes[1].append_audit(entry("shw_other", 0))
        assert (first.seq, first.prev_hash) == (1, audit_genesis("shw_other"))

        await db.execute(
            "UPDATE moderation_audit SET reason = ? WHERE show_id = ? AND seq = ?",
            "nothing happened", show, 7,
        )  # fmt: skip
        verdict = verify_audit(await export(nodes[0], show))
        assert (verdict.ok, verdict.bad_seq) == (False, 7)
    finally:
        await other.close()


async def test_a_log_from_before_the_chain_is_chained_in_order(
    db: SqliteDatabase | PostgresDatabase,
) -> None:
    store = SqlHubStore(db)
    show = "shw_legacy"
    for n in (2, 1, 3):  # written out of order; the chain follows their time
        e = entry(show, n)
        await db.execute(
            "INSERT INTO moderation_audit (id, show_id, actor_id, actor_name, action, "
            "target_user_id, target_message_id, reason, detail, at, target_name) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            e.id, show, e.actor_id, e.actor_name, str(e.action), e.target_user_id, None,
            e.reason, '{"seconds": 60}', e.at_ms, e.target_name,
        )  # fmt: skip
    newest = await store.append_audit(entry(show, 4))
    assert newest.seq == 4
    rows = await store.audit(show, 100)
    assert [r.seq for r in rows] == [4, 3, 2, 1]
    assert [r.at_ms for r in rows] == sorted((r.at_ms for r in rows), reverse=True)
    assert verify_audit(await export(store, show)).ok
