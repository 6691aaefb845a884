"""The notification store, identical on SQLite and PostgreSQL: outbox events written once per
key and inside another store's transaction (rolled back with it), leases that two workers never
share and that a dead worker's successor takes over, fan-out pages written twice adding
nothing, outcomes recorded only under the claim that holds, the inbox and preferences."""

from __future__ import annotations

from livecommerce.adapters.sql.accounts import SqlAccountStore
from livecommerce.adapters.sql.database import PostgresDatabase, SqliteDatabase
from livecommerce.adapters.sql.notifications import SqlNotificationStore, write_outbox
from livecommerce.domain.access import Role
from livecommerce.domain.notifications import (
    Channel,
    Content,
    DeliveryStatus,
    Kind,
    Preferences,
    order_event,
)
from livecommerce.services.ports import DeliveryOutcome, User

Db = SqliteDatabase | PostgresDatabase
WORDS = Content("Payment received", "Paid.", "/orders")


async def _users(db: Db, *ids: str) -> None:
    for uid in ids:
        await SqlAccountStore(db).add_user(
            User(uid, uid, f"{uid}@x.example", Role.VIEWER, False, 1)
        )


async def test_outbox_leases_fan_out_and_deliveries(db: Db) -> None:
    """An event is written once per key and not at all when its transaction fails; one worker
    holds it until the lease ends; pages written twice add nothing; deliveries are claimed by
    one worker, and an outcome under a lost claim is not written."""
    await _users(db, "usr_a", "usr_b")
    store = SqlNotificationStore(db)
    event = order_event("order.paid", "ord_1", "usr_a", "1.00 USD", 1000)
    await store.add_events([event])
    await store.add_events([event])
    try:
        async with db.transaction() as tx:
            await write_outbox(tx, [order_event("order.paid", "ord_2", "usr_b", "2.00 USD", 1)])
            raise RuntimeError("the change failed")
    except RuntimeError:
        pass
    [claimed] = await store.claim_events(now_ms=2000, lease_ms=1000, limit=10)
    assert ("order.paid", "usr_a") == (claimed.topic, claimed.payload["buyer_id"])
    assert [] == await store.claim_events(now_ms=2500, lease_ms=1000, limit=10)  # leased
    [again] = await store.claim_events(now_ms=3001, lease_ms=1000, limit=10)  # lease ran out
    assert not await store.expand(claimed, [("usr_a", WORDS, Kind.ORDER_PAID)], "x", 3002, 1000)
    for _ in range(2):
        rows = [("usr_a", WORDS, Kind.ORDER_PAID), ("usr_b", WORDS, Kind.ORDER_PAID)]
        assert await store.expand(again, rows, "done:", 3002, 1000)
    await store.finish_event(again, 3003)
    assert [] == await store.claim_events(now_ms=10_000, lease_ms=1000, limit=10)

    first = await store.claim_deliveries(now_ms=4000, lease_ms=1000, limit=100)
    assert 6 == len(first)  # two notifications, three channels each
    assert [] == await store.claim_deliveries(now_ms=4500, lease_ms=1000, limit=100)
    second = await store.claim_deliveries(now_ms=5001, lease_ms=1000, limit=100)
    assert {d.id for d in first} == {d.id for d in second}
    stale = [DeliveryOutcome(d.id, d.claim, DeliveryStatus.SENT, 0, 5002) for d in first]
    assert [] == await store.record(stale, 5002)
    in_app = [d for d in second if d.channel is Channel.IN_APP]
    outcomes = [DeliveryOutcome(d.id, d.claim, DeliveryStatus.SENT, 0, 5002) for d in in_app]
    assert {d.id for d in in_app} == set(await store.record(outcomes, 5002))
    assert "usr_a@x.example" == next(d.email for d in in_app if d.notification.user_id == "usr_a")

    listed = await store.notifications("usr_a", None, 10)
    assert [("order.paid", "Payment received", None)] == [
        (str(n.kind), n.title, n.read_at) for n in listed
    ]
    assert 1 == await store.unread_count("usr_a")
    assert 1 == await store.mark_read("usr_a", None, 6000)
    assert 0 == await store.unread_count("usr_a")
    delivered = {d["channel"]: d["status"] for d in await store.deliveries(listed[0].id)}
    assert {"in_app": "sent", "email": "pending", "push": "pending"} == delivered


async def test_preferences_round_trip(db: Db) -> None:
    """Preferences are stored whole and read in bulk; users without a row are left out."""
    await _users(db, "usr_p", "usr_q")
    store = SqlNotificationStore(db)
    prefs = Preferences(
        off=frozenset({"show.live:email"}),
        quiet_start="22:00",
        quiet_end="07:00",
        timezone="Europe/Berlin",
        answer_buyer_questions=True,
    )
    await store.save_preferences("usr_p", Preferences(), 1)
    await store.save_preferences("usr_p", prefs, 2)
    assert {"usr_p": prefs} == await store.preferences(["usr_p", "usr_q"])
