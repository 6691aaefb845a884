"""Notifications end to end against real receivers on loopback: a follower of a seller who goes
live and a viewer who RSVP'd the show get the in-app notification (hub event and REST list),
the e-mail (read from a real SMTP server: text and HTML parts, a working one-click unsubscribe
that stops that kind) and the Web Push message (VAPID signature checked, payload decrypted),
once each although the worker is SIGKILLed mid-batch and restarted; preferences, quiet hours,
``order.paid`` to the buyer, the inbox API and push subscription checks."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import pytest
import yaml

from livecommerce.adapters.webpush import WebPushSender, load_or_create_key
from livecommerce.domain.access import Role
from livecommerce.domain.shows import ShowStatus
from livecommerce.errors import AdapterError
from livecommerce.services.ports import PushSubscription
from tests.conftest import SettingsFactory
from tests.support.http import Api
from tests.support.hub_clients import HubClient
from tests.support.notify import Browser, push_sink, smtp_sink, until
from tests.support.servers import AppServer, free_port
from tests.support.shop import ShopEnv, shop_env

PAYS = "4242424242424242"


def notify_settings(smtp_url: str) -> dict[str, Any]:
    return {
        "smtp_url": smtp_url,
        "allow_insecure_push_endpoints": True,
        "poll_seconds": 0.1,
        "lease_seconds": 1.0,
        "retry_base_seconds": 0.2,
    }


async def member(env: ShopEnv, name: str) -> tuple[str, str, str]:
    """(user id, e-mail, token) of a new full account."""
    _, user = await env.user(name, Role.VIEWER)
    assert user.email is not None
    return user.id, user.email, await env.token(user)


async def test_go_live_reaches_follower_and_rsvp_once_each_across_a_worker_crash(
    settings_factory: SettingsFactory, tmp_path: Path
) -> None:
    """Go-live: the follower and the RSVP'd viewer each get one hub event, one listed
    notification, one e-mail and one push although the worker died mid-batch; the e-mail's
    one-click unsubscribe stops that kind's e-mails (and only those) for the next show."""
    with smtp_sink() as smtp:
        async with push_sink("fay", "ron") as push:
            notify = notify_settings(smtp.url)
            # A (this process) makes the changes and runs no worker; B (a child process on the
            # same store) delivers, and dies at the fault point in its first run
            settings = settings_factory(notify={**notify, "worker": False})
            async with shop_env(settings) as env, aiohttp.ClientSession() as http:
                port = free_port()
                config = tmp_path / "b.yaml"
                config.write_text(
                    yaml.safe_dump(
                        {
                            "server": {
                                "host": "127.0.0.1",
                                "port": port,
                                "data_dir": str(settings.server.data_dir),
                            },
                            "demo": {"enabled": False},
                            "log": {"format": "text"},
                            "notify": notify,
                        }
                    )
                )
                b = AppServer(config, port, tmp_path / "b.log")
                await b.start(fault_point="notify.mid_batch")
                api = Api(http, b.url)
                try:
                    await _crash_scenario(env, api, b, smtp, push)
                finally:
                    await b.stop()


async def _crash_scenario(env: ShopEnv, api: Api, b: AppServer, smtp: Any, push: Any) -> None:
    seller = env.seller_user
    show, _ = await env.shop.shows.create(env.seller, "Spring drop")
    fay, fay_mail, fay_token = await member(env, "Fay")
    ron, ron_mail, ron_token = await member(env, "Ron")
    assert 201 == (await api.call("POST", f"/api/v1/sellers/{seller.id}/follow", fay_token))[0]
    assert 201 == (await api.call("POST", f"/api/v1/shows/{show.id}/rsvp", ron_token))[0]
    for token, name in ((fay_token, "fay"), (ron_token, "ron")):
        sub = push.browsers[name].subscription(push.base)
        status, made = await api.call("POST", "/api/v1/me/push-subscriptions", token, json=sub)
        assert 201 == status, made
    status, key = await api.call("GET", "/api/v1/push/vapid-public-key")
    assert 200 == status
    push.vapid_key = key["public_key"]
    sockets = {}
    for user_id, token in ((fay, fay_token), (ron, ron_token)):
        sockets[user_id] = HubClient()
        await sockets[user_id].connect(b.url, token)

    await env.shop.shows.move(show.id, ShowStatus.LIVE)  # the outbox row, in A's transaction
    heard = {
        user_id: await client.expect("notification.new", within=20)
        for user_id, client in sockets.items()
    }
    assert -9 == await b.exited(within=30)  # the worker died at notify.mid_batch
    assert 1 == len(smtp.inbox) + len(push.received)  # one sent and recorded, three claimed
    for client in sockets.values():
        await client.sio.disconnect()

    await b.start()  # no fault: the lease runs out and the rest is delivered
    await until(lambda: _done(len(smtp.inbox) >= 2 and len(push.received) >= 2), 30)
    status, fay_list = await api.call("GET", "/api/v1/me/notifications", fay_token)
    assert 200 == status
    await asyncio.sleep(1.5)  # past one more lease: a duplicate would have gone out by now
    assert 1 == len(smtp.to(fay_mail)) == len(smtp.to(ron_mail)), [m["To"] for m in smtp.inbox]
    assert 1 == len(push.of("fay")) == len(push.of("ron"))
    assert [] == push.refused
    title = "Live now: Spring drop"
    [listed] = fay_list["notifications"]
    assert ("show.live", title, f"/shows/{show.id}", False, 1) == (
        listed["kind"], listed["title"], listed["url"], listed["read"], fay_list["unread"]
    )  # fmt: skip
    assert (listed["id"], title) == (heard[fay]["id"], heard[fay]["title"])
    assert {"id", "kind", "title", "body", "url", "created_at"} == set(heard[ron])
    [pushed] = push.of("fay")
    assert (listed["id"], title, listed["url"]) == (pushed["id"], pushed["title"], pushed["url"])

    [mail] = smtp.to(fay_mail)
    assert title == mail["Subject"]
    text = mail.get_body(("plain",))
    html = mail.get_body(("html",))
    assert text is not None and html is not None
    assert title in text.get_content() and title in html.get_content()
    assert "List-Unsubscribe=One-Click" == mail["List-Unsubscribe-Post"]
    unsubscribe = str(mail["List-Unsubscribe"]).strip("<>")
    assert unsubscribe in text.get_content()
    status, page = await api.call("GET", unsubscribe.removeprefix(b.url))
    assert 200 == status and "Stop these e-mails?" in page
    status, page = await api.call(
        "POST",
        unsubscribe.removeprefix(b.url),
        data="List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert 200 == status and "Unsubscribed" in page
    status, _ = await api.call("GET", unsubscribe.removeprefix(b.url) + "x")
    assert 404 == status
    status, prefs = await api.call("GET", "/api/v1/me/preferences", fay_token)
    assert (False, True, True) == (
        prefs["kinds"]["show.live"]["email"],
        prefs["kinds"]["show.live"]["push"],
        prefs["kinds"]["order.paid"]["email"],
    )

    encore, _ = await env.shop.shows.create(env.seller, "Encore")
    assert 201 == (await api.call("POST", f"/api/v1/shows/{encore.id}/rsvp", ron_token))[0]
    env.clock.advance(60)  # A's clock is a fake one: the encore goes live a minute later
    await env.shop.shows.move(encore.id, ShowStatus.LIVE)
    await until(lambda: _done(len(push.of("fay")) == 2 and len(smtp.to(ron_mail)) == 2), 30)
    await asyncio.sleep(0.5)
    assert 1 == len(smtp.to(fay_mail))  # unsubscribed from show.live e-mails
    status, fay_list = await api.call("GET", "/api/v1/me/notifications", fay_token)
    assert ["Live now: Encore", title] == [n["title"] for n in fay_list["notifications"]]


async def _done(value: bool) -> bool:
    return value


async def test_preferences_quiet_hours_and_order_paid(
    settings_factory: SettingsFactory,
) -> None:
    """Switched-off channels are skipped, e-mail and push wait through quiet hours while in-app
    does not, the buyer gets ``order.paid`` (listed and e-mailed), and the inbox marks read."""
    with smtp_sink() as smtp:
        async with push_sink("quinn", "sam") as push:
            settings = settings_factory(notify=notify_settings(smtp.url))
            async with shop_env(settings) as env, aiohttp.ClientSession() as http:
                api = Api(http, env.base_url)
                _, key = await api.call("GET", "/api/v1/push/vapid-public-key")
                push.vapid_key = key["public_key"]
                await _preferences_scenario(env, api, smtp, push)


async def _preferences_scenario(env: ShopEnv, api: Api, smtp: Any, push: Any) -> None:
    seller = env.seller_user

    async def drained() -> bool:
        row = await env.adapters.db.fetchone(
            "SELECT COUNT(*) AS n FROM outbox WHERE done_at IS NULL"
        )
        return row is not None and 0 == row["n"]

    # the env's own show went live at start-up: its (empty) fan-out is over before anyone
    # follows, as the recipients are the followers when the worker fans out
    await until(drained)
    quinn, _, quinn_token = await member(env, "Quinn")
    sam, sam_mail, sam_token = await member(env, "Sam")
    status, prefs = await api.call("GET", "/api/v1/me/preferences", sam_token)
    assert (200, None, False) == (status, prefs["quiet_hours"], prefs["answer_buyer_questions"])
    assert all(all(channels.values()) for channels in prefs["kinds"].values())
    assert {"in_app", "email", "push"} == set(prefs["kinds"]["show.live"])
    for bad in (
        {"kinds": {"show.nope": {"email": False}}},
        {"kinds": {"show.live": {"fax": False}}},
        {"quiet_hours": {"start": "25:00", "end": "07:00", "timezone": "Europe/Berlin"}},
        {"quiet_hours": {"start": "22:00", "end": "07:00", "timezone": "Mars/Olympus"}},
        {"colour": "red"},
    ):
        status, body = await api.call("PUT", "/api/v1/me/preferences", sam_token, json=bad)
        assert (422, "invalid_input") == (status, body["error"]["code"]), bad
    off = {"show.live": {"email": False, "push": False}}
    status, prefs = await api.call(
        "PUT",
        "/api/v1/me/preferences",
        sam_token,
        json={"kinds": off, "answer_buyer_questions": True},
    )
    assert (200, False, False, True, True) == (
        status,
        prefs["kinds"]["show.live"]["email"],
        prefs["kinds"]["show.live"]["push"],
        prefs["kinds"]["show.live"]["in_app"],
        prefs["answer_buyer_questions"],
    )
    assert (await env.shop.preferences.get(sam)).answer_buyer_questions
    local = datetime.now(UTC).astimezone(ZoneInfo("Europe/Berlin"))
    window = {
        "start": (local - timedelta(hours=1)).strftime("%H:%M"),
        "end": (local + timedelta(hours=1)).strftime("%H:%M"),
        "timezone": "Europe/Berlin",
    }
    status, prefs = await api.call(
        "PUT", "/api/v1/me/preferences", quinn_token, json={"quiet_hours": window}
    )
    assert (200, window) == (status, prefs["quiet_hours"])
    for token, name in ((quinn_token, "quinn"), (sam_token, "sam")):
        sub = push.browsers[name].subscription(push.base)
        assert 201 == (await api.call("POST", "/api/v1/me/push-subscriptions", token, json=sub))[0]
        assert 201 == (await api.call("POST", f"/api/v1/sellers/{seller.id}/follow", token))[0]

    show, _ = await env.shop.shows.create(env.seller, "Quiet night")
    await env.shop.shows.move(show.id, ShowStatus.LIVE)
    store = env.adapters.notifications

    async def settled(user_id: str) -> dict[str, dict[str, Any]]:
        page = await store.notifications(user_id, None, 10)
        if not page:
            return {}
        return {d["channel"]: d for d in await store.deliveries(page[0].id)}

    async def both_settled() -> bool:
        q, s = await settled(quinn), await settled(sam)
        return (
            q.get("in_app", {}).get("status") == "sent"
            and q.get("email", {}).get("next_at", 0) > time.time() * 1000 + 30 * 60_000
            and q.get("push", {}).get("next_at", 0) > time.time() * 1000 + 30 * 60_000
            and {c: d["status"] for c, d in s.items()}
            == {"in_app": "sent", "email": "skipped", "push": "skipped"}
        )

    await until(both_settled)
    quiet = await settled(quinn)
    assert ("pending", "pending", 0) == (
        quiet["email"]["status"], quiet["push"]["status"], quiet["email"]["attempts"]
    )  # fmt: skip
    assert [] == smtp.inbox and [] == push.received

    env.clock.advance(1)  # the env's clock is a fake one: the order comes a second later
    offer = await env.offer(stock=3)
    status, out = await api.call(
        "POST",
        f"/api/v1/shows/{env.show_id}/checkout",
        sam_token,
        json={"offer_id": offer.id, "quantity": 1, "idempotency_key": "notify-paid-1"},
    )
    assert 201 == status, out
    confirm = out["payment"]["confirm_url"].removeprefix(env.base_url)
    status, paid = await api.call("POST", confirm, sam_token, json={"card": PAYS})
    assert (200, "paid") == (status, paid["status"])
    await until(lambda: _done(len(smtp.to(sam_mail)) == 1))
    assert "Payment received" == smtp.to(sam_mail)[0]["Subject"]
    status, inbox = await api.call("GET", "/api/v1/me/notifications?limit=1", sam_token)
    assert (200, 2, "order.paid") == (status, inbox["unread"], inbox["notifications"][0]["kind"])
    assert inbox["next_cursor"] is not None
    status, rest = await api.call(
        "GET", f"/api/v1/me/notifications?limit=5&cursor={inbox['next_cursor']}", sam_token
    )
    assert ["show.live"] == [n["kind"] for n in rest["notifications"]]
    read = {"ids": [inbox["notifications"][0]["id"]]}
    assert (200, {"unread": 1}) == await api.call(
        "POST", "/api/v1/me/notifications/read", sam_token, json=read
    )
    assert (200, {"unread": 0}) == await api.call(
        "POST", "/api/v1/me/notifications/read", sam_token, json={"all": True}
    )
    for bad_read in ({}, {"ids": ["x"], "all": True}):
        status, body = await api.call(
            "POST", "/api/v1/me/notifications/read", sam_token, json=bad_read
        )
        assert 422 == status, bad_read
    status, body = await api.call("GET", "/api/v1/me/notifications", quinn_token)
    assert (200, 1) == (status, body["unread"])  # in-app is not held by quiet hours
    assert 401 == (await api.call("GET", "/api/v1/me/notifications"))[0]


@pytest.fixture
async def env_api(env: ShopEnv) -> AsyncIterator[Api]:
    async with aiohttp.ClientSession() as session:
        yield Api(session, env.base_url)


async def test_push_subscriptions_are_checked(env: ShopEnv, env_api: Api) -> None:
    """A push subscription needs https to a public address (loopback only when allowed), a
    65-byte P-256 key and a 16-byte auth secret; guests cannot subscribe; removing an unknown
    endpoint is a 404; the VAPID key is the same on every read."""
    api = env_api
    _, _, token = await member(env, "Pia")
    good = Browser("pia").subscription("https://push.example.test")
    for endpoint in (
        "http://push.example.test/x",
        "http://127.0.0.1:9/x",
        "http://192.168.1.2:9/x",
        "https://10.1.2.3/x",
        "https://169.254.169.254/latest",
        "https://[fd00::1]/x",
        "ftp://x/y",
    ):
        status, body = await api.call(
            "POST", "/api/v1/me/push-subscriptions", token, json={**good, "endpoint": endpoint}
        )
        assert (422, "invalid_input") == (status, body["error"]["code"]), endpoint
    for keys in ({"p256dh": "AAAA", "auth": good["keys"]["auth"]},
                 {"p256dh": good["keys"]["p256dh"], "auth": "AAAA"}):  # fmt: skip
        status, body = await api.call(
            "POST", "/api/v1/me/push-subscriptions", token, json={**good, "keys": keys}
        )
        assert 422 == status, keys
    status, made = await api.call("POST", "/api/v1/me/push-subscriptions", token, json=good)
    assert (201, good["endpoint"]) == (status, made["endpoint"])
    status, guest = await api.call("POST", "/api/v1/auth/guest", json={"name": "Gil"})
    status, body = await api.call(
        "POST", "/api/v1/me/push-subscriptions", guest["token"], json=good
    )
    assert 403 == status
    gone = {"endpoint": good["endpoint"]}
    assert 200 == (await api.call("DELETE", "/api/v1/me/push-subscriptions", token, json=gone))[0]
    status, body = await api.call("DELETE", "/api/v1/me/push-subscriptions", token, json=gone)
    assert (404, "not_found") == (status, body["error"]["code"])
    first = await api.call("GET", "/api/v1/push/vapid-public-key")
    assert first == await api.call("GET", "/api/v1/push/vapid-public-key")
    assert 87 == len(first[1]["public_key"])


async def test_push_adapter_connects_to_public_addresses_only(tmp_path: Path) -> None:
    """The push adapter refuses an endpoint whose name resolves to loopback, and a literal
    private address, before any byte is sent (the subscription check's second line)."""
    sender = WebPushSender(load_or_create_key(tmp_path), "mailto:ops@example.test", 60, 5.0)
    assert 0o600 == (tmp_path / "vapid_private_key.pem").stat().st_mode & 0o777
    browser = Browser("x").subscription("https://localhost:9")
    keys = browser["keys"]
    try:
        for endpoint in ("https://localhost:9/push/x", "https://10.0.0.1/push/x"):
            sub = PushSubscription("psb_1", "usr_1", endpoint, keys["p256dh"], keys["auth"])
            with pytest.raises(AdapterError):
                await sender.send(sub, {"title": "t"}, topic="t")
    finally:
        await sender.close()
