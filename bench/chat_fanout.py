"""Chat fan-out: N Socket.IO clients in one show, one sender at 20 lines/s, server in its own
process; with and without coalescing in the same run.

Clients live in worker processes (``tests/support/hub_load_worker.py``) and speak the Engine.IO v4 /
Socket.IO v5 wire protocol directly over aiohttp websockets (what python-socketio and the JS
client send on a websocket transport), because thousands of full python-socketio clients would
need more memory and CPU than the server under test on a 2-core machine. Every client counts
the lines it receives without decoding them; one in ``CHAT_SAMPLE_EVERY`` (10) decodes and
records send-to-receive latency, from ``chat.message`` and ``chat.batch`` alike. The server is
pinned to core 0, the clients and the sender to core 1 (``taskset``), so the server's CPU is
its own. Server CPU comes from /proc over the send window and is divided by the lines delivered
(clients x lines received); memory per connection is the server's RSS growth from 0 to N idle
connections, divided by N. The 1-minute load average is read before each row: a row that starts
above the core count ran on a busy machine and is marked *noisy*.

Baseline in the same run: coalescing off (``hub.coalesce_above_per_second`` huge), i.e. one
emit per line per client.

Run: ``python -m bench chat_fanout``; env ``CHAT_SIZES`` (default ``1000,5000``),
``CHAT_WINDOW`` seconds (10), ``CHAT_RATE`` lines/s (20), ``CHAT_WORKERS`` processes (4),
``CHAT_SAMPLE_EVERY`` (10), ``CHAT_TWO_NODE_SIZES`` (1000).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import sys
import tempfile
import time
from dataclasses import dataclass

from bench._load import noisy, settle
from tests.support.hub_load import (
    ServerProcess,
    cpu_seconds,
    ensure_fd_limit,
    load_workers,
    merged_histogram,
    percentile,
    pinned,
    rss_bytes,
    seller_show,
    server_process,
)
from tests.support.servers import RedisServer

TITLE = "Chat fan-out"


def _server(
    coalesce: bool, data_dir: str, redis_url: str = ""
) -> contextlib.AbstractAsyncContextManager[ServerProcess]:
    return server_process(
        data_dir,
        {
            "LIVECOMMERCE_REDIS__URL": redis_url,
            "LIVECOMMERCE_HUB__CHAT_RATES": '[{"limit": 100000, "per_seconds": 1}]',
            "LIVECOMMERCE_HUB__MAX_CONNECTIONS_PER_ADDRESS": "100000",
            "LIVECOMMERCE_HUB__COALESCE_ABOVE_PER_SECOND": "10" if coalesce else "1000000000",
            "LIVECOMMERCE_HUB__COALESCE_ABOVE_DELIVERIES_PER_SECOND": (
                "2000" if coalesce else "1000000000000"
            ),
        },
        prefix=pinned(0),
    )


async def _sender(base: str, show_id: str, token: str, rate: float, window: float) -> int:
    """A seller connection sending ``rate`` lines/s for ``window`` seconds, stamped."""
    import socketio

    sio = socketio.AsyncClient(reconnection=False)
    await sio.connect(base, auth={"token": token}, transports=["websocket"], wait_timeout=10)
    await sio.call("show.join", {"show_id": show_id}, timeout=30)
    sent = 0
    start = time.monotonic()
    while time.monotonic() - start < window:
        target = start + sent / rate
        await asyncio.sleep(max(0.0, target - time.monotonic()))
        await sio.emit("chat.send", {"show_id": show_id, "text": f"t={time.time():.6f}"})
        sent += 1
    await asyncio.sleep(0.2)
    await sio.disconnect()
    return sent


@dataclass
class Row:
    mode: str
    clients: int
    sent: int
    delivered: int
    p50_ms: float
    p99_ms: float
    cpu_s: float
    us_per_delivery: float
    kib_per_conn: float
    packets: int
    load: float
    client_cores: float  # the load side (clients + sender, pinned to one core) while sending


async def _measure(
    n: int,
    coalesce: bool,
    window: float,
    rate: float,
    processes: int,
    nodes: int = 1,
    sample_every: int = 10,
) -> Row:
    load = settle()
    with tempfile.TemporaryDirectory(prefix="lc-bench-chat-") as data_dir:
        async with contextlib.AsyncExitStack() as stack:
            redis_url = ""
            if nodes > 1:
                redis = RedisServer()
                redis.start()
                stack.callback(redis.kill)
                redis_url = redis.url
            servers = [
                await stack.enter_async_context(_server(coalesce, data_dir, redis_url))
                for _ in range(nodes)
            ]
            bases = [server.base_url for server in servers]
            pids = [server.pid for server in servers]
            show_id, token = await seller_show(bases[0])
            await asyncio.sleep(1.0)
            rss0 = sum(rss_bytes(pid) for pid in pids)
            workers, connected = await stack.enter_async_context(
                load_workers(bases, show_id, n, processes, pinned(1), sample_every)
            )
            if connected < n:
                print(f"chat_fanout: only {connected} of {n} clients joined", file=sys.stderr)
            await asyncio.sleep(2.0)
            rss1 = sum(rss_bytes(pid) for pid in pids)
            await asyncio.gather(*(w.command("start") for w in workers))
            load_side = [w.proc.pid for w in workers] + [os.getpid()]
            cpu0 = sum(cpu_seconds(pid) for pid in pids)
            side0, started = sum(cpu_seconds(pid) for pid in load_side), time.monotonic()
            sent = await _sender(bases[0], show_id, token, rate, window)
            cpu1 = sum(cpu_seconds(pid) for pid in pids)
            side1, ended = sum(cpu_seconds(pid) for pid in load_side), time.monotonic()
            await asyncio.sleep(3.0)  # let stragglers arrive; they still count as delivered
            results = await asyncio.gather(*(w.command("report") for w in workers))
    histogram = merged_histogram(results)
    delivered = sum(r["lines"] for r in results)
    packets = sum(r["packets"] for r in results)
    cpu = cpu1 - cpu0
    mode = "coalesced" if coalesce else "one emit per line"
    return Row(
        mode=mode if nodes == 1 else f"{mode}, {nodes} nodes + Redis",
        clients=connected,
        sent=sent,
        delivered=delivered,
        p50_ms=percentile(histogram, 0.5),
        p99_ms=percentile(histogram, 0.99),
        cpu_s=cpu,
        us_per_delivery=cpu / delivered * 1e6 if delivered else float("nan"),
        kib_per_conn=(rss1 - rss0) / max(1, connected) / 1024,
        packets=packets,
        load=load,
        client_cores=(side1 - side0) / (ended - started),
    )


def _table(rows: list[Row]) -> list[str]:
    out = [
        "| mode | clients | lines sent | lines delivered (of sent × clients) | packets | "
        "p50 ms | p99 ms | server CPU s | µs CPU per delivered line | KiB per connection | "
        "load side, cores | load avg at start |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        share = r.delivered / (r.sent * r.clients) if r.sent and r.clients else 0
        mark = " *noisy*" if noisy(r.load) else ""
        out.append(
            f"| {r.mode} | {r.clients} | {r.sent} | {r.delivered} ({share:.1%}) | {r.packets} | "
            f"{r.p50_ms:.1f} | {r.p99_ms:.1f} | {r.cpu_s:.2f} | {r.us_per_delivery:.1f} | "
            f"{r.kib_per_conn:.1f} | {r.client_cores:.2f} | {r.load:.2f}{mark} |"
        )
    return out


def run() -> str:
    sizes = [int(s) for s in os.environ.get("CHAT_SIZES", "1000,5000").split(",") if s]
    window = float(os.environ.get("CHAT_WINDOW", "10"))
    rate = float(os.environ.get("CHAT_RATE", "20"))
    processes = int(os.environ.get("CHAT_WORKERS", "4"))
    sample_every = int(os.environ.get("CHAT_SAMPLE_EVERY", "10"))

    two_node_sizes = [int(s) for s in os.environ.get("CHAT_TWO_NODE_SIZES", "1000").split(",") if s]

    async def all_rows() -> list[Row]:
        rows = []
        plan = [(n, 1) for n in sizes] + [(n, 2) for n in two_node_sizes]
        for n, nodes in plan:
            # the two-node row has no baseline of its own: it fits the time share that way
            for coalesce in (True, False) if nodes == 1 else (True,):
                rows.append(
                    await _measure(n, coalesce, window, rate, processes, nodes, sample_every)
                )
                print(rows[-1], file=sys.stderr, flush=True)
        return rows

    ensure_fd_limit(max(sizes + two_node_sizes, default=0) + 1000)
    affinity = os.sched_getaffinity(0)
    if pinned(1):
        os.sched_setaffinity(0, {1})  # the sender runs here: on the clients' core
    try:
        rows = asyncio.run(all_rows())
    finally:
        os.sched_setaffinity(0, affinity)
    lines = [
        f"One show, N clients connected to one node (clients in {processes} worker processes "
        f"pinned to core 1, the server in its own process pinned to core 0), one seller sending "
        f"{rate:g} lines/s for {window:g} s. Latency is send-to-receive per line on the same "
        f"clock, from one client in {sample_every}; every client counts its lines. Baseline: "
        "coalescing off (one `chat.message` per line per client); coalesced: the adaptive "
        "window (0 ms while quiet, growing with lines × viewers per second to 100 ms at "
        "50,000 deliveries/s). uvloop, orjson, one encoded packet per show queued on every "
        "socket, websocket deflate off (docs/HUB.md). Lines still queued when the window ends "
        "are not counted as delivered, which inflates the CPU-per-line of an overloaded row. "
        "A row whose load average at start exceeds the core count is *noisy*. *Load side, "
        "cores*: the CPU the clients and the sender (all pinned to one core) used while lines "
        "were sent; near 1.00 the load side, not the server, was the bottleneck of that row.",
        "",
        *_table(rows),
        "",
    ]
    for first, second in itertools.pairwise(rows):
        if first.mode != "coalesced" or second.mode != "one emit per line":
            continue
        on, off, n = first, second, first.clients
        if on.us_per_delivery and on.us_per_delivery == on.us_per_delivery:
            lines.append(
                f"- {n} clients ({on.mode}): server CPU per delivered line "
                f"**{off.us_per_delivery:.1f} µs** "
                f"one-emit-per-line vs **{on.us_per_delivery:.1f} µs** coalesced → "
                f"**{off.us_per_delivery / on.us_per_delivery:.1f}×** less; p99 "
                f"{off.p99_ms:.0f} ms → {on.p99_ms:.0f} ms."
            )
    lines += [
        "",
        "Reproduce: `.venv/bin/python -m bench chat_fanout` (env `CHAT_SIZES`, `CHAT_WINDOW`, "
        "`CHAT_RATE`, `CHAT_WORKERS`, `CHAT_SAMPLE_EVERY`, `CHAT_TWO_NODE_SIZES`). Two-node "
        "rows: two server processes sharing one store and a redis-server the benchmark "
        "starts; clients split between them, the sender on the first; CPU and memory are the "
        "sum of both servers.",
    ]
    return "\n".join(lines)
