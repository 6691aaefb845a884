"""Presence stores (in-process and Redis) count the people seen since a time, once each."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from livecommerce.adapters.memory.presence import MemoryPresence
from livecommerce.adapters.redis.presence import RedisPresence
from livecommerce.services.ports import PresenceStore
from tests.contract.conftest import REDIS_KINDS, redis_for


@pytest.fixture(params=REDIS_KINDS)
async def presence(request: pytest.FixtureRequest) -> AsyncIterator[PresenceStore]:
    if request.param == "memory":
        yield MemoryPresence()
        return
    client = redis_for(request, 4)
    await client.delete("lc:presence:{show:s}", "lc:presence:{show:other}")
    yield RedisPresence(client)
    await client.aclose()


async def test_people_are_counted_once_per_show(presence: PresenceStore) -> None:
    """A person seen by two nodes counts once; other shows are apart."""
    await presence.touch("s", ["a", "b"], 1_000)
    await presence.touch("s", ["b", "c"], 1_500)
    await presence.touch("other", ["a", "z"], 1_500)
    assert 3 == await presence.count("s", 0)
    assert 2 == await presence.count("other", 0)
    assert 0 == await presence.count("nobody", 0)


async def test_people_not_seen_since_drop_out(presence: PresenceStore) -> None:
    """Only sightings at or after ``since`` count, and a late older sighting never rewinds one."""
    await presence.touch("s", ["a", "b"], 1_000)
    await presence.touch("s", ["b"], 2_000)
    await presence.touch("s", ["b"], 1_200)
    assert 1 == await presence.count("s", 1_500)
    assert 1 == await presence.count("s", 2_000)
    assert 0 == await presence.count("s", 2_001)
    assert 0 == await presence.count("s", 0)
