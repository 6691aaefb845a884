"""A group buy's close killed mid-capture: the real server (`python -m livecommerce serve` with
its SQLite store, paying through the demo provider or through Stripe = the local Stripe server in
this process, which the kill does not touch) dies by SIGKILL at the `group.after_capture` fault
point (livecommerce/faults.py), right after the provider captured the first member and before
the order says so; restarted, its sweeper finishes the close by the same decision."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import pytest

from livecommerce.adapters.sql.database import Database, open_database
from livecommerce.adapters.sql.groupbuys import SqlGroupBuyStore
from livecommerce.adapters.sql.orders import SqlOrderStore
from livecommerce.domain.ledger import EntryKind
from livecommerce.domain.orders import Order, OrderStatus
from livecommerce.settings import load_settings
from tests.support.fake_stripe import FakeStripe
from tests.support.servers import AppServer, free_port
from tests.support.shop import shop_env, stripe_payments

pytestmark = pytest.mark.timeout(120)

MEMBERS = 4
TIERS = [{"min_buyers": 2, "price": 4000}, {"min_buyers": MEMBERS, "price": 3500}]


def _config(
    tmp_path: Path, port: int, group_sweep: float, fake: FakeStripe | None
) -> dict[str, Any]:
    payments = {"provider": "demo"} if fake is None else stripe_payments(fake.url, fake.api_key)
    return {
        "server": {"host": "127.0.0.1", "port": port, "data_dir": str(tmp_path / "data")},
        "demo": {"enabled": False},
        "log": {"format": "text", "level": "WARNING"},
        "payments": payments,
        "shop": {
            "group_sweep_seconds": group_sweep,
            "sweep_interval_seconds": 3600,
            "checkout_rates": [{"limit": 1000, "per_seconds": 1}],
        },
        "broadcast": {"ice": {"host_addresses": ["127.0.0.2"]}, "media_dir": str(tmp_path / "m")},
    }


async def _held(db: Database, fake: FakeStripe | None, members: list[Order]) -> list[Any]:
    """(status, amount captured) of each member's payment at the provider."""
    if fake is None:
        rows = await db.fetchall("SELECT order_id, status, amount_captured FROM demo_payments")
        found = {r["order_id"]: (r["status"], r["amount_captured"] or 0) for r in rows}
        return [found[m.id] for m in members]
    intents = [fake.payment_intents[m.payment_ref] for m in members]
    return [(pi["status"], pi["amount_received"]) for pi in intents]


@pytest.mark.parametrize("provider", ["demo", "stripe"])
async def test_sigkill_during_the_capture_loop_then_restart_captures_each_member_once(
    tmp_path: Path, provider: str
) -> None:
    """Killed after the first member's capture at the provider: after a restart every member is
    captured exactly once at the final price, with one journal entry each, and none is voided."""
    if provider == "demo":
        await _crash_and_restart(tmp_path, None)
        return
    async with FakeStripe() as fake:
        await _crash_and_restart(tmp_path, fake)


async def _crash_and_restart(tmp_path: Path, fake: FakeStripe | None) -> None:
    port = free_port()
    seed = tmp_path / "seed.yaml"
    seed.write_text(json.dumps(_config(tmp_path, port, 3600, fake)))  # JSON is YAML
    serve = tmp_path / "serve.yaml"
    serve.write_text(json.dumps(_config(tmp_path, port, 0.2, fake)))
    settings = load_settings(seed, {})

    # seed: a group offer with four members holding their card, then the seller ends it (due)
    async with shop_env(settings) as env:
        offer = await env.shop.groups.create(
            env.seller, env.show_id, product_id=env.product.id, tiers=TIERS, duration_ms=600_000
        )
        await env.shop.offers.start(env.seller, env.show_id, offer.id)
        members = []
        for n in range(MEMBERS):
            buyer = await env.buyer(f"crash{n}")
            order, pay = await env.shop.checkout.start(
                buyer, env.show_id, offer.id, None, 1, f"crash-join-{n}"
            )
            if fake is None:
                member = await env.shop.payments.confirm_demo(buyer, order.id, "4242424242424242")
            else:
                fake.pay_out_of_band(pay.ref)
                member = await env.shop.payments.sync(order.id)
            members.append(member)
        assert [OrderStatus.AUTHORIZED] * MEMBERS == [m.status for m in members]
        await env.shop.offers.end(env.seller, env.show_id, offer.id)

    server = AppServer(serve, port, tmp_path / "server.log")
    db = await open_database(settings.store_url, 1)
    orders, groups = SqlOrderStore(db), SqlGroupBuyStore(db)
    try:
        await server.start("group.after_capture")
        assert -9 == await server.exited(), server.tail()
        held = await _held(db, fake, members)
        assert 1 == sum(status == "succeeded" for status, _ in held), held
        killed = await orders.get_order(members[[s for s, _ in held].index("succeeded")].id)
        assert killed is not None
        assert OrderStatus.AUTHORIZED is killed.status
        assert [] == await orders.journal()
        record = await groups.group(offer.id)
        assert record is not None
        assert (MEMBERS, 3500, None) == (record.buyers, record.final_price, record.settled_at_ms)

        await server.start()
        started = time.monotonic()
        while (record := await groups.group(offer.id)) is None or record.settled_at_ms is None:
            assert time.monotonic() - started < 60, server.tail()
            await asyncio.sleep(0.1)
        await server.stop()

        for member in members:
            paid = await orders.get_order(member.id)
            assert paid is not None
            assert (OrderStatus.PAID, 3500) == (paid.status, paid.total.minor)
            journal = await orders.journal(member.id)
            assert [3500] == [t.amount for t in journal if t.kind is EntryKind.PAYMENT]
        assert [("succeeded", 3500)] * MEMBERS == await _held(db, fake, members)
        stock = await db.fetchall("SELECT stock FROM product_variants")
        assert [500 - MEMBERS] == [r["stock"] for r in stock]  # one sale movement each
        if fake is not None:
            assert [1] * MEMBERS == [fake.captures[m.payment_ref] for m in members]
    finally:
        await server.stop()
        await db.close()
