"""Auctions end to end on one node (in-process stores): an auction offer made over REST and
started over the hub, bids from python-socketio clients (every refusal code from a real
request), proxy bids, anti-snipe, the close by the background sweeper, the winner's order paid
with 4242, the published log verified by `livecommerce verify-bids` and by the standalone
script in docs/AUCTIONS.md (and failing once tampered with); then the unpaid winner's order
expiring into a second-chance offer, and a reserve that was not met; the winner's payment
fetched and paid through Stripe; a Redis that loses its data mid-auction."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import pytest
import stripe
from aiohttp import ClientSession

from livecommerce.cli import verify_bids
from tests.conftest import SettingsFactory
from tests.support.auctions import run_script, standalone_verifier
from tests.support.fake_stripe import FakeStripe
from tests.support.hub_clients import HubClient
from tests.support.servers import RedisServer
from tests.support.shop import WHSEC, ShopEnv, post_json, shop_env, stripe_payments


@pytest.fixture
async def env(settings_factory: SettingsFactory) -> AsyncIterator[ShopEnv]:
    shop = {
        "auction_payment_seconds": 60,
        "auction_sweep_seconds": 0.2,
        "bid_rates": [{"limit": 6, "per_seconds": 30}],
    }
    async with shop_env(settings_factory(shop=shop)) as running:
        yield running


async def create_auction(env: ShopEnv, http: ClientSession, **fields: Any) -> dict[str, Any]:
    token = await env.token(env.seller_user)
    body = {"product_id": env.product.id, "kind": "auction", "starting_bid": 1_000,
            "duration_seconds": 60, "min_increment": 100, **fields}  # fmt: skip
    status, offer = await post_json(
        http, f"{env.base_url}/api/v1/shows/{env.show_id}/offers", body, token
    )
    assert (201, "auction", "draft") == (status, offer.get("kind"), offer.get("status")), offer
    return dict(offer)


async def connect(env: ShopEnv, name: str, **user: Any) -> tuple[HubClient, str, str]:
    """A joined socket client of a new account: (client, user id, token)."""
    _, account = await env.user(name, **user)
    token = await env.token(account)
    client = HubClient()
    await client.connect(env.base_url, token)
    joined = await client.call("show.join", {"show_id": env.show_id})
    assert joined["ok"], joined
    return client, account.id, token


def bid_of(env: ShopEnv, offer_id: str, amount: int, key: str, **more: Any) -> dict[str, Any]:
    return {"show_id": env.show_id, "offer_id": offer_id, "amount": amount,
            "idempotency_key": key, **more}  # fmt: skip


async def get_json(http: ClientSession, url: str, token: str) -> tuple[int, Any]:
    async with http.get(url, headers={"Authorization": f"Bearer {token}"}) as resp:
        return resp.status, await resp.json()


def code(ack: dict[str, Any]) -> str:
    assert ack["ok"] is False, ack
    return str(ack["error"]["code"])


async def test_auction_over_the_hub(env: ShopEnv, tmp_path: Path) -> None:
    """Refusals with their codes, proxy bids, idempotent retries, anti-snipe, the close with the
    winner's paid order, and a log both verifiers accept and reject once edited."""
    shop = env.shop
    async with ClientSession() as http:
        offer = await create_auction(env, http)
        oid = offer["id"]
        seller = HubClient()
        await seller.connect(env.base_url, await env.token(env.seller_user))
        assert (await seller.call("show.join", {"show_id": env.show_id}))["ok"]
        ann, ann_id, ann_token = await connect(env, "Ann")
        bob, _, bob_token = await connect(env, "Bob")
        nomad, _, _ = await connect(env, "Nomad", address=None)
        host, host_id, _ = await connect(env, "Hana")
        await shop.shows.grant_host(env.seller, env.show_id, host_id)
        troll, troll_id, _ = await connect(env, "Troll")
        try:
            assert "auction_not_open" == code(
                await ann.call("auction.bid", bid_of(env, oid, 1_000, "ann-00001"))
            )
            ack = await seller.call("offer.start", {"show_id": env.show_id, "offer_id": oid})
            assert ack["ok"], ack
            started = await ann.expect("auction.updated")
            assert (oid, None, 1_000) == (
                started["offer_id"],
                started["high_bid"],
                started["min_bid"],
            )

            low = await ann.call("auction.bid", bid_of(env, oid, 900, "ann-00002"))
            assert ("bid_too_low", {"min_bid": 1_000}) == (code(low), low["error"]["details"])
            assert "seller_cannot_bid" == code(
                await seller.call("auction.bid", bid_of(env, oid, 1_000, "sel-00001"))
            )
            assert "seller_cannot_bid" == code(
                await host.call("auction.bid", bid_of(env, oid, 1_000, "hst-00001"))
            )
            assert "payment_method_required" == code(
                await nomad.call("auction.bid", bid_of(env, oid, 1_000, "nmd-00001"))
            )
            ref = await shop.shows.show_ref(env.show_id)
            await shop.moderation.ban(env.seller, ref, troll_id)
            assert "banned" == code(
                await troll.call("auction.bid", bid_of(env, oid, 1_000, "trl-00001"))
            )
            assert "invalid_input" == code(
                await ann.call(
                    "auction.bid", {**bid_of(env, oid, 1_000, "ann-00003"), "amount": "1000"}
                )
            )

            # Ann bids 1,000 with a max of 5,000; Bob's 2,000 is answered by her proxy at 2,100
            first = await ann.call(
                "auction.bid", bid_of(env, oid, 1_000, "ann-00004", max_amount=5_000)
            )
            assert (True, 1, 1_000) == (first["ok"], first["bid"]["seq"], first["bid"]["amount"])
            again = await ann.call(
                "auction.bid", bid_of(env, oid, 1_000, "ann-00004", max_amount=5_000)
            )
            assert first["bid"] == again["bid"]
            env.clock.advance(1)
            outbid = await bob.call("auction.bid", bid_of(env, oid, 2_000, "bob-00001"))
            assert outbid["ok"], outbid
            assert ({"amount": 2_100, "bidder": {"id": ann_id, "name": "Ann"}}, 2_200) == (
                outbid["auction"]["high_bid"],
                outbid["auction"]["min_bid"],
            )
            updated = await bob.expect("auction.updated", lambda d: d["seq"] == 3)
            assert 2_100 == updated["high_bid"]["amount"]

            # a bid in the last 10 s moves the end to now + 10 s
            ends = outbid["auction"]["ends_at"]
            env.clock.t = (ends - 3_000) / 1000
            late = await bob.call("auction.bid", bid_of(env, oid, 6_000, "bob-00002"))
            assert (True, late["bid"]["at"] + 10_000) == (late["ok"], late["auction"]["ends_at"])
            assert ends < late["auction"]["ends_at"]
            for n in range(3, 8):  # Bob's budget is 6 bids per 30 s (his first is 57 s ago)
                await bob.call("auction.bid", bid_of(env, oid, 1_000, f"bob-0000{n}"))
            assert "rate_limited" == code(
                await bob.call("auction.bid", bid_of(env, oid, 9_000, "bob-00009"))
            )

            # the sweeper closes it once the clock ran out: Bob wins at 6,000
            env.clock.t = late["auction"]["ends_at"] / 1000
            closed = await ann.expect("auction.closed", within=5)
            assert ("Bob", 6_000) == (closed["winner"]["name"], closed["amount"])
            assert "auction_closed" == code(
                await ann.call("auction.bid", bid_of(env, oid, 9_000, "ann-00005"))
            )
            order = await bob.expect(
                "order.updated", lambda d: d["order"]["status"] == "pending_payment"
            )
            assert (closed["order_id"], 6_000) == (
                order["order"]["id"],
                order["order"]["total"]["amount"],
            )
            # the winner fetches the payment checkout would have answered; nobody else can
            payment_url = f"{env.base_url}/api/v1/orders/{closed['order_id']}/payment"
            status, due = await get_json(http, payment_url, bob_token)
            assert (200, "pending_payment", "demo") == (
                status, due["order"]["status"], due["payment"]["provider"]
            ), due  # fmt: skip
            status, other = await get_json(http, payment_url, ann_token)
            assert (404, "not_found") == (status, other["error"]["code"])
            status, paid = await post_json(
                http,
                urljoin(env.base_url, due["payment"]["confirm_url"]),
                {"card": "4242424242424242"},
                bob_token,
            )
            assert (200, "paid") == (status, paid["status"])
            await bob.expect("order.updated", lambda d: d["order"]["status"] == "paid")
            status, settled = await get_json(http, payment_url, bob_token)
            assert (409, "conflict") == (status, settled["error"]["code"])
        finally:
            for client in (seller, ann, bob, nomad, host, troll):
                await client.close()

        log_url = f"{env.base_url}/api/v1/offers/{oid}/bids"
        async with http.get(log_url) as resp:
            public = await resp.json()
        assert (200, closed["log_head"], True) == (resp.status, public["head"], public["settled"])
        assert [1_000, 2_000, 2_100, 6_000] == [row["amount"] for row in public["bids"]]
        assert [False, False, True, False] == [row["max_applied"] for row in public["bids"]]
        assert all(row["bidder_user"] is None and row["you"] is None for row in public["bids"])
        async with http.get(log_url, headers={"Authorization": f"Bearer {ann_token}"}) as resp:
            mine = await resp.json()
        assert [True, None, True, None] == [row.get("you") for row in mine["bids"]]
        seller_token = await env.token(env.seller_user)
        async with http.get(log_url, headers={"Authorization": f"Bearer {seller_token}"}) as resp:
            books = await resp.json()
        assert ["Ann", "Bob", "Ann", "Bob"] == [row["bidder_user"]["name"] for row in books["bids"]]
        assert {"auction_not_open": 1, "bid_too_low": 6, "seller_cannot_bid": 2,
                "payment_method_required": 1, "banned": 1, "rate_limited": 1,
                "auction_closed": 1} == books["refused"]  # fmt: skip
        assert (None, None) == (public["refused"], mine["refused"])

        async with http.get(f"{env.base_url}/api/v1/shows/{env.show_id}/timeline") as resp:
            moments = [
                (e["type"], e["offer_id"], e["auction"]) for e in (await resp.json())["events"]
            ]
        sold = {"amount": 6_000, "currency": "USD", "winner": {"name": "Bob"}, "reserve_met": True}
        assert [("offer.started", oid, None), ("offer.ended", oid, sold)] == moments
        assert 0 == await asyncio.to_thread(verify_bids, log_url)
        script = tmp_path / "verify.py"
        script.write_text(standalone_verifier(), encoding="utf-8")
        status, out = await run_script(script, log_url)
        assert (0, "OK") == (status, out[:2])
        tampered = tmp_path / "tampered.json"
        text = json.dumps(public).replace('"amount": 2100', '"amount": 2101')
        assert text != json.dumps(public)
        tampered.write_text(text, encoding="utf-8")
        assert 1 == await asyncio.to_thread(verify_bids, str(tampered))
        status, out = await run_script(script, str(tampered))
        assert (1, "FAILED at seq 3") == (status, out.strip()[:15])


async def test_second_chance_and_reserve_over_rest(env: ShopEnv) -> None:
    """Over the REST twin: sudden death never extends; the unpaid winner's order expires at the
    payment deadline and the seller offers the item to the runner-up at their last bid; an
    auction whose reserve was not met sells to nobody."""
    shop = env.shop
    closed = await env.bus_events("auction.closed")
    seller_token = await env.token(env.seller_user)
    tokens = {}
    for name in ("Ann", "Bob"):
        _, user = await env.user(name)
        tokens[name] = await env.token(user)
    async with ClientSession() as http:
        base = f"{env.base_url}/api/v1/shows/{env.show_id}/offers"

        async def bid(offer_id: str, who: str, amount: int, key: str) -> tuple[int, Any]:
            body = {"amount": amount, "idempotency_key": key}
            return await post_json(http, f"{base}/{offer_id}/bids", body, tokens[who])

        sold = (await create_auction(env, http, sudden_death=True))["id"]
        unmet = (await create_auction(env, http, reserve_price=5_000))["id"]
        for oid in (sold, unmet):
            status, started = await post_json(http, f"{base}/{oid}/start", {}, seller_token)
            assert (200, "live") == (status, started["status"]), started
        status, first = await bid(sold, "Ann", 1_000, "rest-ann-1")
        assert (201, 1) == (status, first["bid"]["seq"]), first
        ends = first["auction"]["ends_at"]
        env.clock.t = (ends - 1_000) / 1000
        status, second = await bid(sold, "Bob", 1_500, "rest-bob-1")
        assert (201, ends) == (status, second["auction"]["ends_at"])  # sudden death: no extension
        status, refused = await bid(sold, "Ann", 1_550, "rest-ann-2")
        assert (409, "bid_too_low", {"min_bid": 1_600}) == (
            status, refused["error"]["code"], refused["error"]["details"]
        )  # fmt: skip
        status, ok = await bid(unmet, "Ann", 2_000, "rest-ann-3")
        assert (201, False) == (status, ok["auction"]["reserve_met"])

        env.clock.t = ends / 1000 + 10  # Ann's late bid extended the other one by 9 s
        for _ in range(50):
            if len(closed) == 2:
                break
            await asyncio.sleep(0.1)
        by_offer = {c["offer_id"]: c for c in closed}
        assert (None, False, None) == (
            by_offer[unmet]["winner"], by_offer[unmet]["reserve_met"], by_offer[unmet]["order_id"]
        )  # fmt: skip
        won = by_offer[sold]
        assert ("Bob", 1_500) == (won["winner"]["name"], won["amount"])
        async with http.get(f"{env.base_url}/api/v1/shows/{env.show_id}/timeline") as resp:
            by_end = {e["offer_id"]: e["auction"] for e in (await resp.json())["events"]
                    if e["type"] == "offer.ended"}  # fmt: skip
        assert {"amount": None, "currency": "USD", "winner": None, "reserve_met": False} == (
            by_end[unmet]
        )
        status, early = await post_json(http, f"{base}/{sold}/second-chance", {}, seller_token)
        assert (409, "conflict") == (status, early["error"]["code"])  # Bob may still pay

        env.clock.advance(61)  # past the 60 s payment deadline: the sweeper expires Bob's order
        await shop.payments.sweep()
        order = await shop.orders.get(env.seller, won["order_id"])
        assert "expired" == order.status
        status, refused = await post_json(http, f"{base}/{sold}/second-chance", {}, tokens["Ann"])
        assert (403, "forbidden") == (status, refused["error"]["code"])
        status, offered = await post_json(http, f"{base}/{sold}/second-chance", {}, seller_token)
        assert (201, "pending_payment", 1_000, "Ann") == (
            status, offered["status"], offered["total"]["amount"], offered["buyer_name"]
        ), offered  # fmt: skip
        status, paid = await post_json(
            http,
            f"{env.base_url}/api/v1/payments/demo/{offered['id']}/confirm",
            {"card": "4242424242424242"},
            tokens["Ann"],
        )
        assert (200, "paid") == (status, paid["status"])
        status, checkout = await post_json(
            http,
            f"{env.base_url}/api/v1/shows/{env.show_id}/checkout",
            {"offer_id": sold, "quantity": 1, "idempotency_key": "buy-auction-1"},
            tokens["Ann"],
        )
        assert (409, "offer_closed") == (status, checkout["error"]["code"])


async def test_stripe_winner_pays_with_the_fetched_client_secret(
    settings_factory: SettingsFactory,
) -> None:
    """With Stripe, the winner (who never ran a checkout) fetches the order's PaymentIntent
    client secret, confirms it with 4242 through the real `stripe` library, and the webhook pays
    the order."""
    async with FakeStripe() as fake:
        settings = settings_factory(
            payments=stripe_payments(fake.url, fake.api_key),
            shop={"auction_sweep_seconds": 0.2},
        )
        async with shop_env(settings) as env, ClientSession() as http:
            fake.add_endpoint(f"{env.base_url}/webhooks/stripe", WHSEC)
            closed = await env.bus_events("auction.closed")
            seller_token = await env.token(env.seller_user)
            _, ann = await env.user("Ann")
            ann_token = await env.token(ann)
            oid = (await create_auction(env, http))["id"]
            base = f"{env.base_url}/api/v1/shows/{env.show_id}/offers/{oid}"
            status, started = await post_json(http, f"{base}/start", {}, seller_token)
            assert 200 == status, started
            body = {"amount": 1_000, "idempotency_key": "stripe-ann-1"}
            status, ack = await post_json(http, f"{base}/bids", body, ann_token)
            assert 201 == status, ack
            env.clock.t = ack["auction"]["ends_at"] / 1000
            for _ in range(50):
                if closed:
                    break
                await asyncio.sleep(0.1)
            order_id = closed[0]["order_id"]
            url = f"{env.base_url}/api/v1/orders/{order_id}/payment"
            status, due = await get_json(http, url, ann_token)
            assert (200, "stripe", "pk_test_local", 1_000) == (
                status, due["payment"]["provider"], due["payment"]["publishable_key"],
                due["order"]["total"]["amount"],
            ), due  # fmt: skip
            intent_id = due["payment"]["client_secret"].split("_secret_")[0]
            transport = stripe.AIOHTTPClient()
            client = stripe.StripeClient(
                fake.api_key, base_addresses={"api": fake.url}, http_client=transport,
                max_network_retries=0,
            )  # fmt: skip
            try:
                intent = await client.v1.payment_intents.confirm_async(
                    intent_id, {"payment_method": "4242424242424242"}
                )
            finally:
                await transport.close_async()  # type: ignore[no-untyped-call]
            assert "succeeded" == intent.status
            for _ in range(50):
                order = await env.shop.orders.get(env.seller, order_id)
                if order.status == "paid":
                    break
                await asyncio.sleep(0.1)
            assert "paid" == order.status


@pytest.mark.redis
async def test_redis_losing_its_data_mid_auction(settings_factory: SettingsFactory) -> None:
    """A redis-server restarted empty mid-auction: the live state is rebuilt from SQL with its
    high bid, the leader's secret max (which answers the next bid) and the chain, and the
    auction closes with a log that verifies."""
    redis = RedisServer()
    redis.start()
    shop = {"auction_sweep_seconds": 0.2}
    try:
        async with shop_env(settings_factory(redis={"url": redis.url}, shop=shop)) as env:
            closed = await env.bus_events("auction.closed")
            tokens = {}
            for name in ("Ann", "Bob"):
                _, user = await env.user(name)
                tokens[name] = await env.token(user)
            async with ClientSession() as http:
                oid = (await create_auction(env, http))["id"]
                base = f"{env.base_url}/api/v1/shows/{env.show_id}/offers/{oid}"
                status, _ = await post_json(
                    http, f"{base}/start", {}, await env.token(env.seller_user)
                )
                assert 200 == status
                for who, amount, key, more in (
                    ("Ann", 1_000, "lost-ann-1", {"max_amount": 5_000}),
                    ("Bob", 2_000, "lost-bob-1", {}),
                ):
                    body = {"amount": amount, "idempotency_key": key, **more}
                    status, ack = await post_json(http, f"{base}/bids", body, tokens[who])
                    assert 201 == status, ack
                for _ in range(50):  # the SQL write follows the ack
                    snapshot = await env.adapters.bids.snapshot(oid)
                    if snapshot is not None and snapshot.seq == 3:
                        break
                    await asyncio.sleep(0.05)
                log_url = f"{env.base_url}/api/v1/offers/{oid}/bids"
                async with http.get(log_url) as resp:
                    before = await resp.json()

                redis.kill()
                redis.start()  # same port, no data (the sweeper or the next request rebuilds)
                async with http.get(log_url) as resp:
                    after = await resp.json()
                assert (before["head"], before["bids"], before["auction"]) == (
                    after["head"], after["bids"], after["auction"]
                )  # fmt: skip
                assert ("Ann", 2_100) == (
                    after["auction"]["high_bid"]["bidder"]["name"],
                    after["auction"]["high_bid"]["amount"],
                )
                body = {"amount": 3_000, "idempotency_key": "lost-bob-2"}
                status, ack = await post_json(http, f"{base}/bids", body, tokens["Bob"])
                assert (201, 4, "Ann", 3_100) == (
                    status, ack["bid"]["seq"], ack["auction"]["high_bid"]["bidder"]["name"],
                    ack["auction"]["high_bid"]["amount"],
                ), ack  # fmt: skip
                env.clock.t = ack["auction"]["ends_at"] / 1000
                for _ in range(50):
                    if closed:
                        break
                    await asyncio.sleep(0.1)
                assert [("Ann", 3_100)] == [(c["winner"]["name"], c["amount"]) for c in closed]
                async with http.get(log_url) as resp:
                    final = await resp.json()
                assert [1_000, 2_000, 2_100, 3_000, 3_100] == [r["amount"] for r in final["bids"]]
                assert closed[0]["log_head"] == final["head"]
                assert 0 == await asyncio.to_thread(verify_bids, log_url)
    finally:
        redis.kill()
