"""Two app instances sharing one store and a redis-server the tests start: every node enforces
the same moderation and limits, and chat survives a Redis restart."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.conftest import SettingsFactory
from tests.support.app import RunningApp, running_app
from tests.support.hub_clients import Cast, HubClient, join_show, make_cast
from tests.support.servers import RedisServer

pytestmark = [pytest.mark.redis, pytest.mark.timeout(90)]
ROOMY = {
    "chat_rates": [{"limit": 1000, "per_seconds": 1}],
    "viewers_push_seconds": 0.3,
    "presence_heartbeat_seconds": 0.5,
}


@dataclass
class Cluster:
    a: RunningApp
    b: RunningApp
    cast: Cast


async def start_cluster(
    settings_factory: SettingsFactory, redis_url: str, hub: dict[str, Any]
) -> AsyncIterator[Cluster]:
    # same data dir (one SQLite store), different ports, one Redis
    async with (
        running_app(settings_factory(redis={"url": redis_url}, hub=hub)) as a,
        running_app(settings_factory(redis={"url": redis_url}, hub=hub)) as b,
    ):
        yield Cluster(a, b, await make_cast(a.app))


@pytest.fixture
async def cluster(settings_factory: SettingsFactory, redis_url: str) -> AsyncIterator[Cluster]:
    async for made in start_cluster(settings_factory, redis_url, ROOMY):
        yield made


async def join(node: RunningApp, cast: Cast, token: str | None) -> HubClient:
    return (await join_show(node.base_url, cast.show_id, token))[0]


async def say(client: HubClient, cast: Cast, text: str) -> Any:
    return await client.call("chat.send", {"show_id": cast.show_id, "text": text})


async def test_chat_and_moderation_cross_nodes(cluster: Cluster) -> None:
    """Lines, deletes, timeouts and bans made on node A reach and bind clients on node B."""
    cast = cluster.cast
    host = await join(cluster.a, cast, cast.host.token)
    alice_b = await join(cluster.b, cast, cast.alice.token)
    bob_b = await join(cluster.b, cast, cast.bob.token)
    watcher_a = await join(cluster.a, cast, None)
    try:
        line = (await say(bob_b, cast, "from node b"))["message"]
        assert (await watcher_a.expect("chat.message"))["id"] == line["id"]
        assert (await alice_b.expect("chat.message"))["id"] == line["id"]
        hello = (await say(host, cast, "from node a"))["message"]
        assert (await bob_b.expect("chat.message", lambda d: d["id"] == hello["id"]))["seq"] == 2

        await host.call("mod.delete", {"show_id": cast.show_id, "message_id": line["id"]})
        for client in (alice_b, bob_b, watcher_a):
            assert (await client.expect("chat.deleted"))["id"] == line["id"]

        await host.call(
            "mod.timeout", {"show_id": cast.show_id, "user_id": cast.alice.user_id, "seconds": 60}
        )
        await alice_b.expect("mod.applied", lambda d: d["action"] == "timeout")
        assert (await say(alice_b, cast, "hi"))["error"]["code"] == "muted"

        await host.call("mod.ban", {"show_id": cast.show_id, "user_id": cast.bob.user_id})
        await bob_b.expect("show.left")
        await alice_b.expect("mod.applied", lambda d: d["action"] == "ban")
        rejoin = await bob_b.call("show.join", {"show_id": cast.show_id})
        assert rejoin["error"]["code"] == "banned"
    finally:
        for client in (host, alice_b, bob_b, watcher_a):
            await client.close()


async def test_rate_limit_holds_across_nodes(
    settings_factory: SettingsFactory, redis_url: str
) -> None:
    """The per-user budget is shared: two lines on A and two on B make the fourth refused."""
    async for cluster in start_cluster(settings_factory, redis_url, {}):
        cast = cluster.cast
        on_a = await join(cluster.a, cast, cast.alice.token)
        on_b = await join(cluster.b, cast, cast.alice.token)
        try:
            results = []
            for client in (on_a, on_b, on_a, on_b):
                ack = await say(client, cast, "x")
                results.append(ack["ok"] or ack["error"]["code"])
            assert results == [True, True, True, "rate_limited"]
        finally:
            await on_a.close()
            await on_b.close()


async def test_viewer_count_across_nodes(cluster: Cluster) -> None:
    """viewers.count sums the viewers of both nodes."""
    cast = cluster.cast
    on_a = await join(cluster.a, cast, None)
    on_b = await join(cluster.b, cast, None)
    try:
        await on_a.expect("viewers.count", lambda d: d["count"] == 2, within=10)
        await on_b.expect("viewers.count", lambda d: d["count"] == 2, within=10)
    finally:
        await on_a.close()
        await on_b.close()


async def test_redis_restart_mid_show(cluster: Cluster, redis_server: RedisServer) -> None:
    """With Redis down chat keeps working on each node; cross-node chat resumes within 5 s of
    Redis returning, and the other node's viewers get the lines they missed, once each."""
    cast = cluster.cast
    seller_a = await join(cluster.a, cast, cast.seller.token)
    watcher_a = await join(cluster.a, cast, None)
    watcher_b = await join(cluster.b, cast, None)
    try:
        await say(seller_a, cast, "before")
        await watcher_b.expect("chat.message", lambda d: d["text"] == "before")

        redis_server.kill()
        during = await say(seller_a, cast, "during outage")
        assert during["ok"] is True
        await watcher_a.expect("chat.message", lambda d: d["text"] == "during outage")

        redis_server.start()
        back = time.monotonic()
        resumed_after = None
        i = 0
        while resumed_after is None and time.monotonic() - back < 5:
            i += 1
            await say(seller_a, cast, f"probe {i}")
            try:
                await watcher_b.expect(
                    "chat.message", lambda d: d["text"].startswith("probe"), within=0.25
                )
                resumed_after = time.monotonic() - back
            except TimeoutError:
                pass
        assert resumed_after is not None and resumed_after < 5
        await asyncio.sleep(0.5)
        texts = [m["text"] for m in await watcher_b.chat_lines(0.5)]
        # the outage line arrived by gap fill from the store; nothing was delivered twice
        assert "during outage" in texts
        assert len(texts) == len(set(texts))
    finally:
        for client in (seller_a, watcher_a, watcher_b):
            await client.close()


async def test_rejoin_on_other_node_with_last_seq(cluster: Cluster) -> None:
    """A client that reconnects to the other node with last_seq gets exactly what it missed."""
    cast = cluster.cast
    seller = await join(cluster.a, cast, cast.seller.token)
    first = await join(cluster.a, cast, None)
    try:
        for i in range(2):
            await say(seller, cast, f"seen {i}")
        seen = await first.chat_lines(0.5)
        assert [m["text"] for m in seen] == ["seen 0", "seen 1"]
        await first.close()
        for i in range(3):
            await say(seller, cast, f"missed {i}")
        again = HubClient()
        await again.connect(cluster.b.base_url)
        ack = await again.call(
            "show.join", {"show_id": cast.show_id, "last_seq": max(m["seq"] for m in seen)}
        )
        assert [m["text"] for m in ack["messages"]] == [f"missed {i}" for i in range(3)]
        await say(seller, cast, "live")
        assert [m["text"] for m in await again.chat_lines(0.8)] == ["live"]
        await again.close()
    finally:
        await seller.close()
