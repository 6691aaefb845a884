"""Every InventoryStore adapter against the pure rules of domain/inventory.py: random sequences
of reserve (through a capped and an uncapped offer, on two variants) / commit / release /
adjust, with replays, give the same answers and the same counts as the model, on the memory
adapter and on Redis's Lua scripts."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from livecommerce.adapters.memory.inventory import MemoryInventory
from livecommerce.adapters.redis.inventory import RedisInventory
from livecommerce.domain import inventory as rules
from livecommerce.errors import LimitReached, SoldOut, StockHeld
from livecommerce.services.ports import InventoryStore
from tests.contract.conftest import REDIS_KINDS, redis_for

ON_HAND = {"v": 5, "w": 3}
CAP, LIMIT = 4, 3
OFFERS = {"flash": True, "fixed": False}  # offer -> capped
OPS = st.lists(
    st.tuples(
        st.sampled_from(["reserve", "commit", "release", "adjust"]),
        st.integers(0, 7),  # reservation
        st.integers(0, 2),  # buyer
        st.integers(1, 4),  # quantity
        st.sampled_from(sorted(ON_HAND)),  # variant
        st.sampled_from(sorted(OFFERS)),  # offer
        st.integers(-4, 3).filter(bool),  # adjustment
    ),
    max_size=30,
)
_pools = itertools.count()


@pytest.fixture(params=REDIS_KINDS)
async def store(request: pytest.FixtureRequest) -> AsyncIterator[InventoryStore]:
    if request.param == "memory":
        yield MemoryInventory()
        return
    client = redis_for(request, 20)
    yield RedisInventory(client)
    await client.aclose()


class Model:
    """The pool as the pure rules see it."""

    def __init__(self) -> None:
        self.variants = {v: rules.VariantStock(n) for v, n in ON_HAND.items()}
        self.cap = rules.StockLevel(CAP)
        self.held: dict[str, rules.Reservation] = {}
        self.units: dict[tuple[str, str], int] = {}

    def levels(self) -> rules.PoolLevels:
        return rules.PoolLevels(self.variants, {"flash": self.cap})

    def settle(self, rid: str, sell: bool) -> bool:
        before = self.held[rid]
        step = rules.commit if sell else rules.release
        variant, cap, after = step(self.variants[before.variant_id], self.cap, before)
        self.variants[before.variant_id], self.held[rid] = variant, after
        if cap is not None:
            self.cap = cap
        if not sell and after != before:
            self.units[(before.offer_id, before.buyer_id)] -= before.quantity
        return after != before


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(ops=OPS)
async def test_adapter_follows_the_domain_rules(
    store: InventoryStore, ops: list[tuple[str, int, int, int, str, str, int]]
) -> None:
    """The adapter's answers and counts match the pure model after every operation."""
    pool = f"model-{next(_pools)}"
    await store.restore(pool, rules.rebuild(ON_HAND, {"flash": CAP}, []))
    model = Model()
    for op, r, b, qty, variant, offer, delta in ops:
        rid, buyer = f"r{r}", f"b{b}"
        line = rules.StockLine(pool, variant, offer, OFFERS[offer], LIMIT)
        if op == "adjust":
            try:
                expected = rules.adjust(model.variants[variant], delta)
            except StockHeld:
                with pytest.raises(StockHeld):
                    await store.adjust(pool, variant, delta)
            else:
                assert expected == await store.adjust(pool, variant, delta)
                model.variants[variant] = expected
        elif op == "reserve":
            if rid in model.held:
                got = await store.reserve(line, rid, buyer, qty, 10**12)
                assert not got.created
                assert model.held[rid].quantity == got.reservation.quantity
                continue
            cap = model.cap if OFFERS[offer] else None
            units = model.units.get((offer, buyer), 0)
            try:
                new_variant, new_cap = rules.reserve(
                    model.variants[variant], cap, qty, buyer_units=units, per_buyer_limit=LIMIT
                )
            except (SoldOut, LimitReached) as exc:
                with pytest.raises(type(exc)):
                    await store.reserve(line, rid, buyer, qty, 10**12)
                continue
            got = await store.reserve(line, rid, buyer, qty, 10**12)
            assert got.created
            model.variants[variant] = new_variant
            if new_cap is not None:
                model.cap = new_cap
            model.held[rid] = rules.Reservation(
                rid, pool, buyer, qty, 10**12, variant, offer, OFFERS[offer]
            )
            model.units[(offer, buyer)] = units + qty
        else:
            sell = op == "commit"
            action = store.commit if sell else store.release
            changed = model.settle(rid, sell) if rid in model.held else False
            assert changed == await action(pool, rid)
        assert model.levels() == await store.levels(pool)
