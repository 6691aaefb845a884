"""Auction bids: N python-socketio bidders connected to a real `livecommerce serve` process on
127.0.0.1 each send one `auction.bid` at the minimum they last heard of, spread evenly over a few
seconds (a busy auction's last seconds), for one auction.

Measured: bid ack p50/p99 (accepted and refused alike: a refusal is judged on the same state),
bids accepted per second, and the outcome counts, on one node with in-process adapters (SQLite +
memory auction store) and with Redis + PostgreSQL. Baseline in the same run: the same pacing of
invalid `auction.bid` payloads (refused by validation before any store is touched), so the ratio
shows what judging and recording a bid costs on top of a Socket.IO round trip.

Run: `python -m bench auctions` (env AUCTION_BIDDERS, AUCTION_SPREAD_SECONDS, AUCTION_FOLLOWERS to
change the size).
"""

from __future__ import annotations

import asyncio
import os
import random
import tempfile
import time
from typing import Any

import socketio

from bench._load import cores, noisy, settle
from bench.stampede import connect_all, pct, seed, server, server_env
from livecommerce.adapters.sql.auctions import SqlBidLog
from livecommerce.adapters.sql.catalog import SqlCatalogStore
from livecommerce.adapters.sql.database import open_database
from livecommerce.adapters.sql.orders import SqlOrderStore
from livecommerce.domain.auctions import make_settings
from livecommerce.domain.money import Money
from livecommerce.domain.offers import OfferKind, make_offer, start_offer
from livecommerce.ids import new_id
from livecommerce.services.ports import AuctionRecord
from tests.support.hub_load import cpu_seconds
from tests.support.servers import PostgresServer, RedisServer, free_port

TITLE = "Auction bids"
BIDDERS = int(os.environ.get("AUCTION_BIDDERS", "1000"))
SPREAD = float(os.environ.get("AUCTION_SPREAD_SECONDS", "4"))
#: Bidders in the auction's show room (they receive every `auction.updated`); the others joined
#: the seed's other show, so one client process is not decoding 1000 copies of each update.
FOLLOWERS = min(BIDDERS, int(os.environ.get("AUCTION_FOLLOWERS", "100")))


async def auction_in(store_url: str, show_id: str, flash_offer_id: str) -> str:
    """A started auction (one unit of the stampede seed's product) in the show; its offer id."""
    db = await open_database(store_url)
    try:
        orders = SqlOrderStore(db)
        flash = await orders.get_offer(flash_offer_id)
        assert flash is not None
        product = await SqlCatalogStore(db).get_product(flash.product_id)
        assert product is not None
        now = int(time.time() * 1000)
        offer = make_offer(
            offer_id=new_id("ofr"), show_id=show_id, seller_id=flash.seller_id,
            product_id=product.id, kind=OfferKind.AUCTION, price=Money(100, "USD"), cap=1,
            per_buyer_limit=None, starts_at_ms=None, ends_at_ms=None, now_ms=now,
            duration_ms=600_000,
        )  # fmt: skip
        await orders.add_offer(offer)
        await orders.save_offer(start_offer(offer, now), offer.status)
        settings = make_settings(
            offer_id=offer.id, currency="USD", starting_bid=100, duration_seconds=600,
            min_increment=10,
        )  # fmt: skip
        await SqlBidLog(db).add_auction(
            AuctionRecord(offer.id, show_id, product.id, product.variants[0].id, settings, "b")
        )
        return offer.id
    finally:
        await db.close()


async def paced(
    clients: list[socketio.AsyncClient], payload: Any, heard: dict[str, int]
) -> tuple[float, list[float], list[dict[str, Any]]]:
    """Client i sends its one bid at i/N of the spread, at the minimum heard so far (every
    ack says the next one); (wall seconds, latencies, acks)."""
    latencies: list[float] = []
    acks: list[dict[str, Any]] = []
    order = list(range(len(clients)))
    random.Random(14).shuffle(order)
    start = time.perf_counter()

    async def call(slot: int, i: int) -> None:
        await asyncio.sleep(SPREAD * slot / len(clients))
        t0 = time.perf_counter()
        ack = await clients[i].call("auction.bid", payload(i), timeout=120)
        latencies.append(time.perf_counter() - t0)
        acks.append(ack)
        if ack.get("ok"):
            heard["min"] = max(heard["min"], ack["auction"]["min_bid"])
        elif "min_bid" in (ack["error"].get("details") or {}):
            heard["min"] = max(heard["min"], ack["error"]["details"]["min_bid"])

    await asyncio.gather(*(call(slot, i) for slot, i in enumerate(order)))
    return time.perf_counter() - start, latencies, acks


async def scenario(name: str, store_url: str, redis_url: str) -> dict[str, Any]:
    seeded = await seed(store_url, BIDDERS, 10)
    show_id, flash_offer_id = seeded.offers[0]
    elsewhere = seeded.offers[1][0]
    offer_id = await auction_in(store_url, show_id, flash_offer_id)
    port = free_port()
    heard = {"min": 100}
    with tempfile.TemporaryDirectory(prefix="lc-bench-auction-") as data:
        env = server_env(port, data, store_url, redis_url, BIDDERS)
        async with server(env, port) as (base, pid):
            rooms = [show_id if i < FOLLOWERS else elsewhere for i in range(len(seeded.tokens))]
            clients = await connect_all(base, seeded.tokens, rooms)
            try:
                cpu0 = cpu_seconds(pid)
                base_wall, base_lat, _ = await paced(clients, lambda i: {"bad": i}, heard)
                cpu1 = cpu_seconds(pid)

                def bid(i: int) -> dict[str, Any]:
                    return {"show_id": show_id, "offer_id": offer_id, "amount": heard["min"],
                            "idempotency_key": f"bench-{i:06d}"}  # fmt: skip

                async def listen(data: dict[str, Any]) -> None:
                    heard["min"] = max(heard["min"], int(data.get("min_bid", 0)))

                for client in clients[:FOLLOWERS]:
                    client.on("auction.updated", listen)
                wall, lat, acks = await paced(clients, bid, heard)
                await asyncio.sleep(0.5)  # the SQL writes that follow the acks
                cpu2 = cpu_seconds(pid)
            finally:
                await asyncio.gather(*[c.disconnect() for c in clients], return_exceptions=True)
    codes: dict[str, int] = {}
    for a in acks:
        code = "ok" if a.get("ok") else a["error"]["code"]
        codes[code] = codes.get(code, 0) + 1
    return {
        "name": name,
        "wall": wall,
        "p50": pct(lat, 0.5),
        "p99": pct(lat, 0.99),
        "accepted_rate": codes.get("ok", 0) / wall,
        "base_p50": pct(base_lat, 0.5),
        "base_p99": pct(base_lat, 0.99),
        "base_wall": base_wall,
        "codes": codes,
        "cpu_us": (cpu2 - cpu1) * 1e6 / len(acks),
        "base_cpu_us": (cpu1 - cpu0) * 1e6 / len(base_lat),
    }


async def main() -> list[dict[str, Any]]:
    results = []
    with tempfile.TemporaryDirectory(prefix="lc-bench-auction-sqlite-") as tmp:
        in_process = "in-process (SQLite + memory auction store)"
        results.append(await scenario(in_process, f"sqlite:///{tmp}/a.db", ""))
    redis, pg = RedisServer(), PostgresServer()
    redis.start()
    pg.start()
    try:
        results.append(
            await scenario("Redis + PostgreSQL", pg.create_database("auction"), redis.url)
        )
    finally:
        redis.kill()
        pg.cleanup()
    return results


def run() -> str:
    load_before = settle()
    results = asyncio.run(main())
    rows = [
        "| adapters | bids sent | p50 ack ms | p99 ack ms | accepted/s | baseline p50 / p99 ms "
        "| p99 ratio | server CPU µs per bid (baseline) | outcomes |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        outcomes = ", ".join(f"{k} {v}" for k, v in sorted(r["codes"].items()))
        ratio = r["p99"] / r["base_p99"] if r["base_p99"] else float("nan")
        rows.append(
            f"| {r['name']} | {sum(r['codes'].values())} | {r['p50']:.0f} | {r['p99']:.0f} | "
            f"{r['accepted_rate']:.0f} | {r['base_p50']:.0f} / {r['base_p99']:.0f} | "
            f"{ratio:.1f}× | {r['cpu_us']:.0f} ({r['base_cpu_us']:.0f}) | {outcomes} |"
        )
    mark = " — *noisy*: above the core count" if noisy(load_before) else ""
    return (
        f"{BIDDERS} python-socketio bidders (one process, websocket transport) each send one "
        f"`auction.bid` for the same auction, spread evenly over {SPREAD:g} s "
        f"({BIDDERS / SPREAD:.0f} bids/s), at the minimum the bidders last heard of (from any "
        f"ack, and the room's `auction.updated`: {FOLLOWERS} of them are in the auction's show "
        "room, the others in another show): most lose the race and are "
        "refused `bid_too_low`, judged on the same state. Server: one `livecommerce serve` "
        "process. Baseline: the same pacing of invalid payloads (refused by validation, no "
        "store touched). Target (issue 14): p99 ≤ 100 ms. Server CPU: the server process's "
        "user + system time (/proc) over the phase, per request, steadier than latency on a "
        "shared machine.\n\n"
        + "\n".join(rows)
        + f"\n\nLoad average when the run started: {load_before:.1f} on {cores()} cores{mark}. "
        "Reproduce: `python -m bench auctions` (`AUCTION_BIDDERS`, `AUCTION_SPREAD_SECONDS`, "
        "`AUCTION_FOLLOWERS` to resize). The client process shares the machine's cores with the "
        "server."
    )
