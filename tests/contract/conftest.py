"""Every contract test runs once per adapter: SQLite and a real PostgreSQL the tests start."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from livecommerce.adapters.redis.client import RedisClient, connect
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


#: The kinds of a port with a Redis adapter: in-process, one redis-server, a three-master
#: Redis Cluster (every script's keys under one hash tag).
REDIS_KINDS = [
    "memory",
    pytest.param("redis", marks=pytest.mark.redis),
    pytest.param("redis-cluster", marks=pytest.mark.redis),
]


def redis_for(request: pytest.FixtureRequest, pool_size: int) -> RedisClient:
    """A client on the session's flushed redis-server or Redis Cluster, by the fixture's kind."""
    if request.param == "redis":
        return connect(request.getfixturevalue("redis_url"), pool_size)
    return connect(request.getfixturevalue("redis_cluster_url"), pool_size, cluster=True)
