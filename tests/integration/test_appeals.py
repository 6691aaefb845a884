"""Appeals and moderation transparency (issue 17 part 4): a banned or timed-out viewer is told
why and until when, appeals once, staff see it (REST and the hub's staff room) and lift it; the
audit log records both, its hash chain verifies with `livecommerce verify-audit`, and no longer
does after a row is edited in the database."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from livecommerce.bootstrap.adapters import ADAPTERS
from livecommerce.cli import main as cli
from tests.conftest import SettingsFactory
from tests.support.app import RunningApp, running_app
from tests.support.http import Api
from tests.support.hub_clients import Cast, HubClient, join_show, make_cast

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
async def node(
    settings_factory: SettingsFactory,
) -> AsyncIterator[tuple[RunningApp, Cast, Api]]:
    async with (
        running_app(settings_factory()) as running,
        aiohttp.ClientSession() as session,
    ):
        yield running, await make_cast(running.app), Api(session, running.base_url)


async def join(running: RunningApp, cast: Cast, token: str | None) -> HubClient:
    return (await join_show(running.base_url, cast.show_id, token))[0]


async def test_ban_reason_appeal_once_lift_and_chat_again(
    node: tuple[RunningApp, Cast, Api], tmp_path: Path
) -> None:
    running, cast, api = node
    show = cast.show_id
    host = await join(running, cast, cast.host.token)
    bob = await join(running, cast, cast.bob.token)
    alice = await join(running, cast, cast.alice.token)
    try:
        ack = await host.call("mod.ban", {"show_id": show, "user_id": cast.bob.user_id,
                                          "reason": "spam links"})  # fmt: skip
        assert ack["ok"] is True, ack
        left = await bob.expect("show.left")
        assert left["restriction"] == {"kind": "ban", "reason": "spam links", "until": None,
                                       "action_id": ack["audit_id"]}  # fmt: skip
        refused = await bob.call("chat.send", {"show_id": show, "text": "why?"})
        assert refused["error"]["code"] == "banned"
        why = refused["error"]["details"]
        assert (why["reason"], why["until"]) == ("spam links", None)
        rejoin = await bob.call("show.join", {"show_id": show})
        assert rejoin["error"]["details"]["reason"] == "spam links"

        ack = await host.call("mod.timeout", {"show_id": show, "user_id": cast.alice.user_id,
                                              "seconds": 120, "reason": "shouting"})  # fmt: skip
        muted = await alice.call("chat.send", {"show_id": show, "text": "hey"})
        assert muted["error"]["code"] == "muted"
        assert muted["error"]["details"]["reason"] == "shouting"
        assert muted["error"]["details"]["until"] == ack["until"]

        url = f"/api/v1/shows/{show}/appeals"
        status, nothing = await api.call("POST", url, cast.guest.token, json={"text": "me?"})
        assert (status, nothing["error"]["code"]) == (409, "nothing_to_appeal")
        status, appeal = await api.call("POST", url, cast.bob.token, json={"text": "Not spam."})
        assert status == 201, appeal
        assert appeal["action"]["reason"] == "spam links" and appeal["status"] == "open"
        status, again = await api.call("POST", url, cast.bob.token, json={"text": "Please!"})
        assert (status, again["error"]["code"]) == (409, "appeal_exists")
        news = await host.expect("appeal.new")
        assert news["appeal"]["id"] == appeal["id"]

        status, listed = await api.call("GET", url, cast.host.token)
        assert [a["id"] for a in listed["appeals"]] == [appeal["id"]]
        status, own = await api.call("GET", url, cast.alice.token)
        assert (status, own["appeals"]) == (200, [])  # not staff: only their own
        status, forbidden = await api.call(
            "POST", f"{url}/{appeal['id']}/decide", cast.bob.token, json={"outcome": "lifted"}
        )
        assert status == 403, forbidden
        status, lifted = await api.call(
            "POST", f"{url}/{appeal['id']}/decide", cast.seller.token,
            json={"outcome": "lifted", "note": "fair enough"},
        )  # fmt: skip
        assert (status, lifted["status"], lifted["decided"]["note"]) == (
            200,
            "lifted",
            "fair enough",
        )
        status, twice = await api.call(
            "POST", f"{url}/{appeal['id']}/decide", cast.seller.token, json={"outcome": "upheld"}
        )
        assert (status, twice["error"]["code"]) == (409, "appeal_decided")

        assert (await bob.call("show.join", {"show_id": show}))["ok"] is True
        assert (await bob.call("chat.send", {"show_id": show, "text": "thanks"}))["ok"] is True

        audit = f"/api/v1/shows/{show}/moderation/audit"
        status, log = await api.call("GET", audit, cast.seller.token)
        assert status == 200
        actions = [e["action"] for e in reversed(log["entries"])]
        assert actions == ["ban", "timeout", "appeal", "appeal_decided", "unban"]
        assert [e["seq"] for e in reversed(log["entries"])] == [1, 2, 3, 4, 5]
        assert log["entries"][0]["detail"]["appeal_id"] == appeal["id"]
        assert log["head"] == log["entries"][0]["hash"]
        saved = tmp_path / "audit.json"
        saved.write_text(json.dumps(log))
        assert cli(["verify-audit", str(saved)]) == 0
        os.environ["LIVECOMMERCE_TEST_TOKEN"] = cast.seller.token
        try:  # the CLI's own HTTP fetch, off the loop that serves it
            code = await asyncio.to_thread(
                cli,
                [
                    "verify-audit",
                    running.base_url + audit,
                    "--token-env",
                    "LIVECOMMERCE_TEST_TOKEN",
                ],
            )
        finally:
            del os.environ["LIVECOMMERCE_TEST_TOKEN"]
        assert code == 0
        async with api.session.get(
            running.base_url + audit + "?format=csv",
            headers={"Authorization": f"Bearer {cast.seller.token}"},
        ) as response:
            assert response.headers["LiveCommerce-Audit-Head"] == log["head"]
            assert "prev_hash" in (await response.text()).splitlines()[0]

        # edited straight in the database: the chain says where
        await running.app[ADAPTERS].db.execute(
            "UPDATE moderation_audit SET reason = ? WHERE show_id = ? AND seq = ?",
            "", show, 1,
        )  # fmt: skip
        status, edited = await api.call("GET", audit, cast.seller.token)
        saved.write_text(json.dumps(edited))
        assert cli(["verify-audit", str(saved)]) == 1
    finally:
        for client in (host, bob, alice):
            await client.close()
