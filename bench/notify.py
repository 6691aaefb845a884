"""Go-live fan-out: a seller with N followers (10,000) goes live while another show of theirs
is chatting; a real `livecommerce serve` process (SQLite, in-process adapters) runs the
notification worker.

Measured: notifications per second (the outbox row written by the show's status update until
every follower's in-app delivery is recorded, e-mail and push skipped: no SMTP, no
subscriptions), and the chat p99 (send to receive, python-socketio clients) of the live show
while the fan-out runs, against the same chat just before it (the ratio is the figure: the
fan-out must not slow the show).

Run: `python -m bench notify` (env NOTIFY_FOLLOWERS, NOTIFY_CHATTERS, NOTIFY_CHAT_SECONDS).
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from typing import Any

import socketio

from bench._load import noisy, settle
from bench.stampede import connect_all, pct, seed, server, server_env
from livecommerce.adapters.sql.database import open_database
from livecommerce.adapters.sql.shows import SqlShowStore
from livecommerce.domain.notifications import show_live_event
from livecommerce.domain.shows import ShowStatus
from livecommerce.ids import hash_secret, new_id, new_secret
from tests.support.servers import free_port

TITLE = "Go-live notifications"
FOLLOWERS = int(os.environ.get("NOTIFY_FOLLOWERS", "10000"))
CHATTERS = int(os.environ.get("NOTIFY_CHATTERS", "50"))
#: Chat senders among the chatters (each sends one line a second: under the chat rate limit).
SENDERS = min(CHATTERS, 10)
CHAT_SECONDS = float(os.environ.get("NOTIFY_CHAT_SECONDS", "5"))


async def followers_of_new_show(store_url: str, live_show_id: str) -> tuple[str, str]:
    """A scheduled show of the seed's seller and FOLLOWERS accounts following the seller (bulk
    SQL: seeding is not measured); (show id, seller id)."""
    db = await open_database(store_url)
    try:
        row = await db.fetchone("SELECT seller_id FROM shows WHERE id = ?", live_show_id)
        assert row is not None
        seller_id = str(row["seller_id"])
        now = int(time.time() * 1000)
        show_id = new_id("shw")
        await db.execute(
            "INSERT INTO shows (id, seller_id, title, description, status, scheduled_at, "
            "started_at, ended_at, stream_key_hash, stream_key_rotated_at, created_at) "
            "VALUES (?, ?, 'Fan-out night', '', ?, NULL, NULL, NULL, ?, ?, ?)",
            show_id,
            seller_id,
            str(ShowStatus.SCHEDULED),
            hash_secret(new_secret()),
            now,
            now,
        )
        for start in range(0, FOLLOWERS, 500):
            ids = [new_id("usr") for _ in range(min(500, FOLLOWERS - start))]
            async with db.transaction() as tx:
                await tx.execute(
                    "INSERT INTO users (id, name, email, role, is_guest, created_at) VALUES "  # noqa: S608 why: placeholders only
                    + ", ".join("(?, ?, ?, 'viewer', 0, ?)" for _ in ids),
                    *[v for i in ids for v in (i, "Fan", f"{i}@bench.test", now)],
                )
                await tx.execute(
                    "INSERT INTO follows (follower_id, seller_id, created_at) VALUES "  # noqa: S608 why: placeholders only
                    + ", ".join("(?, ?, ?)" for _ in ids),
                    *[v for i in ids for v in (i, seller_id, now)],
                )
        return show_id, seller_id
    finally:
        await db.close()


async def chat_until(
    clients: list[socketio.AsyncClient], show_id: str, stop: asyncio.Event
) -> None:
    """Senders send one line a second each (spread), stamped with the send time, until
    ``stop``; every other chatter records the send-to-receive latency of what arrives."""
    senders = clients[:SENDERS]

    async def send(i: int, sio: socketio.AsyncClient) -> None:
        await asyncio.sleep(i / SENDERS)
        while not stop.is_set():
            await sio.emit("chat.send", {"show_id": show_id, "text": f"t={time.perf_counter()}"})
            await asyncio.sleep(1.0)

    await asyncio.gather(*(send(i, s) for i, s in enumerate(senders)))
    await asyncio.sleep(0.5)  # the last lines' delivery


async def stop_after(stop: asyncio.Event, seconds: float) -> None:
    await asyncio.sleep(seconds)
    stop.set()


def listen(client: socketio.AsyncClient, sink: dict[str, list[float]]) -> None:
    def record(line: dict[str, Any]) -> None:
        text = str(line.get("text", ""))
        if text.startswith("t="):
            sink["now"].append(time.perf_counter() - float(text[2:]))

    async def message(data: dict[str, Any]) -> None:
        record(data)

    async def batch(data: dict[str, Any]) -> None:
        for line in data.get("messages", []):
            record(line)

    client.on("chat.message", message)
    client.on("chat.batch", batch)


async def delivered(store_url: str, event_key: str) -> int:
    db = await open_database(store_url)
    try:
        row = await db.fetchone(
            "SELECT COUNT(*) AS n FROM notification_deliveries d JOIN notifications n "
            "ON n.id = d.notification_id JOIN outbox o ON o.id = n.event_id "
            "WHERE o.dedupe_key = ? AND d.channel = 'in_app' AND d.status = 'sent'",
            event_key,
        )
        return int(row["n"]) if row else 0
    finally:
        await db.close()


async def scenario(store_url: str) -> dict[str, Any]:
    seeded = await seed(store_url, CHATTERS, 10)
    live_show = seeded.offers[0][0]
    show_id, seller_id = await followers_of_new_show(store_url, live_show)
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="lc-bench-notify-") as data:
        env = server_env(port, data, store_url, "", CHATTERS)
        env["LIVECOMMERCE_NOTIFY__POLL_SECONDS"] = "0.1"
        async with server(env, port) as (base, _pid):
            clients = await connect_all(base, seeded.tokens, [live_show] * len(seeded.tokens))
            sink: dict[str, list[float]] = {"now": []}
            for client in clients[SENDERS:]:
                listen(client, sink)
            try:
                calm = asyncio.Event()
                await asyncio.gather(
                    chat_until(clients, live_show, calm), stop_after(calm, CHAT_SECONDS)
                )
                quiet, sink["now"] = sink["now"], []
                db = await open_database(store_url)
                try:
                    now = int(time.time() * 1000)
                    event = show_live_event(show_id, seller_id, "Fan-out night", now)
                    t0 = time.perf_counter()
                    changed = await SqlShowStore(db).update_show(
                        show_id,
                        if_status=ShowStatus.SCHEDULED,
                        events=[event],
                        status=ShowStatus.LIVE,
                        started_at=now,
                        live_since=now,
                    )
                    assert changed
                finally:
                    await db.close()
                fanning = asyncio.Event()
                chatting = asyncio.create_task(chat_until(clients, live_show, fanning))
                done = 0
                while done < FOLLOWERS:
                    await asyncio.sleep(0.2)
                    done = await delivered(store_url, event.key)
                    if time.perf_counter() - t0 > 600:
                        break
                fanout = time.perf_counter() - t0
                fanning.set()
                await chatting
                busy = sink["now"]
            finally:
                await asyncio.gather(*[c.disconnect() for c in clients], return_exceptions=True)
    return {
        "delivered": done,
        "seconds": fanout,
        "rate": done / fanout,
        "quiet_p50": pct(quiet, 0.5),
        "quiet_p99": pct(quiet, 0.99),
        "busy_p50": pct(busy, 0.5),
        "busy_p99": pct(busy, 0.99),
        "lines": (len(quiet), len(busy)),
    }


def run() -> str:
    load_before = settle()
    with tempfile.TemporaryDirectory(prefix="lc-bench-notify-sqlite-") as tmp:
        r = asyncio.run(scenario(f"sqlite:///{tmp}/n.db"))
    mark = " — *noisy*: above the core count" if noisy(load_before) else ""
    ratio = r["busy_p99"] / r["quiet_p99"] if r["quiet_p99"] else float("nan")
    return (
        f"A seller with {FOLLOWERS:,} followers goes live (the show's status update writes the "
        "`show.live` outbox row); one `livecommerce serve` process (SQLite, in-process bus) "
        "fans it out in its notification worker: a notification and three deliveries per "
        "follower, in-app sent (`notification.new` to the follower's room), e-mail and push "
        f"skipped (no SMTP server, no subscriptions). Meanwhile {CHATTERS} python-socketio "
        f"clients chat in another live show of the seller ({SENDERS} senders, one line a second "
        f"each) from the go-live until the fan-out is done; the same chat for {CHAT_SECONDS:g} s "
        f"just before the go-live is the baseline.{mark}\n\n"
        "| followers | fan-out s | notifications/s | chat p50 / p99 ms before | "
        "chat p50 / p99 ms during | p99 ratio | lines timed (before, during) |\n"
        "|---|---|---|---|---|---|---|\n"
        f"| {r['delivered']:,} | {r['seconds']:.1f} | {r['rate']:.0f} | "
        f"{r['quiet_p50']:.1f} / {r['quiet_p99']:.1f} | {r['busy_p50']:.1f} / "
        f"{r['busy_p99']:.1f} | {ratio:.2f}× | {r['lines'][0]}, {r['lines'][1]} |\n\n"
        "Reproduce: `python -m bench notify` (`NOTIFY_FOLLOWERS`, `NOTIFY_CHATTERS`, "
        "`NOTIFY_CHAT_SECONDS`)."
    )
