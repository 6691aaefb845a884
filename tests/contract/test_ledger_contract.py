"""The OrderStore / ledger contract on SQLite and a real PostgreSQL: idempotent inserts,
compare-and-set status changes, one journal transaction per key even under races, derived
balances."""

from __future__ import annotations

import asyncio
from dataclasses import replace

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
