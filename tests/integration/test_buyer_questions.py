"""Ask someone who bought it (issue 17 part 2), over HTTP and the hub against the real app with
its notification worker: who a question reaches (opted-in verified buyers only, at most five,
least recently asked first, three asks per buyer per rolling week, even for questions at
once), the in-app notification and the *My orders* list, answers with the purchase badge and
the refusals, and a buyer's answer put on air in a live show."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp import ClientSession

from tests.conftest import SettingsFactory
from tests.support.http import Api
from tests.support.hub_clients import join_show
from tests.support.notify import SmtpSink, smtp_sink, until
from tests.support.shop import UNHURRIED_SHOP, ShopEnv, buy, shop_env

pytestmark = pytest.mark.timeout(90)
WEEK = 7 * 24 * 3600


@pytest.fixture
async def mailed(settings_factory: SettingsFactory) -> AsyncIterator[tuple[ShopEnv, SmtpSink]]:
    """The app with its notification worker e-mailing a real SMTP server on loopback."""
    with smtp_sink() as smtp:
        settings = settings_factory(
            shop={**UNHURRIED_SHOP, "review_banned_words": ["knockoff"]},
            notify={"poll_seconds": 0.1, "lease_seconds": 1.0, "smtp_url": smtp.url},
        )
        async with shop_env(settings) as running:
            yield running, smtp


class People:
    """Named accounts of the scenario, with their tokens."""

    def __init__(self) -> None:
        self.ids: dict[str, str] = {}
        self.tokens: dict[str, str] = {}
        self.emails: dict[str, str] = {}


async def cast(env: ShopEnv, api: Api, http: ClientSession, offer_id: str) -> People:
    """Six opted-in buyers; a refunded, an opted-out and an opted-in buyer who asks (so is
    never asked); an opted-in non-buyer; and two shoppers who only ask."""
    people = People()
    names = [f"B{i}" for i in range(1, 7)] + ["Refunded", "OptedOut", "Asker", "Stranger"]
    names += ["Shopper1", "Shopper2"]
    for name in names:
        _, user = await env.user(name)
        people.ids[name] = user.id
        people.tokens[name] = await env.token(user)
        people.emails[name] = user.email or ""
    for name in names:
        if name not in ("OptedOut", "Shopper1", "Shopper2"):
            status, body = await api.call(
                "PUT",
                "/api/v1/me/preferences",
                people.tokens[name],
                json={"answer_buyer_questions": True},
            )
            assert status == 200, body
    status, body = await api.call(  # B6 wants the asks in the app, not by e-mail
        "PUT",
        "/api/v1/me/preferences",
        people.tokens["B6"],
        json={"kinds": {"buyer_question": {"email": False}}},
    )
    assert status == 200, body
    seller_t = await env.token(env.seller_user)
    for name in [f"B{i}" for i in range(1, 7)] + ["Refunded", "OptedOut", "Asker"]:
        order = await buy(env, http, offer_id, people.tokens[name], f"bq-buy-{name}-1")
        if name == "Refunded":
            status, body = await api.call(
                "POST", f"/api/v1/orders/{order['id']}/refund", seller_t, json={}
            )
            assert (status, body["status"]) == (200, "refunded"), body
    return people


async def test_questions_reach_opted_in_verified_buyers_under_the_weekly_cap(
    mailed: tuple[ShopEnv, SmtpSink],
) -> None:
    """Only opted-in verified buyers get an ask (five at most, never-asked and least recently
    asked first, three a week each even when two questions route at once), they see it in
    their notifications (and e-mail, unless switched off) and on My orders, and only verified
    buyers answer, with the badge."""
    env, smtp = mailed
    offer = await env.offer(stock=20)
    product = env.product.id
    async with ClientSession() as http:
        api = Api(http, env.base_url)
        who = await cast(env, api, http, offer.id)
        bought_month = datetime.fromtimestamp(env.clock.now(), UTC).strftime("%B %Y")
        eligible = {who.ids[f"B{i}"] for i in range(1, 7)}
        ask_url = f"/api/v1/products/{product}/buyer-questions"

        async def asks_of(name: str) -> list[dict[str, Any]]:
            status, mine = await api.call("GET", "/api/v1/me/buyer-questions", who.tokens[name])
            assert status == 200, mine
            return list(mine["questions"])

        async def routed(question_id: str) -> set[str]:
            rows = await env.adapters.db.fetchall(
                "SELECT buyer_id FROM buyer_question_routes WHERE question_id = ?", question_id
            )
            return {r["buyer_id"] for r in rows}

        for bad, code in (
            ({"text": "cheaper at deals.example.com?"}, "question_rejected"),
            ({"text": "is it a KNOCKOFF?"}, "question_rejected"),
            ({"text": ""}, "invalid_input"),
        ):
            status, body = await api.call("POST", ask_url, who.tokens["Shopper1"], json=bad)
            assert (status, body["error"]["code"]) == (422, code), body
        assert 401 == (await api.call("POST", ask_url, json={"text": "hi"}))[0]

        status, q1 = await api.call(
            "POST", ask_url, who.tokens["Asker"], json={"text": "Does it run small?"}
        )
        assert (status, q1["routed_to"], q1["text"]) == (201, 5, "Does it run small?"), q1
        first = await routed(q1["id"])
        assert first < eligible and len(first) == 5
        (left_out,) = eligible - first

        env.clock.advance(60)
        status, q2 = await api.call(
            "POST", ask_url, who.tokens["Asker"], json={"text": "Is the sole stiff?"}
        )
        assert (status, q2["routed_to"]) == (201, 5), q2
        second = await routed(q2["id"])
        assert left_out in second  # never asked before: first in line
        (asked_once_early,) = first - second

        env.clock.advance(60)
        status, q3 = await api.call(
            "POST", ask_url, who.tokens["Asker"], json={"text": "Good for running?"}
        )
        assert (status, q3["routed_to"]) == (201, 5), q3
        assert asked_once_early in await routed(q3["id"])  # the least recently asked

        env.clock.advance(60)
        texts = ("Does the colour fade?", "How long did delivery take?")
        answers = await asyncio.gather(
            *(api.call("POST", ask_url, who.tokens["Asker"], json={"text": t}) for t in texts)
        )  # two at once: together they may use only the week's budget left (6 × 3 − 15)
        assert [201, 201] == [s for s, _ in answers], answers
        assert 3 == sum(q["routed_to"] for _, q in answers)
        counts = {name: len(await asks_of(name)) for name in ("B1", "B2", "B3", "B4", "B5", "B6")}
        assert {3} == set(counts.values()), counts
        for name in ("Refunded", "OptedOut", "Asker", "Stranger", "Shopper1"):
            assert [] == await asks_of(name), name
        status, body = await api.call(
            "POST", ask_url, who.tokens["Asker"], json={"text": "One more?"}
        )
        assert (status, body["error"]["code"]) == (429, "rate_limited"), body  # 5 an hour
        status, q6 = await api.call(
            "POST", ask_url, who.tokens["Shopper2"], json={"text": "Wide feet OK?"}
        )
        assert (status, q6["routed_to"]) == (201, 1), q6  # the six have a full week
        assert {who.ids["Asker"]} == await routed(q6["id"])  # not their own question this time

        env.clock.advance(WEEK)
        status, q7 = await api.call(
            "POST", ask_url, who.tokens["Shopper2"], json={"text": "Still happy with them?"}
        )
        assert (status, q7["routed_to"]) == (201, 5), q7  # a rolling week later: open again

        # the routed buyer's bell, e-mail and My orders list
        b1 = next(n for n in ("B1", "B2", "B3", "B4", "B5") if who.ids[n] in first)

        async def notified() -> bool:
            _, inbox = await api.call("GET", "/api/v1/me/notifications", who.tokens[b1])
            kinds = [n["kind"] for n in inbox["notifications"]]
            return kinds.count("buyer_question") >= 3

        await until(notified)
        _, inbox = await api.call("GET", "/api/v1/me/notifications", who.tokens[b1])
        ask = next(n for n in inbox["notifications"] if n["url"] == f"/orders#bq-{q1['id']}")
        assert ("A shopper asks about Sneaker", "You bought it: Does it run small?") == (
            ask["title"], ask["body"]
        )  # fmt: skip
        for name in ("Refunded", "OptedOut", "Stranger"):
            _, theirs = await api.call("GET", "/api/v1/me/notifications", who.tokens[name])
            assert [] == [n for n in theirs["notifications"] if n["kind"] == "buyer_question"]

        async def settled() -> bool:
            """Every ask fanned out and every delivery of it sent or skipped."""
            row = await env.adapters.db.fetchone(
                "SELECT (SELECT COUNT(*) FROM outbox WHERE done_at IS NULL) + "
                "(SELECT COUNT(*) FROM notification_deliveries "
                "WHERE kind = 'buyer_question' AND status = 'pending') AS n"
            )
            return row is not None and 0 == row["n"]

        await until(settled)

        def asks_mailed(name: str) -> int:
            return sum(
                1
                for m in smtp.to(who.emails[name])
                if m["Subject"] == "A shopper asks about Sneaker"
            )

        assert len(await asks_of(b1)) == asks_mailed(b1)
        assert 0 == asks_mailed("B6") and 3 <= len(await asks_of("B6"))
        status, page = await api.call("GET", "/orders", who.tokens[b1])
        assert status == 200, page  # My orders: the ask with its answer form, and the order
        assert f'id="bq-{q1["id"]}"' in page and "Does it run small?" in page
        b1_asks = len(await asks_of(b1))
        assert page.count('class="ask-answer') == b1_asks and "Sneaker (42)" in page
        _, stranger_page = await api.call("GET", "/orders", who.tokens["Stranger"])
        assert "Does it run small?" not in stranger_page

        # answers: a routed buyer, any other verified buyer; never a non-buyer or a refund
        answer_url = f"{ask_url}/{q1['id']}/answers"
        status, a1 = await api.call(
            "POST", answer_url, who.tokens[b1], json={"text": "Half a size small."}
        )
        assert status == 201, a1
        assert a1["verified_purchase"] is True
        assert {"variant": "42", "bought_at_month": bought_month} == a1["badge"]
        status, body = await api.call("POST", answer_url, who.tokens[b1], json={"text": "Again"})
        assert (status, body["error"]["code"]) == (409, "already_answered"), body
        for name in ("Stranger", "Refunded", "Shopper1", "Asker"):
            status, body = await api.call("POST", answer_url, who.tokens[name], json={"text": "x"})
            assert (status, body["error"]["code"]) == (403, "not_a_verified_buyer"), (name, body)
        env.clock.advance(1)  # answers are listed oldest first
        status, a2 = await api.call(
            "POST", answer_url, who.tokens["OptedOut"], json={"text": "True to size for me."}
        )
        assert status == 201, a2  # a verified buyer not asked may answer too
        status, body = await api.call(
            "POST",
            answer_url,
            who.tokens["B6" if b1 != "B6" else "B5"],
            json={"text": "see x.example.com"},
        )
        assert (status, body["error"]["code"]) == (422, "question_rejected"), body

        status, listed = await api.call("GET", f"{ask_url}?limit=2")
        assert (status, listed["count"], len(listed["questions"])) == (200, 7, 2), listed
        assert listed["next_offset"] == 2
        status, listed = await api.call("GET", f"{ask_url}?limit=50")
        shown = next(q for q in listed["questions"] if q["id"] == q1["id"])
        assert [a1["id"], a2["id"]] == [a["id"] for a in shown["answers"]]
        assert [None] == [listed["next_offset"]]
        mine = {q["id"]: q["answered"] for q in await asks_of(b1)}
        assert mine[q1["id"]] is True and list(mine.values()).count(True) == 1
        _, page = await api.call("GET", "/orders", who.tokens[b1])
        assert page.count('class="ask-answer') == b1_asks - 1  # answered: the form gave way
        assert 404 == (await api.call("GET", "/api/v1/products/prd_nope/buyer-questions"))[0]

        # on air: the seller features the answer; a viewer in the show sees it
        seller_t = await env.token(env.seller_user)
        host, _ = await join_show(env.base_url, env.show_id, seller_t)
        viewer, _ = await join_show(env.base_url, env.show_id, who.tokens["Shopper1"])
        try:
            refused = await viewer.call(
                "qa.feature_answer", {"show_id": env.show_id, "answer_id": a1["id"]}
            )
            assert refused["error"]["code"] == "forbidden", refused
            ack = await host.call(
                "qa.feature_answer", {"show_id": env.show_id, "answer_id": a1["id"]}
            )
            assert ack["ok"] is True, ack
            seen = await viewer.expect("buyer_answer.featured", within=10)
            assert ("Does it run small?", "Half a size small.") == (
                seen["question"]["text"], seen["answer"]["text"]
            )  # fmt: skip
            assert {"variant": "42", "bought_at_month": bought_month} == seen["badge"]
            missing = await host.call(
                "qa.feature_answer", {"show_id": env.show_id, "answer_id": "bqa_nope"}
            )
            assert missing["error"]["code"] == "not_found", missing
        finally:
            await host.close()
            await viewer.close()
