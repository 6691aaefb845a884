"""RB-25 browser_e2e_watch_chat_buy_moderate: in headless Chromium a viewer watches the show
over HLS and chats, a host deletes a line, the seller pins a fresh offer and starts the sale in
the studio, the viewer buys with the demo card and the order shows up on both sides within
2 s of the payment's confirmation, then the host times the viewer out and bans them: the
viewer's input goes away and their lines disappear from every page.

The demo payment flow is the one the page uses offline (Stripe.js cannot load here); its
confirmation call plays the part of Stripe's webhook. HSTS is sent only for an HTTPS site
(``test_security_headers.py``); these pages are plain HTTP, so its absence is asserted.
"""

from __future__ import annotations

import time

import aiohttp
import pytest
from playwright.async_api import Browser, Response, Route

from tests.e2e.conftest import Demo, login, open_page
from tests.support.http import Api

pytestmark = pytest.mark.timeout(150)
#: The order must be on screen this soon after the payment is confirmed.
ORDER_SHOWN_WITHIN = 2.0
HEADERS = {
    "content-security-policy": "object-src 'none'",
    "x-content-type-options": "nosniff",
    "referrer-policy": "strict-origin-when-cross-origin",
    "x-frame-options": "DENY",
}


async def refuse_whep(route: Route) -> None:
    """WHEP answers "node full", so the viewer page plays the show over HLS."""
    await route.fulfill(
        status=503,
        headers={"Retry-After": "30", "Content-Type": "application/json"},
        body='{"error": {"code": "store_unavailable", "message": "node full"}}',
    )


async def test_watch_chat_buy_and_get_banned(small_demo: Demo, browser: Browser) -> None:
    """The whole RB-25 flow across the viewer page, a second viewer, the studio and the
    console."""
    demo = small_demo
    async with aiohttp.ClientSession() as http:
        status, offer = await Api(http, demo.base_url).call(
            "POST",
            f"/api/v1/shows/{demo.show_id}/offers",
            demo.data["seller_token"],
            json={"product_id": demo.data["product_ids"][0], "kind": "fixed", "cap": 3},
        )
        assert 201 == status, offer
    documents: list[Response] = []
    viewer_ctx = await login(
        browser, demo.base_url, demo.data["viewer_email"], demo.data["password"]
    )
    await viewer_ctx.route("**/whep/**", refuse_whep)
    host_ctx = await login(browser, demo.base_url, demo.data["host_email"], demo.data["password"])
    seller_ctx = await login(
        browser, demo.base_url, demo.data["seller_email"], demo.data["password"]
    )
    other_ctx = await browser.new_context()
    for context in (viewer_ctx, host_ctx, seller_ctx, other_ctx):
        context.on(
            "response",
            lambda r: documents.append(r) if r.request.resource_type == "document" else None,
        )
    show_url = f"{demo.base_url}/shows/{demo.show_id}"
    viewer = await open_page(browser, show_url, context=viewer_ctx)
    other = await open_page(browser, show_url, context=other_ctx)
    console = await open_page(browser, f"{demo.base_url}/console/{demo.show_id}", context=host_ctx)
    studio = await open_page(browser, f"{demo.base_url}/studio/{demo.show_id}", context=seller_ctx)
    pages = (viewer, other, console, studio)
    for watched in pages:
        await watched.page.wait_for_selector("body[data-ready='1']", state="attached")
    vpage, opage, cpage, spage = viewer.page, other.page, console.page, studio.page

    # 1-2. The viewer chats; a host deletes the line and it vanishes everywhere.
    await vpage.wait_for_selector("#chat-form:not([hidden])", timeout=10000)
    await vpage.fill("#chat-input", "Is the mug dishwasher safe?")
    await vpage.press("#chat-input", "Enter")
    line = vpage.locator("#chat-list li", has_text="Is the mug dishwasher safe?")
    await line.wait_for(timeout=10000)
    message_id = await line.get_attribute("data-id")
    viewer_id = await line.get_attribute("data-user-id")
    assert message_id and viewer_id
    host_line = cpage.locator(f"#msg-{message_id}")
    await host_line.wait_for(timeout=10000)
    await console.shot("console-with-chat", readme=True)
    await host_line.locator("[data-action=delete]").click()
    for page in (vpage, cpage, opage):
        await page.wait_for_selector(f"#msg-{message_id}", state="detached", timeout=10000)

    # 3. The seller pins the new offer and starts the sale in the studio.
    row = spage.locator(f"#offer-list li[data-offer-id='{offer['id']}']")
    await row.locator("[data-action=pin]").click()
    await vpage.wait_for_selector(f"#offer[data-offer-id='{offer['id']}']", timeout=10000)
    await row.locator("[data-action=start]").click()
    await vpage.wait_for_function("() => !document.getElementById('buy').disabled", timeout=10000)

    # 4-5. The viewer buys with the demo card; the order is on screen within 2 s of the
    # payment's confirmation, for the buyer and in the studio's order feed.
    confirmed: list[float] = []
    vpage.on(
        "response",
        lambda r: (
            confirmed.append(time.monotonic())
            if "/payments/demo/" in r.url and r.request.method == "POST"
            else None
        ),
    )
    await vpage.click("#buy")
    await vpage.wait_for_selector("#buy-sheet[open]", timeout=10000)
    if await vpage.is_visible("#variant"):
        await vpage.select_option("#variant", index=0)
    await vpage.click("#pay")
    await vpage.wait_for_selector("#checkout-status[data-state='paid']", timeout=15000)
    buyer_saw = time.monotonic()
    await spage.wait_for_selector("#order-feed li[data-status='paid']", timeout=10000)
    seller_saw = time.monotonic()
    assert 1 == len(confirmed)
    assert buyer_saw - confirmed[0] <= ORDER_SHOWN_WITHIN
    assert seller_saw - confirmed[0] <= ORDER_SHOWN_WITHIN
    await vpage.click("#sheet-done")
    await vpage.click("#tab-orders")
    await vpage.wait_for_selector("#orders-list li[data-status='paid']", timeout=5000)
    await vpage.click("#tab-chat")

    # 1. Meanwhile the player has been playing the show over HLS.
    await vpage.wait_for_function(
        "() => { const v = document.getElementById('player');"
        " return document.body.dataset.transport === 'hls' && v.readyState >= 2"
        " && v.currentTime > 0.3; }",
        timeout=40000,
    )

    # 6. A timeout is announced to the viewer in place; a ban (two presses: the button arms
    # first) takes the input away and hides the viewer's lines for everyone, also after a
    # reload.
    await vpage.fill("#chat-input", "one more")
    await vpage.press("#chat-input", "Enter")
    second = cpage.locator("#chat-list li", has_text="one more")
    await second.wait_for(timeout=10000)
    await opage.locator("#chat-list li", has_text="one more").wait_for(timeout=10000)
    await second.locator("[data-action=timeout]").click()
    await vpage.wait_for_function(
        "() => /timed you out/.test(document.getElementById('chat-notice').textContent)",
        timeout=10000,
    )
    await viewer.shot("viewer-timed-out")
    ban = second.locator("[data-action=ban]")
    await ban.click()
    await ban.click()
    await vpage.wait_for_function(
        "() => /banned you/.test(document.getElementById('chat-notice').textContent)",
        timeout=10000,
    )
    assert await vpage.is_hidden("#chat-form")
    theirs = f"#chat-list li[data-user-id='{viewer_id}']"
    for page in (vpage, opage, cpage):
        await page.wait_for_selector(theirs, state="detached", timeout=10000)
    await vpage.reload()
    await vpage.wait_for_function(
        "() => /banned you/.test(document.getElementById('chat-notice').textContent)",
        timeout=10000,
    )
    assert await vpage.is_hidden("#chat-form")
    await opage.reload()
    await opage.wait_for_selector("body[data-ready='1']", state="attached")
    assert 0 == await opage.locator(theirs).count()
    await cpage.wait_for_function(
        "() => document.querySelectorAll('#audit-list li').length >= 3", timeout=10000
    )

    for watched in pages:
        assert [] == watched.page_errors
        assert [] == watched.dialogs
    assert 6 <= len(documents)  # four pages, two reloads (logins came before the listener)
    for response in documents:
        headers = await response.all_headers()
        for name, expected in HEADERS.items():
            assert expected in headers.get(name, ""), (response.url, name)
        assert "strict-transport-security" not in headers
    for context in (viewer_ctx, host_ctx, seller_ctx, other_ctx):
        await context.close()
