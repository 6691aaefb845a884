"""Host tools on one node: banned and timed-out lists with unban and lift, hosts added by e-mail,
every line held when the show reviews lines, refusals and audit entries in words."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

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


async def rest(
    running: RunningApp, method: str, path: str, token: str, body: Any = None
) -> tuple[int, Any]:
    async with (
        aiohttp.ClientSession() as http,
        http.request(
            method,
            running.base_url + path,
            json=body,
            headers={"Authorization": f"Bearer {token}"},
        ) as resp,
    ):
        return resp.status, await resp.json()


async def test_restrictions_unban_and_lift(node: tuple[RunningApp, Cast]) -> None:
    """The host sees who is banned and timed out, by name; unban and lift end them at once, the
    timed-out viewer hears of the lift, and the audit log says it all in words."""
    running, cast = node
    host = await join(running, cast, cast.host.token)
    alice = await join(running, cast, cast.alice.token)
    path = f"/api/v1/shows/{cast.show_id}/moderation/restrictions"
    try:
        await host.call(
            "mod.ban", {"show_id": cast.show_id, "user_id": cast.bob.user_id, "reason": "spam"}
        )
        await host.call(
            "mod.timeout", {"show_id": cast.show_id, "user_id": cast.alice.user_id, "seconds": 600}
        )
        status, lists = await rest(running, "GET", path, cast.host.token)
        assert 200 == status, lists
        assert [("Bob", "spam", "Hana")] == [
            (b["user"]["name"], b["reason"], b["by"]["name"]) for b in lists["banned"]
        ]
        assert ["Alice"] == [t["user"]["name"] for t in lists["timed_out"]]
        assert lists["timed_out"][0]["until"] > 0
        assert (403, "forbidden") == (
            (await rest(running, "GET", path, cast.alice.token))[0],
            (await rest(running, "GET", path, cast.alice.token))[1]["error"]["code"],
        )

        lifted = await host.call(
            "mod.lift", {"show_id": cast.show_id, "user_id": cast.alice.user_id}
        )
        assert lifted["ok"] is True, lifted
        notice = await alice.expect("mod.applied", lambda d: d["action"] == "lift")
        assert cast.alice.user_id == notice["user_id"]
        talk = await alice.call("chat.send", {"show_id": cast.show_id, "text": "thanks!"})
        assert talk["ok"] is True
        again = await host.call(
            "mod.lift", {"show_id": cast.show_id, "user_id": cast.alice.user_id}
        )
        assert "not_found" == again["error"]["code"]
        unbanned = await host.call(
            "mod.unban", {"show_id": cast.show_id, "user_id": cast.bob.user_id}
        )
        assert unbanned["ok"] is True
        assert {"banned": [], "timed_out": []} == (
            await rest(running, "GET", path, cast.host.token)
        )[1]

        status, audit = await rest(
            running, "GET", f"/api/v1/shows/{cast.show_id}/moderation/audit", cast.seller.token
        )
        assert [
            "Hana unbanned Bob",
            "Hana lifted Alice’s timeout",
            "Hana timed out Alice for 10 minutes",
            "Hana banned Bob: spam",
        ] == [e["summary"] for e in audit["entries"]]
        assert {"id": cast.bob.user_id, "name": "Bob"} == audit["entries"][0]["target"]
    finally:
        await host.close()
        await alice.close()


async def test_hold_for_review_holds_every_line(node: tuple[RunningApp, Cast]) -> None:
    """With "hold every line for review" a clean line waits for a host too; without it a
    filtered line is refused in plain words."""
    running, cast = node
    host = await join(running, cast, cast.host.token)
    alice = await join(running, cast, cast.alice.token)
    try:
        await host.call("mod.policy", {"show_id": cast.show_id, "banned_words": ["scam"]})
        refused = await alice.call("chat.send", {"show_id": cast.show_id, "text": "a scam"})
        assert {
            "code": "message_rejected",
            "message": "Your message contains a word this show does not allow.",
            "details": {"reason": "banned_word"},
        } == refused["error"]

        await host.call("mod.policy", {"show_id": cast.show_id, "hold_for_review": True})
        held = await alice.call("chat.send", {"show_id": cast.show_id, "text": "hello there"})
        assert (True, True) == (held["ok"], held["held"])
        assert held["message"]["id"] == (await host.expect("chat.held"))["message"]["id"]
        assert [] == await alice.chat_lines(0.3)
        host_line = await host.call("chat.send", {"show_id": cast.show_id, "text": "welcome"})
        assert "held" not in host_line  # staff lines are never held
        await host.call(
            "mod.approve", {"show_id": cast.show_id, "message_id": held["message"]["id"]}
        )
        lines = [m["text"] for m in await alice.chat_lines(0.5)]
        assert "hello there" in lines
    finally:
        await host.close()
        await alice.close()


async def test_hosts_by_email(node: tuple[RunningApp, Cast]) -> None:
    """The seller adds a host by e-mail; unknown and malformed addresses get the same 404, both
    fields or neither is 422, and only the seller may do it."""
    running, cast = node
    path = f"/api/v1/shows/{cast.show_id}/hosts"
    status, show = await rest(
        running, "POST", path, cast.seller.token, {"email": " ALICE@example.test"}
    )
    assert 200 == status, show
    assert cast.alice.user_id in show["host_ids"]
    unknown = await rest(running, "POST", path, cast.seller.token, {"email": "nobody@example.test"})
    malformed = await rest(running, "POST", path, cast.seller.token, {"email": "not-an-address"})
    assert 404 == unknown[0] == malformed[0]
    assert unknown[1] == malformed[1]
    assert "no account with this e-mail can be made a host" == unknown[1]["error"]["message"]
    both = await rest(
        running, "POST", path, cast.seller.token, {"email": "a@b.test", "user_id": cast.bob.user_id}
    )
    assert 422 == both[0]
    assert 422 == (await rest(running, "POST", path, cast.seller.token, {}))[0]
    other = await rest(running, "POST", path, cast.host.token, {"email": "bob@example.test"})
    assert (403, "forbidden") == (other[0], other[1]["error"]["code"])
    by_id = await rest(running, "POST", path, cast.seller.token, {"user_id": cast.bob.user_id})
    assert cast.bob.user_id in by_id[1]["host_ids"]
