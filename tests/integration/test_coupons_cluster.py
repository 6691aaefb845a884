"""Coupons and voucher drops across two app nodes sharing one redis-server and one store: 1,000
redemptions of a 50-use coupon split between the nodes take exactly 50, and 1,000 light socket
clients claiming a 50-claim drop through both nodes get exactly 50 distinct codes, with one
`drop.ended` seen on each node."""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest

from livecommerce import keys
from livecommerce.domain.coupons import MIN_DROP_SECONDS, CouponKind
from livecommerce.domain.orders import Order
from livecommerce.errors import DropEnded, LiveCommerceError
from livecommerce.services.coupons import CouponSpec
from tests.conftest import SettingsFactory
from tests.support.app import RunningApp, running_app
from tests.support.hub_clients import RawClient, join_show
from tests.support.hub_load import ensure_fd_limit
from tests.support.shop import UNHURRIED_SHOP, ShopEnv, post_json, shop_env

pytestmark = [pytest.mark.redis, pytest.mark.timeout(180)]

CROWD = 1000
_keys = itertools.count()


@dataclass
class Pair:
    env: ShopEnv  # node A, with the seller's live show and product
    b: RunningApp


@pytest.fixture
async def pair(settings_factory: SettingsFactory, redis_url: str) -> AsyncIterator[Pair]:
    def settings() -> Any:
        return settings_factory(
            redis={"url": redis_url, "pool_size": 50},
            shop=UNHURRIED_SHOP,
            hub={"max_connections_per_address": CROWD},  # every client is on 127.0.0.1
        )

    async with shop_env(settings()) as env, running_app(settings()) as b:
        yield Pair(env, b)


async def test_a_thousand_redemptions_of_fifty_across_two_nodes(pair: Pair) -> None:
    """Half the buyers check out on each node at once: exactly 50 orders carry the coupon and
    each node counts 50."""
    env = pair.env
    offer = await env.offer(stock=500)
    spec = CouponSpec(kind=CouponKind.PERCENT, value=10, code="FIFTY", max_redemptions=50)
    coupon = await env.shop.coupons.create(env.seller, spec)
    buyers = await asyncio.gather(*(env.buyer(f"b{n}") for n in range(CROWD)))
    nodes = [env.shop, pair.b.app[keys.SERVICES]]

    async def buy(n: int) -> Order | str:
        try:
            order, _ = await nodes[n % 2].checkout.start(
                buyers[n], env.show_id, offer.id, None, 1, f"key-{next(_keys):06d}", coupon="fifty"
            )
        except LiveCommerceError as exc:
            return exc.code
        return order

    results = await asyncio.gather(*(buy(n) for n in range(CROWD)))
    orders = [r for r in results if isinstance(r, Order)]
    assert 50 == len(orders)
    assert Counter({"coupon_exhausted": CROWD - 50}) == Counter(
        r for r in results if isinstance(r, str)
    )
    assert [50, 50] == [await node.coupons.used(coupon.id) for node in nodes]


async def test_a_thousand_socket_claims_of_a_fifty_drop_across_two_nodes(pair: Pair) -> None:
    """1,000 light clients, half on each node, claim at once: 50 distinct claimers get 50
    distinct codes, the rest `drop_exhausted`; each node's room sees `drop.ended` once."""
    env = pair.env
    ensure_fd_limit(2 * CROWD + 200)
    users = await asyncio.gather(*(env.user(f"v{n}", address=None) for n in range(CROWD)))
    tokens = await asyncio.gather(*(env.token(user) for _, user in users))
    seller_token = await env.token(env.seller_user)
    bases = [env.base_url, pair.b.base_url]
    watchers = [(await join_show(base, env.show_id, seller_token))[0] for base in bases]
    connector = aiohttp.TCPConnector(limit=0)
    try:
        async with aiohttp.ClientSession(connector=connector) as http:
            crowd = await asyncio.gather(
                *(RawClient.connect(http, bases[n % 2], tokens[n]) for n in range(CROWD))
            )
            status, drop = await post_json(
                http,
                f"{env.base_url}/api/v1/shows/{env.show_id}/drops",
                {"coupon": {"kind": "amount", "value": 300, "currency": "USD"},
                 "claims": 50, "duration_seconds": 60},
                seller_token,
            )  # fmt: skip
            assert 201 == status, drop
            claim = {"show_id": env.show_id, "drop_id": drop["id"]}
            acks = await asyncio.gather(*(c.call("drop.claim", claim, 30) for c in crowd))
            won = {n: a["coupon_code"] for n, a in enumerate(acks) if a["ok"]}
            assert 50 == len(won) == len(set(won.values()))
            refused = Counter(a["error"]["code"] for a in acks if not a["ok"])
            assert Counter({"drop_exhausted": CROWD - 50}) == refused
            first = next(iter(won))
            again = await crowd[first].call("drop.claim", claim)
            assert won[first] == again["coupon_code"]
            await asyncio.gather(*(c.ws.close() for c in crowd))
        for watcher in watchers:
            started = await watcher.expect("drop.started", within=10)
            assert 50 == started["claims_left"]
            assert {"show_id": env.show_id, "drop_id": drop["id"]} == await watcher.expect(
                "drop.ended", within=10
            )
            assert [] == [e for e, _ in await watcher.drain(0.5) if e == "drop.ended"]
    finally:
        for watcher in watchers:
            await watcher.close()


async def test_a_drop_whose_node_went_away_is_ended_by_another(pair: Pair) -> None:
    """Node A fires a drop and stops its timers (a shutdown) before the drop's end; node B's
    `drop-closer` ends it: `drop.ended` goes out once, and a late claim is refused."""
    env = pair.env
    seller_token = await env.token(env.seller_user)
    watcher = (await join_show(pair.b.base_url, env.show_id, seller_token))[0]
    try:
        spec = CouponSpec(kind=CouponKind.AMOUNT, value=100, currency="USD")
        view = await env.shop.drops.fire(
            env.seller, env.show_id, spec, claims=5, duration_seconds=MIN_DROP_SECONDS
        )
        await env.shop.drops.aclose()
        ended = await watcher.expect("drop.ended", within=MIN_DROP_SECONDS + 15)
        assert {"show_id": env.show_id, "drop_id": view["id"]} == ended
        assert [] == [e for e, _ in await watcher.drain(1.5) if e == "drop.ended"]
        buyer = await env.buyer("late")
        with pytest.raises(DropEnded):
            await pair.b.app[keys.SERVICES].drops.claim(buyer, env.show_id, str(view["id"]))
    finally:
        await watcher.close()
