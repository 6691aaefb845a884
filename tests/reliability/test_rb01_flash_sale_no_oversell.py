"""RB-01 flash_sale_no_oversell: buyers released together by an `asyncio.Barrier` against a
flash sale capped at S units, over the real HTTP API on Redis (inventory) + PostgreSQL (orders,
ledger), with mixed quantities, double taps (one key sent twice at once), retries of a key
after its answer, and a smaller retry (a new key for one unit) after a sold-out answer. Every
request is recorded as a Jepsen-style history (invoke, then ok / fail with its time) that a
checker replays; the offer's counts are sampled all the while."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import ClientSession, TCPConnector

from livecommerce.domain.ledger import EntryKind
from livecommerce.domain.offers import Offer, OfferKind
from livecommerce.domain.orders import OrderStatus
from tests.conftest import SettingsFactory
from tests.reliability.conftest import RecordFigure
from tests.support.shop import (
    UNHURRIED_SHOP,
    ShopEnv,
    percentile,
    post_json,
    production_sections,
    shop_env,
)

STOCK = 10
PAYS = "4242 4242 4242 4242"

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


@dataclass
class Op:
    """One history event: `invoke` when a request is sent, `ok` / `fail` when it is answered
    (`call` pairs the two; a buyer's double tap is two calls in flight at once)."""

    call: int
    process: int
    type: str
    f: str
    value: Any
    at_ns: int


@dataclass
class History:
    ops: list[Op] = field(default_factory=list)

    async def run(self, process: int, f: str, value: Any, call: Any) -> tuple[int, Any]:
        """Record the invocation and the completion of one HTTP call."""
        n = len(self.ops)
        self.ops.append(Op(n, process, "invoke", f, value, time.monotonic_ns()))
        status, body = await call
        kind = "ok" if status < 300 else "fail"
        self.ops.append(Op(n, process, kind, f, (value, status, body), time.monotonic_ns()))
        return status, body


@dataclass
class Verdict:
    orders: dict[str, int]  # order id → units, of every checkout answered ok
    paid: set[str]
    demand: int
    attempts: int
    latencies_s: list[float]


def check(history: History) -> Verdict:
    """Replay the history: every invocation completes once, after it began; a key always maps
    to the same order; refusals are clean `sold_out` answers; every paid order was checked out."""
    pending: dict[int, Op] = {}
    orders: dict[str, int] = {}
    by_key: dict[str, str] = {}
    paid: set[str] = set()
    wanted: dict[int, int] = {}
    latencies: list[float] = []
    attempts = 0
    for op in history.ops:
        if op.type == "invoke":
            pending[op.call] = op
            if op.f == "checkout":
                attempts += 1
                wanted[op.process] = max(wanted.get(op.process, 0), op.value["quantity"])
            continue
        started = pending.pop(op.call)
        assert (started.process, started.f) == (op.process, op.f)
        assert started.at_ns <= op.at_ns
        latencies.append((op.at_ns - started.at_ns) / 1e9)
        request, status, body = op.value
        if op.f == "checkout" and op.type == "ok":
            order = body["order"]
            assert request["quantity"] == orders.setdefault(order["id"], request["quantity"])
            assert order["id"] == by_key.setdefault(request["idempotency_key"], order["id"])
            assert (order["total"]["amount"], order["status"]) == (
                1999 * request["quantity"],
                "pending_payment",
            )
        elif op.f == "checkout":
            assert (409, "sold_out") == (status, body["error"]["code"]), body
        elif op.f == "confirm":
            assert (200, "paid") == (status, body["status"]), body
            assert request in orders
            paid.add(request)
    assert not pending, "an invocation never completed"
    return Verdict(orders, paid, sum(wanted.values()), attempts, latencies)


async def flash_sale(env: ShopEnv, buyers: int, seed: int) -> tuple[Verdict, Offer, float]:
    """Run one sale; returns the checked history, the offer and the seconds it took."""
    offer = await env.offer(stock=STOCK, kind=OfferKind.FLASH, price=1999)
    tokens = [await env.token((await env.user(f"b{i}"))[1]) for i in range(buyers)]
    rng = random.Random(seed)
    quantities = [rng.choice([1, 1, 2, 3]) for _ in range(buyers)]
    history = History()
    samples: list[tuple[int, int, int]] = []
    gate = asyncio.Barrier(buyers)
    done = asyncio.Event()
    url = f"{env.base_url}/api/v1/shows/{env.show_id}/checkout"

    async def sample() -> None:
        while not done.is_set():
            level = await env.cap(offer)
            samples.append((level.sold, level.reserved, level.available))
            await asyncio.sleep(0.002)

    async def buy(i: int, http: ClientSession) -> None:
        def checkout(key: str, quantity: int) -> Any:
            body = {"offer_id": offer.id, "quantity": quantity, "idempotency_key": key}
            return history.run(i, "checkout", body, post_json(http, url, body, tokens[i]))

        key = f"rb01-{i:05d}-first"
        await gate.wait()
        taps = 2 if i % 5 == 0 else 1  # a double tap: the same key twice at once
        answers = await asyncio.gather(*[checkout(key, quantities[i]) for _ in range(taps)])
        if i % 7 == 0:  # the client lost the answer and sends the same key again
            answers.append(await checkout(key, quantities[i]))
        status, body = answers[0]
        if status == 409 and quantities[i] > 1:
            status, body = await checkout(f"rb01-{i:05d}-one", 1)
        if status == 201:
            order_id = body["order"]["id"]
            pay = post_json(http, body["payment"]["confirm_url"], {"card": PAYS}, tokens[i])
            await history.run(i, "confirm", order_id, pay)

    sampler = asyncio.create_task(sample())
    started = time.perf_counter()
    async with ClientSession(connector=TCPConnector(limit=200)) as http:
        await asyncio.wait_for(asyncio.gather(*[buy(i, http) for i in range(buyers)]), 300)
    elapsed = time.perf_counter() - started
    done.set()
    await sampler
    verdict = check(history)
    assert samples
    assert all(min(s) >= 0 and sum(s) == STOCK for s in samples), "conservation broke"
    return verdict, offer, elapsed


async def settled_units(env: ShopEnv, offer: Offer) -> tuple[int, int]:
    """(units the offer's cap counts sold, units the ledger's payment entries paid for)."""
    level = await env.cap(offer)
    assert (0, STOCK - level.sold) == (level.reserved, level.available)
    paid = {o.id: o for o in await env.adapters.orders.offer_orders(offer.id, [OrderStatus.PAID])}
    payments = [t for t in await env.adapters.orders.journal() if t.kind is EntryKind.PAYMENT]
    assert len(payments) == len(paid)
    assert all(t.amount == paid[t.order_id].total.minor for t in payments)
    return level.sold, sum(paid[t.order_id].quantity for t in payments)


@pytest.fixture
async def env(
    settings_factory: SettingsFactory, postgres_url: str, redis_url: str
) -> AsyncIterator[ShopEnv]:
    settings = settings_factory(
        shop={**UNHURRIED_SHOP, "stock_update_interval_seconds": 0.2},
        **production_sections(postgres_url, redis_url),
    )
    async with shop_env(settings) as running:
        yield running


async def test_flash_sale_sells_exactly_the_stock(env: ShopEnv) -> None:
    """200 buyers at once for 10 units: units sold == min(S, demand), counts conserved at every
    sample, every paid unit in the ledger once."""
    verdict, offer, _elapsed = await flash_sale(env, 200, seed=1)
    assert min(STOCK, verdict.demand) == sum(verdict.orders.values())
    assert set(verdict.orders) == verdict.paid
    sold, ledger_units = await settled_units(env, offer)
    assert (STOCK, STOCK) == (sold, ledger_units)


@pytest.mark.soak
@pytest.mark.timeout(900)
async def test_flash_sale_soak(env: ShopEnv, figures: RecordFigure) -> None:
    """1,000 buyers at once for 10 units: the same criteria, with the figures recorded."""
    verdict, offer, elapsed = await flash_sale(env, 1000, seed=2)
    sold, ledger_units = await settled_units(env, offer)
    sold_in_history = sum(verdict.orders.values())
    figures(rb="RB-01", name="units oversold", value=max(0, sold - STOCK), unit="units", limit="0")
    figures(rb="RB-01", name="units sold (S = 10)", value=sold, unit="units", limit="10")
    figures(rb="RB-01", name="ledger units", value=ledger_units, unit="units", limit="10")
    figures(
        rb="RB-01", name="checkout attempts / s", value=round(verdict.attempts / elapsed), unit="/s"
    )
    p99 = percentile(verdict.latencies_s, 0.99) * 1000
    figures(rb="RB-01", name="p99 request latency (200 connections)", value=round(p99), unit="ms")
    assert min(STOCK, verdict.demand) == sold_in_history == sold == ledger_units
    assert set(verdict.orders) == verdict.paid
