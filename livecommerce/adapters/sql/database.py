"""A small async SQL port with SQLite and PostgreSQL adapters and versioned migrations.

Queries are written once with ``?`` placeholders and portable types; the PostgreSQL adapter
rewrites placeholders to ``$n``. Rows come back as plain dicts so stores never see driver types.
A unique-constraint failure surfaces as :class:`UniqueViolation` on both engines, because
idempotency is enforced by unique constraints.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import re
import sqlite3
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path
from typing import Any, Literal, Protocol

import aiosqlite
import asyncpg

from livecommerce.errors import StoreUnavailable

Row = dict[str, Any]
Dialect = Literal["sqlite", "postgres"]


class UniqueViolation(Exception):
    """An INSERT or UPDATE hit a unique constraint (the idempotency guard fired)."""


class Executor(Protocol):
    """What a query needs: the database itself or an open transaction."""

    dialect: Dialect

    async def execute(self, sql: str, *args: Any) -> int: ...

    async def fetchone(self, sql: str, *args: Any) -> Row | None: ...

    async def fetchall(self, sql: str, *args: Any) -> list[Row]: ...


class Database(Executor, Protocol):
    def transaction(self) -> Any:
        """``async with db.transaction() as tx`` — all or nothing; do not nest."""

    async def ping(self) -> None: ...

    async def close(self) -> None: ...


def _args(args: Sequence[Any]) -> tuple[Any, ...]:
    # why: asyncpg refuses bool for INTEGER columns; booleans are stored as 0/1 everywhere
    return tuple(int(a) if isinstance(a, bool) else a for a in args)


_PLACEHOLDER = re.compile(r"\?")


@functools.lru_cache(maxsize=1024)
def to_postgres(sql: str) -> str:
    """Rewrite ``?`` placeholders to ``$1..$n`` (our SQL has no ``?`` inside literals); cached,
    since the same statements come back all the time (a batched one has thousands)."""
    counter = itertools.count(1)
    return _PLACEHOLDER.sub(lambda _m: f"${next(counter)}", sql)


class _SqliteExecutor:
    dialect: Dialect = "sqlite"

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn

    async def execute(self, sql: str, *args: Any) -> int:
        try:
            cursor = await self._conn.execute(sql, _args(args))
        except sqlite3.IntegrityError as exc:
            if "UNIQUE" in str(exc) or "PRIMARY KEY" in str(exc):
                raise UniqueViolation(str(exc)) from exc
            raise
        rowcount = cursor.rowcount
        await cursor.close()
        return rowcount

    async def fetchone(self, sql: str, *args: Any) -> Row | None:
        try:
            async with self._conn.execute(sql, _args(args)) as cursor:
                row = await cursor.fetchone()
        except sqlite3.IntegrityError as exc:
            raise UniqueViolation(str(exc)) from exc
        return dict(row) if row is not None else None

    async def fetchall(self, sql: str, *args: Any) -> list[Row]:
        async with self._conn.execute(sql, _args(args)) as cursor:
            rows = await cursor.fetchall()
        return [dict(r) for r in rows]


class SqliteDatabase(_SqliteExecutor):
    """One connection, serialised by a lock: SQLite has a single writer anyway."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        super().__init__(conn)
        self._lock = asyncio.Lock()

    @classmethod
    async def open(cls, path: str) -> SqliteDatabase:
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        conn = await aiosqlite.connect(path, isolation_level=None)
        conn.row_factory = sqlite3.Row
        await conn.execute("PRAGMA journal_mode=WAL")
        await conn.execute("PRAGMA foreign_keys=ON")
        await conn.execute("PRAGMA busy_timeout=5000")
        return cls(conn)

    async def execute(self, sql: str, *args: Any) -> int:
        async with self._lock:
            return await super().execute(sql, *args)

    async def fetchone(self, sql: str, *args: Any) -> Row | None:
        async with self._lock:
            return await super().fetchone(sql, *args)

    async def fetchall(self, sql: str, *args: Any) -> list[Row]:
        async with self._lock:
            return await super().fetchall(sql, *args)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[_SqliteExecutor]:
        async with self._lock:
            await self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield _SqliteExecutor(self._conn)
            except BaseException:
                await self._conn.execute("ROLLBACK")
                raise
            else:
                await self._conn.execute("COMMIT")

    async def ping(self) -> None:
        await self.fetchone("SELECT 1 AS ok")

    async def close(self) -> None:
        await self._conn.close()


class _PostgresExecutor:
    dialect: Dialect = "postgres"

    def __init__(self, conn: Any) -> None:
        self._conn = conn

    async def execute(self, sql: str, *args: Any) -> int:
        try:
            status: str = await self._conn.execute(to_postgres(sql), *_args(args))
        except asyncpg.UniqueViolationError as exc:
            raise UniqueViolation(str(exc)) from exc
        tail = status.rsplit(" ", 1)[-1]
        return int(tail) if tail.isdigit() else 0

    async def fetchone(self, sql: str, *args: Any) -> Row | None:
        try:
            row = await self._conn.fetchrow(to_postgres(sql), *_args(args))
        except asyncpg.UniqueViolationError as exc:
            raise UniqueViolation(str(exc)) from exc
        return dict(row) if row is not None else None

    async def fetchall(self, sql: str, *args: Any) -> list[Row]:
        rows = await self._conn.fetch(to_postgres(sql), *_args(args))
        return [dict(r) for r in rows]


async def _keep_session(_conn: asyncpg.Connection) -> None:
    """What a connection needs on its way back to the pool beyond asyncpg's own rollback of an
    open transaction: nothing, since no query of ours leaves session state behind (no SET,
    LISTEN, cursor or session advisory lock). asyncpg's default sends `RESET ALL; UNLISTEN *;
    …` on every release — a second round trip for every statement run outside a transaction,
    which a flash sale felt."""


class PostgresDatabase(_PostgresExecutor):
    """An asyncpg pool; every statement outside a transaction takes any free connection."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        super().__init__(pool)
        self._pool = pool

    @classmethod
    async def open(cls, url: str, pool_size: int) -> PostgresDatabase:
        url = url.replace("postgres://", "postgresql://", 1)
        try:
            pool = await asyncpg.create_pool(
                url, min_size=1, max_size=pool_size, timeout=10, reset=_keep_session
            )
        except (OSError, asyncpg.PostgresError) as exc:
            raise StoreUnavailable("cannot reach the PostgreSQL store") from exc
        return cls(pool)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[_PostgresExecutor]:
        async with self._pool.acquire() as conn, conn.transaction():
            yield _PostgresExecutor(conn)

    async def ping(self) -> None:
        await self._pool.fetchval("SELECT 1")

    async def close(self) -> None:
        await self._pool.close()


async def open_database(url: str, pool_size: int = 10) -> SqliteDatabase | PostgresDatabase:
    """Open the store named by ``url`` and bring its schema up to date."""
    db: SqliteDatabase | PostgresDatabase
    if url.startswith("sqlite:///"):
        db = await SqliteDatabase.open(url.removeprefix("sqlite:///"))
    else:
        db = await PostgresDatabase.open(url, pool_size)
    try:
        await migrate(db)
    except BaseException:
        await db.close()
        raise
    return db


_MIGRATION = re.compile(r"^(\d{4})_([a-z0-9_]+?)(?:\.(sqlite|postgres))?\.sql$")


def migrations(dialect: Dialect) -> list[tuple[int, str, str]]:
    """(version, name, sql) of every migration for ``dialect``, in order."""
    found: list[tuple[int, str, str]] = []
    folder = resources.files("livecommerce.adapters.sql") / "migrations"
    for entry in folder.iterdir():
        match = _MIGRATION.match(entry.name)
        if not match or (match.group(3) and match.group(3) != dialect):
            continue
        found.append((int(match.group(1)), match.group(2), entry.read_text(encoding="utf-8")))
    found.sort()
    versions = [v for v, _, _ in found]
    if len(versions) != len(set(versions)):
        raise RuntimeError(f"two migrations share a version: {versions}")
    return found


def _statements(sql: str) -> list[str]:
    lines = [line for line in sql.splitlines() if not line.strip().startswith("--")]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]


async def migrate(db: SqliteDatabase | PostgresDatabase) -> list[int]:
    """Apply pending migrations, each in its own transaction; return the versions applied.

    On PostgreSQL an advisory lock makes concurrent nodes starting together take turns, from
    the bookkeeping table on: two `CREATE TABLE IF NOT EXISTS` racing on an empty database
    both pass the check and the second fails on the catalog's unique index.
    """
    async with db.transaction() as tx:
        if tx.dialect == "postgres":
            await tx.execute("SELECT pg_advisory_xact_lock(7426731)")
        await tx.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations "
            "(version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)"
        )
    applied: list[int] = []
    for version, name, sql in migrations(db.dialect):
        async with db.transaction() as tx:
            if tx.dialect == "postgres":
                await tx.execute("SELECT pg_advisory_xact_lock(7426731)")
            done = await tx.fetchone(
                "SELECT version FROM schema_migrations WHERE version = ?", version
            )
            if done:
                continue
            for statement in _statements(sql):
                await tx.execute(statement)
            await tx.execute(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                version,
                name,
                int(time.time() * 1000),
            )
            applied.append(version)
    return applied
