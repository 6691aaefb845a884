"""The process's Redis client on a Redis Cluster behaves like the single-server pool."""

from __future__ import annotations

import asyncio

import pytest

from livecommerce.adapters.redis.client import connect

pytestmark = pytest.mark.redis


async def test_a_burst_waits_for_the_cluster_pool(redis_cluster_url: str) -> None:
    """Far more concurrent commands than `pool_size` all complete (they wait for a slot, as
    with the single-server blocking pool) instead of failing on a full per-node pool."""
    client = connect(redis_cluster_url, 2, cluster=True)
    try:
        keys = [f"burst:{i}" for i in range(300)]
        await asyncio.gather(*[client.set(key, key) for key in keys])
        assert keys == await asyncio.gather(*[client.get(key) for key in keys])
    finally:
        await client.aclose()
