"""Issue 17 on the pages: the product card shows a verified review's rating and a buyer
question with a verified buyer's answer, which the host puts on air; a banned viewer
reads why, appeals from the viewer page, the host lifts it from the console, and the viewer may
chat again."""

from __future__ import annotations

import aiohttp
from playwright.async_api import Browser

from tests.e2e.conftest import Demo, login, open_page
from tests.support.http import Api
from tests.support.hub_clients import join_show

ADDRESS = {"name": "Vi", "line1": "1 Main St", "city": "Springfield", "postal_code": "12345",
           "country": "US"}  # fmt: skip


async def test_rating_on_card_and_appeal_lifted(small_demo: Demo, browser: Browser) -> None:
    demo, data = small_demo, small_demo.data
    show, seller, viewer_t = demo.show_id, data["seller_token"], data["viewer_token"]
    async with aiohttp.ClientSession() as http:
        api = Api(http, demo.base_url)
        fixed = {"product_id": data["product_ids"][0], "kind": "fixed"}
        status, offer = await api.call("POST", f"/api/v1/shows/{show}/offers", seller, json=fixed)
        assert status == 201, offer
        base = f"/api/v1/shows/{show}/offers/{offer['id']}"
        assert (await api.call("POST", f"{base}/start", seller, json={}))[0] == 200
        status, out = await api.call("POST", f"/api/v1/shows/{show}/checkout", viewer_t, json={
            "offer_id": offer["id"], "variant_id": offer["variants"][0]["id"], "quantity": 1,
            "idempotency_key": "trust-e2e-0001", "shipping_address": ADDRESS,
        })  # fmt: skip
        assert status == 201, out
        async with http.post(out["payment"]["confirm_url"], json={"card": "4242424242424242"},
                             headers={"Authorization": f"Bearer {viewer_t}"}) as paid:  # fmt: skip
            assert paid.status == 200
        order = out["order"]["id"]
        assert (await api.call("POST", f"/api/v1/orders/{order}/fulfil", seller, json={}))[0] == 200
        status, review = await api.call("POST", f"/api/v1/orders/{order}/review", viewer_t,
                                        json={"rating": 5, "text": "Lovely."})  # fmt: skip
        assert status == 201, review
        asks = f"/api/v1/products/{data['product_ids'][0]}/buyer-questions"
        status, asked = await api.call("POST", asks, data["host_token"],
                                       json={"text": "Does it run small?"})  # fmt: skip
        assert status == 201, asked
        status, answer = await api.call("POST", f"{asks}/{asked['id']}/answers", viewer_t,
                                        json={"text": "Half a size small."})  # fmt: skip
        assert status == 201, answer
        assert (await api.call("POST", f"{base}/pin", seller, json={}))[0] == 200
        status, me = await api.call("GET", "/api/v1/me", viewer_t)

    viewer_ctx = await login(browser, demo.base_url, data["viewer_email"], data["password"])
    viewer = await open_page(browser, f"{demo.base_url}/shows/{show}", context=viewer_ctx)
    vpage = viewer.page
    await vpage.wait_for_function(
        "() => /★ 5\\.0 · 1 verified review/.test(document.getElementById('offer-rating-text')"
        ".textContent)",
        timeout=15000,
    )

    await vpage.wait_for_function(  # the card's buyer questions, with the purchase badge
        "() => document.getElementById('offer-questions-text').textContent === "
        "'1 question for buyers' && /Half a size small\\.[^]*verified buyer, bought /"
        ".test(document.getElementById('offer-questions-list').textContent)",
        timeout=15000,
    )
    host = (await join_show(demo.base_url, show, data["host_token"]))[0]
    try:
        ack = await host.call("qa.feature_answer", {"show_id": show, "answer_id": answer["id"]})
        assert ack["ok"] is True, ack
        await vpage.wait_for_function(  # on air: the viewer page shows the featured answer
            "() => document.getElementById('featured-answer').textContent === "
            "'Half a size small.' && !document.getElementById('buyer-answer-featured').hidden",
            timeout=15000,
        )
        ack = await host.call("mod.ban", {"show_id": show, "user_id": me["id"],
                                          "reason": "off-topic"})  # fmt: skip
        assert ack["ok"] is True, ack
    finally:
        await host.close()
    await vpage.wait_for_function(
        "() => /off-topic/.test(document.getElementById('chat-notice').textContent)",
        timeout=10000,
    )
    await vpage.wait_for_selector("#appeal-form:not([hidden])", timeout=10000)
    await vpage.fill("#appeal-text", "I was asking about sizes.")
    await vpage.click("#appeal-form button[type=submit]")
    await vpage.wait_for_function(
        "() => /with the hosts/.test(document.getElementById('appeal-status').textContent)",
        timeout=10000,
    )

    host_ctx = await login(browser, demo.base_url, data["host_email"], data["password"])
    console = await open_page(browser, f"{demo.base_url}/console/{show}", context=host_ctx)
    item = console.page.locator("#appeal-list li", has_text="I was asking about sizes.")
    await item.locator("[data-action=lift-appeal]").click()
    await vpage.wait_for_function(
        "() => /lifted/.test(document.getElementById('appeal-status').textContent)",
        timeout=10000,
    )
    await vpage.reload()
    await vpage.wait_for_selector("#chat-form:not([hidden])", timeout=10000)
    assert [] == viewer.page_errors and [] == console.page_errors
    await viewer_ctx.close()
    await host_ctx.close()
