"""The InventoryStore contract, run against every adapter (memory, and Redis with a real
redis-server the test starts): one stock per variant shared by every offer of it, offers' caps,
atomic holds, exactly-once commit/release, limits, adjustments and rebuild."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from livecommerce.adapters.memory.inventory import MemoryInventory
from livecommerce.adapters.redis.client import connect
from livecommerce.adapters.redis.inventory import RedisInventory
from livecommerce.domain.inventory import (
    Reservation,
    ReservationStatus,
    StockLevel,
    StockLine,
    VariantStock,
    rebuild,
)
from livecommerce.errors import LimitReached, NotFound, SoldOut, StockHeld, StoreUnavailable
from livecommerce.services.ports import InventoryStore, ReserveResult
from tests.contract.conftest import REDIS_KINDS, redis_for
from tests.support.servers import RedisServer

#: A flash offer with a cap, and a fixed offer without one, both selling variant "v" of "p".
FLASH = StockLine("p", "v", "flash", capped=True)
FIXED = StockLine("p", "v", "fixed")


def limited(line: StockLine, limit: int) -> StockLine:
    return StockLine(line.pool, line.variant_id, line.offer_id, line.capped, limit)


@pytest.fixture(params=REDIS_KINDS)
async def store(request: pytest.FixtureRequest) -> AsyncIterator[InventoryStore]:
    if request.param == "memory":
        yield MemoryInventory()
        return
    client = redis_for(request, 20)
    yield RedisInventory(client)
    await client.aclose()


async def load(store: InventoryStore, on_hand: int, cap: int = 5) -> None:
    """Pool "p": variant "v" with `on_hand` units, offer "flash" capped at `cap`."""
    await store.restore("p", rebuild({"v": on_hand}, {"flash": cap}, []))


async def counts(store: InventoryStore) -> tuple[VariantStock, StockLevel]:
    levels = await store.levels("p")
    return levels.variants["v"], levels.caps["flash"]


async def test_reserve_commit_release(store: InventoryStore) -> None:
    """Holds take from the variant and the cap; commit sells them off the shelf; release gives
    them back."""
    await load(store, 10)
    r1 = await store.reserve(FLASH, "o1", "b1", 2, 1_000)
    assert r1.created
    assert (VariantStock(10, 2), StockLevel(5, 2, 0)) == (r1.variant, r1.cap)
    await store.reserve(FLASH, "o2", "b2", 1, 1_000)
    await store.reserve(FIXED, "o3", "b3", 4, 1_000)
    assert await store.commit("p", "o1")
    assert await store.release("p", "o2")
    assert await store.commit("p", "o3")
    assert (VariantStock(4, 0), StockLevel(5, 0, 2)) == await counts(store)
    got = await store.reservation("p", "o1")
    assert got is not None
    assert (got.status, got.quantity, got.buyer_id, got.variant_id, got.offer_id) == (
        ReservationStatus.COMMITTED,
        2,
        "b1",
        "v",
        "flash",
    )


async def test_replayed_reservation_id_holds_once(store: InventoryStore) -> None:
    """Reserving again with the same id returns the first reservation and holds nothing more."""
    await load(store, 10)
    await store.reserve(FLASH, "o1", "b1", 2, 1_000)
    again = await store.reserve(FLASH, "o1", "b1", 2, 1_000)
    assert not again.created
    assert (VariantStock(10, 2), StockLevel(5, 2, 0)) == await counts(store)


async def test_sold_out_and_limit_change_nothing(store: InventoryStore) -> None:
    """Short variant, short cap and over-limit attempts raise and leave the pool as it was;
    a line into a pool, variant or cap the store does not have is NotFound."""
    await load(store, 4, cap=3)
    await store.reserve(limited(FLASH, 2), "o1", "b1", 2, 1_000)
    with pytest.raises(LimitReached):
        await store.reserve(limited(FLASH, 2), "o2", "b1", 1, 1_000)
    with pytest.raises(SoldOut, match="only 1 left"):
        await store.reserve(FLASH, "o3", "b2", 2, 1_000)
    with pytest.raises(SoldOut, match="only 2 left"):
        await store.reserve(FIXED, "o4", "b2", 3, 1_000)
    assert (VariantStock(4, 2), StockLevel(3, 2, 0)) == await counts(store)
    assert await store.release("p", "o1")
    await store.reserve(limited(FLASH, 2), "o5", "b1", 2, 1_000)
    for line in (
        StockLine("nope", "v", "fixed"),
        StockLine("p", "other", "fixed"),
        StockLine("p", "v", "uncapped", capped=True),
    ):
        with pytest.raises(NotFound):
            await store.reserve(line, "o6", "b1", 1, 1_000)


async def test_two_offers_on_one_variant_never_oversell(store: InventoryStore) -> None:
    """1,000 concurrent holds through two offers of one 100-unit variant (one capped at 80):
    exactly 100 succeed and the capped offer sells at most 80."""
    await load(store, 100, cap=80)

    async def attempt(i: int) -> str:
        line = FLASH if i % 2 else FIXED
        try:
            await store.reserve(line, f"o{i}", f"b{i}", 1, 10_000)
        except SoldOut:
            return "sold_out"
        return line.offer_id

    wins = await asyncio.gather(*[attempt(i) for i in range(1000)])
    assert 100 == wins.count("flash") + wins.count("fixed")
    assert wins.count("flash") <= 80
    variant, cap = await counts(store)
    assert (VariantStock(100, 100), wins.count("flash")) == (variant, cap.reserved)


async def test_commit_and_release_happen_exactly_once_under_races(store: InventoryStore) -> None:
    """Twenty racing releases and commits of one reservation: exactly one wins."""
    await load(store, 3)
    await store.reserve(FLASH, "o1", "b1", 1, 1_000)
    results = await asyncio.gather(
        *[store.release("p", "o1") for _ in range(10)],
        *[store.commit("p", "o1") for _ in range(10)],
    )
    assert 1 == sum(results)
    variant, cap = await counts(store)
    assert 0 == variant.reserved == cap.reserved
    assert variant.on_hand + cap.sold == 3


async def test_stampede_never_oversells_a_cap(store: InventoryStore) -> None:
    """1,000 concurrent single-unit holds on a flash offer capped at 100 of a 500-unit
    variant: exactly 100 succeed."""
    await load(store, 500, cap=100)

    async def attempt(i: int) -> bool:
        try:
            await store.reserve(limited(FLASH, 1), f"o{i}", f"b{i}", 1, 10_000)
        except SoldOut:
            return False
        return True

    wins = await asyncio.gather(*[attempt(i) for i in range(1000)])
    assert 100 == sum(wins)
    assert (VariantStock(500, 100), StockLevel(100, 100, 0)) == await counts(store)


async def test_per_buyer_limit_under_parallel_requests(store: InventoryStore) -> None:
    """One buyer firing 20 parallel holds against a limit of 2 gets exactly 2 units; the limit
    is the offer's, so another offer of the same variant has its own."""
    await load(store, 50, cap=50)

    async def attempt(line: StockLine, i: int) -> int:
        try:
            await store.reserve(line, f"{line.offer_id}{i}", "greedy", 1, 10_000)
        except LimitReached:
            return 0
        return 1

    assert 2 == sum(await asyncio.gather(*[attempt(limited(FLASH, 2), i) for i in range(20)]))
    assert 1 == sum(await asyncio.gather(*[attempt(limited(FIXED, 1), i) for i in range(20)]))


async def test_adjust_never_takes_held_units(store: InventoryStore) -> None:
    """Adjustments move on-hand units atomically; racing removals and holds never leave fewer
    units than are held, and a refused removal changes nothing."""
    await load(store, 10)
    assert VariantStock(15, 0) == await store.adjust("p", "v", 5)
    await store.reserve(FIXED, "o1", "b1", 4, 1_000)
    with pytest.raises(StockHeld):
        await store.adjust("p", "v", -12)
    assert VariantStock(15, 4) == (await store.levels("p")).variants["v"]

    async def remove() -> bool:
        try:
            await store.adjust("p", "v", -3)
        except StockHeld:
            return False
        return True

    async def hold(i: int) -> bool:
        try:
            await store.reserve(FIXED, f"r{i}", f"b{i}", 1, 1_000)
        except SoldOut:
            return False
        return True

    results = await asyncio.gather(*[remove() for _ in range(5)], *[hold(i) for i in range(10)])
    variant = (await store.levels("p")).variants["v"]
    assert variant.on_hand == 15 - 3 * sum(results[:5])
    assert variant.reserved == 4 + sum(results[5:])
    assert variant.available >= 0
    with pytest.raises(NotFound):
        await store.adjust("p", "other", 1)


async def test_due_lists_only_expired_holds(store: InventoryStore) -> None:
    """The sweeper sees held reservations past their deadline, not settled ones."""
    await load(store, 10)
    await store.reserve(FLASH, "early", "b1", 1, 100)
    await store.reserve(FIXED, "late", "b2", 1, 900)
    await store.reserve(FLASH, "paid", "b3", 1, 100)
    await store.commit("p", "paid")
    assert await store.due(500) == [("p", "early")]


async def test_due_spans_pools_in_deadline_order(store: InventoryStore) -> None:
    """The sweeper's list covers every pool (on a cluster, pools on different nodes), earliest
    deadline first, cut at the limit; a pool whose holds settled drops out of it."""
    for pool in ("p", "q", "r", "s"):
        await store.restore(pool, rebuild({"v": 5}, {}, []))
    for deadline, pool in ((400, "q"), (100, "r"), (300, "p"), (200, "s"), (900, "q")):
        await store.reserve(StockLine(pool, "v", "fixed"), f"{pool}{deadline}", "b", 1, deadline)
    assert [("r", "r100"), ("s", "s200"), ("p", "p300")] == await store.due(500, 3)
    assert await store.release("r", "r100")
    assert await store.commit("s", "s200")
    assert [("p", "p300"), ("q", "q400")] == await store.due(500)
    assert [] == await store.due(50)
    await store.reserve(StockLine("r", "v", "fixed"), "again", "b", 1, 150)
    assert [("r", "again"), ("p", "p300"), ("q", "q400")] == await store.due(500)


async def test_restore_replace_rebuilds_from_durable_reservations(store: InventoryStore) -> None:
    """Replacing a pool keeps sold and held units out of available and keeps buyers' counts;
    what the store held before is forgotten."""
    await load(store, 10)
    await store.reserve(FLASH, "stale", "b9", 5, 100)
    state = rebuild(
        {"v": 7},
        {"flash": 5},
        [
            Reservation("o1", "p", "b1", 3, 100, "v", "flash", status=ReservationStatus.COMMITTED),
            Reservation("o2", "p", "b1", 1, 200, "v", "flash"),
        ],
    )
    assert await store.restore("p", state, replace=True)
    assert (VariantStock(7, 1), StockLevel(5, 1, 3)) == await counts(store)
    with pytest.raises(LimitReached):
        await store.reserve(limited(FLASH, 4), "o3", "b1", 1, 1_000)
    assert await store.due(200) == [("p", "o2")]
    assert await store.release("p", "o2")
    assert not await store.release("p", "stale")


async def test_reload_keeps_the_holds_the_durable_store_lacks(store: InventoryStore) -> None:
    """A reload (replace + keep_held) takes SQL's counts but keeps held reservations only the
    pool knows (orders not written yet), so it is never long; a stale commit is SQL's to fix."""
    await load(store, 10)
    await store.reserve(FLASH, "unwritten", "b9", 2, 100)
    await store.reserve(FLASH, "paid", "b1", 1, 100)  # its commit was lost with the old Redis
    state = rebuild(
        {"v": 9},
        {"flash": 5},
        [Reservation("paid", "p", "b1", 1, 100, "v", "flash", status=ReservationStatus.COMMITTED)],
    )
    assert await store.restore("p", state, replace=True, keep_held=True)
    assert (VariantStock(9, 2), StockLevel(5, 2, 1)) == await counts(store)
    with pytest.raises(LimitReached):
        await store.reserve(limited(FLASH, 2), "more", "b9", 1, 1_000)
    assert [("p", "unwritten")] == await store.due(200)
    assert await store.release("p", "unwritten")
    assert (VariantStock(9, 0), StockLevel(5, 0, 1)) == await counts(store)


async def test_instance_is_stable_while_the_store_runs(store: InventoryStore) -> None:
    """The restart cue does not change between two looks at a running store."""
    assert await store.instance() == await store.instance()


async def test_restore_on_a_loaded_pool_only_adds_what_it_lacks(store: InventoryStore) -> None:
    """A second node's rebuild never overwrites live counts: only new variants and caps come
    in, and nothing at all when the pool has everything."""
    await load(store, 10)
    await store.reserve(FLASH, "o1", "b1", 2, 1_000)
    stale = rebuild({"v": 99, "w": 4}, {"flash": 50, "late": 6}, [])
    assert await store.restore("p", stale)
    levels = await store.levels("p")
    assert (VariantStock(10, 2), VariantStock(4, 0)) == (levels.variants["v"], levels.variants["w"])
    assert (StockLevel(5, 2, 0), StockLevel(6)) == (levels.caps["flash"], levels.caps["late"])
    assert not await store.restore("p", stale)


@pytest.mark.redis
async def test_redis_outage_is_store_unavailable() -> None:
    """With Redis down, operations raise StoreUnavailable (a 503), never a raw client error."""
    server = RedisServer()
    server.start()
    client = connect(server.url, 5)
    store = RedisInventory(client)
    try:
        await load(store, 1)
        server.kill()
        with pytest.raises(StoreUnavailable):
            await store.reserve(FIXED, "o1", "b1", 1, 1_000)
    finally:
        await client.aclose()
        server.kill()


async def test_one_tick_of_mixed_requests_answers_each_caller(store: InventoryStore) -> None:
    """Reserves and peeks made in one tick (batched into one store call per pool) each get
    their own answer, in order: holds, a sold-out cap, a per-buyer limit, a replayed id, a
    peek that holds nothing, and a request on another pool."""
    await load(store, 3, cap=2)
    await store.restore("q", rebuild({"w": 1}, {}, []))
    other = StockLine("q", "w", "fixed")
    outcomes = await asyncio.gather(
        store.reserve(FLASH, "o1", "b1", 1, 1_000),
        store.reserve(FLASH, "o2", "b2", 1, 1_000),
        store.reserve(FLASH, "o3", "b3", 1, 1_000),
        store.reserve(limited(FIXED, 1), "o4", "b4", 1, 1_000),
        store.reserve(limited(FIXED, 1), "o5", "b4", 1, 1_000),
        store.reserve(FLASH, "o1", "b1", 1, 1_000),
        store.peek(FIXED, "o6", "b6", 1),
        store.peek(FLASH, "o2", "b2", 1),
        store.reserve(other, "o7", "b7", 1, 1_000),
        return_exceptions=True,
    )
    kinds = [
        type(o).__name__ if isinstance(o, BaseException) else getattr(o, "created", "none")
        for o in outcomes
    ]
    assert [True, True, "SoldOut", True, "LimitReached", False, "SoldOut", False, True] == kinds
    first, replayed, peeked = outcomes[0], outcomes[5], outcomes[7]
    assert isinstance(first, ReserveResult) and isinstance(replayed, ReserveResult)
    assert first.reservation == replayed.reservation
    assert isinstance(peeked, ReserveResult)
    assert ("o2", "b2") == (peeked.reservation.id, peeked.reservation.buyer_id)
    assert (VariantStock(3, 3), StockLevel(2, 2, 0)) == await counts(store)
    assert VariantStock(1, 1) == (await store.levels("q")).variants["w"]


async def test_peek_holds_nothing(store: InventoryStore) -> None:
    """A peek that would hold answers None and leaves the pool as it was; one that would not
    raises what the reserve would."""
    await load(store, 2, cap=1)
    assert await store.peek(FLASH, "o1", "b1", 1) is None
    assert (VariantStock(2, 0), StockLevel(1, 0, 0)) == await counts(store)
    with pytest.raises(SoldOut):
        await store.peek(FLASH, "o1", "b1", 2)
    with pytest.raises(NotFound):
        await store.peek(StockLine("nope", "v", "fixed"), "o1", "b1", 1)


@pytest.mark.redis
async def test_redis_answers_a_tick_with_one_script_call_per_pool(redis_url: str) -> None:
    """A tick of 300 reserves on two pools is two batches (256 at most each) of one script call
    per pool: four calls, not one per reserve; with batching off (`batch_max=1`), one per
    reserve."""
    client = connect(redis_url, 20)
    try:
        for batch_max, calls in ((256, 4), (1, 300)):
            await client.flushdb()
            store = RedisInventory(client, batch_max=batch_max)
            await load(store, 1_000, cap=1_000)
            await store.restore("q", rebuild({"w": 1_000}, {}, []))
            await client.config_resetstat()
            lines = [FIXED, StockLine("q", "w", "fixed")]
            await asyncio.gather(
                *[store.reserve(lines[i % 2], f"o{i}", f"b{i}", 1, 1_000) for i in range(300)]
            )
            stats = await client.info("commandstats")
            assert calls == stats["cmdstat_evalsha"]["calls"]
    finally:
        await client.aclose()


@pytest.mark.redis
async def test_redis_outage_fails_every_caller_of_a_batch() -> None:
    """With Redis down, every reserve and peek of one tick's batch raises StoreUnavailable;
    none hangs."""
    server = RedisServer()
    server.start()
    client = connect(server.url, 5)
    store = RedisInventory(client)
    try:
        await load(store, 10)
        server.kill()
        calls = [store.reserve(FIXED, f"o{i}", f"b{i}", 1, 1_000) for i in range(5)]
        outcomes = await asyncio.wait_for(
            asyncio.gather(*calls, store.peek(FIXED, "o9", "b9", 1), return_exceptions=True), 30
        )
        assert [StoreUnavailable] * 6 == [type(o) for o in outcomes]
    finally:
        await client.aclose()
        server.kill()
