"""The hub on one node, driven by real python-socketio clients over loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.conftest import SettingsFactory
from tests.support.app import RunningApp, running_app
from tests.support.hub_clients import Cast, HubClient, join_show, make_cast

pytestmark = pytest.mark.timeout(60)


#: Generous chat limits, so tests that are not about rate limits never trip them.
ROOMY = {"chat_rates": [{"limit": 1000, "per_seconds": 1}]}


@pytest.fixture
async def node(settings_factory: SettingsFactory) -> AsyncIterator[tuple[RunningApp, Cast]]:
    async with running_app(settings_factory(hub=ROOMY)) as running:
        yield running, await make_cast(running.app)


async def joined(running: RunningApp, cast: Cast, token: str | None) -> tuple[HubClient, Any]:
    return await join_show(running.base_url, cast.show_id, token)


async def test_chat_round_trip(node: tuple[RunningApp, Cast]) -> None:
    """A line is acked with its seq and reaches every viewer; the server computes badges."""
    running, cast = node
    alice, ack = await joined(running, cast, cast.alice.token)
    seller, _ = await joined(running, cast, cast.seller.token)
    watcher, _ = await joined(running, cast, None)
    try:
        assert ack["show"]["id"] == cast.show_id
        assert ack["messages"] == []
        sent = await alice.call("chat.send", {"show_id": cast.show_id, "text": "  hello\u0301 "})
        assert sent["ok"] is True
        line = sent["message"]
        assert (line["seq"], line["text"], line["user"]["name"]) == (1, "hell\u00f3", "Alice")
        for client in (alice, seller, watcher):
            got = await client.expect("chat.message")
            assert got == line
        reply = await seller.call("chat.send", {"show_id": cast.show_id, "text": "welcome"})
        assert reply["message"]["seq"] == 2
        assert reply["message"]["user"]["badges"] == ["seller"]
    finally:
        for c in (alice, seller, watcher):
            await c.close()


@pytest.mark.parametrize(
    ("text", "code"),
    [("   ", "text_empty"), ("bell\x07", "text_invalid_characters")],
)
async def test_bad_lines_refused(node: tuple[RunningApp, Cast], text: str, code: str) -> None:
    """Empty and control-character lines are refused with their codes and not stored (oversize
    ones: RB-12)."""
    running, cast = node
    alice, _ = await joined(running, cast, cast.alice.token)
    try:
        ack = await alice.call("chat.send", {"show_id": cast.show_id, "text": text})
        assert ack == {"ok": False, "error": {"code": code, "message": ack["error"]["message"]}}
        assert await alice.chat_lines() == []
    finally:
        await alice.close()


async def test_payload_validation(node: tuple[RunningApp, Cast]) -> None:
    """Malformed payloads and unknown events get invalid_input, never a crash."""
    running, cast = node
    alice, _ = await joined(running, cast, cast.alice.token)
    try:
        bad = await alice.call("chat.send", {"show_id": cast.show_id, "text": 5})
        assert bad["error"]["code"] == "invalid_input"
        extra = await alice.call("chat.send", {"show_id": cast.show_id, "text": "a", "x": 1})
        assert extra["error"]["code"] == "invalid_input"
        unknown = await alice.call("nope.nope", {})
        assert unknown["error"]["code"] == "invalid_input"
        not_joined = await alice.call("chat.send", {"show_id": "shw_other", "text": "hi"})
        assert not_joined["error"]["code"] == "invalid_input"
    finally:
        await alice.close()


async def test_slow_mode(node: tuple[RunningApp, Cast]) -> None:
    """Under slow mode a viewer waits between lines; staff are exempt; everyone is told."""
    running, cast = node
    host, _ = await joined(running, cast, cast.host.token)
    alice, _ = await joined(running, cast, cast.alice.token)
    try:
        ack = await host.call("mod.slowmode", {"show_id": cast.show_id, "seconds": 30})
        assert ack["ok"] is True
        notice = await alice.expect("mod.applied")
        assert (notice["action"], notice["slow_mode_seconds"]) == ("slow_mode", 30)
        first = await alice.call("chat.send", {"show_id": cast.show_id, "text": "one"})
        second = await alice.call("chat.send", {"show_id": cast.show_id, "text": "two"})
        assert first["ok"] is True
        assert second["error"]["code"] == "slow_mode"
        assert second["error"]["details"]["retry_after"] > 25
        for text in ("a", "b"):
            assert (await host.call("chat.send", {"show_id": cast.show_id, "text": text}))["ok"]
    finally:
        await host.close()
        await alice.close()


async def test_rejoin_with_last_seq_gets_exactly_the_gap(node: tuple[RunningApp, Cast]) -> None:
    """A client that rejoins with last_seq receives exactly the lines it missed, once."""
    running, cast = node
    seller, _ = await joined(running, cast, cast.seller.token)
    alice, _ = await joined(running, cast, cast.alice.token)
    try:
        for i in range(3):
            await seller.call("chat.send", {"show_id": cast.show_id, "text": f"before {i}"})
        seen = await alice.chat_lines()
        last_seq = max(m["seq"] for m in seen)
        await alice.close()
        for i in range(4):
            await seller.call("chat.send", {"show_id": cast.show_id, "text": f"missed {i}"})
        again = HubClient()
        await again.connect(running.base_url, cast.alice.token)
        ack = await again.call("show.join", {"show_id": cast.show_id, "last_seq": last_seq})
        assert [m["text"] for m in ack["messages"]] == [f"missed {i}" for i in range(4)]
        await seller.call("chat.send", {"show_id": cast.show_id, "text": "live"})
        assert [m["text"] for m in await again.chat_lines()] == ["live"]
        await again.close()
    finally:
        await seller.close()


async def test_join_gets_recent_history(node: tuple[RunningApp, Cast]) -> None:
    """Without last_seq a joining client gets the last lines in order."""
    running, cast = node
    seller, _ = await joined(running, cast, cast.seller.token)
    try:
        for i in range(3):
            await seller.call("chat.send", {"show_id": cast.show_id, "text": f"l{i}"})
        late, ack = await joined(running, cast, None)
        assert [m["seq"] for m in ack["messages"]] == [1, 2, 3]
        await late.close()
    finally:
        await seller.close()
