"""Outgoing webhooks against receivers on loopback: a signed `order.paid` (checked the way a
receiver would), `order.refunded` and `order.fulfilled`; a receiver failing three times gets
exactly one more, successful, delivery after the backoff; redeliver; the delivery log; one
lease per due delivery however many claim at once; and the SSRF guard: private addresses
refused at creation, a host name resolving to loopback refused when sending."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from livecommerce.domain.access import Principal
from livecommerce.domain.offers import Offer
from livecommerce.domain.shows import ShowStatus
from tests.conftest import SettingsFactory
from tests.support.http import Api
from tests.support.shop import UNHURRIED_SHOP, ShopEnv, shop_env

pytestmark = pytest.mark.timeout(90)

PAYS = "4242424242424242"
#: Short retries, checked often; the fake clock decides when a retry is due.
FAST: dict[str, Any] = {
    "allow_private_targets": True,
    "poll_interval_seconds": 0.05,
    "retry_base_seconds": 10,
    "retry_max_seconds": 60,
    "timeout_seconds": 5,
}
EVENTS = ["order.paid", "order.refunded", "order.fulfilled"]


@dataclass
class Receiver:
    """A webhook receiver on loopback answering `script` statuses in turn (then 200)."""

    url: str
    script: list[int]
    got: asyncio.Queue[tuple[dict[str, str], bytes]] = field(default_factory=asyncio.Queue)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    holder: list[Receiver] = []

    async def hook(request: web.Request) -> web.Response:
        rec = holder[0]
        rec.got.put_nowait((dict(request.headers), await request.read()))
        status = rec.script.pop(0) if rec.script else 200
        return web.Response(status=status, text=f"answer {status}")

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    holder.append(Receiver(f"http://127.0.0.1:{port}/hook", []))
    try:
        yield holder[0]
    finally:
        await runner.cleanup()


@pytest.fixture(params=["sqlite", "postgres"])
async def env(
    request: pytest.FixtureRequest, settings_factory: SettingsFactory
) -> AsyncIterator[ShopEnv]:
    """The app on SQLite and on PostgreSQL (the upserts and leases are SQL of both)."""
    sections: dict[str, Any] = {}
    if request.param == "postgres":
        sections["store"] = {"url": request.getfixturevalue("postgres_url")}
    async with shop_env(
        settings_factory(shop=UNHURRIED_SHOP, webhooks=FAST, **sections)
    ) as running:
        yield running


def verify(secret: str, header: str, body: bytes, now: float, tolerance: int = 300) -> bool:
    """What a receiver does with LiveCommerce-Signature (the docs' snippet, in short); `now`
    is the app's (fake) clock."""
    parts = dict(item.split("=", 1) for item in header.split(","))
    timestamp = int(parts["t"])
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    fresh = abs(now - timestamp) <= tolerance
    return fresh and hmac.compare_digest(expected.hexdigest(), parts["v1"])


async def received(rec: Receiver) -> tuple[dict[str, str], bytes]:
    return await asyncio.wait_for(rec.got.get(), 20)


async def attempts_logged(env: ShopEnv, endpoint_id: str, event_id: str, n: int) -> None:
    """Wait until the event's delivery has `n` attempts in its log, so the next clock step
    comes after the worker recorded the last one (and set its backoff)."""
    deadline = time.monotonic() + 20
    while True:
        deliveries = await env.adapters.webhooks.deliveries(endpoint_id, 50)
        if any(d.event_id == event_id and len(d.log) >= n for d in deliveries):
            return
        assert time.monotonic() < deadline, f"attempt {n} was never recorded"
        await asyncio.sleep(0.02)


async def register(api: Api, token: str, url: str, events: list[str]) -> tuple[int, Any]:
    return await api.call("POST", "/api/v1/webhooks", token, json={"url": url, "events": events})


async def paid_order(env: ShopEnv, offer: Offer, buyer: Principal, key: str) -> str:
    order, _ = await env.shop.checkout.start(buyer, env.show_id, offer.id, None, 1, key)
    paid = await env.shop.payments.confirm_demo(buyer, order.id, PAYS)
    return paid.id


async def test_signed_order_events_retries_and_redeliver(env: ShopEnv, receiver: Receiver) -> None:
    """`order.paid` arrives signed with the secret from the creation answer (and only there);
    a refund and a fulfilment follow; an endpoint answering 500 three times gets its fourth
    attempt after the backoff and nothing after it; the log shows every attempt; redeliver
    sends the same event again."""
    seller_token = await env.token(env.seller_user)
    buyer, buyer_user = await env.user("buyer")
    offer = await env.offer(stock=10)
    async with aiohttp.ClientSession() as http:
        api = Api(http, env.base_url)
        status, body = await register(api, await env.token(buyer_user), receiver.url, EVENTS)
        assert (403, "forbidden") == (status, body["error"]["code"])
        status, body = await register(api, seller_token, receiver.url, ["order.paid", "nope"])
        assert (422, "invalid_input") == (status, body["error"]["code"])
        status, hook = await register(api, seller_token, receiver.url, EVENTS)
        assert 201 == status, hook
        assert hook["secret"].startswith("lcwhsec_")
        assert sorted(EVENTS) == hook["events"]
        status, listed = await api.call("GET", "/api/v1/webhooks", seller_token)
        assert 200 == status
        assert [{k: v for k, v in hook.items() if k != "secret"}] == listed["webhooks"]

        order_id = await paid_order(env, offer, buyer, "hook-order-1")
        headers, raw = await received(receiver)
        assert verify(hook["secret"], headers["LiveCommerce-Signature"], raw, env.clock.now())
        assert not verify("lcwhsec_wrong", headers["LiveCommerce-Signature"], raw, env.clock.now())
        event = json.loads(raw)
        assert ("order.paid", order_id, "paid") == (
            event["type"],
            event["data"]["id"],
            event["data"]["status"],
        )
        assert {"amount": 4900, "currency": "USD"} == event["data"]["total"]
        assert abs(event["created"] - env.clock.now()) < 5

        await env.shop.payments.refund(env.seller, order_id, 900, "hook-refund-1")
        _, raw = await received(receiver)
        refunded = json.loads(raw)
        assert ("order.refunded", 900) == (refunded["type"], refunded["data"]["refunded"]["amount"])

        # a receiver that fails three times: each retry waits for its backoff (10, 20, 40 s)
        receiver.script[:] = [500, 500, 500]
        second = await paid_order(env, offer, buyer, "hook-order-2")
        seen: list[dict[str, Any]] = []
        for attempt, wait in enumerate((0, 10, 20, 40), start=1):
            env.clock.advance(wait)
            _, raw = await received(receiver)
            seen.append(json.loads(raw))
            await attempts_logged(env, hook["id"], seen[-1]["id"], attempt)
        assert ["order.paid"] * 4 == [e["type"] for e in seen]
        assert {second} == {e["data"]["id"] for e in seen}
        assert 1 == len({e["id"] for e in seen})
        await env.shop.orders.fulfil(env.seller, second, carrier="DHL", tracking_number="1")
        _, raw = await received(receiver)
        fulfilled = json.loads(raw)
        assert ("order.fulfilled", "DHL") == (
            fulfilled["type"],
            fulfilled["data"]["fulfilment"]["carrier"],
        )
        env.clock.advance(3600)  # nothing is due any more: no fifth order.paid
        await asyncio.sleep(0.5)
        assert receiver.got.empty()

        status, log = await api.call(
            "GET", f"/api/v1/webhooks/{hook['id']}/deliveries", seller_token
        )
        assert 200 == status
        by_order = {d["event_id"]: d for d in log["deliveries"]}
        retried = next(d for d in log["deliveries"] if d["attempts"] == 4)
        assert ("succeeded", [500, 500, 500, 200]) == (
            retried["status"],
            [a["status_code"] for a in retried["log"]],
        )
        assert "answer 500" == retried["log"][0]["response_excerpt"]
        assert 4 == len(by_order)  # paid, refunded, paid, fulfilled

        status, again = await api.call(
            "POST",
            f"/api/v1/webhooks/{hook['id']}/deliveries/{retried['id']}/redeliver",
            seller_token,
        )
        assert (202, "pending") == (status, again["status"]), again
        headers, raw = await received(receiver)
        assert retried["event_id"] == json.loads(raw)["id"]
        assert verify(hook["secret"], headers["LiveCommerce-Signature"], raw, env.clock.now())

        other_token = await env.token((await env.user("other", role=env.seller.role))[1])
        status, body = await api.call(
            "GET", f"/api/v1/webhooks/{hook['id']}/deliveries", other_token
        )
        assert (404, "not_found") == (status, body["error"]["code"])
        status, _ = await api.call("DELETE", f"/api/v1/webhooks/{hook['id']}", seller_token)
        assert 200 == status
        await paid_order(env, offer, buyer, "hook-order-3")
        await asyncio.sleep(0.5)
        assert receiver.got.empty()


async def test_one_lease_per_due_delivery(env: ShopEnv, receiver: Receiver) -> None:
    """Ten claims racing for one due delivery: one gets it; once its lease ran out (the node
    died mid-send), it is claimed again, as the next attempt."""
    store = env.adapters.webhooks
    seller_token = await env.token(env.seller_user)
    async with aiohttp.ClientSession() as http:
        status, _hook = await register(Api(http, env.base_url), seller_token, receiver.url, EVENTS)
        assert 201 == status
    future = env.clock.now_ms() + 3_600_000
    event = replace(  # due only in the future: the app's own worker (on the fake clock) waits
        env.shop.webhooks.event(env.seller_user.id, "order.paid", {"id": "x"}, "lease-test"),
        created_ms=future,
        give_up_ms=future + 86_400_000,
    )
    assert await store.enqueue(event)
    assert not await store.enqueue(event)  # the same key is one event
    claims = await asyncio.gather(*(store.claim(future, 60_000, 5) for _ in range(10)))
    assert [1] == [len(c) for c in claims if c]
    assert [] == await store.claim(future + 59_000, 60_000, 5)
    (again,) = await store.claim(future + 61_000, 60_000, 5)
    assert 2 == again.attempt


@pytest.fixture
async def guarded(settings_factory: SettingsFactory) -> AsyncIterator[ShopEnv]:
    settings = settings_factory(
        shop=UNHURRIED_SHOP, webhooks={**FAST, "allow_private_targets": False}
    )
    async with shop_env(settings) as running:
        yield running


async def test_private_targets_refused_at_creation_and_when_sending(
    guarded: ShopEnv, receiver: Receiver
) -> None:
    """Without allow_private_targets, literal private, loopback, link-local and reserved
    addresses are refused at creation; `localhost` passes creation (a name) but resolves to
    loopback, so every attempt is refused before connecting and the receiver sees nothing."""
    env = guarded
    seller_token = await env.token(env.seller_user)
    port = receiver.url.split(":")[2].split("/")[0]
    async with aiohttp.ClientSession() as http:
        api = Api(http, env.base_url)
        for url in (
            receiver.url,
            f"http://10.1.2.3:{port}/hook",
            f"http://[::1]:{port}/hook",
            "http://169.254.169.254/latest",
            "http://0.0.0.0/",
            "http://[::ffff:127.0.0.1]/",
            "http://224.0.0.1/",
            "http://user:pw@example.com/",
            "ftp://example.com/",
        ):
            status, body = await register(api, seller_token, url, ["order.paid"])
            assert (422, "invalid_input") == (status, body["error"]["code"]), url
        status, hook = await register(
            api, seller_token, f"http://localhost:{port}/hook", ["order.paid"]
        )
        assert 201 == status, hook
        buyer = await env.buyer()
        await paid_order(env, await env.offer(stock=5), buyer, "guard-order-1")
        deadline = time.monotonic() + 20
        while True:
            status, log = await api.call(
                "GET", f"/api/v1/webhooks/{hook['id']}/deliveries", seller_token
            )
            attempts = log["deliveries"][0]["log"] if log["deliveries"] else []
            if attempts:
                break
            assert time.monotonic() < deadline
            await asyncio.sleep(0.05)
    assert None is attempts[0]["status_code"]
    assert attempts[0]["error"].startswith("refused"), attempts
    assert receiver.got.empty()


async def test_show_events_from_the_bus_once_each(env: ShopEnv, receiver: Receiver) -> None:
    """A show going live, pausing, resuming and ending sends one `show.live` and one
    `show.ended` (the resume is not a second start); a `giveaway.drawn` heard twice (as every
    node of a cluster hears it) is one event."""
    seller_token = await env.token(env.seller_user)
    async with aiohttp.ClientSession() as http:
        api = Api(http, env.base_url)
        status, _hook = await register(
            api, seller_token, receiver.url, ["show.live", "show.ended", "giveaway.drawn"]
        )
        assert 201 == status
    show, _key = await env.shop.shows.create(env.seller, "Webhook night")
    for step in (ShowStatus.LIVE, ShowStatus.PAUSED, ShowStatus.LIVE, ShowStatus.ENDED):
        await env.shop.shows.move(show.id, step)
    got = [json.loads((await received(receiver))[1]) for _ in range(2)]
    assert [("show.ended", show.id), ("show.live", show.id)] == sorted(
        (e["type"], e["data"]["id"]) for e in got
    )
    drawn = {"show_id": env.show_id, "giveaway_id": "gvw_1", "winners": [], "seed": "ab"}
    for _ in range(2):
        await env.shop.bus.publish("giveaway.drawn", drawn)
    _, raw = await received(receiver)
    assert ("giveaway.drawn", drawn) == (json.loads(raw)["type"], json.loads(raw)["data"])
    await asyncio.sleep(0.3)
    assert receiver.got.empty()
