"""Coupons and voucher drops on one node (in-process counters, SQLite): the REST coupon API and
checkout with a code over REST and the hub, the refusal codes, idempotency with coupons, a
stampede of 1,000 redemptions and of 1,000 drop claims against 50, the redemption an expired or
refunded order gives back (once), and the balanced ledger of a discounted sale."""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio as aioredis
from aiohttp import ClientSession

from livecommerce.domain.access import Principal
from livecommerce.domain.coupons import Coupon, CouponKind
from livecommerce.domain.ledger import Account, balances
from livecommerce.domain.offers import Offer
from livecommerce.domain.orders import Order, OrderStatus
from livecommerce.errors import LiveCommerceError
from livecommerce.services.coupons import CouponSpec
from livecommerce.services.drops import RUNNING_CACHE_MS
from tests.conftest import SettingsFactory
from tests.support.hub_clients import join_show
from tests.support.shop import UNHURRIED_SHOP, ShopEnv, post_json, shop_env

pytestmark = pytest.mark.timeout(120)

PAYS = "4242424242424242"
_keys = itertools.count()


@pytest.fixture
async def env(settings_factory: SettingsFactory) -> AsyncIterator[ShopEnv]:
    async with shop_env(settings_factory(shop=UNHURRIED_SHOP)) as running:
        yield running


async def add_coupon(env: ShopEnv, **fields: Any) -> Coupon:
    spec = CouponSpec(**{"kind": CouponKind.PERCENT, "value": 10, **fields})
    return await env.shop.coupons.create(env.seller, spec)


async def buy(env: ShopEnv, who: Principal, offer: Offer, code: str | None) -> Order | str:
    """A checkout with `code`: the order, or the refusal's code."""
    try:
        order, _ = await env.shop.checkout.start(
            who, env.show_id, offer.id, None, 1, f"key-{next(_keys):06d}", coupon=code
        )
    except LiveCommerceError as exc:
        return exc.code
    return order


async def test_rest_coupons_and_a_discounted_checkout(env: ShopEnv) -> None:
    """A seller makes coupons over REST (a generated code, codes unique in any case) and lists
    them with their redemptions; a buyer's REST checkout and a hub checkout carry the discount;
    the same key replays the order, another coupon under it is an idempotency conflict; refusals
    are structured."""
    offer = await env.offer(stock=20)
    seller_token = await env.token(env.seller_user)
    _, alice = await env.user("alice")
    _, bob = await env.user("bob")
    alice_token, bob_token = await env.token(alice), await env.token(bob)
    base = f"{env.base_url}/api/v1/coupons"
    checkout = f"{env.base_url}/api/v1/shows/{env.show_id}/checkout"
    async with ClientSession() as http:
        status, ten = await post_json(
            http, base, {"code": "Spring-10", "kind": "percent", "value": 10}, seller_token
        )
        assert 201 == status, ten
        assert "SPRING-10" == ten["code"]
        status, body = await post_json(
            http, base, {"code": "spring-10", "kind": "percent", "value": 5}, seller_token
        )
        assert (409, "conflict") == (status, body["error"]["code"])
        status, fiver = await post_json(
            http, base, {"kind": "amount", "value": 500, "currency": "USD"}, seller_token
        )
        assert 201 == status and 10 == len(fiver["code"]), fiver
        status, body = await post_json(http, base, {"kind": "percent", "value": 10}, alice_token)
        assert (403, "forbidden") == (status, body["error"]["code"])
        status, body = await post_json(
            http, base, {"kind": "percent", "value": 10, "price": 1}, seller_token
        )
        assert (422, "invalid_input") == (status, body["error"]["code"])

        order_body = {"offer_id": offer.id, "quantity": 2, "idempotency_key": "rest-coupon-1"}
        status, out = await post_json(
            http, checkout, {**order_body, "coupon_code": "spring-10"}, alice_token
        )
        assert 201 == status, out
        assert {"amount": 980, "currency": "USD"} == out["order"]["discount"]
        assert {"amount": 9800 - 980, "currency": "USD"} == out["order"]["total"]
        assert "SPRING-10" == out["order"]["coupon_code"]
        again = await post_json(
            http, checkout, {**order_body, "coupon_code": "SPRING-10"}, alice_token
        )
        assert (201, out["order"]["id"]) == (again[0], again[1]["order"]["id"])
        status, body = await post_json(
            http, checkout, {**order_body, "coupon_code": fiver["code"]}, alice_token
        )
        assert (409, "idempotency_conflict") == (status, body["error"]["code"])
        status, body = await post_json(
            http,
            checkout,
            {**order_body, "idempotency_key": "rest-coupon-2", "coupon_code": "NOPE-NOPE"},
            alice_token,
        )
        assert (409, "coupon_invalid") == (status, body["error"]["code"])

        async with http.get(base, headers={"Authorization": f"Bearer {seller_token}"}) as resp:
            listed = {c["code"]: c["redemptions"] for c in (await resp.json())["coupons"]}
        assert {"SPRING-10": 1, fiver["code"]: 0} == listed

        bob_client, _ = await join_show(env.base_url, env.show_id, bob_token)
        try:
            ack = await bob_client.call(
                "checkout.start",
                {**order_body, "show_id": env.show_id, "idempotency_key": "hub-coupon-1",
                 "quantity": 1, "coupon_code": fiver["code"].lower()},
            )  # fmt: skip
            assert ack["ok"] is True, ack
            assert {"amount": 500, "currency": "USD"} == ack["order"]["discount"]
            assert 4400 == ack["order"]["total"]["amount"]
            ack = await bob_client.call(
                "checkout.start",
                {**order_body, "show_id": env.show_id, "idempotency_key": "hub-coupon-2",
                 "coupon_code": "x"},
            )  # fmt: skip
            assert "invalid_input" == ack["error"]["code"]
        finally:
            await bob_client.close()

        status, off = await post_json(http, f"{base}/{ten['id']}/disable", {}, seller_token)
        assert (200, True, 1) == (status, off["disabled"], off["redemptions"])
        status, body = await post_json(
            http,
            checkout,
            {**order_body, "idempotency_key": "rest-coupon-3", "coupon_code": "spring-10"},
            bob_token,
        )
        assert (409, "coupon_invalid") == (status, body["error"]["code"])


async def test_each_rule_refuses_with_its_own_code(env: ShopEnv) -> None:
    """Followers-only (until the buyer follows the seller), a minimum, another show's scope, a
    window not open or over, per-buyer use: each refusal has its code, and holds no stock."""
    offer = await env.offer(stock=20)
    buyer = await env.buyer()
    now = env.clock.now_ms()
    cases: dict[str, tuple[dict[str, Any], str]] = {
        "FANS-ONLY": ({"followers_only": True}, "coupon_followers_only"),
        "BIG-ORDER": ({"min_order": 10_000, "currency": "USD"}, "coupon_min_order"),
        "LATER-ON": ({"starts_at_ms": now + 60_000}, "coupon_not_started"),
        "EURO-OFF": ({"kind": CouponKind.AMOUNT, "currency": "EUR"}, "coupon_not_applicable"),
    }
    for code, (fields, expected) in cases.items():
        await add_coupon(env, code=code, **fields)
        assert expected == await buy(env, buyer, offer, code), code
    show, _ = await env.shop.shows.create(env.seller, "Another night")
    await add_coupon(env, code="OTHER-SHOW", show_id=show.id)
    assert "coupon_not_applicable" == await buy(env, buyer, offer, "OTHER-SHOW")
    await add_coupon(env, code="SHORT-LIVED", ends_at_ms=now + 1_000)
    await add_coupon(env, code="ONCE-EACH", per_buyer=1)
    assert isinstance(await buy(env, buyer, offer, "ONCE-EACH"), Order)
    assert "coupon_already_used" == await buy(env, buyer, offer, "ONCE-EACH")
    env.clock.advance(2)
    assert "coupon_expired" == await buy(env, buyer, offer, "SHORT-LIVED")
    assert 1 == (await env.cap(offer)).reserved
    await env.shop.follows.follow(buyer, env.seller.user_id)
    assert isinstance(await buy(env, buyer, offer, "FANS-ONLY"), Order)


async def test_a_thousand_redemptions_of_fifty(env: ShopEnv) -> None:
    """1,000 buyers check out at once with a coupon of 50 redemptions: exactly 50 orders carry
    it, every other buyer is refused with `coupon_exhausted`, and no stock is held for them."""
    offer = await env.offer(stock=500)
    coupon = await add_coupon(env, code="FIFTY", max_redemptions=50)
    buyers = await asyncio.gather(*(env.buyer(f"b{n}") for n in range(1000)))
    results = await asyncio.gather(*(buy(env, b, offer, "fifty") for b in buyers))
    orders = [r for r in results if isinstance(r, Order)]
    assert Counter({"coupon_exhausted": 950}) == Counter(r for r in results if isinstance(r, str))
    assert 50 == len({o.buyer_id for o in orders})
    assert all(490 == o.discount_minor for o in orders)
    assert 50 == await env.shop.coupons.used(coupon.id)
    assert 50 == (await env.cap(offer)).reserved
    assert [(coupon.code, 50)] == [(c.code, n) for c, n in await env.shop.coupons.list(env.seller)]


async def test_expired_and_refunded_orders_give_their_redemption_back_once(env: ShopEnv) -> None:
    """A single-use coupon: the first order expires and gives it back (a second give-back
    changes nothing), the next buyer's order pays with balanced entries (the sale at list
    price, the discount as the seller's promotion) and its full refund gives it back again."""
    offer = await env.offer(stock=20)
    coupon = await add_coupon(env, code="ONE-SHOT", max_redemptions=1, value=20)
    first, second, third = [await env.buyer(f"b{n}") for n in range(3)]
    lapsed = await buy(env, first, offer, "ONE-SHOT")
    assert isinstance(lapsed, Order)
    assert "coupon_exhausted" == await buy(env, second, offer, "ONE-SHOT")
    env.clock.advance(3600)
    await env.shop.payments.sweep()
    expired = await env.shop.orders.get(first, lapsed.id)
    assert OrderStatus.EXPIRED is expired.status
    assert 0 == await env.shop.coupons.used(coupon.id)

    paid = await buy(env, second, offer, "ONE-SHOT")
    assert isinstance(paid, Order)
    assert False is await env.shop.coupons.give_back(expired)  # the expiry's, again
    await env.shop.payments.sweep()
    assert 1 == await env.shop.coupons.used(coupon.id)
    assert "coupon_exhausted" == await buy(env, third, offer, "ONE-SHOT")
    paid = await env.shop.payments.confirm_demo(second, paid.id, PAYS)
    assert (OrderStatus.PAID, 980, 3920) == (paid.status, paid.discount_minor, paid.total.minor)

    journal = await env.adapters.orders.journal(paid.id)
    sale = balances(journal)
    assert 3920 == sale[(Account.PROVIDER_CLEARING, "platform", "USD")]
    assert 980 == sale[(Account.PROMOTION_EXPENSE, env.seller.user_id, "USD")]
    fee = 392  # 10 % of what was paid (payments.platform_fee_bps: 1000)
    assert -(4900 - fee) == sale[(Account.SELLER_PAYABLE, env.seller.user_id, "USD")]
    assert -fee == sale[(Account.PLATFORM_FEES, "platform", "USD")]
    assert 0 == sum(line.amount for txn in journal for line in txn.lines)

    refunded = await env.shop.payments.refund(env.seller, paid.id, None, "refund-once-1")
    assert OrderStatus.REFUNDED is refunded.status
    assert 0 == await env.shop.coupons.used(coupon.id)
    await env.shop.payments.sync_refunds(paid.id)  # a replayed refund gives nothing back again
    assert False is await env.shop.coupons.give_back(refunded)
    assert all(v == 0 for v in balances(await env.adapters.orders.journal(paid.id)).values())
    assert isinstance(await buy(env, third, offer, "ONE-SHOT"), Order)
    assert "coupon_exhausted" == await buy(env, first, offer, "ONE-SHOT")


async def test_a_thousand_claims_of_a_fifty_voucher_drop(env: ShopEnv) -> None:
    """1,000 viewers claim a drop of 50 at once: 50 distinct viewers get 50 distinct codes, a
    repeated claim returns the same code, the rest are `drop_exhausted`; the show sees
    `drop.started`, throttled `drop.updated` ending at 0 and one `drop.ended`; a claimer's code
    gives its discount once at checkout. Guests, the seller and banned viewers are refused."""
    offer = await env.offer(stock=100)
    seller_token = await env.token(env.seller_user)
    started = await env.bus_events("drop.started")
    updated = await env.bus_events("drop.updated")
    ended = await env.bus_events("drop.ended")
    async with ClientSession() as http:
        status, drop = await post_json(
            http,
            f"{env.base_url}/api/v1/shows/{env.show_id}/drops",
            {"coupon": {"kind": "percent", "value": 50, "scope": {"show_id": env.show_id}},
             "claims": 50, "duration_seconds": 60},
            seller_token,
        )  # fmt: skip
    assert 201 == status, drop
    viewers = await asyncio.gather(*(env.buyer(f"v{n}") for n in range(1000)))
    drops = env.shop.drops

    async def claim(who: Principal) -> dict[str, Any] | str:
        try:
            return await drops.claim(who, env.show_id, drop["id"])
        except LiveCommerceError as exc:
            return exc.code

    results = await asyncio.gather(*(claim(v) for v in viewers))
    won = {v.user_id: r["coupon_code"] for v, r in zip(viewers, results, strict=True)
           if isinstance(r, dict)}  # fmt: skip
    assert 50 == len(won) == len(set(won.values()))
    assert Counter({"drop_exhausted": 950}) == Counter(r for r in results if isinstance(r, str))
    winner = next(v for v in viewers if v.user_id in won)
    assert won[winner.user_id] == (await claim(winner))["coupon_code"]  # type: ignore[index]
    assert "seller_cannot_claim" == await claim(env.seller)
    guest = await env.shop.accounts.guest("Passer-by")
    assert "forbidden" == await claim(await env.shop.accounts.authenticate(guest.token))
    loser = next(v for v in viewers if v.user_id not in won)
    ref = await env.shop.shows.show_ref(env.show_id)
    await env.shop.moderation.ban(env.seller, ref, loser.user_id)
    assert "banned" == await claim(loser)

    assert [{"show_id": env.show_id, "drop_id": drop["id"], "claims_left": 50,
             "ends_at": drop["ends_at"]}] == started  # fmt: skip
    for _ in range(100):
        if ended:
            break
        await asyncio.sleep(0.05)
    assert [{"show_id": env.show_id, "drop_id": drop["id"]}] == ended
    assert 0 == updated[-1]["claims_left"]
    assert len(updated) < 10  # coalesced: a stampede of 50 claims is not 50 messages

    code = won[winner.user_id]
    order = await buy(env, winner, offer, code)
    assert isinstance(order, Order) and 2450 == order.discount_minor
    assert "coupon_exhausted" == await buy(env, winner, offer, code)  # single use


async def test_a_late_joiner_sees_the_running_drop_in_the_join_ack(env: ShopEnv) -> None:
    """A viewer who joins after `drop.started` gets the drop with its claims left in the
    `show.join` ack; once its last voucher is taken, later joiners no longer do."""
    seller_token = await env.token(env.seller_user)
    async with ClientSession() as http:
        status, drop = await post_json(
            http,
            f"{env.base_url}/api/v1/shows/{env.show_id}/drops",
            {"coupon": {"kind": "percent", "value": 10}, "claims": 2, "duration_seconds": 60},
            seller_token,
        )
    assert 201 == status, drop
    first, second = await env.buyer("early"), await env.buyer("later")
    await env.shop.drops.claim(first, env.show_id, drop["id"])

    async def joined_drops() -> Any:
        client, ack = await join_show(env.base_url, env.show_id, None)
        await client.close()
        return ack["drops"]

    running = {**drop, "claims_left": 1}
    assert [running] == await joined_drops()
    await env.shop.drops.claim(second, env.show_id, drop["id"])
    env.clock.advance(RUNNING_CACHE_MS / 1000)
    assert [] == await joined_drops()


@pytest.mark.redis
async def test_a_redis_that_lost_its_data_does_not_hand_out_a_used_coupon_again(
    settings_factory: SettingsFactory, redis_url: str
) -> None:
    """A one-use coupon is held by a buyer's order; Redis then loses every key (a restart
    without persistence). The next buyer is refused `coupon_exhausted`: the live count is seeded
    from SQL's record instead of starting from zero. Once the first order lets go (cancelled),
    the coupon is free again."""
    settings = settings_factory(shop=UNHURRIED_SHOP, redis={"url": redis_url})
    async with shop_env(settings) as env:
        offer = await env.offer(stock=20)
        await add_coupon(env, code="ONCE", max_redemptions=1)
        first, second = await env.buyer("first"), await env.buyer("second")
        order = await buy(env, first, offer, "ONCE")
        assert isinstance(order, Order), order
        redis = aioredis.Redis.from_url(redis_url)
        try:
            await redis.flushall()
        finally:
            await redis.aclose()
        await env.shop.stock.rebuild()
        assert "coupon_exhausted" == await buy(env, second, offer, "ONCE")
        await env.shop.payments.cancel(first, order.id)
        assert isinstance(await buy(env, second, offer, "ONCE"), Order)
