"""RB-17 fanout_latency_load (N tier): one seller and 5,000 viewers in one show, chat at 20
lines/s from five senders plus a sale start, against the server in its own process with its
production hub settings (coalescing on) except the per-user chat limit, which would otherwise
refuse a sender's 4 lines/s."""

from __future__ import annotations

import asyncio
import contextlib
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.reliability.conftest import RecordFigure
from tests.reliability.scale import scaled
from tests.support.http import Api
from tests.support.hub_clients import HubClient, join_show
from tests.support.hub_load import (
    cpu_seconds,
    ensure_fd_limit,
    load_workers,
    merged_histogram,
    percentile,
    rss_bytes,
    seller_show,
    server_process,
)

pytestmark = pytest.mark.soak

RB = "RB-17"
VIEWERS = 5000
SENDERS = 5  # the seller and four viewers
RATE = 20.0  # lines per second, all senders together
WINDOW = 30.0  # seconds of chat; the sale starts half way
WORKERS = 4
P50_MS, P99_MS = 50.0, 250.0


async def _send_lines(
    client: HubClient, show_id: str, rate: float, window: float, offset: float, acked: list[float]
) -> None:
    """``rate`` stamped lines per second for ``window`` seconds, the first after ``offset`` s
    (senders are staggered so together they send evenly, not in bursts), numbered so receivers
    can check this sender's order; ``acked`` gets the ack time (s) of each line acked ok."""
    start = time.monotonic() + offset
    n = 0
    while time.monotonic() - start < window:
        await asyncio.sleep(max(0.0, start + n / rate - time.monotonic()))
        sent = time.monotonic()

        def note(ack: dict[str, Any], sent: float = sent) -> None:
            if ack.get("ok"):
                acked.append(time.monotonic() - sent)

        text = f"t={time.time():.6f} n={n}"
        await client.sio.emit("chat.send", {"show_id": show_id, "text": text}, callback=note)
        n += 1


async def _offer(api: Api, show_id: str, token: str) -> str:
    """A prepared (draft) flash sale in the show: its id."""
    _, offer = await api.prepare_offer(
        token, show_id,
        {"name": "Load lamp", "price": 1500, "requires_shipping": False,
         "variants": [{"label": "One", "stock": 100}]},
        kind="flash", cap=10, duration_seconds=600,
    )  # fmt: skip
    return str(offer["id"])


async def test_fanout_to_viewers_keeps_order_loses_nothing_and_meets_latency(
    tmp_path: Path, figures: RecordFigure
) -> None:
    """Every connected viewer receives every acknowledged line in each sender's order and the
    sale start, with send-to-receive p50 ≤ 50 ms and p99 ≤ 250 ms."""
    viewers = scaled(VIEWERS)
    figures(rb=RB, name="viewers in the show (scale)", value=viewers, unit="clients",
            limit=f"{VIEWERS} at full scale")  # fmt: skip
    ensure_fd_limit(viewers + 1000)
    env = {
        "LIVECOMMERCE_HUB__CHAT_RATES": '[{"limit": 100000, "per_seconds": 1}]',
        "LIVECOMMERCE_HUB__MAX_CONNECTIONS_PER_ADDRESS": str(viewers + 100),
    }
    async with contextlib.AsyncExitStack() as stack:
        server = await stack.enter_async_context(server_process(str(tmp_path), env))
        http = await stack.enter_async_context(aiohttp.ClientSession())
        api = Api(http, server.base_url)
        show_id, seller_token = await seller_show(server.base_url)
        offer_id = await _offer(api, show_id, seller_token)
        tokens = [seller_token] + [(await api.signup(f"Sender{i}"))[0] for i in range(SENDERS - 1)]
        senders = []
        for token in tokens:
            client, _ack = await join_show(server.base_url, show_id, token)
            stack.push_async_callback(client.close)
            senders.append(client)
        rss0 = rss_bytes(server.pid)
        workers, joined = await stack.enter_async_context(
            load_workers([server.base_url], show_id, viewers, WORKERS)
        )
        figures(rb=RB, name="viewers that joined", value=joined, unit="clients",
                limit=f"{viewers}")  # fmt: skip
        figures(rb=RB, name="server RSS growth per joined viewer",
                value=round((rss_bytes(server.pid) - rss0) / max(1, joined) / 1024, 1),
                unit="KiB")  # fmt: skip
        await asyncio.gather(*(w.command("start") for w in workers))
        acked: list[list[float]] = [[] for _ in senders]
        cpu0 = cpu_seconds(server.pid)

        async def start_sale() -> float:
            await asyncio.sleep(WINDOW / 2)
            sent_at = time.time()
            ack = await senders[0].call("offer.start", {"show_id": show_id, "offer_id": offer_id})
            assert ack["ok"] is True, ack
            return sent_at

        *_, sale_sent_at = await asyncio.gather(
            *(
                _send_lines(client, show_id, RATE / SENDERS, WINDOW, i / RATE, acked[i])
                for i, client in enumerate(senders)
            ),
            start_sale(),
        )
        cpu = cpu_seconds(server.pid) - cpu0
        await asyncio.sleep(5.0)  # in flight when the window closed: still delivered
        reports = await asyncio.gather(*(w.command("report") for w in workers))

    sent = sum(len(times) for times in acked)
    ack_hist: dict[int, int] = {}
    for times in acked:
        for seconds in times:
            ack_hist[round(seconds * 10_000)] = ack_hist.get(round(seconds * 10_000), 0) + 1
    histogram = merged_histogram(reports)
    delivered = sum(r["lines"] for r in reports)
    dropped = sum(r["dropped"] for r in reports)
    out_of_order = sum(r["out_of_order"] for r in reports)
    sale_hist: dict[int, int] = {}
    for r in reports:
        for arrival in r["offer_arrivals"]:
            bucket = round((arrival - sale_sent_at) * 10_000)
            sale_hist[bucket] = sale_hist.get(bucket, 0) + 1
    sale_received = sum(sale_hist.values())
    lost = sent * joined - delivered
    p50, p99 = percentile(histogram, 0.5), percentile(histogram, 0.99)
    for name, value, unit, limit in [
        ("lines acknowledged (all senders)", sent, "lines", f"{RATE:g}/s for {WINDOW:g} s"),
        ("line deliveries expected (lines × joined viewers)", sent * joined, "", ""),
        ("line deliveries lost", lost, "", "0"),
        ("viewers dropped by the server", dropped, "clients", "0"),
        ("per-sender order violations", out_of_order, "", "0"),
        ("chat send→receive p50", p50, "ms", f"≤ {P50_MS:g} ms"),
        ("chat send→receive p99", p99, "ms", f"≤ {P99_MS:g} ms"),
        ("sale start received", sale_received, "viewers", f"{joined}"),
        ("sale start send→receive p50", percentile(sale_hist, 0.5), "ms", f"≤ {P50_MS:g} ms"),
        ("sale start send→receive p99", percentile(sale_hist, 0.99), "ms", f"≤ {P99_MS:g} ms"),
        (
            "chat.send ack p50 / p99 (the server's own work per line)",
            f"{percentile(ack_hist, 0.5)} / {percentile(ack_hist, 0.99)}",
            "ms",
            "",
        ),
        ("server CPU over the window", round(cpu, 1), "s", f"of {WINDOW:g} s wall"),
    ]:
        figures(rb=RB, name=name, value=value, unit=unit, limit=limit)
    assert viewers == joined
    assert (0, 0, 0) == (lost, dropped, out_of_order)
    assert joined == sale_received
    assert p50 <= P50_MS, f"chat p50 {p50} ms"
    assert p99 <= P99_MS, f"chat p99 {p99} ms"
    assert percentile(sale_hist, 0.99) <= P99_MS
