"""A new seller's whole day in the browser: sign up, build the catalog with a photo, schedule a
show in local time, go live, run a flash sale, see the order with its address, ship it."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
from playwright.async_api import Browser, FilePayload, Page

from tests.conftest import SettingsFactory
from tests.e2e.conftest import Watched, open_page
from tests.e2e.test_accessibility import violations
from tests.support import images
from tests.support.app import running_app

pytestmark = pytest.mark.timeout(120)
ADDRESS = {
    "name": "Ana Lima",
    "line1": "Rua Augusta 27",
    "city": "Lisboa",
    "postal_code": "1100-048",
    "country": "PT",
}
TRACKING = "JD014600003SE"


async def _call(
    base: str, method: str, path: str, token: str | None = None, body: Any = None
) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    url = path if path.startswith("http") else base + path  # confirm URLs are absolute
    async with (
        aiohttp.ClientSession() as http,
        http.request(method, url, json=body, headers=headers) as resp,
    ):
        data = await resp.json()
        assert resp.status < 300, (method, path, resp.status, data)
        return data


async def _sign_up_seller(page: Page, base: str) -> None:
    await page.goto(f"{base}/dashboard/products")  # → login, then back here
    form = page.locator("form:has(input[name=mode][value=signup])")
    await form.locator("input[name=name]").fill("Marta")
    await form.locator("input[name=email]").fill("marta@shop.test")
    await form.locator("input[name=password]").fill("woollen-market-stall")
    await form.locator("input[name=role][value=seller]").check()
    await form.locator("button[type=submit]").click()
    await page.wait_for_url(f"{base}/dashboard/products")
    await page.wait_for_selector("body[data-ready='1']", state="attached")


async def _create_product(watched: Watched) -> None:
    page = watched.page
    await page.click("#new-product")
    await page.fill("#p-name", "Merino sweater")
    await page.fill("#p-description", "Soft and warm")
    await page.fill("#p-price", "59.90")
    await page.fill("#p-option", "Colour")
    first = page.locator("#variant-rows tr").nth(0)
    await first.locator(".v-label").fill("Slate")
    await first.locator(".v-sku").fill("SW-SLATE")
    await first.locator(".v-stock").fill("5")
    await page.click("#add-variant")
    second = page.locator("#variant-rows tr").nth(1)
    await second.locator(".v-label").fill("Rose")
    await second.locator(".v-sku").fill("SW-ROSE")
    await second.locator(".v-price").fill("64.50")
    await second.locator(".v-stock").fill("3")
    photo = FilePayload(name="sweater.png", mimeType="image/png", buffer=images.png(1200, 900))
    await page.set_input_files("#p-photo", files=[photo])
    await page.click("#editor-save")
    row = page.locator("#product-rows tr", has_text="Merino sweater")
    await row.wait_for(timeout=15000)
    await page.wait_for_selector("#editor:not([open])", state="attached")
    assert "$59.90" == await row.locator("td").nth(2).text_content()
    assert "SW-ROSE" in (await row.text_content() or "")
    await watched.shot("dashboard-products", readme=True)


async def test_seller_signs_up_sells_and_ships(
    settings_factory: SettingsFactory, browser: Browser
) -> None:
    """A seller signs up, creates a product with two variants and a photo from the page,
    schedules a show in New York time, goes live, starts a flash sale, sees a buyer's order with
    its address in the studio, ships it with a tracking number; the buyer's order carries it."""
    async with running_app(settings_factory()) as running:
        base = running.base_url
        context = await browser.new_context(
            viewport={"width": 1280, "height": 900}, timezone_id="America/New_York"
        )
        watched = await open_page(browser, f"{base}/", context=context)
        page = watched.page
        await _sign_up_seller(page, base)
        await _create_product(watched)

        products = await _call(base, "GET", "/api/v1/products")
        sweater = next(p for p in products["products"] if p["name"] == "Merino sweater")
        assert [("Slate", "SW-SLATE", 5, 5990), ("Rose", "SW-ROSE", 3, 6450)] == [
            (v["label"], v["sku"], v["stock"], v["price"]["amount"]) for v in sweater["variants"]
        ]
        assert [160, 480, 1080] == [i["width"] for i in sweater["images"]]
        async with aiohttp.ClientSession() as http, http.get(base + sweater["image_url"]) as resp:
            stored = await resp.read()
        assert 480 == images.decode(stored).width

        # Scheduling: 19:00 on the seller's clock in New York is midnight UTC in January.
        await page.click(".subnav a:text('Shows')")
        await page.wait_for_selector("body[data-ready='1']", state="attached")
        assert "America/New_York" in (await page.text_content("#tz-hint") or "")
        await page.fill("input[name=title]", "Winter knits")
        await page.fill("#scheduled-local", "2030-01-15T19:00")
        await page.click("#create-show button[type=submit]")
        await page.wait_for_url(f"{base}/studio/**")
        show_id = page.url.rsplit("/", 1)[1]
        show = await _call(base, "GET", f"/api/v1/shows/{show_id}")
        assert "2030-01-16T00:00:00Z" == show["scheduled_at"].replace("+00:00", "Z")
        shows_page = await open_page(browser, f"{base}/dashboard?show={show_id}", context=context)
        await shows_page.page.wait_for_selector("body[data-ready='1']", state="attached")
        when = await shows_page.page.text_content("tr:has-text('Winter knits') time")
        assert when is not None and "Jan 15" in when, when
        assert "07:00 PM" in when or "19:00" in when, when
        countdown = await shows_page.page.text_content("[data-countdown]")
        assert countdown is not None and countdown.startswith("in "), countdown
        await shows_page.page.close()

        # Live from the fake camera, then a flash sale from the studio's form.
        await page.wait_for_selector("body[data-ready='1']", state="attached", timeout=15000)
        await page.click("#go-live")
        await page.wait_for_selector("body[data-publish='live']", state="attached", timeout=20000)
        await page.click("#new-offer summary")
        await page.locator("#offer-product option", has_text="Merino sweater").wait_for(
            state="attached"
        )
        await page.select_option("#offer-product", label="Merino sweater · $59.90")
        await page.select_option("#offer-kind", "flash")
        await page.fill("#offer-stock", "4")
        await page.fill("#offer-minutes", "10")
        await page.click("#offer-form button[type=submit]")
        offer_row = page.locator("#offer-list li", has_text="Merino sweater")
        await offer_row.wait_for(timeout=10000)
        offer_id = await offer_row.get_attribute("data-offer-id")
        await offer_row.locator("[data-action=pin]").click()
        await offer_row.locator("[data-action=start]").click()
        await offer_row.locator(".countdown", has_text="ends in").wait_for(timeout=10000)

        # A buyer (over the API: the viewer page is someone else's) pays with the demo card.
        buyer = await _call(
            base,
            "POST",
            "/api/v1/auth/signup",
            body={"name": "Ana", "email": "ana@buyer.test", "password": "lisbon-1100"},
        )
        token = buyer["token"]
        checkout = await _call(
            base,
            "POST",
            f"/api/v1/shows/{show_id}/checkout",
            token,
            {
                "offer_id": offer_id,
                "variant_id": sweater["variants"][0]["id"],
                "quantity": 1,
                "idempotency_key": "sweater-order-0001",
                "shipping_address": ADDRESS,
            },
        )
        await _call(
            base, "POST", checkout["payment"]["confirm_url"], token, {"card": "4242424242424242"}
        )

        slate = f"/api/v1/products/{sweater['id']}"
        assert 4 == (await _call(base, "GET", slate))["variants"][0]["stock"]  # 5 less 1 sold
        fed = page.locator("#order-feed li[data-status='paid']")
        await fed.wait_for(timeout=10000)
        text = await fed.text_content() or ""
        for expected in ("Ana", "Merino sweater · Slate × 1", "Ship to Ana Lima, Rua Augusta 27"):
            assert expected in text, text
        await watched.shot("studio-order-feed", readme=True)

        # The seller ships it from the orders page.
        orders = await open_page(browser, f"{base}/dashboard/orders", context=context)
        opage = orders.page
        await opage.wait_for_selector("body[data-ready='1']", state="attached")
        row = opage.locator(f"#order-{checkout['order']['id']}")
        assert "Rua Augusta 27" in (await row.locator("td.address").text_content() or "")
        await row.locator("[data-action=fulfil]").click()
        assert [] == await violations(opage)  # the page with its dialog open
        await opage.fill("#fulfil-carrier", "CTT")
        await opage.fill("#fulfil-tracking", TRACKING)
        await opage.click("#fulfil-save")
        await opage.locator(f"#order-{checkout['order']['id']}[data-status='fulfilled']").wait_for()
        assert TRACKING in (await row.locator(".tracking").text_content() or "")
        await orders.shot("dashboard-orders", readme=True)

        mine = await _call(base, "GET", "/api/v1/orders", token)
        assert [("fulfilled", "CTT", TRACKING)] == [
            (o["status"], o["fulfilment"]["carrier"], o["fulfilment"]["tracking_number"])
            for o in mine["orders"]
        ]

        # A partial refund typed in currency units, then the rest with the units put back.
        await row.locator("[data-action=refund]").click()
        await opage.fill("#refund-amount", "10")
        await opage.click("#refund-save")
        await opage.locator(
            f"#order-{checkout['order']['id']}[data-status='partially_refunded']"
        ).wait_for()
        await row.locator("[data-action=refund]").click()
        await opage.check("#refund-restock")
        await opage.click("#refund-save")
        await opage.locator(f"#order-{checkout['order']['id']}[data-status='refunded']").wait_for()
        refunded = await _call(base, "GET", f"/api/v1/orders/{checkout['order']['id']}", token)
        assert 5990 == refunded["refunded"]["amount"]
        assert 5 == (await _call(base, "GET", slate))["variants"][0]["stock"]  # put back
        for each in (watched, orders):
            assert [] == each.page_errors
        await page.click("#pause")
        await context.close()
