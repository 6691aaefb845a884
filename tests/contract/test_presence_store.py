"""Presence stores (in-process and Redis) count fresh node reports and forget stale ones."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest

from livecommerce.adapters.clock import SystemClock
from livecommerce.adapters.memory.presence import MemoryPresence
from livecommerce.adapters.redis.presence import RedisPresence
from livecommerce.services.ports import PresenceStore
from tests.contract.conftest import REDIS_KINDS, redis_for


@pytest.fixture(params=REDIS_KINDS)
async def presence(request: pytest.FixtureRequest) -> AsyncIterator[PresenceStore]:
    if request.param == "memory":
        yield MemoryPresence(SystemClock())
        return
    client = redis_for(request, 4)
    yield RedisPresence(client)
    await client.aclose()


async def test_sum_of_nodes(presence: PresenceStore) -> None:
    """The total is the sum over nodes; a node reporting 0 drops out at once."""
    await presence.report("s", "n1", 3, 10)
    await presence.report("s", "n2", 4, 10)
    await presence.report("other", "n1", 9, 10)
    assert await presence.total("s") == 7
    await presence.report("s", "n2", 0, 10)
    assert await presence.total("s") == 3
    assert await presence.total("nobody") == 0


async def test_stale_reports_expire(presence: PresenceStore) -> None:
    """A node that stops reporting (crashed) stops counting after its TTL."""
    await presence.report("s", "n1", 2, 0.3)
    await presence.report("s", "n2", 1, 10)
    start = time.monotonic()
    while await presence.total("s") != 1:
        assert time.monotonic() - start < 3
        await asyncio.sleep(0.1)
