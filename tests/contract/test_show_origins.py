"""Origin records (in-process and Redis): one holder per show, replaced by a claim, never
extended or deleted by a node that lost it, forgotten after the TTL."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest

from livecommerce.adapters.clock import SystemClock
from livecommerce.adapters.memory.origins import MemoryShowOrigins
from livecommerce.adapters.redis.origins import RedisShowOrigins
from livecommerce.services.ports import ShowOrigins
from tests.contract.conftest import REDIS_KINDS, redis_for

A, B = "http://127.0.0.1:8001", "http://127.0.0.1:8002"


@pytest.fixture(params=REDIS_KINDS)
async def origins(request: pytest.FixtureRequest) -> AsyncIterator[ShowOrigins]:
    if request.param == "memory":
        yield MemoryShowOrigins(SystemClock())
        return
    client = redis_for(request, 4)
    yield RedisShowOrigins(client)
    await client.aclose()


async def test_a_claim_replaces_and_the_loser_cannot_refresh_or_release(
    origins: ShowOrigins,
) -> None:
    """B's claim replaces A's record; A's refresh then reports the loss and A's release leaves
    B's record alone; B's release forgets it."""
    assert await origins.origin("s") is None
    await origins.claim("s", A, 10)
    assert A == await origins.origin("s")
    assert await origins.refresh("s", A, 10)
    await origins.claim("s", B, 10)
    assert not await origins.refresh("s", A, 10)
    await origins.release("s", A)
    assert B == await origins.origin("s")
    assert await origins.origin("other") is None
    await origins.release("s", B)
    assert await origins.origin("s") is None


async def test_a_record_expires_unless_refreshed(origins: ShowOrigins) -> None:
    """A dead origin is forgotten after the TTL; a live one keeps (or rewrites) its record."""
    await origins.claim("dead", A, 0.3)
    await origins.claim("alive", B, 0.3)
    start = time.monotonic()
    while await origins.origin("dead") is not None:
        assert time.monotonic() - start < 3
        assert await origins.refresh("alive", B, 0.3)
        await asyncio.sleep(0.05)
    assert B == await origins.origin("alive")
    assert await origins.refresh("dead", A, 10)  # expired: a node still publishing writes it
    assert A == await origins.origin("dead")
