"""The SQL store contract, identical on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from livecommerce.adapters.sql.accounts import SqlAccountStore
from livecommerce.adapters.sql.catalog import SqlCatalogStore
from livecommerce.adapters.sql.database import (
    PostgresDatabase,
    SqliteDatabase,
    UniqueViolation,
    migrate,
    migrations,
    open_database,
)
from livecommerce.adapters.sql.shows import SqlShowStore
from livecommerce.domain.access import Role
from livecommerce.domain.shows import ShowStatus
from livecommerce.errors import Conflict
from livecommerce.services.ports import Product, Show, User, Variant

Db = SqliteDatabase | PostgresDatabase


def _user(uid: str, email: str | None) -> User:
    return User(uid, f"name-{uid}", email, Role.SELLER, email is None, 1000, "hash")


async def test_migrations_are_recorded_and_idempotent(db: Db) -> None:
    """Running migrate again applies nothing and every version is recorded once."""
    assert [] == await migrate(db)
    rows = await db.fetchall("SELECT version FROM schema_migrations ORDER BY version")
    assert [v for v, _, _ in migrations(db.dialect)] == [r["version"] for r in rows]


async def test_nodes_starting_together_migrate_an_empty_database_once(postgres_url: str) -> None:
    """Three nodes opening one empty PostgreSQL at once take turns, from the bookkeeping table
    on: none fails, and every migration is applied by exactly one of them."""
    opened = await asyncio.gather(*[open_database(postgres_url) for _ in range(3)])
    try:
        rows = await opened[0].fetchall("SELECT version FROM schema_migrations ORDER BY version")
        assert [v for v, _, _ in migrations("postgres")] == [r["version"] for r in rows]
    finally:
        for db in opened:
            await db.close()


async def test_unique_violation_and_rollback(db: Db) -> None:
    """A duplicate key raises UniqueViolation and rolls the whole transaction back."""
    accounts = SqlAccountStore(db)
    await accounts.add_user(_user("u1", "a@x.example"))
    insert = (
        "INSERT INTO users (id, name, email, role, is_guest, created_at) VALUES (?, ?, ?, ?, ?, ?)"
    )

    async def two_inserts() -> None:
        async with db.transaction() as tx:
            await tx.execute(insert, "u2", "n", None, "viewer", False, 1)
            await tx.execute(insert, "u1", "n", None, "viewer", False, 1)

    with pytest.raises(UniqueViolation):
        await two_inserts()
    assert await accounts.user_by_id("u2") is None


async def test_accounts_and_tokens(db: Db) -> None:
    """Users by id and e-mail (a seller with the handle made from its name), taken e-mails
    conflict, tokens expire and can be revoked."""
    accounts = SqlAccountStore(db)
    await accounts.add_user(_user("u1", "a@x.example"))
    user = dataclasses.replace(_user("u1", "a@x.example"), handle="name_u1")
    await accounts.add_user(_user("g1", None))
    await accounts.add_user(_user("g2", None))  # many guests without e-mail
    with pytest.raises(Conflict):
        await accounts.add_user(_user("u9", "a@x.example"))
    assert user == await accounts.user_by_email("a@x.example")
    await accounts.add_token("ses_1", "h1", "u1", "api", 1000, 5000)
    assert user == await accounts.user_by_token("h1", 4999)
    assert await accounts.user_by_token("h1", 5000) is None
    await accounts.delete_token("h1")
    assert await accounts.user_by_token("h1", 2000) is None


async def test_sessions_are_listed_and_ended_per_user(db: Db) -> None:
    """A user's unexpired sessions come newest first with their last use; ending one needs its
    owner, and ending "all but one" keeps exactly that one and leaves other users' alone."""
    accounts = SqlAccountStore(db)
    for uid in ("u1", "u2"):
        await accounts.add_user(_user(uid, f"{uid}@x.example"))
    await accounts.add_token("ses_a", "ha", "u1", "session", 1000, 90_000_000)
    await accounts.add_token("ses_b", "hb", "u1", "api", 2000, 90_000_000)
    await accounts.add_token("ses_c", "hc", "u1", "api", 3000, 4000)  # expired by 5000
    await accounts.add_token("ses_d", "hd", "u2", "api", 2500, 90_000_000)
    await accounts.user_by_token("ha", 70_000)  # a use more than a minute after sign-in
    await accounts.user_by_token("ha", 80_000)  # too soon after that one to be written
    listed = await accounts.sessions_of("u1", 5000)
    assert [("ses_b", "hb", "api", 2000), ("ses_a", "ha", "session", 70_000)] == [
        (s.id, s.token_digest, s.kind, s.last_seen_at) for s in listed
    ]
    assert not await accounts.delete_session("u2", "ses_a")
    assert await accounts.delete_session("u1", "ses_a")
    await accounts.add_token("ses_e", "he", "u1", "api", 6000, 90_000_000)
    assert 2 == await accounts.delete_sessions("u1", "he")  # ses_b and the expired ses_c
    assert ["ses_e"] == [s.id for s in await accounts.sessions_of("u1", 7000)]
    assert ["ses_d"] == [s.id for s in await accounts.sessions_of("u2", 7000)]


async def test_shows_keys_and_hosts(db: Db) -> None:
    """Shows round-trip, filter by status and seller, keep hashed keys and host lists."""
    accounts = SqlAccountStore(db)
    for uid in ("s1", "s2", "h1"):
        await accounts.add_user(_user(uid, f"{uid}@x.example"))
    shows = SqlShowStore(db)
    a = Show("a", "s1", "A", "", ShowStatus.SCHEDULED, 5000, None, None, 100)
    b = Show("b", "s2", "B", "d", ShowStatus.LIVE, None, 200, None, 150)
    await shows.add_show(a, "hash-a")
    await shows.add_show(b, "hash-b")
    assert a == await shows.get_show("a")
    assert ["b"] == [s.id for s in await shows.list_shows([ShowStatus.LIVE])]
    assert ["a"] == [s.id for s in await shows.list_shows(seller_id="s1")]
    await shows.update_show("a", status=ShowStatus.LIVE, started_at=300, title="A2")
    got = await shows.get_show("a")
    assert got is not None and (
        got.status,
        got.started_at,
        got.title,
    ) == (ShowStatus.LIVE, 300, "A2")
    await shows.set_stream_key_hash("a", "hash-a2", 400)
    assert "hash-a2" == await shows.stream_key_hash("a")
    await shows.add_host("a", "h1", 500)
    await shows.add_host("a", "h1", 600)
    got = await shows.get_show("a")
    assert got is not None and frozenset({"h1"}) == got.host_ids
    await shows.remove_host("a", "h1")
    got = await shows.get_show("a")
    assert got is not None and frozenset() == got.host_ids
    with pytest.raises(ValueError, match="not updatable"):
        await shows.update_show("a", seller_id="s2")


async def test_catalog_products_with_variants(db: Db) -> None:
    """Products keep their variants in order with per-variant stock and optional price."""
    await SqlAccountStore(db).add_user(_user("s1", "s1@x.example"))
    catalog = SqlCatalogStore(db)
    product = Product(
        "p1",
        "s1",
        "Mug",
        "nice",
        1800,
        "USD",
        "/static/demo/mug.svg",
        10,
        (Variant("v1", "Rose", 4, None), Variant("v2", "Slate", 0, 2000)),
    )
    await catalog.add_product(product)
    assert product == await catalog.get_product("p1")
    assert [product] == await catalog.list_products("s1")
    assert [] == await catalog.list_products("nobody")


async def test_concurrent_transactions_do_not_interleave(db: Db) -> None:
    """Fifty concurrent read-modify-write transactions lose no update."""
    await SqlAccountStore(db).add_user(_user("s1", "s1@x.example"))
    catalog = SqlCatalogStore(db)
    await catalog.add_product(
        Product("p1", "s1", "Mug", "", 100, "USD", "", 1, (Variant("v1", "d", 0, None),))
    )
    lock = " FOR UPDATE" if db.dialect == "postgres" else ""

    async def bump() -> None:
        async with db.transaction() as tx:
            row = await tx.fetchone(f"SELECT stock FROM product_variants WHERE id = ?{lock}", "v1")
            assert row is not None
            await tx.execute(
                "UPDATE product_variants SET stock = ? WHERE id = ?", row["stock"] + 1, "v1"
            )

    await asyncio.gather(*(bump() for _ in range(50)))
    product = await catalog.get_product("p1")
    assert product is not None and product.variants[0].stock == 50
