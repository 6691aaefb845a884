"""The InventoryStore contract, run against every adapter (memory, and Redis with a real
redis-server the test starts): atomic holds, exactly-once commit/release, limits, rebuild."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from livecommerce.adapters.memory.inventory import MemoryInventory
from livecommerce.adapters.redis.client import connect
from livecommerce.adapters.redis.inventory import RedisInventory
from livecommerce.domain.inventory import Reservation, ReservationStatus, StockLevel
from livecommerce.errors import LimitReached, NotFound, SoldOut, StoreUnavailable
from livecommerce.services.ports import InventoryStore
from tests.support.servers import RedisServer


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[InventoryStore]:
    if request.param == "memory":
        yield MemoryInventory()
        return
    client = connect(request.getfixturevalue("redis_url"), 20)
    yield RedisInventory(client)
    await client.aclose()


async def test_reserve_commit_release(store: InventoryStore) -> None:
    """Holds move units to reserved; commit sells them; release gives them back."""
    await store.ensure_pool("p", 5)
    r1 = await store.reserve("p", "o1", "b1", 2, None, 1_000)
    assert r1.created
    assert StockLevel(5, 2, 0) == r1.level
    await store.reserve("p", "o2", "b2", 1, None, 1_000)
    assert await store.commit("p", "o1")
    assert await store.release("p", "o2")
    assert StockLevel(5, 0, 2) == await store.level("p")
    got = await store.reservation("p", "o1")
    assert got is not None
    assert (got.status, got.quantity, got.buyer_id) == (ReservationStatus.COMMITTED, 2, "b1")


async def test_replayed_reservation_id_holds_once(store: InventoryStore) -> None:
    """Reserving again with the same id returns the first reservation and holds nothing more."""
    await store.ensure_pool("p", 5)
    await store.reserve("p", "o1", "b1", 2, None, 1_000)
    again = await store.reserve("p", "o1", "b1", 2, None, 1_000)
    assert not again.created
    assert StockLevel(5, 2, 0) == await store.level("p")


async def test_sold_out_and_limit_change_nothing(store: InventoryStore) -> None:
    """Sold out and over-limit attempts raise and leave the pool as it was."""
    await store.ensure_pool("p", 3)
    await store.reserve("p", "o1", "b1", 2, 2, 1_000)
    with pytest.raises(LimitReached):
        await store.reserve("p", "o2", "b1", 1, 2, 1_000)
    with pytest.raises(SoldOut):
        await store.reserve("p", "o3", "b2", 2, 2, 1_000)
    assert StockLevel(3, 2, 0) == await store.level("p")
    assert await store.release("p", "o1")
    await store.reserve("p", "o4", "b1", 2, 2, 1_000)
    with pytest.raises(NotFound):
        await store.reserve("nope", "o5", "b1", 1, None, 1_000)


async def test_commit_and_release_happen_exactly_once_under_races(store: InventoryStore) -> None:
    """Twenty racing releases and commits of one reservation: exactly one wins."""
    await store.ensure_pool("p", 3)
    await store.reserve("p", "o1", "b1", 1, None, 1_000)
    results = await asyncio.gather(
        *[store.release("p", "o1") for _ in range(10)],
        *[store.commit("p", "o1") for _ in range(10)],
    )
    assert 1 == sum(results)
    level = await store.level("p")
    assert 3 == level.total == level.sold + level.reserved + level.available
    assert 0 == level.reserved


async def test_stampede_never_oversells(store: InventoryStore) -> None:
    """1,000 concurrent single-unit holds on 100 units: exactly 100 succeed."""
    await store.ensure_pool("flash", 100)

    async def attempt(i: int) -> bool:
        try:
            await store.reserve("flash", f"o{i}", f"b{i}", 1, 1, 10_000)
        except SoldOut:
            return False
        return True

    wins = await asyncio.gather(*[attempt(i) for i in range(1000)])
    assert 100 == sum(wins)
    assert StockLevel(100, 100, 0) == await store.level("flash")


async def test_per_buyer_limit_under_parallel_requests(store: InventoryStore) -> None:
    """One buyer firing 20 parallel holds against a limit of 2 gets exactly 2 units."""
    await store.ensure_pool("p", 50)

    async def attempt(i: int) -> int:
        try:
            await store.reserve("p", f"o{i}", "greedy", 1, 2, 10_000)
        except LimitReached:
            return 0
        return 1

    assert 2 == sum(await asyncio.gather(*[attempt(i) for i in range(20)]))


async def test_due_lists_only_expired_holds(store: InventoryStore) -> None:
    """The sweeper sees held reservations past their deadline, not settled ones."""
    await store.ensure_pool("p", 10)
    await store.reserve("p", "early", "b1", 1, None, 100)
    await store.reserve("p", "late", "b2", 1, None, 900)
    await store.reserve("p", "paid", "b3", 1, None, 100)
    await store.commit("p", "paid")
    assert await store.due(500) == [("p", "early")]


async def test_restore_rebuilds_from_durable_reservations(store: InventoryStore) -> None:
    """Restore keeps sold and held units out of available and keeps buyers' counts."""
    await store.ensure_pool("p", 10)
    await store.reserve("p", "stale", "b9", 5, None, 100)
    await store.restore(
        "p",
        10,
        [
            Reservation("o1", "p", "b1", 3, 100, ReservationStatus.COMMITTED),
            Reservation("o2", "p", "b1", 1, 200, ReservationStatus.HELD),
        ],
    )
    assert StockLevel(10, 1, 3) == await store.level("p")
    with pytest.raises(LimitReached):
        await store.reserve("p", "o3", "b1", 1, 4, 1_000)
    assert await store.due(200) == [("p", "o2")]
    assert await store.release("p", "o2")
    assert not await store.release("p", "stale")


async def test_ensure_pool_never_goes_below_what_is_out(store: InventoryStore) -> None:
    """Lowering a pool's total never drops it below sold plus reserved."""
    await store.ensure_pool("p", 10)
    await store.reserve("p", "o1", "b1", 4, None, 1_000)
    assert StockLevel(4, 4, 0) == await store.ensure_pool("p", 1)
    assert StockLevel(20, 4, 0) == await store.ensure_pool("p", 20)


@pytest.mark.redis
async def test_redis_outage_is_store_unavailable() -> None:
    """With Redis down, operations raise StoreUnavailable (a 503), never a raw client error."""
    server = RedisServer()
    server.start()
    client = connect(server.url, 5)
    store = RedisInventory(client)
    try:
        await store.ensure_pool("p", 1)
        server.kill()
        with pytest.raises(StoreUnavailable):
            await store.reserve("p", "o1", "b1", 1, None, 1_000)
    finally:
        await client.aclose()
        server.kill()
