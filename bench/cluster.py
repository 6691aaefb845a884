"""Many nodes: chat p99 and checkout attempts/s through nginx on three `livecommerce serve`
nodes vs one, in the same run, on the local cluster of tests/support/cluster.py (Debian's nginx,
a three-master Redis Cluster, PostgreSQL; the one-node row has the same nginx and stores, so the
ratio is what the two extra nodes add).

Chat: `CLUSTER_CHAT_CLIENTS` light raw Socket.IO clients (tests/support/hub_load_worker.py, in
`CLUSTER_CHAT_WORKERS` processes) join one show through nginx, which spreads their websockets
over the nodes; one seller connection sends `CLUSTER_CHAT_RATE` stamped lines/s for
`CLUSTER_CHAT_WINDOW` s; send-to-receive latency from one client in ten. Checkout: the flash-sale
stampede of bench/stampede.py (its seeding, `STAMPEDE_BUYERS` buyers, `STAMPEDE_UNITS` units,
two capped offers) with every buyer's socket through nginx: attempts handled per second (each
one a reservation script on the Redis Cluster; the winners also write their order), p99 ack,
oversold units (must be 0). Nothing is pinned: eight server processes share the cores.

Run: `python -m bench cluster`.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from bench._load import cores, noisy, settle
from bench.chat_fanout import _sender
from bench.stampede import (
    BUYERS,
    SECRET_KEY,
    UNITS,
    burst,
    buyers_file,
    checkouts,
    outcome_counts,
    pct,
    seed,
)
from tests.support.cluster import LocalCluster
from tests.support.hub_load import (
    ensure_fd_limit,
    load_workers,
    merged_histogram,
    percentile,
    seller_show,
)
from tests.support.servers import free_port

TITLE = "Many nodes (nginx + Redis Cluster + PostgreSQL)"
CHAT_CLIENTS = int(os.environ.get("CLUSTER_CHAT_CLIENTS", "1500"))
CHAT_WORKERS = int(os.environ.get("CLUSTER_CHAT_WORKERS", "3"))
CHAT_RATE = float(os.environ.get("CLUSTER_CHAT_RATE", "20"))
CHAT_WINDOW = float(os.environ.get("CLUSTER_CHAT_WINDOW", "10"))


@dataclass
class Row:
    nodes: int
    load: float
    chat_clients: int
    chat_p50_ms: float
    chat_p99_ms: float
    delivered: float  # share of sent lines x clients
    attempts_per_s: float
    ack_p99_ms: float
    won: int
    outcomes: dict[str, int]


async def _measure(nodes: int) -> Row:
    load = settle()
    state = Path(tempfile.mkdtemp(prefix="lc-bench-cluster-"))
    # the buyers' tokens are seeded as digests under this key: every node must hold it
    (state / "secret_key").write_text(SECRET_KEY)
    cluster = LocalCluster(
        state,
        port=free_port(),
        nodes=nodes,
        demo=False,
        python=sys.executable,
        env={
            "LIVECOMMERCE_LOG__LEVEL": "WARNING",
            "LIVECOMMERCE_STORE__POOL_SIZE": "20",
            "LIVECOMMERCE_AUTH__ATTEMPTS_PER_MINUTE": "100000",
            "LIVECOMMERCE_HUB__MAX_CONNECTIONS_PER_ADDRESS": "100000",
            "LIVECOMMERCE_HUB__CHAT_RATES": '[{"limit": 100000, "per_seconds": 1}]',
        },
    )
    try:
        await asyncio.to_thread(cluster.up)
        seeded = await seed(cluster.store_url, BUYERS, UNITS)
        # the nodes load the seeded pools and offers at start-up, like after a deploy
        for index in range(nodes):
            await asyncio.to_thread(cluster.kill_node, index)
            cluster.start_node(index)
            await asyncio.to_thread(cluster.wait_node, index, 60)

        show_id, token = await seller_show(cluster.url)
        async with load_workers(
            [cluster.url], show_id, CHAT_CLIENTS, CHAT_WORKERS, sample_every=10
        ) as (workers, connected):
            await asyncio.gather(*(w.command("start") for w in workers))
            sent = await _sender(cluster.url, show_id, token, CHAT_RATE, CHAT_WINDOW)
            await asyncio.sleep(3.0)  # stragglers still count as delivered
            reports = await asyncio.gather(*(w.command("report") for w in workers))
        histogram = merged_histogram(reports)
        delivered = sum(r["lines"] for r in reports) / max(1, sent * connected)

        buyers = buyers_file(state, seeded)
        async with load_workers([cluster.url], "", 0, 1, buyers=buyers) as (workers, joined):
            assert joined == BUYERS, f"{joined} of {BUYERS} buyers joined"
            measured = await burst(workers[0], state, "checkout", checkouts(seeded, "cluster"))
    finally:
        await asyncio.to_thread(cluster.down)
        shutil.rmtree(state, ignore_errors=True)
    outcomes = outcome_counts(measured)
    latencies = measured["latencies"]
    return Row(
        nodes=nodes,
        load=load,
        chat_clients=connected,
        chat_p50_ms=percentile(histogram, 0.5),
        chat_p99_ms=percentile(histogram, 0.99),
        delivered=delivered,
        attempts_per_s=len(latencies) / measured["wall"],
        ack_p99_ms=pct(latencies, 0.99),
        won=outcomes.get("ok", 0),
        outcomes=outcomes,
    )


def run() -> str:
    ensure_fd_limit(CHAT_CLIENTS * 3 + BUYERS * 3 + 1000)

    async def rows() -> list[Row]:
        measured = []
        for nodes in (1, 3):
            measured.append(await _measure(nodes))
            print(measured[-1], file=sys.stderr, flush=True)
        return measured

    one, three = asyncio.run(rows())
    table = [
        "| nodes | chat clients | lines delivered | chat p50 ms | chat p99 ms | "
        "checkout attempts/s | p99 ack ms | orders with stock | outcomes | load avg at start |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|",
    ]
    for r in (one, three):
        outcomes = ", ".join(f"{k} {v}" for k, v in sorted(r.outcomes.items()))
        mark = " *noisy*" if noisy(r.load) else ""
        table.append(
            f"| {r.nodes} | {r.chat_clients} | {r.delivered:.1%} | {r.chat_p50_ms:.1f} | "
            f"{r.chat_p99_ms:.1f} | {r.attempts_per_s:.0f} | {r.ack_p99_ms:.0f} | "
            f"{r.won} of {UNITS} | {outcomes} | {r.load:.2f}{mark} |"
        )
    return "\n".join(
        [
            f"Everything through nginx on one machine ({cores()} cores): {CHAT_CLIENTS} chat "
            f"clients in one show, one seller sending {CHAT_RATE:g} lines/s for "
            f"{CHAT_WINDOW:g} s; then {BUYERS} buyers send `checkout.start` at once for "
            f"{UNITS} units (bench/stampede.py's sale). Baseline: the same with one node behind "
            "the same nginx, Redis Cluster and PostgreSQL. On one machine three nodes share "
            "the cores one node had: the ratio shows what spreading costs or gains here, not "
            "what three machines would give.",
            "",
            *table,
            "",
            f"- three nodes vs one: checkout attempts/s "
            f"**{three.attempts_per_s / one.attempts_per_s:.2f}×**, chat p99 "
            f"{one.chat_p99_ms:.0f} ms → {three.chat_p99_ms:.0f} ms "
            f"(**{three.chat_p99_ms / one.chat_p99_ms:.2f}×**).",
            "",
            "Reproduce: `.venv/bin/python -m bench cluster` (env `CLUSTER_CHAT_CLIENTS`, "
            "`CLUSTER_CHAT_WORKERS`, `CLUSTER_CHAT_RATE`, `CLUSTER_CHAT_WINDOW`, "
            "`STAMPEDE_BUYERS`, `STAMPEDE_UNITS`).",
        ]
    )
