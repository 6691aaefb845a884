"""Rate limiter and bus contracts, in-process and on a real redis-server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from livecommerce.adapters.memory.bus import MemoryBus
from livecommerce.adapters.memory.ratelimit import MemoryRateLimiter
from livecommerce.adapters.redis.bus import RedisBus
from livecommerce.adapters.redis.client import connect
from livecommerce.adapters.redis.ratelimit import RedisRateLimiter
from livecommerce.domain.ratelimit import Rate
from livecommerce.services.ports import RateLimiter
from tests.contract.conftest import REDIS_KINDS, redis_for
from tests.support.servers import RedisServer


@pytest.fixture(params=REDIS_KINDS)
async def limiter(request: pytest.FixtureRequest) -> AsyncIterator[RateLimiter]:
    if request.param == "memory":
        yield MemoryRateLimiter()
        return
    client = redis_for(request, 10)
    yield RedisRateLimiter(client)
    await client.aclose()


async def test_limiter_burst_and_independent_keys(limiter: RateLimiter) -> None:
    """A burst of 3 per 2 s passes, the 4th is refused, another key is unaffected."""
    rates = [Rate(3, 2.0), Rate(20, 30.0)]
    results = [await limiter.allow("user:a", rates) for _ in range(4)]
    assert [True, True, True, False] == results
    assert await limiter.allow("user:b", rates)


async def test_limiter_one_tick_of_many_keys(limiter: RateLimiter) -> None:
    """Checks of many keys made in one tick (one batch; on a cluster, one call per hash slot)
    each count against their own key only."""
    rates = [Rate(3, 30.0)]
    results = await asyncio.gather(*[limiter.allow(f"u{i % 12}", rates) for i in range(60)])
    allowed = [sum(ok for i, ok in enumerate(results) if i % 12 == k) for k in range(12)]
    assert [3] * 12 == allowed


async def test_limiter_long_window_holds(limiter: RateLimiter) -> None:
    """The slower rule still bites when the fast one would allow."""
    rates = [Rate(100, 1.0), Rate(5, 30.0)]
    results = [await limiter.allow("k", rates) for _ in range(6)]
    assert [True] * 5 + [False] == results


async def test_limiter_holds_the_whole_window(limiter: RateLimiter) -> None:
    """After a burst of 3 per 0.6 s nothing passes until the burst leaves the window (a
    token bucket would let one through every 0.2 s), then the next burst does."""
    rates = [Rate(3, 0.6)]
    assert [True, True, True] == [await limiter.allow("w", rates) for _ in range(3)]
    await asyncio.sleep(0.35)
    assert await limiter.allow("w", rates) is False
    await asyncio.sleep(0.35)
    assert [True, True, True, False] == [await limiter.allow("w", rates) for _ in range(4)]


async def test_memory_bus_delivers_to_subscribers() -> None:
    """Publishing reaches every subscriber of the topic and no other."""
    bus = MemoryBus()
    got: list[tuple[str, dict[str, Any]]] = []

    async def on_a(payload: dict[str, Any]) -> None:
        got.append(("a", payload))

    async def on_b(payload: dict[str, Any]) -> None:
        got.append(("b", payload))

    bus.subscribe("t.a", on_a)
    bus.subscribe("t.b", on_b)
    await bus.publish("t.a", {"x": 1})
    assert [("a", {"x": 1})] == got


async def _wait_for(cond: Any, limit: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + limit
    while not cond():
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError("condition not met")
        await asyncio.sleep(0.02)


async def test_redis_bus_crosses_nodes_and_survives_restart(
    redis_server: RedisServer, redis_url: str
) -> None:
    """Node B sees node A's events exactly once, and again after Redis restarts."""
    client_a = connect(redis_url, 5)
    client_b = connect(redis_url, 5)
    bus_a, bus_b = RedisBus(client_a), RedisBus(client_b)
    seen_a: list[dict[str, Any]] = []
    seen_b: list[dict[str, Any]] = []

    async def on_a(payload: dict[str, Any]) -> None:
        seen_a.append(payload)

    async def on_b(payload: dict[str, Any]) -> None:
        seen_b.append(payload)

    bus_a.subscribe("show.state", on_a)
    bus_b.subscribe("show.state", on_b)
    async with bus_a.running(), bus_b.running():
        await asyncio.sleep(0.2)
        await bus_a.publish("show.state", {"n": 1})
        await _wait_for(lambda: len(seen_b) == 1)
        assert [{"n": 1}] == seen_a  # local delivery once, own echo ignored
        redis_server.kill()
        await bus_a.publish("show.state", {"n": 2})  # degraded: local only, no exception
        assert {"n": 2} == seen_a[-1]
        redis_server.start()

        async def delivered_after_restart() -> None:
            n = 3
            while not any(p.get("n", 0) >= 3 for p in seen_b):
                await bus_a.publish("show.state", {"n": n})
                n += 1
                await asyncio.sleep(0.2)

        await asyncio.wait_for(delivered_after_restart(), 10)
    await client_a.aclose()
    await client_b.aclose()


async def test_redis_bus_crosses_nodes_on_a_cluster(redis_cluster_url: str) -> None:
    """On a Redis Cluster (classic pub/sub, forwarded to every master) node B sees each of node
    A's events once, whichever master either node's listener is connected to."""
    client_a = connect(redis_cluster_url, 5, cluster=True)
    client_b = connect(redis_cluster_url, 5, cluster=True)
    bus_a, bus_b = RedisBus(client_a), RedisBus(client_b)
    seen_b: list[dict[str, Any]] = []

    async def on_b(payload: dict[str, Any]) -> None:
        seen_b.append(payload)

    bus_b.subscribe("show.state", on_b)
    try:
        async with bus_a.running(), bus_b.running():

            async def delivered() -> None:
                while not seen_b:
                    await bus_a.publish("show.state", {"n": 1})
                    await asyncio.sleep(0.2)

            await asyncio.wait_for(delivered(), 10)
            await asyncio.gather(*[bus_a.publish("show.state", {"n": n}) for n in range(2, 12)])
            await _wait_for(lambda: any(p["n"] == 11 for p in seen_b))
            assert list(range(2, 12)) == [p["n"] for p in seen_b if p["n"] >= 2]
    finally:
        await client_a.aclose()
        await client_b.aclose()
