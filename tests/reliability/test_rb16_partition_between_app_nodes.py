"""RB-16 partition_between_app_nodes (N tier): two app nodes share Redis and PostgreSQL; node B
runs in its own network namespace (tests/support/netns.py) and its link to Redis — its only
path to node A — is taken down for 30 s while a flash sale is live, then brought back. B's
viewers stay connected to B over a second link; both nodes reach PostgreSQL through its Unix
socket, as a store on its own network would stay reachable. Nothing in our code is patched:
the partition is a veth link going down, so B's open Redis connections hang silently instead of
failing, as they would when a switch or a security group drops a node.

During the partition every buyer on both nodes taps Buy once, node A's paid buyers confirm, and
one chatter per node sends a line a second. Figures: sales per node, how B's checkouts were
refused and how long they took, what B's viewers believed about the offer's stock, and which
chat lines each viewer missed after the heal."""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import redis.asyncio as aioredis

from livecommerce.adapters.redis.inventory import RedisInventory
from livecommerce.domain.inventory import ReservationStatus
from livecommerce.domain.orders import HOLDING, OrderStatus
from livecommerce.services.checkout import order_id_for
from tests.reliability.conftest import RecordFigure
from tests.support import netns
from tests.support.http import Api
from tests.support.hub_clients import Event, HubClient, join_show
from tests.support.hub_load import seller_show, server_process
from tests.support.servers import PostgresServer, RedisServer

pytestmark = [
    pytest.mark.soak,
    pytest.mark.skipif(not netns.available(), reason="needs root to make network namespaces"),
]

RB = "RB-16"
PARTITION_SECONDS = 30.0
CAP = 10  # units in the flash sale
BUYERS_PER_NODE = 12
PAY = 8  # of node A's successful checkouts; the rest stay held
HEAL_SECONDS = 10.0  # after the heal, before the books are read


@contextlib.contextmanager
def _backing() -> Iterator[tuple[netns.NodeNamespace, RedisServer, PostgresServer]]:
    space = netns.NodeNamespace()
    space.create()
    redis = RedisServer(binds=("127.0.0.1", space.backend_peer))
    postgres = PostgresServer()
    try:
        redis.start()
        postgres.start()
        yield space, redis, postgres
    finally:
        postgres.cleanup()
        redis.kill()
        space.close()


async def _sale(api: Api, show_id: str, token: str) -> dict[str, Any]:
    """A started, pinned flash sale of CAP units (of a product with plenty on hand)."""
    _, offer = await api.prepare_offer(
        token, show_id,
        {"name": "Partition kettle", "price": 3000, "requires_shipping": False,
         "variants": [{"label": "One", "stock": 100}]},
        kind="flash", cap=CAP, duration_seconds=3600,
    )  # fmt: skip
    base = f"/api/v1/shows/{show_id}/offers"
    for step in ("start", "pin"):
        status, body = await api.call("POST", f"{base}/{offer['id']}/{step}", token, json={})
        assert 200 == status, body
    return dict(offer)


async def _chat(client: HubClient, show_id: str, label: str, seconds: float) -> list[int]:
    """One line a second; the seqs the server acknowledged."""
    acked: list[int] = []

    def note(ack: dict[str, Any]) -> None:
        if ack.get("ok"):
            acked.append(int(ack["message"]["seq"]))

    for i in range(int(seconds)):
        await client.sio.emit(
            "chat.send", {"show_id": show_id, "text": f"{label} line {i}"}, callback=note
        )
        await asyncio.sleep(1.0)
    return acked


async def _buy(client: HubClient, show_id: str, offer_id: str, key: str) -> tuple[str, float, Any]:
    """(outcome: ok | an error code | no_answer, seconds to the ack, the ack)."""
    started = time.monotonic()
    try:
        ack = await client.call(
            "checkout.start",
            {"show_id": show_id, "offer_id": offer_id, "quantity": 1, "idempotency_key": key},
            within=PARTITION_SECONDS + 20,
        )
    except TimeoutError:
        return "no_answer", time.monotonic() - started, None
    outcome = "ok" if ack.get("ok") else str(ack["error"]["code"])
    return outcome, time.monotonic() - started, ack


def _seen(events: list[tuple[str, Any]]) -> tuple[list[int], list[str]]:
    """(seqs of chat lines received, ids received) in arrival order."""
    seqs, ids = [], []
    for name, data in events:
        lines = (
            [data] if name == "chat.message" else data["messages"] if name == "chat.batch" else []
        )
        for line in lines:
            seqs.append(int(line["seq"]))
            ids.append(str(line["id"]))
    return seqs, ids


def _last_stock(
    pinned: dict[str, Any], timed: list[tuple[float, tuple[str, Any]]], until: float
) -> int:
    """The offer's stock_left as a viewer's page shows it at ``until`` (monotonic): the card
    takes it from `offer.updated` and from `offer.pinned` (what a node re-sends after an
    outage) alike."""
    stock = int(pinned["stock_left"])
    for at, (name, data) in timed:
        offer_event = name in ("offer.updated", "offer.pinned")
        if at <= until and offer_event and data["offer"]["id"] == pinned["id"]:
            stock = int(data["offer"]["stock_left"])
    return stock


async def test_partitioned_node_sells_nothing_without_a_hold_and_its_viewers_catch_up(
    tmp_path: Path, figures: RecordFigure
) -> None:
    """While node B is cut off from Redis no unit is sold without a hold, B's viewers are not
    left believing a sold-out offer is in stock, and after the heal stock is conserved and
    every viewer on both nodes has every chat line."""
    figures(rb=RB, name="partition length", value=PARTITION_SECONDS, unit="s", limit="30 s")
    with _backing() as (space, redis, postgres):
        postgres.create_database("rb16")
        common = {
            "LIVECOMMERCE_STORE__URL": postgres.socket_url("rb16"),
            "LIVECOMMERCE_HUB__CHAT_RATES": '[{"limit": 1000, "per_seconds": 1}]',
            "LIVECOMMERCE_AUTH__ATTEMPTS_PER_MINUTE": "1000",  # the buyers sign up from one address
        }
        data_dir = str(tmp_path)
        async with contextlib.AsyncExitStack() as stack:
            node_a = await stack.enter_async_context(
                server_process(data_dir, {**common, "LIVECOMMERCE_REDIS__URL": redis.url})
            )
            node_b = await stack.enter_async_context(
                server_process(
                    data_dir,
                    {
                        **common,
                        "LIVECOMMERCE_REDIS__URL": f"redis://{space.backend_peer}:{redis.port}/0",
                    },
                    prefix=space.enter,
                    host=space.client_address,
                )
            )
            http = await stack.enter_async_context(aiohttp.ClientSession())
            api = Api(http, node_a.base_url)
            show_id, seller = await seller_show(node_a.base_url)
            offer = await _sale(api, show_id, seller)
            nodes = {"A": node_a.base_url, "B": node_b.base_url}
            clients: dict[str, list[tuple[HubClient, dict[str, Any]]]] = {"A": [], "B": []}
            users: dict[str, list[str]] = {"A": [], "B": []}
            tokens: dict[str, str] = {}
            for side, base in nodes.items():
                for i in range(BUYERS_PER_NODE):
                    token, user = await api.signup(f"Buyer{side}{i}")
                    client, ack = await join_show(base, show_id, token)
                    stack.push_async_callback(client.close)
                    clients[side].append((client, ack))
                    users[side].append(str(user["id"]))
                    tokens[str(user["id"])] = token
            chatter = {side: clients[side][0][0] for side in nodes}

            before = await asyncio.gather(*(_chat(chatter[s], show_id, s, 2) for s in nodes))
            await asyncio.sleep(1.0)
            cut_at = time.monotonic()
            space.cut()

            async def buy_and_pay() -> dict[str, list[tuple[str, float, Any]]]:
                await asyncio.sleep(2.0)
                taps = [
                    asyncio.gather(
                        *(
                            _buy(client, show_id, offer["id"], f"rb16-{side}-{i:04d}")
                            for i, (client, _) in enumerate(clients[side])
                        )
                    )
                    for side in nodes
                ]
                results = dict(zip(nodes, map(list, await asyncio.gather(*taps)), strict=True))
                paid = 0
                for (outcome, _, ack), user_id in zip(results["A"], users["A"], strict=True):
                    if outcome == "ok" and paid < PAY:
                        token = tokens[user_id]
                        status, body = await api.call(
                            "POST", ack["payment"]["confirm_url"].removeprefix(node_a.base_url),
                            token, json={"card": "4242424242424242"},
                        )  # fmt: skip
                        assert (200, "paid") == (status, body.get("status")), body
                        paid += 1
                return results

            during, bought = await asyncio.gather(
                asyncio.gather(*(_chat(chatter[s], show_id, s, PARTITION_SECONDS) for s in nodes)),
                buy_and_pay(),
            )
            await asyncio.sleep(max(0.0, cut_at + PARTITION_SECONDS - time.monotonic()))
            healed_at = time.monotonic()
            space.heal()
            after = await asyncio.gather(*(_chat(chatter[s], show_id, s, 2) for s in nodes))
            await asyncio.sleep(HEAL_SECONDS)

            events: dict[str, list[tuple[dict[str, Any], list[tuple[float, Event]]]]] = {}
            for side in nodes:
                events[side] = []
                for c, ack in clients[side]:
                    received = await c.drain(0.0)  # arrival i is event i (nothing was expected)
                    times = [at for at, _ in c.arrivals[: len(received)]]
                    events[side].append((ack, list(zip(times, received, strict=True))))
            status, book = await api.call(
                "GET", f"/api/v1/orders?scope=seller&offer_id={offer['id']}&limit=500", seller
            )
            assert 200 == status, book
            orders = book["orders"]
            reader = aioredis.Redis.from_url(redis.url, decode_responses=True)
            stack.push_async_callback(reader.aclose)
            inventory = RedisInventory(reader)
            cap = (await inventory.levels(offer["product_id"])).caps[offer["id"]]
            holds = {
                o["id"]: await inventory.reservation(offer["product_id"], o["id"]) for o in orders
            }
            # B's checkouts whose reservation reached Redis after their buyer was refused
            strays = [
                order_id_for(user_id, f"rb16-B-{i:04d}") for i, user_id in enumerate(users["B"])
            ]
            orphans = 0
            for order_id in strays:
                late = await inventory.reservation(offer["product_id"], order_id)
                orphans += order_id not in holds and late is not None

    stored = sorted({seq for acked in (*before, *during, *after) for seq in acked})
    sold_units = sum(o["quantity"] for o in orders if o["status"] == OrderStatus.PAID)
    held_units = sum(o["quantity"] for o in orders if OrderStatus(o["status"]) in HOLDING)
    wanted = {OrderStatus.PAID: ReservationStatus.COMMITTED}
    wanted.update({status: ReservationStatus.HELD for status in HOLDING})
    unbacked = []
    for order in orders:
        state = OrderStatus(order["status"])
        hold = holds[order["id"]]
        if state in wanted and (hold is None or hold.status is not wanted[state]):
            unbacked.append(order["id"])
    outcomes = {side: [outcome for outcome, _, _ in bought[side]] for side in nodes}
    answers_b = ", ".join(f"{o} × {outcomes['B'].count(o)}" for o in sorted(set(outcomes["B"])))
    b_seconds = [seconds for _, seconds, _ in bought["B"]]
    stale = stale_after = 0
    notices: set[str] = set()
    missing: dict[str, int] = {}
    duplicates = 0
    for side in nodes:
        worst = 0
        for ack, timed in events[side]:
            evs = [event for _, event in timed]
            if side == "B":
                end = healed_at
                truth = 0 if sold_units + held_units >= CAP else CAP - sold_units - held_units
                if _last_stock(ack["pinned"], timed, end) > truth:
                    stale += 1
                if _last_stock(ack["pinned"], timed, time.monotonic()) > truth:
                    stale_after += 1
                notices |= {
                    name
                    for at, (name, _) in timed
                    if cut_at <= at <= end
                    and name
                    not in {"chat.message", "chat.batch", "viewers.count", "reaction.burst"}
                }
            seqs, ids = _seen(evs)
            worst = max(worst, len(set(stored) - set(seqs)))
            duplicates += len(ids) - len(set(ids))
        missing[side] = worst

    for name, value, unit, limit in [
        ("units in the sale", CAP, "units", ""),
        ("checkouts ok on node A / node B during the partition",
         f"{outcomes['A'].count('ok')} / {outcomes['B'].count('ok')}", "", "B: 0"),
        ("node B checkout answers during the partition", answers_b, "", "refused"),
        ("node B checkout answer time, median / max",
         f"{statistics.median(b_seconds):.1f} / {max(b_seconds):.1f}", "s", ""),
        ("orders without an authoritative hold", len(unbacked), "", "0"),
        ("holds without an order (B's refused checkouts that reached Redis late)", orphans, "",
         "released by the sweeper at their deadline"),
        ("sold + held + available", f"{cap.sold} + {cap.reserved} + {cap.available} = "
         f"{cap.sold + cap.reserved + cap.available}", "units", f"= {CAP}, available ≥ 0"),
        ("paid units: order book / stock store", f"{sold_units} / {cap.sold}", "", "equal"),
        ("held units: order book / stock store", f"{held_units} / {cap.reserved}", "", "equal"),
        ("node B viewers still shown stock of a sold-out offer at the heal",
         f"{stale} of {BUYERS_PER_NODE}", "", "0 (or a degraded notice)"),
        (f"node B viewers still shown it in stock {HEAL_SECONDS:g} s after the heal",
         f"{stale_after} of {BUYERS_PER_NODE}", "", "0"),
        ("events other than chat/counts node B's viewers got while cut off",
         ", ".join(sorted(notices)) or "none", "", "a degraded-mode notice"),
        ("chat lines stored", len(stored), "lines", ""),
        ("most lines a node A viewer never received", missing["A"], "lines", "0"),
        ("most lines a node B viewer never received", missing["B"], "lines", "0"),
        ("duplicate lines delivered (all viewers)", duplicates, "", "0"),
    ]:  # fmt: skip
        figures(rb=RB, name=name, value=value, unit=unit, limit=limit)
    assert 0 == outcomes["B"].count("ok")
    assert [] == unbacked
    assert (CAP, True) == (cap.sold + cap.reserved + cap.available, cap.available >= 0)
    assert (sold_units, held_units) == (cap.sold, cap.reserved)
    assert 0 == stale, "node B's viewers were shown a sold-out offer as in stock"
    assert 0 == stale_after
    assert {"A": 0, "B": 0} == missing
