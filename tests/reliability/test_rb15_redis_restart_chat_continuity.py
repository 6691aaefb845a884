"""RB-15 redis_restart_chat_continuity: two app nodes on one Redis; Redis goes away while
viewers chat. Each node keeps delivering its own lines; lines cross nodes again within 5 s of
Redis returning and the other node's outage lines are filled in from the store; viewers who
dropped and come back with ``show.join {last_seq}`` (to the other node) miss no line and see
none twice.

A client that drops *during* the outage is not covered: its highest seq seen can be above
lines the other node stored meanwhile, which ``last_seq`` then skips (see the report).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from livecommerce import keys
from tests.conftest import SettingsFactory
from tests.reliability.conftest import RecordFigure
from tests.support.app import RunningApp
from tests.support.hub_clients import Cluster, HubClient, cluster_of, join_show
from tests.support.servers import RedisServer

pytestmark = [pytest.mark.redis, pytest.mark.timeout(300)]
#: Lines cross nodes again at most this long after Redis is back (the criterion).
RESUME_WITHIN = 5.0
#: A same-node line counts as delivered without interruption if it arrives this fast.
SAME_NODE_WITHIN = 1.0


def hub_settings(clients: int) -> dict[str, Any]:
    return {
        "chat_rates": [{"limit": 1000, "per_seconds": 1}],
        "max_connections_per_address": clients + 20,
    }


#: The expiry sweeper and the stock resync run every second through the outage: a store outage
#: must cost them a warning per pass, never a traceback (the run's log scan checks).
BUSY_SHOP = {"sweep_interval_seconds": 1}


@dataclass
class Sent:
    id: str
    node: str
    at: float


@dataclass
class Dropper:
    """A viewer who leaves before the outage and comes back to the other node after it."""

    node: str
    first: HubClient
    last_seq: int = 0
    again: HubClient | None = None
    replayed: list[dict[str, Any]] = field(default_factory=list)

    def ids(self) -> list[str]:
        later = self.again.lines if self.again is not None else []
        return [m["id"] for _, m in self.first.lines + later] + [m["id"] for m in self.replayed]


@dataclass
class Continuity:
    same_node_worst: float
    same_node_p99: float
    cross_node_resumed: float
    missing: int
    duplicates: int
    lines: int


async def run_outage(
    cluster: Cluster,
    redis_server: RedisServer,
    *,
    viewers_per_node: int,
    chatters_per_node: int,
    droppers_per_node: int,
    outage: float,
    line_interval: float,
    after: float,
) -> Continuity:
    """Chat on both nodes, drop some viewers, stop Redis for ``outage`` seconds, bring the
    droppers back to the other node, chat ``after`` seconds more, then count."""
    show = cluster.cast.show_id
    nodes: dict[str, RunningApp] = {"a": cluster.a, "b": cluster.b}
    other = {"a": "b", "b": "a"}
    accounts = cluster.a.app[keys.SERVICES].accounts
    opened: list[HubClient] = []

    async def viewer(node: str, token: str | None = None) -> HubClient:
        client, _ = await join_show(nodes[node].base_url, show, token)
        opened.append(client)
        return client

    try:
        chatters = [
            (node, await viewer(node, (await accounts.guest(f"Chatter {node}{i}")).token))
            for node in nodes
            for i in range(chatters_per_node)
        ]
        viewers = {node: [await viewer(node) for _ in range(viewers_per_node)] for node in nodes}
        droppers = [
            Dropper(node, await viewer(node)) for node in nodes for _ in range(droppers_per_node)
        ]
        sent: list[Sent] = []
        talking = asyncio.Event()
        talking.set()
        stop = asyncio.Event()

        async def chat(node: str, client: HubClient, n: int) -> None:
            i = 0
            while not stop.is_set():
                await talking.wait()
                at = time.monotonic()
                ack = await client.call("chat.send", {"show_id": show, "text": f"{n}:{i}"})
                assert ack["ok"] is True, ack
                sent.append(Sent(ack["message"]["id"], node, at))
                i += 1
                await asyncio.sleep(line_interval)

        tasks = [asyncio.create_task(chat(node, c, n)) for n, (node, c) in enumerate(chatters)]
        await asyncio.sleep(1.0)
        # a quiet moment, so "highest seq seen" is a complete prefix when the droppers leave
        talking.clear()
        await asyncio.sleep(0.5)
        for dropper in droppers:
            dropper.last_seq = max(m["seq"] for _, m in dropper.first.lines)
            await dropper.first.close()
        talking.set()
        await asyncio.sleep(0.5)

        redis_server.kill()
        down = time.monotonic()
        await asyncio.sleep(outage)
        await asyncio.to_thread(redis_server.start)
        back = time.monotonic()
        await asyncio.sleep(1.0)
        for dropper in droppers:
            again = HubClient()
            opened.append(again)
            await again.connect(nodes[other[dropper.node]].base_url)
            ack = await again.call("show.join", {"show_id": show, "last_seq": dropper.last_seq})
            assert ack["ok"] is True, ack
            dropper.again, dropper.replayed = again, ack["messages"]
        await asyncio.sleep(after)
        stop.set()
        await asyncio.gather(*tasks)
        await asyncio.sleep(1.5)

        def arrivals(client: HubClient) -> dict[str, float]:
            return {m["id"]: t for t, m in client.lines}

        watcher = {node: arrivals(viewers[node][0]) for node in nodes}
        during = [s for s in sent if down <= s.at < back]
        assert during, "nobody chatted during the outage"
        delays = sorted(watcher[s.node].get(s.id, float("inf")) - s.at for s in during)
        resumed = 0.0
        for node in nodes:
            crossed = [
                watcher[other[node]][s.id]
                for s in sorted(sent, key=lambda s: s.at)
                if s.node == node
                and s.at >= back
                and watcher[other[node]].get(s.id, float("inf")) - s.at <= SAME_NODE_WITHIN
            ]
            resumed = max(resumed, (crossed[0] - back) if crossed else float("inf"))
        expected = {s.id for s in sent}
        seen = [[m["id"] for _, m in v.lines] for vs in viewers.values() for v in vs]
        seen += [d.ids() for d in droppers]
        return Continuity(
            same_node_worst=delays[-1],
            same_node_p99=delays[min(len(delays) - 1, int(len(delays) * 0.99))],
            cross_node_resumed=resumed,
            missing=sum(len(expected - set(ids)) for ids in seen),
            duplicates=sum(len(ids) - len(set(ids)) for ids in seen),
            lines=len(sent),
        )
    finally:
        for client in opened:
            await client.close()


@contextlib.asynccontextmanager
async def two_nodes(
    settings_factory: SettingsFactory, redis_url: str, clients: int
) -> AsyncIterator[Cluster]:
    async with cluster_of(
        settings_factory, redis_url, hub_settings(clients), shop=BUSY_SHOP
    ) as cluster:
        yield cluster


async def test_short_redis_restart_keeps_chat_whole(
    settings_factory: SettingsFactory, redis_url: str, redis_server: RedisServer
) -> None:
    """Redis away for 5 s while a viewer on each node chats: same-node lines keep arriving
    within 1 s, cross-node lines within 5 s of Redis's return, and every viewer (including
    two who left before the outage and came back to the other node with last_seq) ends with
    every line exactly once."""
    async with two_nodes(settings_factory, redis_url, 10) as cluster:
        result = await run_outage(
            cluster,
            redis_server,
            viewers_per_node=2,
            chatters_per_node=1,
            droppers_per_node=1,
            outage=5.0,
            line_interval=0.4,
            after=4.5,
        )
    assert result.same_node_worst <= SAME_NODE_WITHIN, result
    assert result.cross_node_resumed <= RESUME_WITHIN, result
    assert (0, 0) == (result.missing, result.duplicates), result


async def test_rejoin_on_other_node_with_last_seq(
    settings_factory: SettingsFactory, redis_url: str
) -> None:
    """A client that reconnects to the other node with last_seq gets exactly what it missed."""
    async with two_nodes(settings_factory, redis_url, 10) as cluster:
        cast = cluster.cast
        seller, _ = await join_show(cluster.a.base_url, cast.show_id, cast.seller.token)
        first, _ = await join_show(cluster.a.base_url, cast.show_id, None)
        try:
            for i in range(2):
                await seller.call("chat.send", {"show_id": cast.show_id, "text": f"seen {i}"})
            seen = await first.chat_lines(0.5)
            assert ["seen 0", "seen 1"] == [m["text"] for m in seen]
            await first.close()
            for i in range(3):
                await seller.call("chat.send", {"show_id": cast.show_id, "text": f"missed {i}"})
            again = HubClient()
            await again.connect(cluster.b.base_url)
            ack = await again.call(
                "show.join", {"show_id": cast.show_id, "last_seq": max(m["seq"] for m in seen)}
            )
            assert [f"missed {i}" for i in range(3)] == [m["text"] for m in ack["messages"]]
            await seller.call("chat.send", {"show_id": cast.show_id, "text": "live"})
            assert ["live"] == [m["text"] for m in await again.chat_lines(0.8)]
            await again.close()
        finally:
            await seller.close()


@pytest.mark.soak
@pytest.mark.timeout(600)
async def test_long_redis_outage_with_200_clients(
    settings_factory: SettingsFactory,
    redis_url: str,
    redis_server: RedisServer,
    figures: RecordFigure,
) -> None:
    """200 clients over two nodes, Redis away for 90 s: the same bounds, with figures."""
    async with two_nodes(settings_factory, redis_url, 200) as cluster:
        result = await run_outage(
            cluster,
            redis_server,
            viewers_per_node=80,
            chatters_per_node=5,
            droppers_per_node=15,
            outage=90.0,
            line_interval=1.0,
            after=10.0,
        )
    for name, value, unit, limit in (
        ("same-node delivery p99 during a 90 s outage", result.same_node_p99, "s", "≤ 1"),
        ("worst same-node delivery during the outage", result.same_node_worst, "s", "finite"),
        ("cross-node chat back after Redis returned", result.cross_node_resumed, "s", "≤ 5"),
        ("lines missing (200 clients, 30 away across the outage)", result.missing, "", "0"),
        ("lines shown twice", result.duplicates, "", "0"),
        ("lines sent", result.lines, "", ""),
    ):
        figures(rb="RB-15", name=name, value=round(value, 3), unit=unit, limit=limit)
    # 200 clients and both nodes share two cores here: every line arrives (a finite worst)
    # and the p99 holds the bound; the single worst line is a figure, not the criterion
    assert result.same_node_worst < float("inf"), result
    assert result.same_node_p99 <= SAME_NODE_WITHIN, result
    assert result.cross_node_resumed <= RESUME_WITHIN, result
    assert (0, 0) == (result.missing, result.duplicates), result
