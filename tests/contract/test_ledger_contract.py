"""The OrderStore / ledger contract on SQLite and a real PostgreSQL: idempotent inserts,
compare-and-set status changes, one journal transaction per key even under races, derived
balances."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import cast

from livecommerce.adapters.sql.database import PostgresDatabase, SqliteDatabase
from livecommerce.adapters.sql.orders import SqlOrderStore
from livecommerce.domain.ledger import (
    PLATFORM,
    Account,
    JournalTransaction,
    balances,
    payment_entry,
    refund_entry,
)
from livecommerce.domain.money import Money
from livecommerce.domain.offers import OfferKind, make_offer
from livecommerce.domain.orders import Order, OrderStatus, place_order, transition
from livecommerce.services.ports import OrderFilter

Db = SqliteDatabase | PostgresDatabase


def order(oid: str = "ord_1", key: str = "key-00001", buyer: str = "b1", at: int = 1_000) -> Order:
    return place_order(
        order_id=oid, buyer_id=buyer, seller_id="s1", show_id="sh1", offer_id="of1",
        product_id="p1", variant_id=None, quantity=2, unit_price=Money(1000, "EUR"),
        idempotency_key=key, request_hash="h", now_ms=at, ttl_ms=60_000,
    )  # fmt: skip


def paid_journal(o: Order) -> JournalTransaction:
    return payment_entry(
        order_id=o.id, seller_id=o.seller_id, total=o.total.minor, currency="EUR",
        fee_bps=1000, idempotency_key="payment:demo:x", at_ms=5,
    )  # fmt: skip


async def test_add_order_is_idempotent_per_buyer_key(db: Db) -> None:
    """A second insert with the same buyer and key returns the first order."""
    store = SqlOrderStore(db)
    first = await store.add_order(order())
    again = await store.add_order(replace(order("ord_2"), request_hash="other"))
    assert first == again
    assert [first] == await store.list_orders(OrderFilter(buyer_id="b1"))


async def test_status_change_is_compare_and_set(db: Db) -> None:
    """Saving with a stale expected status changes nothing."""
    store = SqlOrderStore(db)
    o = await store.add_order(order())
    pending = transition(o, OrderStatus.PENDING_PAYMENT, 2)
    assert await store.save_order(pending, OrderStatus.RESERVED)
    assert not await store.save_order(transition(o, OrderStatus.EXPIRED, 3), OrderStatus.RESERVED)
    got = await store.get_order(o.id)
    assert got is not None
    assert OrderStatus.PENDING_PAYMENT == got.status


async def test_racing_payments_post_one_journal_transaction(db: Db) -> None:
    """Ten racing settlements of one order: one wins, one journal transaction exists."""
    store = SqlOrderStore(db)
    o = await store.add_order(order())
    pending = transition(o, OrderStatus.PENDING_PAYMENT, 2)
    await store.save_order(pending, OrderStatus.RESERVED)
    paid = transition(pending, OrderStatus.PAID, 3)
    results = await asyncio.gather(
        *[store.save_order(paid, OrderStatus.PENDING_PAYMENT, paid_journal(o)) for _ in range(10)]
    )
    assert 1 == sum(results)
    journal = await store.journal(o.id)
    assert 1 == len(journal)
    assert [o.id] == [p.id for p in await store.paid_orders("of1")]
    assert 2000 == journal[0].amount
    assert -1800 == await store.ledger.balance(Account.SELLER_PAYABLE, "s1", "EUR")
    assert -200 == await store.ledger.balance(Account.PLATFORM_FEES, PLATFORM, "EUR")


async def test_refund_entries_reverse_and_balances_derive(db: Db) -> None:
    """A full refund after payment brings every derived balance back to zero."""
    store = SqlOrderStore(db)
    o = await store.add_order(order())
    pending = transition(o, OrderStatus.PENDING_PAYMENT, 2)
    await store.save_order(pending, OrderStatus.RESERVED)
    paid = transition(pending, OrderStatus.PAID, 3)
    await store.save_order(paid, OrderStatus.PENDING_PAYMENT, paid_journal(o))
    refund = refund_entry(
        order_id=o.id, seller_id="s1", total=2000, currency="EUR", fee_bps=1000,
        refunded_before=0, amount=2000, idempotency_key="refund:demo:r1", at_ms=9,
    )  # fmt: skip
    refunded = replace(transition(paid, OrderStatus.REFUNDED, 9), refunded_minor=2000)
    assert await store.save_order(refunded, OrderStatus.PAID, refund, 0)
    assert not await store.save_order(refunded, OrderStatus.PAID, refund, 0)
    assert all(v == 0 for v in balances(await store.journal()).values())


async def test_due_orders_and_filters(db: Db) -> None:
    """Due orders are holding ones past their deadline; list filters by status and time."""
    store = SqlOrderStore(db)
    a = await store.add_order(order("ord_a", "key-aaaaa", at=1_000))
    b = await store.add_order(order("ord_b", "key-bbbbb", at=100_000))
    assert [a.id] == [o.id for o in await store.due_orders(61_000)]
    assert {a.id, b.id} == {o.id for o in await store.due_orders(10**9)}
    late = await store.list_orders(OrderFilter(since_ms=50_000))
    assert [b.id] == [o.id for o in late]
    assert [] == await store.list_orders(OrderFilter(statuses=(OrderStatus.PAID,)))


async def test_events_are_recorded_once_and_offers_round_trip(db: Db) -> None:
    """Provider event ids dedupe; offers read back as written."""
    store = SqlOrderStore(db)
    assert not await store.seen_event("evt_1")
    await store.record_event("evt_1", "stripe", "payment_intent.succeeded", 1)
    await store.record_event("evt_1", "stripe", "payment_intent.succeeded", 2)
    assert await store.seen_event("evt_1")
    offer = make_offer(
        offer_id="of1", show_id="sh1", seller_id="s1", product_id="p1", kind=OfferKind.FLASH,
        price=Money(500, "EUR"), cap=10, per_buyer_limit=2, starts_at_ms=10, ends_at_ms=20,
        now_ms=1,
    )  # fmt: skip
    await store.add_offer(offer)
    assert offer == await store.get_offer("of1")
    assert [offer] == await store.list_offers("sh1")


async def test_one_tick_of_inserts_answers_each_caller(db: Db) -> None:
    """Orders added in one tick (one multi-row INSERT) each get their own answer: new ones come
    back as given, a twin of one in the same batch and a replay of a stored key get the stored
    order, and exactly one row per key exists."""
    store = SqlOrderStore(db)
    stored = await store.add_order(order("ord_old", "key-old01", "b9"))
    fresh = [order(f"ord_{i}", f"key-{i:05d}", f"b{i}") for i in range(5)]
    twin = order("ord_0", "key-00000", "b0", at=2_000)
    replay = order("ord_old", "key-old01", "b9", at=3_000)
    answers = await asyncio.gather(*[store.add_order(o) for o in [*fresh, twin, replay]])
    assert [*fresh, fresh[0], stored] == answers
    assert 6 == len(await store.list_orders(OrderFilter()))


async def test_a_bad_row_fails_only_its_own_caller(db: Db) -> None:
    """A row the database refuses fails its own insert; the orders batched with it are
    written all the same."""
    store = SqlOrderStore(db)
    good = [order(f"ord_{i}", f"key-{i:05d}", f"b{i}") for i in range(2)]
    bad = replace(order("ord_bad", "key-bad01", "b7"), request_hash=cast(str, None))
    answers = await asyncio.gather(
        store.add_order(good[0]), store.add_order(bad), store.add_order(good[1]),
        return_exceptions=True,
    )  # fmt: skip
    assert (good[0], good[1]) == (answers[0], answers[2])
    assert isinstance(answers[1], Exception)
    assert {"ord_0", "ord_1"} == {o.id for o in await store.list_orders(OrderFilter())}


async def test_one_tick_of_status_changes_is_compare_and_set_per_order(db: Db) -> None:
    """Status changes saved in one tick (one UPDATE) stay compare-and-set per order: a stale
    expected status changes nothing, and of two changes of one order only one wins."""
    store = SqlOrderStore(db)
    a, b, c = [await store.add_order(order(f"ord_{i}", f"key-{i}0000", f"b{i}")) for i in "abc"]
    results = await asyncio.gather(
        store.save_order(transition(a, OrderStatus.PENDING_PAYMENT, 2), OrderStatus.RESERVED),
        store.save_order(transition(b, OrderStatus.EXPIRED, 2), OrderStatus.PENDING_PAYMENT),
        store.save_order(transition(c, OrderStatus.PENDING_PAYMENT, 2), OrderStatus.RESERVED),
        store.save_order(transition(c, OrderStatus.EXPIRED, 2), OrderStatus.RESERVED),
    )
    assert (True, False) == (results[0], results[1])
    assert 1 == sum(results[2:])
    statuses = [(await store.get_order(o.id)) for o in (a, b, c)]
    assert [OrderStatus.PENDING_PAYMENT, OrderStatus.RESERVED] == [
        s.status for s in statuses[:2] if s is not None
    ]
    won = OrderStatus.PENDING_PAYMENT if results[2] else OrderStatus.EXPIRED
    assert statuses[2] is not None
    assert (won, 2) == (statuses[2].status, statuses[2].updated_at_ms)
