"""Flash-sale stampede: N Socket.IO buyers send `checkout.start` the same instant for one
variant of U units, sold by two flash offers in two live shows at once (each capped at 3/4 of
U, so the shared variant runs out first and each cap still binds its own offer), against a real
`livecommerce serve` process on 127.0.0.1.

Measured: checkout attempts handled per second, p50/p99 ack latency, orders that got stock and
oversold units (must be 0: units out beyond the variant's stock, plus units beyond any offer's
cap), on one node with in-process adapters (SQLite + memory inventory) and with Redis +
PostgreSQL. Baseline in the same run: the same clients sending an invalid
`checkout.start` (refused by payload validation before any store is touched), so the ratio
shows what the money path costs on top of a Socket.IO round trip.

The money path batches by default (`shop.batch_max`: the reservations, rate checks, address
reads and order writes of one event-loop tick share one store call); a second row per adapter
runs it with `batch_max=1` (every call alone) as the same-run baseline. Where the machine has
two cores or more, what serves is pinned to core 0 and what loads it to core 1: the money path
alone runs in this process on core 0 with redis-server and PostgreSQL on core 1; through
Socket.IO, the `livecommerce serve` child runs under `taskset -c 0`, the load worker (raw
websocket clients: `tests/support/hub_load_worker.py`) on core 1, the stores on either. The
1-minute load average at the start is recorded and a run that starts above the core count is
marked *noisy*.

Run: `python -m bench stampede` (env STAMPEDE_BUYERS, STAMPEDE_UNITS to change the size).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import socketio

from bench._load import cores, noisy, settle
from livecommerce.adapters.sql.accounts import SqlAccountStore
from livecommerce.adapters.sql.addresses import SqlAddressStore
from livecommerce.adapters.sql.catalog import SqlCatalogStore
from livecommerce.adapters.sql.database import open_database
from livecommerce.adapters.sql.orders import SqlOrderStore
from livecommerce.domain.access import Role
from livecommerce.domain.money import Money
from livecommerce.domain.offers import OfferKind, make_offer, start_offer
from livecommerce.domain.orders import HOLDING, SOLD
from livecommerce.domain.shows import ShowStatus
from livecommerce.errors import LiveCommerceError
from livecommerce.ids import hash_secret, keyed_digest, new_id, new_secret
from livecommerce.services.accounts import TOKEN_PREFIX
from livecommerce.services.catalog import VariantSpec
from livecommerce.services.ports import Product, User, Variant
from livecommerce.settings import load_settings
from tests.support.hub_load import Worker, load_workers, pinned
from tests.support.servers import PostgresServer, RedisServer, free_port
from tests.support.shop import HOME, shop_env

TITLE = "Flash-sale stampede"
BUYERS = int(os.environ.get("STAMPEDE_BUYERS", "1000"))
UNITS = int(os.environ.get("STAMPEDE_UNITS", "100"))
#: The server's secret key for the run: tokens are stored as HMAC digests under it.
SECRET_KEY = new_secret(32)
#: Each of the two offers may sell at most this many of the variant's UNITS.
CAP = max(1, UNITS * 3 // 4)
#: The cores the server side and the load side are pinned to (when the machine has both).
SERVER_CORE, CLIENT_CORE = 0, 1
PINNED = {SERVER_CORE, CLIENT_CORE} <= os.sched_getaffinity(0)


def pin(core: int) -> None:
    """Move this process (and what it starts from now on) to one core."""
    if PINNED:
        os.sched_setaffinity(0, {core})


def pin_stores(cores: set[int]) -> None:
    """Move every process this one started (redis-server, PostgreSQL and its backends) to these
    cores: the load side's while the money path runs in this process; both while a `livecommerce
    serve` child uses them (on the clients' core they starved the server, on the server's they
    took its CPU)."""
    if not PINNED:
        return
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError):
                stat = Path(f"/proc/{entry}/stat").read_text()
                parents[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
    mine, grew = {os.getpid()}, True
    while grew:
        found = {pid for pid, ppid in parents.items() if ppid in mine} - mine
        mine |= found
        grew = bool(found)
    for pid in mine - {os.getpid()}:
        with contextlib.suppress(OSError):
            os.sched_setaffinity(pid, cores)


@dataclass
class Seeded:
    #: (show id, offer id) of the two offers selling the one variant; buyer i uses pair i % 2.
    offers: list[tuple[str, str]]
    tokens: list[str]


async def seed(store_url: str, buyers: int, units: int) -> Seeded:
    """Write the seller, two live shows, a product with one variant of `units` (its initial
    movement), a started flash offer in each show and the buyers (with API tokens and a saved
    shipping address) straight into the store, so seeding is not part of what is measured."""
    db = await open_database(store_url)
    try:
        accounts = SqlAccountStore(db)
        now = int(time.time() * 1000)
        seller = User(new_id("usr"), "Seller", "seller@bench.test", Role.SELLER, False, now)
        await accounts.add_user(seller)
        variant = Variant(new_id("var"), "42", units, None)
        product = Product(
            new_id("prd"), seller.id, "Limited sneaker", "", 9900, "USD", "", now, (variant,)
        )
        await SqlCatalogStore(db).add_product(product)  # its initial movement: `units`
        orders = SqlOrderStore(db)
        pairs = []
        for title in ("Stampede A", "Stampede B"):
            show_id = new_id("shw")
            await db.execute(
                "INSERT INTO shows (id, seller_id, title, description, status, scheduled_at, "
                "started_at, ended_at, stream_key_hash, stream_key_rotated_at, created_at) "
                "VALUES (?, ?, ?, '', ?, NULL, ?, NULL, ?, ?, ?)",
                show_id,
                seller.id,
                title,
                str(ShowStatus.LIVE),
                now,
                hash_secret(new_secret()),
                now,
                now,
            )
            offer = make_offer(
                offer_id=new_id("ofr"), show_id=show_id, seller_id=seller.id,
                product_id=product.id, kind=OfferKind.FLASH, price=Money(4900, "USD"), cap=CAP,
                per_buyer_limit=1, starts_at_ms=now, ends_at_ms=now + 3_600_000, now_ms=now,
            )  # fmt: skip
            await orders.add_offer(offer)
            await orders.save_offer(start_offer(offer, now), offer.status)
            pairs.append((show_id, offer.id))
        tokens = []
        for i in range(buyers):
            user = User(new_id("usr"), f"Buyer {i}", f"b{i}@bench.test", Role.VIEWER, False, now)
            await accounts.add_user(user)
            await SqlAddressStore(db).save_address(user.id, HOME, now)
            token = TOKEN_PREFIX + new_secret(32)
            await accounts.add_token(
                new_id("ses"),
                keyed_digest(SECRET_KEY.encode(), token),
                user.id,
                "api",
                now,
                now + 86_400_000,
            )
            tokens.append(token)
        return Seeded(pairs, tokens)
    finally:
        await db.close()


@contextlib.asynccontextmanager
async def server(env: dict[str, str], port: int) -> AsyncIterator[tuple[str, int]]:
    """`python -m livecommerce serve` in a child process until the block ends."""
    errlog = tempfile.TemporaryFile()  # noqa: SIM115 why: closed in the finally below
    taskset = ["taskset", "-c", str(SERVER_CORE)] if PINNED else []
    proc = await asyncio.create_subprocess_exec(
        *taskset,
        sys.executable,
        "-m",
        "livecommerce",
        "serve",
        env={**os.environ, **env},
        stdout=asyncio.subprocess.DEVNULL,
        stderr=errlog,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as http:
            for _ in range(300):
                try:
                    async with http.get(f"{base}/healthz") as resp:
                        if resp.status == 200:
                            break
                except aiohttp.ClientError:
                    pass
                if proc.returncode is not None:
                    errlog.seek(0)
                    raise RuntimeError(f"server exited: {errlog.read().decode()[-2000:]}")
                await asyncio.sleep(0.1)
        yield base, proc.pid
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.wait(), 20)
        except TimeoutError:
            proc.kill()
            await proc.wait()
        errlog.close()


async def connect_all(
    base: str, tokens: list[str], show_ids: list[str]
) -> list[socketio.AsyncClient]:
    """Connect every buyer and join its show (checkout over the hub needs ``show.join``); the
    clients come back in the order of `tokens`, so client i is buyer i."""
    clients: list[socketio.AsyncClient | None] = [None] * len(tokens)
    sem = asyncio.Semaphore(50)

    async def one(i: int, token: str, show_id: str) -> None:
        client = socketio.AsyncClient(reconnection=False)
        async with sem:
            await client.connect(
                base, auth={"token": token}, transports=["websocket"], wait_timeout=30
            )
            joined = await client.call("show.join", {"show_id": show_id}, timeout=60)
            assert joined["ok"], joined
        clients[i] = client

    await asyncio.gather(
        *[one(i, t, s) for i, (t, s) in enumerate(zip(tokens, show_ids, strict=True))]
    )
    return [c for c in clients if c is not None]


async def burst(worker: Worker, workdir: Path, name: str, payloads: list[Any]) -> dict[str, Any]:
    """Every buyer of the worker emits `checkout.start` with its payload at once: the worker's
    ``{wall, latencies, codes}``."""
    spec = workdir / f"{name}.json"
    spec.write_text(json.dumps({"event": "checkout.start", "payloads": payloads}))
    return await worker.command(f"call {spec}")


def buyers_file(workdir: Path, seeded: Seeded) -> Path:
    """The load worker's buyers: buyer i signed in with token i, in the show of offer i % 2."""
    path = workdir / "buyers.json"
    show_ids = [seeded.offers[i % 2][0] for i in range(len(seeded.tokens))]
    pairs = zip(seeded.tokens, show_ids, strict=True)
    path.write_text(json.dumps([{"token": t, "show_id": s} for t, s in pairs]))
    return path


def checkouts(seeded: Seeded, prefix: str) -> list[dict[str, Any]]:
    """Buyer i's `checkout.start`: one unit of offer i % 2."""
    return [
        {
            "show_id": seeded.offers[i % 2][0],
            "offer_id": seeded.offers[i % 2][1],
            "quantity": 1,
            "idempotency_key": f"{prefix}-{i:06d}",
        }
        for i in range(len(seeded.tokens))
    ]


def outcome_counts(measured: dict[str, Any]) -> dict[str, int]:
    return {str(code): int(n) for code, n in measured["codes"].items()}


#: Order statuses whose units are out of stock (held or sold).
OUT = [*HOLDING, *SOLD]


def cpu_of(pid: int) -> float:
    """User + system CPU seconds a process has used so far (from /proc, 10 ms steps)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def oversold(units_per_offer: list[int]) -> int:
    """Units beyond the variant's stock plus units beyond either offer's cap (must be 0)."""
    return max(0, sum(units_per_offer) - UNITS) + sum(max(0, u - CAP) for u in units_per_offer)


def server_env(
    port: int, data: str, store_url: str, redis_url: str, clients: int
) -> dict[str, str]:
    """A benchmark server's settings: the given stores, no demo, quiet logs, room for every
    client from one address."""
    return {
        "LIVECOMMERCE_SERVER__PORT": str(port),
        "LIVECOMMERCE_SERVER__DATA_DIR": data,
        "LIVECOMMERCE_SERVER__SECRET_KEY": SECRET_KEY,
        "LIVECOMMERCE_STORE__URL": store_url,
        "LIVECOMMERCE_STORE__POOL_SIZE": "20",
        "LIVECOMMERCE_REDIS__URL": redis_url,
        "LIVECOMMERCE_DEMO__ENABLED": "false",
        "LIVECOMMERCE_LOG__LEVEL": "WARNING",
        "LIVECOMMERCE_HUB__MAX_CONNECTIONS_PER_ADDRESS": str(clients + 10),
    }


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


async def scenario(name: str, store_url: str, redis_url: str) -> dict[str, Any]:
    seeded = await seed(store_url, BUYERS, UNITS)
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="lc-bench-") as data:
        env = server_env(port, data, store_url, redis_url, BUYERS)
        workdir = Path(data)
        buyers = buyers_file(workdir, seeded)
        load_side = pinned(CLIENT_CORE) if PINNED else []
        async with (
            server(env, port) as (base, pid),
            load_workers([base], "", 0, 1, load_side, buyers=buyers) as (workers, joined),
        ):
            assert joined == BUYERS, f"{joined} of {BUYERS} buyers joined"
            invalid = [{"bad": i} for i in range(BUYERS)]
            cpu = cpu_of(pid)
            baseline = await burst(workers[0], workdir, "invalid", invalid)
            base_cpu, cpu = cpu_of(pid) - cpu, cpu_of(pid)
            measured = await burst(workers[0], workdir, "checkout", checkouts(seeded, "stampede"))
            cpu = cpu_of(pid) - cpu
    lat, base_lat = measured["latencies"], baseline["latencies"]
    codes = outcome_counts(measured)
    db = await open_database(store_url)
    try:
        units_out = [
            sum(o.quantity for o in await SqlOrderStore(db).offer_orders(offer_id, OUT))
            for _show, offer_id in seeded.offers
        ]
    finally:
        await db.close()
    return {
        "name": name,
        "rate": len(lat) / measured["wall"],
        "wall": measured["wall"],
        "p50": pct(lat, 0.5),
        "p99": pct(lat, 0.99),
        "base_rate": len(base_lat) / baseline["wall"],
        "cpu_us": cpu / len(lat) * 1e6,
        "base_cpu_us": base_cpu / len(base_lat) * 1e6,
        "base_p50": pct(base_lat, 0.5),
        "base_p99": pct(base_lat, 0.99),
        "won": codes.get("ok", 0),
        "oversold": oversold(units_out),
        "codes": codes,
        "mean": statistics.fmean(lat) * 1000,
    }


async def service_level(
    name: str, store_url: str, redis_url: str, batch_max: int | None = None
) -> dict[str, Any]:
    """The same stampede straight into CheckoutService (no sockets): the money path alone, in
    this process (pinned to the server core); `batch_max` 1 turns batching off."""
    pin(SERVER_CORE)
    with tempfile.TemporaryDirectory(prefix="lc-bench-svc-") as data:
        settings = load_settings(
            None,
            {
                "server": {"port": free_port(), "data_dir": data},
                "store": {"url": store_url, "pool_size": 20},
                "redis": {"url": redis_url},
                "demo": {"enabled": False},
                "log": {"level": "WARNING"},
                "shop": {} if batch_max is None else {"batch_max": batch_max},
            },
        )
        async with shop_env(settings) as env:
            product = await env.shop.catalog.create_product(
                env.seller,
                name="Limited sneaker",
                price=Money(9900, "USD"),
                variants=[VariantSpec("42", UNITS)],
            )
            second, _key = await env.shop.shows.create(env.seller, "Stampede B")
            await env.shop.shows.move(second.id, ShowStatus.LIVE)
            offers = []
            for show_id in (env.show_id, second.id):
                offer = await env.shop.offers.create(
                    env.seller, show_id, product_id=product.id, kind=OfferKind.FLASH,
                    price_minor=4900, cap=CAP, per_buyer_limit=1, duration_ms=3_600_000,
                )  # fmt: skip
                offers.append(await env.shop.offers.start(env.seller, show_id, offer.id))
            buyers = [await env.buyer(f"b{i}") for i in range(BUYERS)]
            gate = asyncio.Event()
            latencies: list[float] = []
            codes: dict[str, int] = {}

            async def one(i: int) -> None:
                await gate.wait()
                t0 = time.perf_counter()
                try:
                    offer = offers[i % 2]
                    await env.shop.checkout.start(
                        buyers[i], offer.show_id, offer.id, None, 1, f"svc-{i:06d}"
                    )
                    code = "ok"
                except LiveCommerceError as exc:
                    code = exc.code
                latencies.append(time.perf_counter() - t0)
                codes[code] = codes.get(code, 0) + 1

            tasks = [asyncio.create_task(one(i)) for i in range(BUYERS)]
            await asyncio.sleep(0.1)
            start, cpu = time.perf_counter(), time.process_time()
            gate.set()
            await asyncio.gather(*tasks)
            wall = time.perf_counter() - start
            cpu = time.process_time() - cpu
            levels = await env.shop.stock.levels(product.id)
            units_out = [
                sum(o.quantity for o in await env.adapters.orders.offer_orders(o.id, OUT))
                for o in offers
            ]
    held = sum(v.reserved for v in levels.variants.values())
    counted = [c.sold + c.reserved for c in levels.caps.values()]
    return {
        "name": name,
        "rate": BUYERS / wall,
        "p50": pct(latencies, 0.5),
        "p99": pct(latencies, 0.99),
        "cpu_us": cpu / BUYERS * 1e6,
        "won": codes.get("ok", 0),
        "oversold": max(oversold(units_out), oversold(counted), held - UNITS),
        "codes": codes,
    }


async def main() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    sockets, services = [], []
    in_process = "in-process (SQLite + memory inventory)"
    stores = "Redis + PostgreSQL"
    off = ", batching off (`batch_max=1`)"
    with tempfile.TemporaryDirectory(prefix="lc-bench-sqlite-") as tmp:
        services.append(await service_level(in_process, f"sqlite:///{tmp}/v.db", ""))
        services.append(await service_level(in_process + off, f"sqlite:///{tmp}/o.db", "", 1))
        pin(CLIENT_CORE)
        sockets.append(await scenario(in_process, f"sqlite:///{tmp}/s.db", ""))
    redis, pg = RedisServer(), PostgresServer()
    redis.start()
    pg.start()
    try:
        pin_stores({CLIENT_CORE})
        services.append(await service_level(stores, pg.create_database("svc"), redis.url))
        redis.flush()
        services.append(
            await service_level(stores + off, pg.create_database("svc_off"), redis.url, 1)
        )
        redis.flush()
        pin(CLIENT_CORE)
        url = pg.create_database("stampede")
        pin_stores({SERVER_CORE, CLIENT_CORE})
        sockets.append(await scenario(stores, url, redis.url))
    finally:
        redis.kill()
        pg.cleanup()
    return sockets, services


def run() -> str:
    load_before = settle()
    affinity = os.sched_getaffinity(0)
    try:
        results, services = asyncio.run(main())
    finally:
        os.sched_setaffinity(0, affinity)
    svc_rows = [
        "| adapters | attempts/s | p50 ms | p99 ms | CPU µs per attempt | orders with stock | "
        "oversold | outcomes |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in services:
        outcomes = ", ".join(f"{k} {v}" for k, v in sorted(r["codes"].items()))
        svc_rows.append(
            f"| {r['name']} | {r['rate']:.0f} | {r['p50']:.0f} | {r['p99']:.0f} | "
            f"{r['cpu_us']:.0f} | {r['won']} of {UNITS} | **{r['oversold']}** | {outcomes} |"
        )
    # rows come in pairs: batched, then the same adapters with batching off
    gains = [
        f"- {on['name']}: batching gives **{on['rate'] / off['rate']:.1f}×** the attempts/s "
        f"({off['cpu_us']:.0f} → {on['cpu_us']:.0f} µs of CPU per attempt)."
        for on, off in zip(services[::2], services[1::2], strict=True)
    ]
    rows = [
        "| adapters | attempts/s | p50 ack ms | p99 ack ms | server CPU µs per attempt | "
        "baseline attempts/s | baseline p50 / p99 ms | baseline server CPU µs | "
        "ratio to baseline | orders with stock | oversold | outcomes |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        outcomes = ", ".join(f"{k} {v}" for k, v in sorted(r["codes"].items()))
        rows.append(
            f"| {r['name']} | {r['rate']:.0f} | {r['p50']:.0f} | {r['p99']:.0f} | "
            f"{r['cpu_us']:.0f} | {r['base_rate']:.0f} | "
            f"{r['base_p50']:.0f} / {r['base_p99']:.0f} | {r['base_cpu_us']:.0f} | "
            f"**{r['rate'] / r['base_rate']:.2f}×** | "
            f"{r['won']} of {UNITS} | **{r['oversold']}** | {outcomes} |"
        )
    pinning = (
        f"Server side pinned to core {SERVER_CORE}, load side to core {CLIENT_CORE} "
        "(`taskset` / `sched_setaffinity`, see the module docstring)."
        if PINNED
        else "Not pinned (fewer than two cores available)."
    )
    return (
        f"One variant of {UNITS} units is sold by two flash offers in two live shows at once, "
        f"each capped at {CAP} (so the shared variant runs out first); buyers alternate between "
        "the two offers. *Oversold* counts units held or sold beyond the variant's stock plus "
        "units beyond either offer's cap.\n\n"
        f"**Money path alone** ({BUYERS} concurrent `CheckoutService.start` calls in one event "
        "loop, no sockets; each winner also writes its order and creates its demo payment). "
        "Baseline: the same code with batching off (`shop.batch_max: 1`, every store call "
        "alone). CPU is this process's (all threads) over the burst:\n\n"
        + "\n".join(svc_rows)
        + "\n\n"
        + "\n".join(gains)
        + "\n\n**Through Socket.IO** — "
        f"{BUYERS} signed-in buyers on raw Socket.IO websockets (one load process, "
        "`tests/support/hub_load_worker.py`, light enough that the server, not the clients, "
        "is measured) send "
        "`checkout.start` for one unit each at the same instant, per-buyer limit 1, demo "
        "payments. Server: one `livecommerce serve` process. An attempt that wins reserves, "
        "writes the order and creates its payment before acking; a loser is "
        "refused `sold_out` with nothing held. Baseline: the same burst of invalid payloads "
        "(refused by validation, no store touched). Server CPU is the `livecommerce serve` "
        "process's over each burst (from /proc), so it does not depend on how fast the clients "
        "are.\n\n"
        + "\n".join(rows)
        + f"\n\n1-minute load average when the run started: {load_before:.1f} on {cores()} cores"
        + (" — *noisy* (above the core count: read the ratios only)" if noisy(load_before) else "")
        + f". {pinning} Reproduce: `python -m bench stampede` "
        "(`STAMPEDE_BUYERS` / `STAMPEDE_UNITS` to resize).\n"
    )
