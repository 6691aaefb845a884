"""Reviews by verified buyers (issue 17 part 1), over HTTP against the real app: who may review
which order and when (refusals with their codes), the summary on the product the viewer page's
card reads, the seller's one reply, report → queue → hide → restore by a host, and a refund
marking the review."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import ClientSession

from livecommerce.domain.money import Money
from livecommerce.domain.offers import OfferKind
from livecommerce.services.catalog import VariantSpec
from tests.conftest import SettingsFactory
from tests.support.http import Api
from tests.support.shop import ShopEnv, buy, shop_env

pytestmark = pytest.mark.timeout(60)
DAY = 24 * 3600


@pytest.fixture
async def env(settings_factory: SettingsFactory) -> AsyncIterator[ShopEnv]:
    settings = settings_factory(
        shop={"sweep_interval_seconds": 3600, "review_banned_words": ["knockoff"]}
    )
    async with shop_env(settings) as running:
        yield running


async def test_only_the_buyer_after_fulfilment_once(env: ShopEnv) -> None:
    offer = await env.offer(stock=5)
    digital = await env.shop.catalog.create_product(
        env.seller, name="E-book", price=Money(900, "USD"), variants=[VariantSpec("PDF", 50)],
        requires_shipping=False,
    )  # fmt: skip
    ebook = await env.shop.offers.create(
        env.seller, env.show_id, product_id=digital.id, kind=OfferKind.FIXED, cap=5
    )
    await env.shop.offers.start(env.seller, env.show_id, ebook.id)
    _, ruth = await env.user("Ruth")
    _, otto = await env.user("Otto")
    _, mallory = await env.user("Mallory")
    _, hana = await env.user("Hana")
    await env.shop.shows.grant_host(env.seller, env.show_id, hana.id)
    ruth_t, otto_t, mal_t, hana_t = [await env.token(u) for u in (ruth, otto, mallory, hana)]
    seller_t = await env.token(env.seller_user)
    async with ClientSession() as http:
        api = Api(http, env.base_url)
        order = await buy(env, http, offer.id, ruth_t, "review-buy-ruth-1")
        unpaid = await buy(env, http, offer.id, ruth_t, "review-buy-ruth-2", pay=False)
        other = await buy(env, http, ebook.id, otto_t, "review-buy-otto-1")
        url = f"/api/v1/orders/{order['id']}/review"
        good = {"rating": 4, "text": "Fits well, true to size."}

        for token in (mal_t, otto_t):  # a stranger, and the buyer of another product
            status, body = await api.call("POST", url, token, json=good)
            assert (status, body["error"]["code"]) == (404, "not_your_order"), body
        status, body = await api.call("POST", url, ruth_t, json=good)
        assert (status, body["error"]["code"]) == (409, "review_not_yet"), body
        assert body["error"]["details"]["opens_at"] is None  # waits for the fulfilment
        status, body = await api.call(
            "POST", f"/api/v1/orders/{unpaid['id']}/review", ruth_t, json=good
        )
        assert (status, body["error"]["code"]) == (409, "order_not_paid"), body

        # nothing ships: the review opens 14 days after payment
        other_url = f"/api/v1/orders/{other['id']}/review"
        status, body = await api.call("POST", other_url, otto_t, json=good)
        assert (status, body["error"]["code"]) == (409, "review_not_yet"), body
        opens = body["error"]["details"]["opens_at"]
        assert opens - env.clock.now_ms() > 13 * DAY * 1000
        env.clock.advance(14 * DAY + 1)
        status, body = await api.call("POST", other_url, otto_t, json={"rating": 5, "text": "ok"})
        assert status == 201, body

        fulfil = {"carrier": "UPS", "tracking_number": "1Z999"}
        status, done = await api.call(
            "POST", f"/api/v1/orders/{order['id']}/fulfil", seller_t, json=fulfil
        )
        assert status == 200, done
        for bad, code in (
            ({"rating": 4, "text": "cheaper at deals.example.com"}, "review_rejected"),
            ({"rating": 4, "text": "a KNOCKOFF"}, "review_rejected"),
            ({"rating": 6, "text": "great"}, "invalid_input"),
            ({"rating": 4, "text": "x", "photos": ["/uploads/a.jpg"]}, "invalid_input"),
        ):
            status, body = await api.call("POST", url, ruth_t, json=bad)
            assert (status, body["error"]["code"]) == (422, code), body
        status, review = await api.call("POST", url, ruth_t, json=good)
        assert status == 201, review
        assert review["verified_purchase"] is True
        assert review["variant"] == {"id": offer_variant(env), "label": "42"}
        assert review["author"] == {"name": "Ruth"} and review["refunded"] is False
        status, body = await api.call("POST", url, ruth_t, json=good)
        assert (status, body["error"]["code"]) == (409, "already_reviewed"), body

        # the product as the viewer page's card reads it, and the public list
        status, product = await api.call("GET", f"/api/v1/products/{env.product.id}")
        assert product["reviews"] == {
            "average": 4.0, "count": 1,
            "distribution": {"1": 0, "2": 0, "3": 0, "4": 1, "5": 0},
        }  # fmt: skip
        status, listed = await api.call("GET", f"/api/v1/products/{env.product.id}/reviews")
        assert [r["id"] for r in listed["reviews"]] == [review["id"]]
        assert listed["summary"]["count"] == 1 and "order_id" not in listed["reviews"][0]

        reply = f"/api/v1/reviews/{review['id']}/reply"
        status, body = await api.call("POST", reply, mal_t, json={"text": "me too"})
        assert status == 403, body
        status, body = await api.call("POST", reply, seller_t, json={"text": "Thank you!"})
        assert (status, body["reply"]["text"]) == (200, "Thank you!"), body
        status, body = await api.call("POST", reply, seller_t, json={"text": "Again"})
        assert (status, body["error"]["code"]) == (409, "already_replied"), body

        status, body = await api.call(
            "POST", f"/api/v1/reviews/{review['id']}/report", mal_t, json={"reason": "fake"}
        )
        assert status == 200, body
        status, queue = await api.call("GET", "/api/v1/reviews?status=reported", seller_t)
        assert [r["id"] for r in queue["reviews"]] == [review["id"]]
        assert queue["reviews"][0]["reports"] == 1
        status, body = await api.call("GET", "/api/v1/reviews?status=reported", mal_t)
        assert status == 403, body
        status, body = await api.call(
            "POST", f"/api/v1/reviews/{review['id']}/hide", mal_t, json={}
        )
        assert status == 403, body
        status, hidden = await api.call(
            "POST", f"/api/v1/reviews/{review['id']}/hide", seller_t, json={}
        )
        assert (status, hidden["status"]) == (200, "hidden"), hidden
        status, product = await api.call("GET", f"/api/v1/products/{env.product.id}")
        assert product["reviews"]["count"] == 0
        status, _ = await api.call("GET", f"/api/v1/reviews/{review['id']}")
        assert status == 404

        # a host of the seller's show works the same queue through the show
        status, queue = await api.call(
            "GET", f"/api/v1/reviews?status=hidden&show_id={env.show_id}", hana_t
        )
        assert [r["id"] for r in queue["reviews"]] == [review["id"]]
        status, restored = await api.call(
            "POST", f"/api/v1/reviews/{review['id']}/restore", hana_t, json={"show_id": env.show_id}
        )
        assert (status, restored["status"]) == (200, "published"), restored

        status, refund = await api.call(
            "POST", f"/api/v1/orders/{order['id']}/refund", seller_t, json={}
        )
        assert status == 200, refund
        status, after = await api.call("GET", f"/api/v1/reviews/{review['id']}")
        assert (status, after["refunded"], after["rating"]) == (200, True, 4), after


def offer_variant(env: ShopEnv) -> str:
    return env.product.variants[0].id
