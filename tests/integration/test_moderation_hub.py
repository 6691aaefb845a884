"""Live moderation over Socket.IO on one node: delete, timeout, ban, filters, reports, audit."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from livecommerce import keys
from livecommerce.hub import HUB
from tests.conftest import SettingsFactory
from tests.support.app import RunningApp, running_app
from tests.support.hub_clients import Cast, HubClient, join_show, make_cast

pytestmark = pytest.mark.timeout(60)
ROOMY = {"chat_rates": [{"limit": 1000, "per_seconds": 1}]}


@pytest.fixture
async def node(settings_factory: SettingsFactory) -> AsyncIterator[tuple[RunningApp, Cast]]:
    async with running_app(settings_factory(hub=ROOMY)) as running:
        yield running, await make_cast(running.app)


async def join(running: RunningApp, cast: Cast, token: str | None) -> HubClient:
    return (await join_show(running.base_url, cast.show_id, token))[0]


async def say(client: HubClient, cast: Cast, text: str) -> dict[str, Any]:
    ack = await client.call("chat.send", {"show_id": cast.show_id, "text": text})
    assert ack["ok"] is True, ack
    message: dict[str, Any] = ack["message"]
    return message


async def audit_actions(running: RunningApp, cast: Cast) -> list[str]:
    hub = running.app[HUB]
    seller = await running.app[keys.SERVICES].accounts.authenticate(cast.seller.token)
    entries = await hub.services.moderation.audit(seller, await hub.show_ref(cast.show_id), 100)
    return [str(e.action) for e in reversed(entries)]


async def test_delete_timeout_ban_reach_everyone(node: tuple[RunningApp, Cast]) -> None:
    """Delete, timeout and ban reach every client, are enforced, and land in the audit log."""
    running, cast = node
    host = await join(running, cast, cast.host.token)
    alice = await join(running, cast, cast.alice.token)
    bob = await join(running, cast, cast.bob.token)
    watcher = await join(running, cast, None)
    everyone = (host, alice, bob, watcher)
    try:
        first = await say(bob, cast, "first")
        await say(bob, cast, "second")
        await say(alice, cast, "from alice")

        ack = await host.call(
            "mod.delete", {"show_id": cast.show_id, "message_id": first["id"], "reason": "spam"}
        )
        assert ack["ok"] is True
        for client in everyone:
            assert await client.expect("chat.deleted") == {"id": first["id"], "seq": first["seq"]}

        ack = await host.call(
            "mod.timeout", {"show_id": cast.show_id, "user_id": cast.alice.user_id, "seconds": 60}
        )
        assert ack["ok"] is True
        for client in everyone:
            notice = await client.expect("mod.applied", lambda d: d["action"] == "timeout")
            assert notice["user_id"] == cast.alice.user_id
        muted = await alice.call("chat.send", {"show_id": cast.show_id, "text": "let me talk"})
        assert muted["error"]["code"] == "muted"

        ack = await host.call(
            "mod.ban", {"show_id": cast.show_id, "user_id": cast.bob.user_id, "reason": "abuse"}
        )
        assert ack["ok"] is True
        for client in (host, alice, watcher):
            hidden = await client.expect("chat.deleted")
            assert hidden["seq"] == first["seq"] + 1  # bob's remaining line is hidden
            await client.expect("mod.applied", lambda d: d["action"] == "ban")
        left = await bob.expect("show.left")
        assert (left["show_id"], left["reason"]) == (cast.show_id, "banned")
        assert left["restriction"]["reason"] == "abuse"  # said to bob alone, not the room
        after_ban = await bob.call("chat.send", {"show_id": cast.show_id, "text": "x"})
        assert after_ban["ok"] is False
        rejoin = await bob.call("show.join", {"show_id": cast.show_id})
        assert rejoin["error"]["code"] == "banned"

        late = await join(running, cast, None)
        history = (await late.call("show.join", {"show_id": cast.show_id}))["messages"]
        assert [m["text"] for m in history] == ["from alice"]
        await late.close()

        assert await audit_actions(running, cast) == ["delete", "timeout", "ban"]
    finally:
        for client in everyone:
            await client.close()


async def test_banning_nobody_is_refused_and_leaves_no_audit_row(
    node: tuple[RunningApp, Cast],
) -> None:
    """Issue 12 finding 8: ``mod.ban`` of a made-up user id succeeded and wrote an audit row."""
    running, cast = node
    host = await join(running, cast, cast.host.token)
    try:
        for event, extra in (("mod.ban", {}), ("mod.timeout", {"seconds": 60})):
            ack = await host.call(
                event, {"show_id": cast.show_id, "user_id": "usr_nobody", **extra}
            )
            assert (ack["ok"], ack["error"]["code"]) == (False, "not_found"), ack
        hub = running.app[HUB]
        seller = await running.app[keys.SERVICES].accounts.authenticate(cast.seller.token)
        show = await hub.show_ref(cast.show_id)
        assert await hub.services.moderation.audit(seller, show, 100) == []
    finally:
        await host.close()


async def test_filters_hold_and_review(node: tuple[RunningApp, Cast]) -> None:
    """Banned words are refused; with hold-for-review they wait for staff, who release them."""
    running, cast = node
    host = await join(running, cast, cast.host.token)
    alice = await join(running, cast, cast.alice.token)
    try:
        ack = await host.call(
            "mod.policy", {"show_id": cast.show_id, "banned_words": ["scam"], "block_links": True}
        )
        assert ack["policy"]["banned_words"] == ["scam"]
        refused = await alice.call("chat.send", {"show_id": cast.show_id, "text": "total SCAM"})
        assert refused["error"] == {
            "code": "message_rejected",
            "message": refused["error"]["message"],
            "details": {"reason": "banned_word"},
        }
        link = await alice.call("chat.send", {"show_id": cast.show_id, "text": "see evil.com"})
        assert link["error"]["details"]["reason"] == "link"

        await host.call("mod.policy", {"show_id": cast.show_id, "hold_for_review": True})
        held = await alice.call("chat.send", {"show_id": cast.show_id, "text": "ѕсаm deal"})
        assert held["ok"] is True and held["held"] is True
        queued = await host.expect("chat.held")
        assert queued["message"]["id"] == held["message"]["id"]
        assert await alice.chat_lines(0.3) == []
        queue = await host.call("mod.queue", {"show_id": cast.show_id})
        assert [m["id"] for m in queue["held"]] == [held["message"]["id"]]

        ok = await host.call(
            "mod.approve", {"show_id": cast.show_id, "message_id": held["message"]["id"]}
        )
        assert ok["ok"] is True
        released = await alice.expect("chat.message")
        assert released["text"] == "ѕсаm deal"
        assert released["seq"] > held["message"]["seq"]
        assert (await audit_actions(running, cast))[-1] == "approve"
    finally:
        await host.close()
        await alice.close()


async def test_reports_queue_for_hosts(node: tuple[RunningApp, Cast]) -> None:
    """A viewer's report reaches the staff room only and waits in the queue until resolved."""
    running, cast = node
    host = await join(running, cast, cast.host.token)
    alice = await join(running, cast, cast.alice.token)
    bob = await join(running, cast, cast.bob.token)
    try:
        line = await say(bob, cast, "rude words")
        ack = await alice.call(
            "chat.report", {"show_id": cast.show_id, "message_id": line["id"], "reason": "rude"}
        )
        assert ack["ok"] is True
        reported = await host.expect("chat.reported")
        assert reported["report"]["message"]["id"] == line["id"]
        assert not [e for e, _ in await bob.drain() if e == "chat.reported"]
        queue = await host.call("mod.queue", {"show_id": cast.show_id})
        assert [r["id"] for r in queue["reports"]] == [ack["report_id"]]
        await host.call(
            "mod.resolve_report", {"show_id": cast.show_id, "report_id": ack["report_id"]}
        )
        assert (await host.call("mod.queue", {"show_id": cast.show_id}))["reports"] == []
    finally:
        for client in (host, alice, bob):
            await client.close()


async def test_audit_log_export(node: tuple[RunningApp, Cast]) -> None:
    """The seller reads the audit log as JSON and CSV; a viewer is refused."""
    running, cast = node
    host = await join(running, cast, cast.host.token)
    bob = await join(running, cast, cast.bob.token)
    try:
        line = await say(bob, cast, "=HYPERLINK(evil)")
        await host.call(
            "mod.delete",
            {"show_id": cast.show_id, "message_id": line["id"], "reason": "=cmd|' /C calc'!A0"},
        )
        await host.call("mod.slowmode", {"show_id": cast.show_id, "seconds": 5})
    finally:
        await host.close()
        await bob.close()
    url = f"{running.base_url}/api/v1/shows/{cast.show_id}/moderation/audit"
    async with aiohttp.ClientSession() as http:
        seller = {"Authorization": f"Bearer {cast.seller.token}"}
        async with http.get(url, headers=seller) as resp:
            assert resp.status == 200
            entries = (await resp.json())["entries"]
        assert [e["action"] for e in entries] == ["slow_mode", "delete"]
        assert entries[1]["actor"] == {"id": cast.host.user_id, "name": "Hana"}
        assert entries[1]["target_user_id"] == cast.bob.user_id
        async with http.get(url, params={"format": "csv"}, headers=seller) as resp:
            assert resp.status == 200
            assert resp.headers["Content-Type"].startswith("text/csv")
            rows = list(csv.reader(io.StringIO(await resp.text())))
        assert rows[0][:3] == ["at", "action", "actor_id"]
        assert rows[2][1] == "delete"
        assert rows[2][6] == "'=cmd|' /C calc'!A0"  # formula defused
        viewer = {"Authorization": f"Bearer {cast.alice.token}"}
        async with http.get(url, headers=viewer) as resp:
            assert resp.status == 403
            assert (await resp.json())["error"]["code"] == "forbidden"


async def test_followers_only_restricts_viewers(node: tuple[RunningApp, Cast]) -> None:
    """With followers-only on (and no follow data yet) viewers get chat_restricted; staff chat."""
    running, cast = node
    host = await join(running, cast, cast.host.token)
    alice = await join(running, cast, cast.alice.token)
    try:
        await host.call("mod.policy", {"show_id": cast.show_id, "followers_only": True})
        refused = await alice.call("chat.send", {"show_id": cast.show_id, "text": "hi"})
        assert refused["error"]["code"] == "chat_restricted"
        assert (await host.call("chat.send", {"show_id": cast.show_id, "text": "hosts can"}))["ok"]
        await host.call("mod.policy", {"show_id": cast.show_id, "followers_only": False})
        assert (await alice.call("chat.send", {"show_id": cast.show_id, "text": "hi"}))["ok"]
        assert await audit_actions(running, cast) == ["policy", "policy"]
    finally:
        await host.close()
        await alice.close()
