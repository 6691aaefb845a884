"""The coupon ports' contracts: `Redemptions` and `DropClaims` (memory, and Redis with a real
redis-server) count exactly under racing callers and are idempotent per order and per claimer;
`SqlCouponStore` (SQLite and PostgreSQL) keeps codes unique per seller, gives a redemption back
once and writes a repeated claim once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import pytest

from livecommerce.adapters.memory.coupons import MemoryDropClaims, MemoryRedemptions
from livecommerce.adapters.redis.coupons import RedisDropClaims, RedisRedemptions
from livecommerce.adapters.sql.coupons import SqlCouponStore
from livecommerce.adapters.sql.database import PostgresDatabase, SqliteDatabase
from livecommerce.domain.coupons import CouponKind, drop_coupon, make_coupon
from livecommerce.services.ports import Claimed, Drop, DropClaims, Redeemed, Redemptions
from tests.contract.conftest import REDIS_KINDS, redis_for


@pytest.fixture(params=REDIS_KINDS)
async def counters(request: pytest.FixtureRequest) -> AsyncIterator[tuple[Redemptions, DropClaims]]:
    if request.param == "memory":
        yield MemoryRedemptions(), MemoryDropClaims()
        return
    client = redis_for(request, 20)
    await client.flushall()
    yield RedisRedemptions(client), RedisDropClaims(client)
    await client.aclose()


async def test_racing_redemptions_take_exactly_the_limit(
    counters: tuple[Redemptions, DropClaims],
) -> None:
    """300 orders race for 20 redemptions with 2 per buyer: 20 are taken, no buyer has more than
    2, a retry of a taking order is `held`, and a final give-back bars the order for good."""
    redemptions, _ = counters
    for coupon_id in ("cpn_1", "cpn_2"):
        await redemptions.seed(coupon_id, {}, set())
    results = await asyncio.gather(
        *(redemptions.redeem("cpn_1", f"ord_{n}", f"usr_{n % 9}", 20, 2) for n in range(300))
    )
    taken = [n for n, r in enumerate(results) if r is Redeemed.TAKEN]
    assert 18 == len(taken)  # 9 buyers x 2 each, below the 20 in all
    assert {Redeemed.TAKEN, Redeemed.BUYER_LIMIT} == set(results)
    assert 18 == await redemptions.used("cpn_1")
    first = taken[0]
    assert Redeemed.HELD is await redemptions.redeem("cpn_1", f"ord_{first}", "x", 20, 2)
    assert True is await redemptions.give_back("cpn_1", f"ord_{first}")
    assert False is await redemptions.give_back("cpn_1", f"ord_{first}")
    assert Redeemed.RETURNED is await redemptions.redeem("cpn_1", f"ord_{first}", "x", 20, 2)
    assert 17 == await redemptions.used("cpn_1")
    assert True is await redemptions.give_back("cpn_1", f"ord_{taken[1]}", final=False)
    assert Redeemed.TAKEN is await redemptions.redeem("cpn_1", f"ord_{taken[1]}", "x", 20, 2)
    many = await asyncio.gather(
        *(redemptions.redeem("cpn_2", f"o{n}", f"u{n}", 5, None) for n in range(100))
    )
    assert 5 == many.count(Redeemed.TAKEN) and 95 == many.count(Redeemed.EXHAUSTED)


async def test_a_store_that_lost_a_coupon_counts_it_from_its_record_once(
    counters: tuple[Redemptions, DropClaims],
) -> None:
    """A store that has not loaded a coupon (a process restarted, a Redis that lost its data)
    answers `unseeded` to a redemption and None to a give-back instead of counting from zero;
    seeded with the durable record it counts what was held, bars what was returned, and a
    second seed (another node racing) changes nothing."""
    redemptions, _ = counters
    assert Redeemed.UNSEEDED is await redemptions.redeem("cpn_9", "ord_new", "usr_c", 3, 2)
    assert None is await redemptions.give_back("cpn_9", "ord_a1")
    held = {"ord_a1": "usr_a", "ord_a2": "usr_a"}
    await asyncio.gather(*(redemptions.seed("cpn_9", held, {"ord_b1"}) for _ in range(5)))
    await redemptions.seed("cpn_9", {"ord_z": "usr_z"}, set())  # a late, stale seed: ignored
    assert 2 == await redemptions.used("cpn_9")
    assert Redeemed.BUYER_LIMIT is await redemptions.redeem("cpn_9", "ord_a3", "usr_a", 3, 2)
    assert Redeemed.RETURNED is await redemptions.redeem("cpn_9", "ord_b1", "usr_b", 3, 2)
    assert Redeemed.TAKEN is await redemptions.redeem("cpn_9", "ord_c1", "usr_c", 3, 2)
    assert Redeemed.EXHAUSTED is await redemptions.redeem("cpn_9", "ord_d1", "usr_d", 3, 2)
    assert True is await redemptions.give_back("cpn_9", "ord_a1")
    assert Redeemed.TAKEN is await redemptions.redeem("cpn_9", "ord_a4", "usr_a", 3, 2)


async def test_racing_claims_give_each_claimer_one_code(
    counters: tuple[Redemptions, DropClaims],
) -> None:
    """200 claims (by 100 people, twice each) on 30: 30 people get their own code, a repeat
    answers it, the rest are exhausted; after the end only repeats answer; end is true once."""
    _, claims = counters
    assert Claimed.ENDED is (await claims.claim("drp_x", "u", "CODE")).outcome
    await claims.open("drp_1", 30, 60)
    await claims.open("drp_1", 99, 60)  # a second open changes nothing
    got = await asyncio.gather(
        *(claims.claim("drp_1", f"u{n % 100}", f"CODE{n}") for n in range(200))
    )
    codes: dict[str, set[str]] = {}
    for n, claim in enumerate(got):
        if claim.outcome in (Claimed.TAKEN, Claimed.HELD):
            codes.setdefault(f"u{n % 100}", set()).add(claim.code)
    assert 30 == len(codes) and all(1 == len(c) for c in codes.values())
    assert 30 == sum(c.outcome is Claimed.TAKEN for c in got)
    assert sorted(range(30)) == sorted(c.left for c in got if c.outcome is Claimed.TAKEN)
    assert True is await claims.end("drp_1")
    assert False is await claims.end("drp_1")
    someone = next(iter(codes))
    again = await claims.claim("drp_1", someone, "NEW")
    assert (Claimed.HELD, codes[someone]) == (again.outcome, {again.code})
    assert Claimed.ENDED is (await claims.claim("drp_1", "newcomer", "NEW")).outcome


def coupon(**fields: Any) -> Any:
    base: dict[str, Any] = {"coupon_id": "cpn_a", "seller_id": "usr_s", "code": "Spring",
                            "kind": CouponKind.PERCENT, "value": 10, "currency": None,
                            "now_ms": 1}  # fmt: skip
    return make_coupon(**{**base, **fields})


async def test_sql_coupons_redemptions_and_claims(db: SqliteDatabase | PostgresDatabase) -> None:
    """Codes are unique per seller (any case), a redemption is returned once, a drop and a
    repeated claim round-trip and are written once."""
    store = SqlCouponStore(db)
    spring = coupon(followers_only=True, scope_show_id="shw_1", ends_at_ms=99)
    assert True is await store.add_coupon(spring)
    assert False is await store.add_coupon(coupon(coupon_id="cpn_b", code="SPRING"))
    assert True is await store.add_coupon(coupon(coupon_id="cpn_c", seller_id="usr_t"))
    assert spring == await store.coupon_by_code("usr_s", "SPRING")
    await store.set_disabled("cpn_a", True)
    assert True is (await store.coupon("cpn_a")).disabled  # type: ignore[union-attr]
    await store.add_redemption("ord_1", "cpn_a", "usr_b", 490, "USD", 5)
    await store.add_redemption("ord_1", "cpn_a", "usr_b", 490, "USD", 5)
    await store.add_redemption("ord_2", "cpn_a", "usr_c", 490, "USD", 6)
    assert [("SPRING", 2)] == [(c.code, n) for c, n in await store.list_coupons("usr_s")]
    assert True is await store.return_redemption("ord_1", 7)
    assert False is await store.return_redemption("ord_1", 8)
    assert ({"ord_2": "usr_c"}, {"ord_1"}) == await store.redemptions("cpn_a")
    assert [1] == [n for _, n in await store.list_coupons("usr_s")]

    template = coupon(coupon_id="cpn_t", code="TEMPLATE", drop_id="drp_1", min_order=500,
                      currency="USD")  # fmt: skip
    drop = Drop("drp_1", "shw_1", "usr_s", template, 5, 60_000, 1)
    await store.add_drop(drop)
    assert drop == await store.drop("drp_1")
    mine = drop_coupon(template, coupon_id="cpn_mine", code="ABCDEFGHJK", now_ms=2)
    await store.add_claim("drp_1", "usr_v", mine, 2)
    await store.add_claim("drp_1", "usr_v", mine, 3)
    later = Drop("drp_2", "shw_1", "usr_s", replace(template, drop_id="drp_2"), 3, 90_000, 2)
    await store.add_drop(later)
    await store.add_drop(Drop("drp_3", "shw_2", "usr_s", template, 5, 60_000, 1))  # another show
    assert [(drop, 1), (later, 0)] == await store.running_drops("shw_1", 59_999)
    assert [(later, 0)] == await store.running_drops("shw_1", 60_000)  # drp_1's time is up
    assert mine == await store.coupon_by_code("usr_s", "ABCDEFGHJK")
    assert ["SPRING"] == [c.code for c, _ in await store.list_coupons("usr_s")]
    await store.end_drop("drp_1", 9)
    await store.end_drop("drp_1", 10)
    assert 9 == (await store.drop("drp_1")).ended_at_ms  # type: ignore[union-attr]
    await store.end_drop("drp_2", 11)
    assert [] == await store.running_drops("shw_1", 3)  # both ended
