"""RB-06 crash_mid_checkout_reconcile: the real server (`python -m livecommerce serve`, PostgreSQL
and Redis started by the tests, Stripe = the fake in this process, which the kill does not touch)
is SIGKILLed at each named fault point (livecommerce/faults.py), restarted without it, sent the
webhooks again, and left to its reconcile (Stripe's `GET /v1/events?delivery_success=false`).

Pass criterion: every succeeded PaymentIntent has exactly one order and one ledger row within 2
sweeper intervals; no hold leaked.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from livecommerce.adapters.sql.database import Database, open_database
from livecommerce.adapters.sql.orders import SqlOrderStore
from livecommerce.domain.ledger import EntryKind
from livecommerce.domain.orders import OrderStatus
from livecommerce.settings import load_settings
from tests.reliability.conftest import RecordFigure
from tests.support.fake_stripe import FakeStripe
from tests.support.http import Api
from tests.support.servers import AppServer, free_port
from tests.support.shop import shop_env

pytestmark = pytest.mark.timeout(180)

WHSEC = "whsec_rb06"
#: The sweeper (expiry and reconcile) interval of the server under test.
SWEEP_SECONDS = 1.5
CAP = 10
ON_HAND = 500


@dataclass
class Shop:
    """What the seeded store holds: a live show with a started offer and two buyers' tokens."""

    show_id: str
    offer_id: str
    product_id: str
    tokens: dict[str, str]


@pytest.fixture
async def fake() -> AsyncIterator[FakeStripe]:
    async with FakeStripe() as server:
        yield server


async def seed(config: Path, buyers: list[str]) -> Shop:
    """Seller, live show, product (500 units) and an offer capped at 10, written by the app's own
    services over the same PostgreSQL and Redis the server will use, before it starts."""
    async with shop_env(load_settings(config, {})) as env:
        offer = await env.offer(stock=CAP)
        tokens = {}
        for name in buyers:
            _principal, user = await env.user(name)
            tokens[name] = await env.token(user)
        return Shop(env.show_id, offer.id, env.product.id, tokens)


async def checkout(api: Api, shop: Shop, buyer: str, key: str) -> tuple[int, Any]:
    return await api.call(
        "POST",
        f"/api/v1/shows/{shop.show_id}/checkout",
        shop.tokens[buyer],
        json={"offer_id": shop.offer_id, "quantity": 1, "idempotency_key": key},
    )


def intent_of(fake: FakeStripe, order_id: str) -> dict[str, Any]:
    """The one PaymentIntent the fake holds for an order (there must be exactly one)."""
    found = [p for p in fake.payment_intents.values() if p["metadata"]["order_id"] == order_id]
    assert 1 == len(found)
    return found[0]


async def settled(store: SqlOrderStore, db: Database, fake: FakeStripe) -> list[str]:
    """What breaks the criterion right now: every succeeded PaymentIntent must have exactly one
    order, paid, with exactly one payment row in the journal."""
    problems = []
    for pi in fake.payment_intents.values():
        if pi["status"] != "succeeded":
            continue
        rows = await db.fetchall("SELECT id FROM orders WHERE payment_ref = ?", pi["id"])
        if len(rows) != 1:
            problems.append(f"{pi['id']}: {len(rows)} orders")
            continue
        order = await store.get_order(rows[0]["id"])
        assert order is not None
        payments = [t for t in await store.journal(order.id) if t.kind is EntryKind.PAYMENT]
        if order.status is not OrderStatus.PAID or len(payments) != 1:
            problems.append(f"{order.id}: {order.status}, {len(payments)} payment rows")
    return problems


async def test_sigkill_at_each_fault_point_then_restart_redeliver_reconcile(
    fake: FakeStripe,
    postgres_url: str,
    redis_url: str,
    tmp_path: Path,
    figures: RecordFigure,
) -> None:
    """Killed after creating a payment, before and after the ledger commit: after a restart the
    buyer's retry reuses its PaymentIntent, and the reconcile settles every payment whose webhook
    never arrived within 2 sweeper intervals, once, with no hold left behind."""
    port = free_port()
    config = tmp_path / "config.yaml"
    config.write_text(
        json.dumps(  # JSON is YAML
            {
                "server": {"host": "127.0.0.1", "port": port, "data_dir": str(tmp_path / "data")},
                "demo": {"enabled": False},
                "log": {"format": "text", "level": "WARNING"},
                "store": {"url": postgres_url},
                "redis": {"url": redis_url},
                "payments": {
                    "provider": "stripe",
                    "stripe_secret_key": fake.api_key,
                    "stripe_publishable_key": "pk_test_local",
                    "stripe_webhook_secret": WHSEC,
                    "stripe_api_base": fake.url,
                },
                "shop": {
                    "sweep_interval_seconds": SWEEP_SECONDS,
                    "checkout_rates": [{"limit": 1000, "per_seconds": 1}],
                },
                "broadcast": {
                    "ice": {"host_addresses": ["127.0.0.2"]},
                    "media_dir": str(tmp_path / "media"),
                },
            }
        )
    )
    shop = await seed(config, ["ann", "dan"])
    server = AppServer(config, port, tmp_path / "server.log")
    fake.add_endpoint(f"{server.url}/webhooks/stripe", WHSEC)
    db = await open_database(postgres_url, 2)
    store = SqlOrderStore(db)
    try:
        async with aiohttp.ClientSession() as session:
            api = Api(session, server.url)

            # 1. dies after Stripe created Ann's PaymentIntent, before the order names it
            await server.start("checkout.after_payment_created")
            with pytest.raises(aiohttp.ClientError):
                await checkout(api, shop, "ann", "rb06-ann-0001")
            assert -9 == await server.exited()
            await fake.idle()
            ann_pi = next(iter(fake.payment_intents.values()))
            ann_id = ann_pi["metadata"]["order_id"]
            ann = await store.get_order(ann_id)
            assert ann is not None
            assert (OrderStatus.RESERVED, "") == (ann.status, ann.payment_ref)

            # 2. Ann retries (same key: same order, same PaymentIntent); Dan buys; both pay, and
            #    the first webhook kills the server before the ledger commit
            await server.start("payment.before_ledger_commit")
            status, body = await checkout(api, shop, "ann", "rb06-ann-0001")
            assert 201 == status, body
            assert (ann_id, ann_pi["client_secret"]) == (
                body["order"]["id"],
                body["payment"]["client_secret"],
            )
            status, body = await checkout(api, shop, "dan", "rb06-dan-0001")
            assert 201 == status, body
            dan_id = body["order"]["id"]
            fake.pay_out_of_band(ann_pi["id"])
            fake.pay_out_of_band(intent_of(fake, dan_id)["id"])
            assert -9 == await server.exited()
            await fake.idle()
            paid = [e for e in fake.events if e["type"].endswith("succeeded")]
            assert [False] * 4 == [fake.delivered(e) for e in paid]
            for order_id in (ann_id, dan_id):
                assert [] == await store.journal(order_id)

            # 3. Ann's event redelivered: dies after the ledger commit, before the 2xx
            await server.start("payment.after_ledger_commit")
            ann_succeeded = next(
                e
                for e in fake.events
                if e["type"] == "payment_intent.succeeded"
                and e["data"]["object"]["id"] == ann_pi["id"]
            )
            with contextlib.suppress(aiohttp.ClientError):
                await fake.deliver(ann_succeeded)
            assert -9 == await server.exited()
            assert not fake.delivered(ann_succeeded)
            ann = await store.get_order(ann_id)
            assert ann is not None
            assert OrderStatus.PAID is ann.status
            assert 1 == len(await store.journal(ann_id))

            # 4. clean restart, nothing redelivered: the reconcile alone settles Dan
            await server.start()
            ready = time.monotonic()
            while problems := await settled(store, db, fake):
                assert time.monotonic() - ready <= 2 * SWEEP_SECONDS, problems
                await asyncio.sleep(0.05)
            took = time.monotonic() - ready
            assert 2 == len(
                [p for p in fake.payment_intents.values() if p["status"] == "succeeded"]
            )

            # every event that never got its 2xx, redelivered: all answered 2xx, nothing posts twice
            for event in [e for e in fake.events if not fake.delivered(e)]:
                assert 200 == await fake.deliver(event)
            assert [] == await settled(store, db, fake)
            assert [] == [e["id"] for e in fake.events if not fake.delivered(e)]

            # no hold leaked: the variant lost exactly the 2 sold units, the cap exactly 2
            status, product = await api.call("GET", f"/api/v1/products/{shop.product_id}")
            assert 200 == status
            assert [ON_HAND - 2] == [v["stock"] for v in product["variants"]]
            status, offers = await api.call("GET", f"/api/v1/shows/{shop.show_id}/offers")
            assert 200 == status
            assert [CAP - 2] == [o["stock_left"] for o in offers["offers"]]
            await server.stop()
        figures(
            rb="RB-06",
            name="unsettled payment settled by the reconcile after a restart",
            value=round(took, 2),
            unit="s",
            limit=f"≤ {2 * SWEEP_SECONDS} (2 sweeper intervals)",
        )
    finally:
        await server.stop()
        await db.close()
