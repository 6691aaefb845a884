"""Every InventoryStore adapter against the pure rules of domain/inventory.py: random sequences
of reserve / commit / release (with replays) give the same answers and the same counts as the
model, on the memory adapter and on Redis's Lua scripts."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from livecommerce.adapters.memory.inventory import MemoryInventory
from livecommerce.adapters.redis.client import connect
from livecommerce.adapters.redis.inventory import RedisInventory
from livecommerce.domain import inventory as rules
from livecommerce.errors import LimitReached, SoldOut
from livecommerce.services.ports import InventoryStore

TOTAL, LIMIT = 6, 3
OPS = st.lists(
    st.tuples(
        st.sampled_from(["reserve", "commit", "release"]),
        st.integers(0, 7),  # reservation
        st.integers(0, 2),  # buyer
        st.integers(1, 4),  # quantity
    ),
    max_size=30,
)
_pools = itertools.count()


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[InventoryStore]:
    if request.param == "memory":
        yield MemoryInventory()
        return
    client = connect(request.getfixturevalue("redis_url"), 20)
    yield RedisInventory(client)
    await client.aclose()


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(ops=OPS)
async def test_adapter_follows_the_domain_rules(
    store: InventoryStore, ops: list[tuple[str, int, int, int]]
) -> None:
    """The adapter's answers and counts match the pure model after every operation."""
    pool = f"model-{next(_pools)}"
    await store.ensure_pool(pool, TOTAL)
    level = rules.StockLevel(TOTAL)
    held: dict[str, rules.Reservation] = {}
    units: dict[str, int] = {}
    for op, r, b, qty in ops:
        rid, buyer = f"r{r}", f"b{b}"
        if op == "reserve":
            if rid in held:
                got = await store.reserve(pool, rid, buyer, qty, LIMIT, 10**12)
                assert not got.created
                assert held[rid].quantity == got.reservation.quantity
                continue
            try:
                expected = rules.reserve(
                    level, qty, buyer_units=units.get(buyer, 0), per_buyer_limit=LIMIT
                )
            except (SoldOut, LimitReached) as exc:
                with pytest.raises(type(exc)):
                    await store.reserve(pool, rid, buyer, qty, LIMIT, 10**12)
                continue
            got = await store.reserve(pool, rid, buyer, qty, LIMIT, 10**12)
            assert got.created
            level = expected
            held[rid] = rules.Reservation(rid, pool, buyer, qty, 10**12)
            units[buyer] = units.get(buyer, 0) + qty
        elif rid in held:
            before = held[rid]
            if op == "commit":
                level, held[rid] = rules.commit(level, before)
            else:
                level, held[rid] = rules.release(level, before)
                if before.status is rules.ReservationStatus.HELD:
                    units[before.buyer_id] -= before.quantity
            changed = held[rid] != before
            action = store.commit if op == "commit" else store.release
            assert changed == await action(pool, rid)
        else:
            action = store.commit if op == "commit" else store.release
            assert not await action(pool, rid)
        assert level == await store.level(pool)
