"""Share links and referrals over real HTTP with cookies: a visit by a share link (with other
query parameters) remembered in the browser and claimed at sign-up, the commission booked with
the payment and reversed by the refunds (the journal balancing at every step), visits counted
once per visitor and day, self-referral and the seller's own link paying nothing, the window,
and the seller's figures over the API and on the dashboard page."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from yarl import URL

from livecommerce.domain.ledger import Account, balances
from livecommerce.domain.referrals import ATTRIBUTION_WINDOW_MS
from tests.conftest import SettingsFactory
from tests.support.http import Api
from tests.support.hub_clients import HubClient
from tests.support.shop import UNHURRIED_SHOP, ShopEnv, shop_env

pytestmark = pytest.mark.timeout(120)

PAYS = "4242424242424242"
ADDRESS = {
    "name": "Vera",
    "line1": "1 Main St",
    "city": "Springfield",
    "postal_code": "12345",
    "country": "US",
}


@pytest.fixture(params=["sqlite", "postgres"])
async def env(
    request: pytest.FixtureRequest, settings_factory: SettingsFactory
) -> AsyncIterator[ShopEnv]:
    """The app on SQLite and on PostgreSQL (the upserts and leases are SQL of both)."""
    sections: dict[str, Any] = {}
    if request.param == "postgres":
        sections["store"] = {"url": request.getfixturevalue("postgres_url")}
    async with shop_env(settings_factory(shop=UNHURRIED_SHOP, **sections)) as running:
        yield running


def browser(env: ShopEnv) -> Api:
    # why: the default jar ignores cookies from IP-address hosts such as 127.0.0.1
    return Api(aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)), env.base_url)


async def buy_and_pay(api: Api, env: ShopEnv, token: str, offer_id: str, key: str) -> str:
    status, out = await api.call(
        "POST",
        f"/api/v1/shows/{env.show_id}/checkout",
        token,
        json={
            "offer_id": offer_id,
            "quantity": 1,
            "idempotency_key": f"referral-{key}",
            "shipping_address": ADDRESS,
        },
    )
    assert 201 == status, out
    order_id: str = out["order"]["id"]
    status, paid = await api.call(
        "POST", f"/api/v1/payments/demo/{order_id}/confirm", token, json={"card": PAYS}
    )
    assert (200, "paid") == (status, paid["status"]), paid
    return order_id


async def referrer_lines(env: ShopEnv, order_id: str) -> dict[str, int]:
    journal = await env.adapters.orders.journal(order_id)
    assert all(0 == sum(line.amount for line in txn.lines) for txn in journal)
    return {
        party: amount
        for (account, party, _), amount in balances(journal).items()
        if account is Account.REFERRER_PAYABLE
    }


async def report(api: Api, env: ShopEnv, token: str) -> dict[str, Any]:
    status, body = await api.call("GET", f"/api/v1/shows/{env.show_id}/referrals", token)
    assert 200 == status, body
    return {r["name"]: r for r in body["referrers"]}


async def test_share_visit_buy_refund_and_the_dashboard(env: ShopEnv) -> None:
    """A visitor who opened Rita's link (with ?offer=) and signed up later pays; Rita's 10 % is
    booked with the payment, halved by a half refund and gone after the full one; the journal
    balances throughout and the seller's figures show one visit, one order and the net."""
    offer = await env.offer(stock=20)
    seller_token = await env.token(env.seller_user)
    _, rita = await env.user("Rita")
    rita_token = await env.token(rita)
    visitor = browser(env)
    async with visitor.session:
        status, body = await visitor.call(
            "PUT", f"/api/v1/shows/{env.show_id}/referral", rita_token, json={"referral_bps": 1000}
        )
        assert (403, "forbidden") == (status, body["error"]["code"])
        for bad in (-1, 5001, "10", 12.5):
            status, body = await visitor.call(
                "PUT",
                f"/api/v1/shows/{env.show_id}/referral",
                seller_token,
                json={"referral_bps": bad},
            )
            assert (422, "invalid_input") == (status, body["error"]["code"]), bad
        status, body = await visitor.call(
            "PUT",
            f"/api/v1/shows/{env.show_id}/referral",
            seller_token,
            json={"referral_bps": 1000},
        )
        assert (200, 1000) == (status, body["referral_bps"]), body

        status, share = await visitor.call("POST", f"/api/v1/shows/{env.show_id}/share", rita_token)
        assert 200 == status, share
        assert share["url"].endswith(f"/shows/{env.show_id}?ref={share['code']}")
        again = await visitor.call("POST", f"/api/v1/shows/{env.show_id}/share", rita_token)
        assert share == again[1]
        status, body = await visitor.call("POST", f"/api/v1/shows/{env.show_id}/share")
        assert (401, "unauthenticated") == (status, body["error"]["code"])

        # a browser, not signed in, opens the link with another parameter, twice in a day
        page = f"{env.base_url}/shows/{env.show_id}"
        set_cookies = []
        for _ in range(2):
            params = {"offer": offer.id, "ref": share["code"]}
            async with visitor.session.get(page, params=params) as resp:
                assert 200 == resp.status
                set_cookies.append(resp.headers.get("Set-Cookie", ""))
        # the browser's visitor id, given once (the second visit sends it back)
        assert "lc_vid=" in set_cookies[0] and "HttpOnly" in set_cookies[0], set_cookies
        assert "" == set_cookies[1]
        assert "lc_vid" in visitor.session.cookie_jar.filter_cookies(URL(env.base_url))
        # an unknown code sets nothing and counts nothing
        status, _page = await visitor.call("GET", f"/shows/{env.show_id}?ref=zzzzzzzzzzzz")
        assert 200 == status

        token, _user = await visitor.signup("Vera")  # the sign-up claims the browser's visit
        order_id = await buy_and_pay(visitor, env, token, offer.id, "ref-1")
        assert {rita.id: -490} == await referrer_lines(env, order_id)
        seller_balance = balances(await env.adapters.orders.journal(order_id))
        assert (
            -(4900 - 490 - 490)
            == seller_balance[(Account.SELLER_PAYABLE, env.seller_user.id, "USD")]
        )

        status, out = await visitor.call(
            "POST", f"/api/v1/orders/{order_id}/refund", seller_token, json={"amount": 2450}
        )
        assert 200 == status, out
        assert {rita.id: -245} == await referrer_lines(env, order_id)
        figures = await report(visitor, env, seller_token)
        assert {"visits": 1, "orders": 1, "commission": {"amount": 245, "currency": "USD"}} == {
            k: figures["Rita"][k] for k in ("visits", "orders", "commission")
        }
        status, out = await visitor.call(
            "POST", f"/api/v1/orders/{order_id}/refund", seller_token, json={}
        )
        assert (200, "refunded") == (status, out["status"]), out
        assert {rita.id: 0} == await referrer_lines(env, order_id)
        journal = await env.adapters.orders.journal(order_id)
        assert all(0 == amount for amount in balances(journal).values())

        status, body = await visitor.call(
            "GET", f"/api/v1/shows/{env.show_id}/referrals", rita_token
        )
        assert (403, "forbidden") == (status, body["error"]["code"])
        status, page = await visitor.call("GET", f"/dashboard?show={env.show_id}", seller_token)
        assert 200 == status
        assert f'data-referrer="{rita.id}"><td>Rita</td><td>1</td><td>1</td>' in page


async def test_self_referral_the_sellers_link_and_the_window_pay_nothing(env: ShopEnv) -> None:
    """The referrer buying through their own link, a buyer coming by the seller's own link, and
    a buyer paying more than 7 days after the visit book no commission; a later friend's link
    replaces an earlier one (last touch)."""
    offer = await env.offer(stock=20)
    seller_token = await env.token(env.seller_user)
    await env.shop.referrals.set_program(env.seller, env.show_id, 2000)
    _, rita = await env.user("Rita")
    _, sam = await env.user("Sam")
    rita_token, sam_token = await env.token(rita), await env.token(sam)
    api = browser(env)
    async with api.session:
        codes = {}
        for name, token in (("rita", rita_token), ("seller", seller_token), ("sam", sam_token)):
            status, share = await api.call("POST", f"/api/v1/shows/{env.show_id}/share", token)
            assert 200 == status
            codes[name] = share["code"]

        # Rita, signed in, opens her own link and buys: nothing counted, nothing paid
        await api.call("GET", f"/shows/{env.show_id}?ref={codes['rita']}", rita_token)
        order_id = await buy_and_pay(api, env, rita_token, offer.id, "self-1")
        assert {} == await referrer_lines(env, order_id)

        # Sam, signed in, opens the seller's link: the seller is never paid for selling
        await api.call("GET", f"/shows/{env.show_id}?ref={codes['seller']}", sam_token)
        order_id = await buy_and_pay(api, env, sam_token, offer.id, "seller-1")
        assert {} == await referrer_lines(env, order_id)

        # Sam opens Rita's link (last touch: it replaces the seller's) and pays in the window
        await api.call("GET", f"/shows/{env.show_id}?ref={codes['rita']}", sam_token)
        order_id = await buy_and_pay(api, env, sam_token, offer.id, "rita-1")
        assert {rita.id: -980} == await referrer_lines(env, order_id)

        # eight days on, the visit no longer counts
        env.clock.advance(ATTRIBUTION_WINDOW_MS / 1000 + 86400)
        order_id = await buy_and_pay(api, env, sam_token, offer.id, "late-1")
        assert {} == await referrer_lines(env, order_id)

        figures = await report(api, env, seller_token)
        assert (0, 0) == (figures["Rita"]["visits"] - 1, figures["Seller"]["visits"] - 1)
        assert (1, 980) == (figures["Rita"]["orders"], figures["Rita"]["commission"]["amount"])
        assert (0, 0) == (figures["Sam"]["visits"], figures["Sam"]["orders"])


async def test_a_checkout_over_the_hub_claims_the_browsers_share_link_visit(env: ShopEnv) -> None:
    """A browser opens Rita's link signed out; its account's token comes from elsewhere, so no
    sign-in claimed the visit; it buys over Socket.IO from the page (its cookie on the
    handshake): the hub checkout hands the browser's visit to the account, as a REST checkout
    does, and Rita's commission is booked with the payment."""
    offer = await env.offer(stock=5)
    seller_token = await env.token(env.seller_user)
    _, rita = await env.user("Rita")
    rita_token = await env.token(rita)
    _, vera = await env.user("Vera")
    vera_token = await env.token(vera)
    visitor = browser(env)
    async with visitor.session:
        status, _body = await visitor.call(
            "PUT",
            f"/api/v1/shows/{env.show_id}/referral",
            seller_token,
            json={"referral_bps": 1000},
        )
        assert 200 == status
        status, share = await visitor.call("POST", f"/api/v1/shows/{env.show_id}/share", rita_token)
        assert 200 == status, share
        page = f"{env.base_url}/shows/{env.show_id}"
        async with visitor.session.get(page, params={"ref": share["code"]}) as resp:
            assert 200 == resp.status
        vid = visitor.session.cookie_jar.filter_cookies(URL(env.base_url))["lc_vid"].value
        client = HubClient()
        await client.connect(env.base_url, vera_token, headers={"Cookie": f"lc_vid={vid}"})
        try:
            joined = await client.call("show.join", {"show_id": env.show_id})
            assert joined["ok"], joined
            ack = await client.call(
                "checkout.start",
                {"show_id": env.show_id, "offer_id": offer.id, "quantity": 1,
                 "idempotency_key": "hub-referral-1", "shipping_address": ADDRESS},
            )  # fmt: skip
            assert ack["ok"], ack
        finally:
            await client.close()
        order_id = ack["order"]["id"]
        status, paid = await visitor.call(
            "POST", f"/api/v1/payments/demo/{order_id}/confirm", vera_token, json={"card": PAYS}
        )
        assert (200, "paid") == (status, paid["status"]), paid
    assert {rita.id: -490} == await referrer_lines(env, order_id)
