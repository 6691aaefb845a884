"""The GroupBuyStore contract and the demo provider's held payments on SQLite and PostgreSQL:
distinct members counted, the close frozen once, due groups found (and a settled group again
while a member is left), a held payment captured once at most its amount or released."""

from __future__ import annotations

from dataclasses import replace

from livecommerce.adapters.demo_payments import DemoPaymentGateway
from livecommerce.adapters.sql.database import PostgresDatabase, SqliteDatabase, migrate
from livecommerce.adapters.sql.groupbuys import SqlGroupBuyStore
from livecommerce.adapters.sql.orders import SqlOrderStore
from livecommerce.domain.groupbuy import Tier
from livecommerce.domain.money import Money
from livecommerce.domain.offers import OfferKind, end_offer, make_offer, start_offer
from livecommerce.domain.orders import Order, OrderStatus, ProviderStatus, place_order, transition
from livecommerce.services.ports import GroupRecord

NOW = 1_000


def _order(n: int, buyer: str, quantity: int = 1) -> Order:
    return place_order(
        order_id=f"ord_{n}", buyer_id=buyer, seller_id="usr_s", show_id="shw_1",
        offer_id="ofr_g", product_id="prd_1", variant_id=None, quantity=quantity,
        unit_price=Money(4000, "USD"), idempotency_key=f"key-{n:05d}", request_hash="h",
        now_ms=NOW, ttl_ms=60_000,
    )  # fmt: skip


async def test_members_close_and_due(db: SqliteDatabase | PostgresDatabase) -> None:
    """Buyers are distinct people with an authorised order; the first freeze stands; a group is
    due once its deadline passed or it was ended, and again while a member is left."""
    await migrate(db)
    groups, orders = SqlGroupBuyStore(db), SqlOrderStore(db)
    tiers = (Tier(2, 4000), Tier(3, 3500))
    record = GroupRecord("ofr_g", "shw_1", "var_1", tiers, "USD")
    await groups.add_group(record)
    assert record == await groups.group("ofr_g")
    draft = make_offer(
        offer_id="ofr_g", show_id="shw_1", seller_id="usr_s", product_id="prd_1",
        kind=OfferKind.GROUP, price=Money(4000, "USD"), cap=None, per_buyer_limit=None,
        starts_at_ms=None, ends_at_ms=None, now_ms=NOW, duration_ms=60_000,
    )  # fmt: skip
    await orders.add_offer(draft)
    live = start_offer(draft, NOW)
    await orders.save_offer(live, draft.status)
    assert [] == await groups.due(NOW + 59_999)
    assert ["ofr_g"] == await groups.due(NOW + 60_000)

    for n, buyer in enumerate(["usr_a", "usr_a", "usr_b", "usr_c"]):
        order = await orders.add_order(_order(n, buyer))
        pending = transition(order, OrderStatus.PENDING_PAYMENT, NOW)
        assert await orders.save_order(pending, OrderStatus.RESERVED)
        if buyer != "usr_c":
            member = transition(pending, OrderStatus.AUTHORIZED, NOW)
            assert await orders.save_order(member, OrderStatus.PENDING_PAYMENT)
    assert 2 == await groups.buyers("ofr_g")

    assert not await groups.mark_settled("ofr_g", NOW)  # not closed yet
    frozen = await groups.freeze("ofr_g", 2, 4000, NOW + 60_000)
    again = await groups.freeze("ofr_g", 3, 3500, NOW + 61_000)
    assert frozen == again
    assert (2, 4000, NOW + 60_000) == (again.buyers, again.final_price, again.closed_at_ms)
    assert await groups.mark_settled("ofr_g", NOW + 62_000)
    assert not await groups.mark_settled("ofr_g", NOW + 63_000)
    # settled with members still authorised: due until they are captured or voided
    assert ["ofr_g"] == await groups.due(NOW + 70_000)
    for order in await orders.offer_orders("ofr_g", [OrderStatus.AUTHORIZED]):
        assert await orders.save_order(transition(order, OrderStatus.VOID, NOW), order.status)
    assert [] == await groups.due(NOW + 70_000)

    other = replace(draft, id="ofr_h")
    await orders.add_offer(other)
    await groups.add_group(replace(record, offer_id="ofr_h"))
    assert [] == await groups.due(NOW)
    await orders.save_offer(end_offer(other), other.status)
    assert ["ofr_h"] == await groups.due(NOW)


async def test_demo_held_payment(db: SqliteDatabase | PostgresDatabase) -> None:
    """A held demo payment is authorised by a paying card, captured once at most its amount
    (a second capture reads the first), or released; the declining-at-capture card declines."""
    await migrate(db)
    demo = DemoPaymentGateway(db, "http://127.0.0.1")
    kept, released, declined = _order(1, "usr_a", 2), _order(2, "usr_b"), _order(3, "usr_c")
    for order in (kept, released, declined):
        await demo.create_payment(order, hold=True)
    assert ProviderStatus.AUTHORIZED is await demo.confirm(kept, "4242 4242 4242 4242")
    assert ProviderStatus.AUTHORIZED is await demo.confirm(released, "4242424242424242")
    assert ProviderStatus.AUTHORIZED is await demo.confirm(declined, "4000000000000341")
    assert ProviderStatus.AUTHORIZED is await demo.capture_payment(kept, 8001)  # above the hold
    assert ProviderStatus.SUCCEEDED is await demo.capture_payment(kept, 7000)
    assert ProviderStatus.SUCCEEDED is await demo.capture_payment(kept, 6000)
    row = await db.fetchone("SELECT amount_captured FROM demo_payments WHERE order_id = 'ord_1'")
    assert row is not None
    assert 7000 == row["amount_captured"]
    assert ProviderStatus.CANCELED is await demo.cancel_payment(released)
    assert ProviderStatus.CANCELED is await demo.capture_payment(released, 4000)
    assert ProviderStatus.CANCELED is await demo.capture_payment(declined, 4000)
    assert ProviderStatus.SUCCEEDED is await demo.cancel_payment(kept)

    instant = _order(4, "usr_d")
    await demo.create_payment(instant)
    assert ProviderStatus.CANCELED is await demo.confirm(instant, "4000000000000341")
