"""The hub's chat wire on a real node: one encoded packet per batch reaching python-socketio and
hand-spoken clients alike, websocket deflate off, and a slow reader's backlog collapsing to the
latest lines with a gap it can fill by re-joining."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from typing import Any

import aiohttp
import pytest

from livecommerce.hub import HUB
from tests.conftest import SettingsFactory
from tests.support.app import running_app
from tests.support.hub_clients import HubClient, RawClient, join_show, make_cast

pytestmark = pytest.mark.timeout(60)
ROOMY = {"chat_rates": [{"limit": 1000, "per_seconds": 1}], "max_connections_per_address": 100}


async def test_every_client_gets_the_same_once_encoded_batches(
    settings_factory: SettingsFactory,
) -> None:
    """A busy show's lines reach two python-socketio clients and a raw websocket client as the
    same chat.batch packets, in seq order, written straight to their sockets, without deflate
    even though the raw client offers it."""
    busy = {
        **ROOMY,
        "coalesce_above_per_second": 2,
        "coalesce_above_deliveries_per_second": 2,
        "coalesce_full_deliveries_per_second": 10,
    }
    async with running_app(settings_factory(hub=busy)) as running, aiohttp.ClientSession() as http:
        cast = await make_cast(running.app)
        seller, _ = await join_show(running.base_url, cast.show_id, cast.seller.token)
        viewers = [(await join_show(running.base_url, cast.show_id, None))[0] for _ in range(2)]
        raw = await RawClient.connect(http, running.base_url)
        clients: list[HubClient] = [seller, *viewers]
        try:
            assert raw.ws.compress == 0  # offered permessage-deflate, the server declined it
            assert True is (await raw.call("show.join", {"show_id": cast.show_id}))["ok"]
            texts = [f"line {i} — 日本語 ✓ <b>&amp;</b>" for i in range(12)]
            for text in texts:
                ack = await seller.call("chat.send", {"show_id": cast.show_id, "text": text})
                assert True is ack["ok"], ack
            raw_events: list[tuple[str, Any]] = []
            frames: list[str] = []
            while sum(len(d["messages"]) if n == "chat.batch" else 1 for n, d in raw_events) < 12:
                name, payload, text = await raw.event()
                if name in ("chat.message", "chat.batch"):
                    raw_events.append((name, payload))
                    frames.append(text)
            for client in clients:
                events = [(n, d) for n, d in await client.drain(0.3) if n.startswith("chat.")]
                assert raw_events == events
            assert "chat.batch" in [name for name, _ in raw_events]
            lines = [
                m for n, d in raw_events for m in (d["messages"] if n == "chat.batch" else [d])
            ]
            assert texts == [m["text"] for m in lines]
            assert sorted(m["seq"] for m in lines) == [m["seq"] for m in lines]
            assert "日本語" in "".join(frames)  # UTF-8 on the wire, not \\u escapes
            writer = running.app[HUB].local_shows.states[cast.show_id].writer
            assert writer.direct > 0
        finally:
            await raw.ws.close()
            for client in clients:
                await client.close()


async def test_slow_reader_backlog_collapses_and_gap_fills(
    settings_factory: SettingsFactory,
) -> None:
    """A client that stops reading holds at most a few packets on the server while the show
    goes on; when it reads again it gets the latest lines with the seq range it lost, and a
    re-join after that range returns the lost lines."""
    slow = {
        **ROOMY,
        "slow_client_max_packets": 4,
        "slow_client_max_bytes": 32768,
        "slow_client_keep_lines": 5,
    }
    async with running_app(settings_factory(hub=slow)) as running, aiohttp.ClientSession() as http:
        cast = await make_cast(running.app)
        seller, _ = await join_show(running.base_url, cast.show_id, cast.seller.token)
        raw = await RawClient.connect(http, running.base_url)
        try:
            assert True is (await raw.call("show.join", {"show_id": cast.show_id}))["ok"]
            hub = running.app[HUB]
            writer = hub.local_shows.states[cast.show_id].writer
            (raw_sid,) = [s for s in hub.local_shows.states[cast.show_id].sids if s != _sid(seller)]
            eio_socket = hub.sio.eio.sockets[hub.sio.manager.eio_sid_from_sid(raw_sid, "/")]
            # small kernel buffers on both ends, so a few lines fill them
            transport = eio_socket.lc_direct_transport
            transport.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
            raw.ws.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            big = "語" * 500
            sent = 0
            while writer.collapsed == 0 and sent < 400:
                ack = await seller.call("chat.send", {"show_id": cast.show_id, "text": big})
                assert True is ack["ok"], ack
                sent += 1
            assert 1 == writer.collapsed
            for _ in range(30):  # the show goes on; the slow reader's backlog does not grow
                ack = await seller.call("chat.send", {"show_id": cast.show_id, "text": "later"})
                last_seq = ack["message"]["seq"]
            assert 4 >= eio_socket.queue.qsize()
            assert 32768 + 4 * len(big.encode()) * 2 > transport.get_write_buffer_size()
            # reading again: once its buffers drained, the show's next line brings the catch-up
            seen: list[tuple[str, Any]] = []
            drain = asyncio.create_task(_collect(raw, seen))
            catch_ups: list[dict[str, Any]] = []
            for _ in range(50):
                await asyncio.sleep(0.1)
                ack = await seller.call("chat.send", {"show_id": cast.show_id, "text": "newest"})
                catch_ups = [d for n, d in seen if n == "chat.batch" and "gap" in d]
                if catch_ups:
                    break
            drain.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await drain
            (catch_up,) = catch_ups
            assert 5 == len(catch_up["messages"])
            assert {"later", "newest"} >= {m["text"] for m in catch_up["messages"]}
            assert last_seq < catch_up["messages"][-1]["seq"] <= ack["message"]["seq"]
            gap = catch_up["gap"]
            assert gap["to_seq"] + 1 == catch_up["messages"][0]["seq"]
            rejoin = await raw.call(
                "show.join", {"show_id": cast.show_id, "last_seq": gap["from_seq"] - 1}
            )
            replayed = [m["seq"] for m in rejoin["messages"]]
            lost = list(range(gap["from_seq"], gap["to_seq"] + 1))
            assert lost == replayed[: len(lost)]
            assert [m["seq"] for m in catch_up["messages"]] == replayed[len(lost) : len(lost) + 5]
        finally:
            await raw.ws.close()
            await seller.close()


def _sid(client: HubClient) -> str:
    sid = client.sio.get_sid("/")
    assert isinstance(sid, str)
    return sid


async def _collect(raw: RawClient, into: list[tuple[str, Any]]) -> None:
    while True:
        name, payload, _text = await raw.event(within=10)
        into.append((name, payload))
