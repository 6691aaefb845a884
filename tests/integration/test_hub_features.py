"""Reactions, Q&A, viewer counts, coalescing and connection limits on one node."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator

import aiohttp
import pytest

from tests.conftest import SettingsFactory
from tests.support.app import RunningApp, running_app
from tests.support.hub_clients import Cast, HubClient, join_show, make_cast, refused

pytestmark = pytest.mark.timeout(60)
ROOMY = {
    "chat_rates": [{"limit": 1000, "per_seconds": 1}],
    "reaction_rates": [{"limit": 1000, "per_seconds": 1}],
    "question_rates": [{"limit": 1000, "per_seconds": 1}],
    "viewers_push_seconds": 0.3,
    # a viewer who left drops out of the count within the window: keep it short here
    "presence_heartbeat_seconds": 0.5,
    "viewer_window_seconds": 2,
}


@pytest.fixture
async def node(settings_factory: SettingsFactory) -> AsyncIterator[tuple[RunningApp, Cast]]:
    async with running_app(settings_factory(hub=ROOMY)) as running:
        yield running, await make_cast(running.app)


async def join(running: RunningApp, cast: Cast, token: str | None) -> HubClient:
    return (await join_show(running.base_url, cast.show_id, token))[0]


async def test_reactions_are_aggregated(node: tuple[RunningApp, Cast]) -> None:
    """Many taps become a few reaction.burst events, at least 250 ms apart, losing no tap."""
    running, cast = node
    alice = await join(running, cast, cast.alice.token)
    watcher = await join(running, cast, None)
    try:
        for _ in range(10):
            for kind in ("heart", "fire"):
                ack = await alice.call("reaction.send", {"show_id": cast.show_id, "kind": kind})
                assert ack == {"ok": True}
            await asyncio.sleep(0.05)
        bad = await alice.call("reaction.send", {"show_id": cast.show_id, "kind": "poop"})
        assert bad["error"]["code"] == "invalid_input"
        total = {"heart": 0, "fire": 0}
        while total != {"heart": 10, "fire": 10}:
            burst = await watcher.expect("reaction.burst", within=3)
            for kind, count in burst["counts"].items():
                total[kind] += count
        times = [t for t, name in watcher.arrivals if name == "reaction.burst"]
        assert len(times) < 10
        gaps = [b - a for a, b in itertools.pairwise(times)]
        assert all(gap > 0.2 for gap in gaps), gaps
    finally:
        await alice.close()
        await watcher.close()


async def test_questions_votes_and_answers(node: tuple[RunningApp, Cast]) -> None:
    """Questions are upvoted once per user, answered by staff only, and pushed as qa.updated."""
    running, cast = node
    seller = await join(running, cast, cast.seller.token)
    alice = await join(running, cast, cast.alice.token)
    bob = await join(running, cast, cast.bob.token)
    try:
        asked = await alice.call(
            "qa.ask", {"show_id": cast.show_id, "text": "Does it come in red?"}
        )
        question_id = asked["question"]["id"]
        assert (await seller.expect("qa.updated"))["question"]["votes"] == 0
        first = await bob.call("qa.upvote", {"show_id": cast.show_id, "question_id": question_id})
        again = await bob.call("qa.upvote", {"show_id": cast.show_id, "question_id": question_id})
        assert (first["question"]["votes"], again["question"]["votes"]) == (1, 1)
        own = await alice.call("qa.upvote", {"show_id": cast.show_id, "question_id": question_id})
        assert own["error"]["code"] == "invalid_input"
        refused = await bob.call("qa.answer", {"show_id": cast.show_id, "question_id": question_id})
        assert refused["error"]["code"] == "forbidden"
        answered = await seller.call(
            "qa.answer",
            {"show_id": cast.show_id, "question_id": question_id, "text": "Yes!", "media_ts": 61.5},
        )
        assert answered["question"]["answered"] is True
        assert answered["question"]["media_ts"] == 61.5
        update = await alice.expect("qa.updated", lambda d: d["question"]["answered"])
        assert update["question"]["answer"] == "Yes!"
        late = await join(running, cast, None)
        ack = await late.call("show.join", {"show_id": cast.show_id})
        assert [q["id"] for q in ack["questions"]] == [question_id]
        await late.close()
        async with (
            aiohttp.ClientSession() as http,
            http.get(f"{running.base_url}/api/v1/shows/{cast.show_id}/timeline") as resp,
        ):
            events = (await resp.json())["events"]
        assert [("question.answered", question_id, "Does it come in red?", "Yes!", 61.5)] == [
            (e["type"], e["question_id"], e["question"], e["answer"], e["media_ts"]) for e in events
        ]
    finally:
        for client in (seller, alice, bob):
            await client.close()


async def test_viewer_count_follows_connections(node: tuple[RunningApp, Cast]) -> None:
    """viewers.count rises as people join and falls within the window after one leaves."""
    running, cast = node
    first = await join(running, cast, None)
    second = await join(running, cast, cast.alice.token)
    try:
        await first.expect("viewers.count", lambda d: d["count"] == 2, within=5)
        await second.close()
        await first.expect("viewers.count", lambda d: d["count"] == 1, within=5)
    finally:
        await first.close()
        await second.close()


async def test_busy_show_is_coalesced(settings_factory: SettingsFactory) -> None:
    """Above the configured rate lines arrive as chat.batch, in order and complete."""
    hub = {
        **ROOMY,
        "coalesce_above_per_second": 5,
        "coalesce_interval_ms": 100,
        "coalesce_full_deliveries_per_second": 10,
    }
    async with running_app(settings_factory(hub=hub)) as running:
        cast = await make_cast(running.app)
        seller = await join(running, cast, cast.seller.token)
        watcher = await join(running, cast, None)
        try:
            await asyncio.gather(
                *(
                    seller.call("chat.send", {"show_id": cast.show_id, "text": f"n{i}"})
                    for i in range(40)
                )
            )
            events = await watcher.drain(0.5)
            names = [name for name, _ in events]
            assert "chat.batch" in names
            lines = [
                line
                for name, data in events
                if name in ("chat.message", "chat.batch")
                for line in (data["messages"] if name == "chat.batch" else [data])
            ]
            assert sorted(m["seq"] for m in lines) == list(range(1, 41))
            assert names.count("chat.batch") + names.count("chat.message") < 40
        finally:
            await seller.close()
            await watcher.close()


async def test_connections_per_address_capped(settings_factory: SettingsFactory) -> None:
    """Beyond the per-address cap a connection is refused with too_many_connections."""
    async with running_app(settings_factory(hub={"max_connections_per_address": 2})) as running:
        made = [HubClient() for _ in range(2)]
        try:
            for client in made:
                await client.connect(running.base_url)
            reason = await refused(running.base_url)
            assert reason == {
                "message": "too many connections from this address",
                "data": {"code": "too_many_connections"},
            }
        finally:
            for client in made:
                await client.close()
