"""Every contract test runs once per adapter: SQLite and a real PostgreSQL the tests start."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from livecommerce.adapters.sql.database import PostgresDatabase, SqliteDatabase, open_database


@pytest.fixture(params=["sqlite", "postgres"])
async def db(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[SqliteDatabase | PostgresDatabase]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'store.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    database = await open_database(url)
    yield database
    await database.close()
