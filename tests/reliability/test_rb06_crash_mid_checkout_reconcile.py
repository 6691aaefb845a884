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
import itertools
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
from livecommerce.faults import POINTS
from livecommerce.settings import load_settings
from tests.reliability.conftest import RecordFigure
from tests.support.fake_stripe import FakeStripe
from tests.support.http import Api
from tests.support.servers import AppServer, free_port
from tests.support.shop import shop_env, stripe_payments

pytestmark = pytest.mark.timeout(180)

WHSEC = "whsec_rb06"
#: The sweeper (expiry and reconcile) interval of the server under test.
SWEEP_SECONDS = 1.5
CAP = 100
ON_HAND = 500
SOAK_ROUNDS = 30


@dataclass
class Shop:
    """What the seeded store holds: a live show with a started offer and the buyers' tokens."""

    show_id: str
    offer_id: str
    product_id: str
    tokens: dict[str, str]


@dataclass
class Rig:
    """The server under test (stopped between runs), what it was seeded with, an HTTP client
    for it, and a direct connection to its PostgreSQL for the checks."""

    server: AppServer
    shop: Shop
    api: Api
    db: Database
    store: SqlOrderStore
    fake: FakeStripe

    async def checkout(self, buyer: str, key: str) -> tuple[int, Any]:
        return await self.api.call(
            "POST",
            f"/api/v1/shows/{self.shop.show_id}/checkout",
            self.shop.tokens[buyer],
            json={"offer_id": self.shop.offer_id, "quantity": 1, "idempotency_key": key},
        )

    def intent_of(self, order_id: str) -> dict[str, Any]:
        """The one PaymentIntent the fake holds for an order (there must be exactly one)."""
        found = [
            p for p in self.fake.payment_intents.values() if p["metadata"]["order_id"] == order_id
        ]
        assert 1 == len(found)
        return found[0]

    async def unsettled(self) -> list[str]:
        """What breaks the criterion right now: every succeeded PaymentIntent must have exactly
        one order, paid, with exactly one payment row in the journal."""
        problems = []
        for pi in self.fake.payment_intents.values():
            if pi["status"] != "succeeded":
                continue
            rows = await self.db.fetchall("SELECT id FROM orders WHERE payment_ref = ?", pi["id"])
            if len(rows) != 1:
                problems.append(f"{pi['id']}: {len(rows)} orders")
                continue
            order = await self.store.get_order(rows[0]["id"])
            assert order is not None
            journal = await self.store.journal(order.id)
            payments = [t for t in journal if t.kind is EntryKind.PAYMENT]
            if order.status is not OrderStatus.PAID or len(payments) != 1:
                problems.append(f"{order.id}: {order.status}, {len(payments)} payment rows")
        return problems

    async def settle_within_two_sweeps(self) -> float:
        """Seconds from now until nothing is unsettled; fails past 2 sweeper intervals."""
        ready = time.monotonic()
        while problems := await self.unsettled():
            assert time.monotonic() - ready <= 2 * SWEEP_SECONDS, problems
            await asyncio.sleep(0.05)
        return time.monotonic() - ready

    async def assert_no_hold_leaked(self) -> None:
        """The variant and the offer's cap lost exactly the units of the paid PaymentIntents."""
        sold = sum(1 for p in self.fake.payment_intents.values() if p["status"] == "succeeded")
        status, product = await self.api.call("GET", f"/api/v1/products/{self.shop.product_id}")
        assert 200 == status
        assert [ON_HAND - sold] == [v["stock"] for v in product["variants"]]
        status, offers = await self.api.call("GET", f"/api/v1/shows/{self.shop.show_id}/offers")
        assert 200 == status
        assert [CAP - sold] == [o["stock_left"] for o in offers["offers"]]


@pytest.fixture
async def fake() -> AsyncIterator[FakeStripe]:
    async with FakeStripe() as server:
        yield server


@contextlib.asynccontextmanager
async def rig(
    fake: FakeStripe, postgres_url: str, redis_url: str, tmp_path: Path, buyers: list[str]
) -> AsyncIterator[Rig]:
    """Seed the store (seller, live show, product of 500 units, an offer capped at `CAP`) with
    the app's own services over the PostgreSQL and Redis the server will use, then hand over
    the server, not yet started."""
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
                "payments": stripe_payments(fake.url, fake.api_key, WHSEC),
                "shop": {
                    "sweep_interval_seconds": SWEEP_SECONDS,
                    "reconcile_interval_seconds": SWEEP_SECONDS,
                    "checkout_rates": [{"limit": 1000, "per_seconds": 1}],
                },
                "broadcast": {
                    "ice": {"host_addresses": ["127.0.0.2"]},
                    "media_dir": str(tmp_path / "media"),
                },
            }
        )
    )
    async with shop_env(load_settings(config, {})) as env:
        offer = await env.offer(stock=CAP)
        tokens = {}
        for name in buyers:
            _principal, user = await env.user(name)
            tokens[name] = await env.token(user)
        shop = Shop(env.show_id, offer.id, env.product.id, tokens)
    server = AppServer(config, port, tmp_path / "server.log")
    fake.add_endpoint(f"{server.url}/webhooks/stripe", WHSEC)
    db = await open_database(postgres_url, 2)
    try:
        async with aiohttp.ClientSession() as session:
            yield Rig(server, shop, Api(session, server.url), db, SqlOrderStore(db), fake)
    finally:
        await server.stop()
        await db.close()


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
    async with rig(fake, postgres_url, redis_url, tmp_path, ["ann", "dan"]) as r:
        server, store = r.server, r.store

        # 1. dies after Stripe created Ann's PaymentIntent, before the order names it
        await server.start("checkout.after_payment_created")
        with pytest.raises(aiohttp.ClientError):
            await r.checkout("ann", "rb06-ann-0001")
        assert -9 == await server.exited()
        await fake.idle()
        ann_pi = next(iter(fake.payment_intents.values()))
        ann_id = ann_pi["metadata"]["order_id"]
        ann = await store.get_order(ann_id)
        assert ann is not None
        assert (OrderStatus.RESERVED, "") == (ann.status, ann.payment_ref)

        # 2. Ann retries (same key: same order, same PaymentIntent); Dan buys; both pay, and the
        #    first webhook kills the server before the ledger commit
        await server.start("payment.before_ledger_commit")
        status, body = await r.checkout("ann", "rb06-ann-0001")
        assert 201 == status, body
        assert (ann_id, ann_pi["client_secret"]) == (
            body["order"]["id"],
            body["payment"]["client_secret"],
        )
        status, body = await r.checkout("dan", "rb06-dan-0001")
        assert 201 == status, body
        dan_id = body["order"]["id"]
        fake.pay_out_of_band(ann_pi["id"])
        fake.pay_out_of_band(r.intent_of(dan_id)["id"])
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
            for e in paid
            if e["type"] == "payment_intent.succeeded" and e["data"]["object"]["id"] == ann_pi["id"]
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
        took = await r.settle_within_two_sweeps()
        assert 2 == sum(1 for p in fake.payment_intents.values() if p["status"] == "succeeded")

        # every event that never got its 2xx, redelivered: all answered 2xx, nothing posts twice
        for event in [e for e in fake.events if not fake.delivered(e)]:
            assert 200 == await fake.deliver(event)
        assert [] == await r.unsettled()
        assert [] == [e["id"] for e in fake.events if not fake.delivered(e)]
        await r.assert_no_hold_leaked()
    figures(
        rb="RB-06",
        name="unsettled payment settled by the reconcile after a restart",
        value=round(took, 2),
        unit="s",
        limit=f"≤ {2 * SWEEP_SECONDS} (2 sweeper intervals)",
    )


@pytest.mark.soak
@pytest.mark.timeout(1800)
async def test_crash_rounds_soak(
    fake: FakeStripe,
    postgres_url: str,
    redis_url: str,
    tmp_path: Path,
    figures: RecordFigure,
) -> None:
    """N tier: 30 rounds, each killing the server at one of the points with several buyers'
    payments in flight; after each clean restart every payment settles within 2 sweeper
    intervals, once, and no hold leaks."""
    buyers = [f"buyer{i}" for i in range(3 * SOAK_ROUNDS)]
    worst = 0.0
    async with rig(fake, postgres_url, redis_url, tmp_path, buyers) as r:
        for n, point in zip(range(SOAK_ROUNDS), itertools.cycle(sorted(POINTS)), strict=False):
            trio = buyers[3 * n : 3 * n + 3]
            await r.server.start(point)
            if point == "checkout.after_payment_created":
                with pytest.raises(aiohttp.ClientError):
                    await r.checkout(trio[0], f"soak-{trio[0]}")
                assert -9 == await r.server.exited()
                await r.server.start()
                ids = [(await r.checkout(b, f"soak-{b}"))[1]["order"]["id"] for b in trio]
            else:
                ids = [(await r.checkout(b, f"soak-{b}"))[1]["order"]["id"] for b in trio]
            for order_id in ids:
                fake.pay_out_of_band(r.intent_of(order_id)["id"])
            if point != "checkout.after_payment_created":
                assert -9 == await r.server.exited()
                await fake.idle()
                await r.server.start()
            worst = max(worst, await r.settle_within_two_sweeps())
            await r.assert_no_hold_leaked()
            await r.server.stop()
        paid = sum(1 for p in fake.payment_intents.values() if p["status"] == "succeeded")
        assert 3 * SOAK_ROUNDS == paid
    figures(rb="RB-06", name="crash rounds", value=SOAK_ROUNDS)
    figures(rb="RB-06", name="payments settled once", value=paid, limit=f"{3 * SOAK_ROUNDS}")
    figures(
        rb="RB-06",
        name="slowest settle after a restart",
        value=round(worst, 2),
        unit="s",
        limit=f"≤ {2 * SWEEP_SECONDS}",
    )
