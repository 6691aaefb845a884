"""The AuctionStore contract (memory, and Redis with a real redis-server): open once,
compare-and-set on the version with the rows and the idempotency ack in the same step, and
exactly one winner among racing writers, a lost state rebuilt with its log once; and the SQL
BidLog (SQLite and PostgreSQL) with the newest live state kept for that rebuild."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace

import pytest

from livecommerce.adapters.memory.auctions import MemoryAuctions
from livecommerce.adapters.redis.auctions import RedisAuctions
from livecommerce.adapters.sql.auctions import SqlBidLog
from livecommerce.adapters.sql.database import PostgresDatabase, SqliteDatabase, migrate
from livecommerce.adapters.sql.orders import SqlOrderStore
from livecommerce.domain.auctions import (
    AuctionState,
    BidRow,
    make_settings,
    open_state,
    place_bid,
)
from livecommerce.domain.money import Money
from livecommerce.domain.offers import OfferKind, make_offer, start_offer
from livecommerce.errors import BidTooLow
from livecommerce.services.ports import AuctionRecord, AuctionStore
from tests.contract.conftest import REDIS_KINDS, redis_for

SETTINGS = make_settings(
    offer_id="ofr_c", currency="USD", starting_bid=100, duration_seconds=60, min_increment=10
)


@pytest.fixture(params=REDIS_KINDS)
async def store(request: pytest.FixtureRequest) -> AsyncIterator[AuctionStore]:
    if request.param == "memory":
        yield MemoryAuctions()
        return
    client = redis_for(request, 20)
    await client.flushall()
    yield RedisAuctions(client)
    await client.aclose()


def row(seq: int, amount: int) -> tuple[BidRow, str]:
    return BidRow(seq, "ofr_c", f"bidder-{seq}", amount, False, 1_000 + seq), f"usr_{seq}"


async def test_open_keeps_the_first_state(store: AuctionStore) -> None:
    """A second open (another node) gets the state the first one wrote."""
    assert await store.state("ofr_c") is None
    first = await store.open(open_state("ofr_c", 1_000, 61_000))
    again = await store.open(open_state("ofr_c", 5_000, 65_000))
    assert first == again == await store.state("ofr_c")
    assert 1_000 == again.starts_at_ms


async def test_open_rebuilds_a_lost_state_with_its_log_once(store: AuctionStore) -> None:
    """Opening with rows (a state rebuilt from SQL) writes them as the log; a second rebuild
    (another node at the same moment) changes nothing."""
    rebuilt = replace(open_state("ofr_c", 1_000, 61_000), version=2, seq=2, price=110)
    assert rebuilt == await store.open(rebuilt, [row(1, 100), row(2, 110)])
    assert rebuilt == await store.open(replace(rebuilt, version=9), [row(1, 999)])
    assert [row(1, 100), row(2, 110)] == await store.rows("ofr_c")
    newer = replace(rebuilt, version=3, seq=3, price=120)
    assert (await store.commit(2, newer, [row(3, 120)])).done
    assert [row(1, 100), row(2, 110), row(3, 120)] == await store.rows("ofr_c")


async def test_commit_is_compare_and_set_with_rows_and_ack(store: AuctionStore) -> None:
    """A stale version writes nothing; a fresh one writes the state, the rows and the acks (of
    two bidders: one commit per batch), and a known key afterwards returns its ack and which key
    it was, without writing."""
    state = await store.open(open_state("ofr_c", 1_000, 61_000))
    new = replace(state, version=1, seq=1, price=100)
    acks = {"u:key00001": {"bid": {"seq": 1}}, "v:key00002": {"bid": {"seq": 2}}}
    assert not (await store.commit(7, new, [row(1, 100), row(2, 110)], acks)).done
    assert [] == await store.rows("ofr_c")
    done = await store.commit(0, new, [row(1, 100), row(2, 110)], acks)
    assert (True, None) == (done.done, done.replay)
    assert [row(1, 100), row(2, 110)] == await store.rows("ofr_c")
    assert new == await store.state("ofr_c")
    assert {"bid": {"seq": 2}} == await store.replay("ofr_c", "v:key00002")
    newer = replace(new, version=2, seq=3, price=120)
    again = await store.commit(1, newer, [row(3, 120)], {"w:key00003": {}, **acks})
    assert (False, {"bid": {"seq": 1}}, "u:key00001") == (again.done, again.replay, again.key)
    assert (new, None) == (await store.state("ofr_c"), await store.replay("ofr_c", "w:key00003"))


async def test_racing_bids_make_one_high_bid(store: AuctionStore) -> None:
    """Forty bidders racing on one state (each re-judged after a lost race) leave a strictly
    increasing log whose last row is the price, and one leader."""
    await store.open(open_state("ofr_c", 0, 10**12))

    async def bidder(n: int) -> None:
        while True:
            state = await store.state("ofr_c")
            assert state is not None
            amount = 100 if state.price is None else state.price + 10
            try:
                placed = place_bid(
                    SETTINGS, state, user_id=f"u{n}", name="N", amount=amount,
                    max_amount=None, now_ms=1_000, salt="s",
                )  # fmt: skip
            except BidTooLow:
                continue
            if (await store.commit(state.version, placed.state, placed.rows)).done:
                return

    await asyncio.gather(*(bidder(n) for n in range(40)))
    final = await store.state("ofr_c")
    assert final is not None
    amounts = [r.amount for r, _ in await store.rows("ofr_c")]
    assert amounts == sorted(set(amounts))
    assert (40, 100 + 39 * 10) == (final.bids, final.price)
    assert list(range(1, final.seq + 1)) == [r.seq for r, _ in await store.rows("ofr_c")]


async def test_bid_log_records_once_and_settles_once(
    db: SqliteDatabase | PostgresDatabase,
) -> None:
    """Rows written twice are kept once; settlement and the second chance happen once."""
    await migrate(db)
    log = SqlBidLog(db)
    record = AuctionRecord("ofr_c", "shw_1", "prd_1", "var_1", SETTINGS, "salt")
    await log.add_auction(record)
    assert record == await log.auction("ofr_c")
    assert [] == await log.unsettled()  # its offer is a draft: nothing to close yet
    now = 1_000
    draft = make_offer(
        offer_id="ofr_c", show_id="shw_1", seller_id="usr_s", product_id="prd_1",
        kind=OfferKind.AUCTION, price=Money(100, "USD"), cap=1, per_buyer_limit=None,
        starts_at_ms=None, ends_at_ms=None, now_ms=now, duration_ms=60_000,
    )  # fmt: skip
    orders = SqlOrderStore(db)
    await orders.add_offer(draft)
    assert [] == await log.unsettled()
    await orders.save_offer(start_offer(draft, now), draft.status)
    assert await log.snapshot("ofr_c") is None
    live = open_state("ofr_c", now, now + 60_000)
    await log.append("ofr_c", [row(1, 100), row(2, 110)], replace(live, version=2, seq=2))
    await log.append("ofr_c", [row(2, 999), row(3, 120)], replace(live, version=3, seq=3))
    await log.append("ofr_c", [], replace(live, version=1, seq=1))  # late: an older state
    assert [row(1, 100), row(2, 110), row(3, 120)] == await log.rows("ofr_c")
    assert replace(live, version=3, seq=3) == await log.snapshot("ofr_c")
    assert ["ofr_c"] == await log.unsettled()
    settle = {"winner_id": "usr_3", "amount": 120, "order_id": "ord_1", "head": "ab", "at_ms": 9,
              "refused": {"bid_too_low": 4}}  # fmt: skip
    assert await log.settle("ofr_c", **settle)  # type: ignore[arg-type]
    assert not await log.settle("ofr_c", **settle)  # type: ignore[arg-type]
    assert [] == await log.unsettled()
    assert await log.set_second_chance("ofr_c", "ord_2")
    assert not await log.set_second_chance("ofr_c", "ord_3")
    settled = await log.auction("ofr_c")
    assert settled is not None
    assert (True, "usr_3", 120, "ord_1", "ord_2", "ab", {"bid_too_low": 4}) == (
        settled.settled,
        settled.winner_id,
        settled.amount,
        settled.order_id,
        settled.second_order_id,
        settled.head,
        settled.refused,
    )


async def test_refusals_are_counted_per_code(store: AuctionStore) -> None:
    """Refused bids are counted per error code, apart from the log."""
    assert {} == await store.refusals("ofr_c")
    await store.refuse("ofr_c", {"bid_too_low": 2})
    await store.refuse("ofr_c", {"bid_too_low": 1, "auction_closed": 1})
    assert {"bid_too_low": 3, "auction_closed": 1} == await store.refusals("ofr_c")
    assert [] == await store.rows("ofr_c")


def test_state_round_trips_through_the_wire() -> None:
    """What the Redis adapter stores (the state's JSON) reads back equal, leader included."""
    state = place_bid(
        SETTINGS, open_state("ofr_c", 0, 10), user_id="u", name="Ü", amount=100,
        max_amount=500, now_ms=1, salt="s",
    ).state  # fmt: skip
    assert state == AuctionState.from_wire(state.to_wire())
