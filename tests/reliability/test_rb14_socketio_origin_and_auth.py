"""RB-14 socketio_origin_and_auth: a Socket.IO handshake from another site is refused even with
a valid session cookie (cross-site WebSocket hijacking); a socket without credentials is
read-only; a socket acts only as the account its own token names; buying needs an
authenticated channel (ASVS 3.5.1, 4.4.2)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from livecommerce import keys
from livecommerce.hub import HUB
from livecommerce.hub.events import events
from tests.conftest import SettingsFactory
from tests.support.app import RunningApp, running_app
from tests.support.http import Api
from tests.support.hub_clients import Cast, HubClient, join_show, make_cast, refused

pytestmark = pytest.mark.timeout(60)

#: A valid payload for every client event but show.join / show.leave, so each refusal below
#: comes from the missing identity, not from validation.
WRITES: dict[str, dict[str, Any]] = {
    "chat.send": {"text": "hi"},
    "reaction.send": {"kind": "heart"},
    "chat.report": {"message_id": "msg_x"},
    "qa.ask": {"text": "price?"},
    "qa.upvote": {"question_id": "qst_x"},
    "qa.answer": {"question_id": "qst_x", "text": "yes"},
    "qa.feature_answer": {"answer_id": "bqa_x"},
    "mod.delete": {"message_id": "msg_x"},
    "mod.timeout": {"user_id": "usr_x", "seconds": 60},
    "mod.ban": {"user_id": "usr_x"},
    "mod.unban": {"user_id": "usr_x"},
    "mod.lift": {"user_id": "usr_x"},
    "mod.slowmode": {"seconds": 5},
    "mod.policy": {"block_links": True},
    "mod.approve": {"message_id": "msg_x"},
    "mod.reject": {"message_id": "msg_x"},
    "mod.resolve_report": {"report_id": "rep_x"},
    "mod.queue": {},
    "checkout.start": {"offer_id": "off_x", "quantity": 1, "idempotency_key": "anon-key-1"},
    "offer.pin": {"offer_id": "off_x"},
    "offer.unpin": {"offer_id": "off_x"},
    "offer.start": {"offer_id": "off_x"},
    "offer.end": {"offer_id": "off_x"},
    "auction.bid": {"offer_id": "off_x", "amount": 100, "idempotency_key": "anon-bid-1"},
    "giveaway.enter": {"giveaway_id": "gvw_x"},
    "drop.claim": {"drop_id": "drp_x"},
}
PARTNER = "https://partner.example"
#: Events any signed-in viewer may send: refused to an anonymous socket as unauthenticated.
VIEWER_WRITES = {
    "chat.send",
    "reaction.send",
    "chat.report",
    "qa.ask",
    "qa.upvote",
    "auction.bid",
    "giveaway.enter",
    "drop.claim",
}


@pytest.fixture
async def node(settings_factory: SettingsFactory) -> AsyncIterator[tuple[RunningApp, Cast]]:
    async with running_app(settings_factory()) as running:
        yield running, await make_cast(running.app)


async def test_cross_site_handshake_with_session_cookie_refused(
    node: tuple[RunningApp, Cast],
) -> None:
    """With Alice's valid session cookie, a handshake whose Origin is another site (or a
    lookalike of ours, another port, ``null``) is refused; the same cookie from our own origin
    connects as Alice and can chat."""
    running, cast = node
    alice = await running.app[HUB].services.accounts.get_user(cast.alice.user_id)
    assert alice is not None
    session = await running.app[keys.SERVICES].accounts.start_session(alice)
    cookie = {"Cookie": f"{keys.SESSION_COOKIE}={session}"}
    ours = running.base_url
    port = int(ours.rsplit(":", 1)[1])
    for origin in (
        "https://evil.example",
        f"{ours}.evil.example",
        f"http://127.0.0.1:{port + 1}",
        f"https://127.0.0.1:{port}",
        "null",
    ):
        reason = await refused(ours, headers={**cookie, "Origin": origin})
        assert isinstance(reason, str), (origin, reason)  # refused before Socket.IO connects
    same = HubClient()
    try:
        await same.connect(ours, headers={**cookie, "Origin": ours})
        ack = await same.call("show.join", {"show_id": cast.show_id})
        assert cast.alice.user_id == ack["you"]["id"], ack["you"]
        sent = await same.call("chat.send", {"show_id": cast.show_id, "text": "from the page"})
        assert (True, "Alice") == (sent["ok"], sent["message"]["user"]["name"])
    finally:
        await same.close()


@pytest.mark.parametrize("allowed", [[PARTNER], ["*"]])
async def test_allow_listed_origin_gets_no_cookie_identity(
    settings_factory: SettingsFactory, allowed: list[str]
) -> None:
    """An origin the operator allow-listed (or "*") may connect, but the visitor's session
    cookie does not sign it in: a partner page is watch-only unless it presents a token."""
    async with running_app(settings_factory(hub={"cors_allowed_origins": allowed})) as running:
        cast = await make_cast(running.app)
        alice = await running.app[HUB].services.accounts.get_user(cast.alice.user_id)
        assert alice is not None
        session = await running.app[keys.SERVICES].accounts.start_session(alice)
        cookie = HubClient()
        token = HubClient()
        try:
            await cookie.connect(
                running.base_url,
                headers={"Cookie": f"{keys.SESSION_COOKIE}={session}", "Origin": PARTNER},
            )
            ack = await cookie.call("show.join", {"show_id": cast.show_id})
            assert ack["you"] is None, ack["you"]
            sent = await cookie.call("chat.send", {"show_id": cast.show_id, "text": "hi"})
            assert "unauthenticated" == sent["error"]["code"]
            await token.connect(running.base_url, cast.alice.token, headers={"Origin": PARTNER})
            ack = await token.call("show.join", {"show_id": cast.show_id})
            assert cast.alice.user_id == ack["you"]["id"]
        finally:
            await cookie.close()
            await token.close()


async def test_bad_token_refused_at_connect(node: tuple[RunningApp, Cast]) -> None:
    """A wrong token, a non-string token and a logged-out session are refused at the
    handshake with unauthenticated, never downgraded to watch-only."""
    running, cast = node
    accounts = running.app[keys.SERVICES].accounts
    alice = await accounts.get_user(cast.alice.user_id)
    assert alice is not None
    ended = await accounts.start_session(alice)
    await accounts.logout(ended)
    for auth in ({"token": "lct_wrong"}, {"token": ended}, {"token": 42}):
        reason = await refused(running.base_url, auth=auth)  # type: ignore[arg-type]
        assert {"code": "unauthenticated"} == reason["data"], (auth, reason)


async def test_anonymous_socket_is_read_only(node: tuple[RunningApp, Cast]) -> None:
    """A socket without a token or cookie may join and read; every other client event is
    refused (unauthenticated for viewer writes) and nothing is stored."""
    running, cast = node
    assert set(events.names()) - {"show.join", "show.leave"} == set(WRITES)
    seller, _ = await join_show(running.base_url, cast.show_id, cast.seller.token)
    watcher, ack = await join_show(running.base_url, cast.show_id, None)
    try:
        assert ack["you"] is None
        await seller.call("chat.send", {"show_id": cast.show_id, "text": "welcome"})
        assert ["welcome"] == [m["text"] for m in await watcher.chat_lines(0.3)]
        for event, data in WRITES.items():
            answer = await watcher.call(event, {"show_id": cast.show_id, **data})
            assert answer["ok"] is False, (event, answer)
            expected = (
                {"unauthenticated"}
                if event in VIEWER_WRITES
                else {
                    "unauthenticated",
                    "forbidden",
                }
            )
            assert answer["error"]["code"] in expected, (event, answer)
        history = await running.app[HUB].services.chat.history(
            cast.show_id, last_seq=0, recent=0, replay_limit=10
        )
        assert ["welcome"] == [m.text for m in history]
        again, joined = await join_show(running.base_url, cast.show_id, None)
        await again.close()
        assert [] == joined["questions"]
        assert [] == [e for e, _ in await watcher.drain(0.3) if e == "reaction.burst"]
    finally:
        await seller.close()
        await watcher.close()


async def test_socket_acts_only_as_its_own_token(node: tuple[RunningApp, Cast]) -> None:
    """A payload cannot name another account: extra identity fields are refused and a line
    is always signed with the token's user; one user's order updates reach only their own
    sockets."""
    running, cast = node
    alice, _ = await join_show(running.base_url, cast.show_id, cast.alice.token)
    bob, _ = await join_show(running.base_url, cast.show_id, cast.bob.token)
    try:
        for extra in ({"user_id": cast.bob.user_id}, {"user": {"id": cast.bob.user_id}}):
            spoof = await alice.call("chat.send", {"show_id": cast.show_id, "text": "x", **extra})
            assert "invalid_input" == spoof["error"]["code"]
        spoof = await alice.call(
            "checkout.start",
            {
                "show_id": cast.show_id,
                "offer_id": "off_x",
                "quantity": 1,
                "idempotency_key": "spoofed-buyer",
                "buyer_id": cast.bob.user_id,
            },
        )
        assert "invalid_input" == spoof["error"]["code"]
        sent = await alice.call("chat.send", {"show_id": cast.show_id, "text": "mine"})
        assert (cast.alice.user_id, "Alice") == (
            sent["message"]["user"]["id"],
            sent["message"]["user"]["name"],
        )
        order = {"id": "ord_bob", "buyer": cast.bob.user_id}
        await running.app[keys.SERVICES].bus.publish(
            "order.updated", {"order": order, "buyer_id": cast.bob.user_id}
        )
        assert {"order": order} == await bob.expect("order.updated")
        assert [] == [e for e, _ in await alice.drain(0.3) if e == "order.updated"]
    finally:
        await alice.close()
        await bob.close()


async def test_purchases_need_an_authenticated_channel(node: tuple[RunningApp, Cast]) -> None:
    """Checkout over HTTP needs a bearer token or a session cookie with its CSRF token; over
    Socket.IO it needs a signed-in socket."""
    running, cast = node
    body = {"offer_id": "off_x", "quantity": 1}
    path = f"/api/v1/shows/{cast.show_id}/checkout"
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as http:
        api = Api(http, running.base_url)
        status, answer = await api.call("POST", path, json=body, headers={"Idempotency-Key": "k1"})
        assert (401, "unauthenticated") == (status, answer["error"]["code"])
        alice = await running.app[HUB].services.accounts.get_user(cast.alice.user_id)
        assert alice is not None
        session = await running.app[keys.SERVICES].accounts.start_session(alice)
        status, answer = await api.call(
            "POST",
            path,
            json=body,
            headers={
                "Idempotency-Key": "k2",
                "Cookie": f"{keys.SESSION_COOKIE}={session}",
                "Origin": "https://evil.example",
            },
        )
        assert (403, "forbidden") == (status, answer["error"]["code"])
    watcher, _ = await join_show(running.base_url, cast.show_id, None)
    try:
        answer = await watcher.call(
            "checkout.start", {"show_id": cast.show_id, **body, "idempotency_key": "anon-1234"}
        )
        assert "unauthenticated" == answer["error"]["code"]
    finally:
        await watcher.close()
