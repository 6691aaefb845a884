"""The money path in the browser: pin, flash sale, demo card, "paid" in place, studio feed."""

from __future__ import annotations

import time

import aiohttp
from playwright.async_api import Browser

from tests.e2e.conftest import Demo, login, open_page


async def create_flash_offer(demo: Demo, product_id: str) -> str:
    """A flash sale of a demo product, ending in ten minutes (draft until started)."""
    ends = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 600))
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{demo.base_url}/api/v1/shows/{demo.show_id}/offers",
            json={
                "product_id": product_id,
                "kind": "flash",
                "price": 1200,
                "stock": 3,
                "per_buyer_limit": 2,
                "ends_at": ends,
            },
            headers={"Authorization": f"Bearer {demo.data['seller_token']}"},
        ) as resp,
    ):
        assert 201 == resp.status, await resp.text()
        return str((await resp.json())["id"])


async def test_pin_flash_sale_and_demo_buy_end_to_end(demo: Demo, browser: Browser) -> None:
    """The seller pins and starts a flash sale; a viewer pays with the demo card and sees "paid";
    the order shows up in the studio's feed with the running total."""
    offer_id = await create_flash_offer(demo, demo.data["product_ids"][0])
    seller_ctx = await login(
        browser, demo.base_url, demo.data["seller_email"], demo.data["password"]
    )
    viewer_ctx = await login(
        browser, demo.base_url, demo.data["viewer_email"], demo.data["password"]
    )
    studio = await open_page(browser, f"{demo.base_url}/studio/{demo.show_id}", context=seller_ctx)
    viewer = await open_page(browser, f"{demo.base_url}/shows/{demo.show_id}", context=viewer_ctx)
    spage, vpage = studio.page, viewer.page
    for watched in (studio, viewer):
        await watched.page.wait_for_selector("body[data-ready='1']", state="attached")

    row = spage.locator(f"#offer-{offer_id}")
    await row.wait_for(timeout=10000)
    await row.locator("[data-action=pin]").click()
    await vpage.wait_for_selector(f"#offer[data-offer-id='{offer_id}']", timeout=10000)
    assert "Studio mug" == await vpage.text_content("#offer-name")
    await row.locator("[data-action=start]").click()
    await vpage.wait_for_function(
        "() => /ends in \\d+:\\d\\d/.test(document.getElementById('offer-countdown').textContent)"
        " && !document.getElementById('buy').disabled",
        timeout=10000,
    )
    price = await vpage.text_content("#offer-price")
    assert price is not None and "12.00" in price
    assert "3 left" == await vpage.text_content("#offer-stock")
    await viewer.shot("viewer-offer", readme=True)

    await vpage.select_option("#variant", label="Slate")
    await vpage.click("#buy")
    await vpage.wait_for_selector("#pay-form:not([hidden])", timeout=10000)
    await vpage.click("#pay")
    await vpage.wait_for_selector("#checkout-status[data-state='paid']", timeout=15000)
    status = await vpage.text_content("#checkout-status")
    assert status is not None and status.startswith("Paid")
    await vpage.wait_for_function(
        "() => document.getElementById('offer-stock').textContent === '2 left'", timeout=10000
    )
    await viewer.shot("viewer-paid")

    await spage.wait_for_selector("#order-feed li[data-status='paid']", timeout=10000)
    total = await spage.text_content("#orders-total")
    assert total is not None and total.startswith("1 paid")
    await studio.shot("studio-orders", readme=True)
    await vpage.click("#tab-orders")
    await vpage.wait_for_selector("#orders-list li[data-status='paid']", timeout=5000)
    dashboard = await open_page(
        browser, f"{demo.base_url}/dashboard?show={demo.show_id}", context=seller_ctx
    )
    assert "1" == await dashboard.page.text_content("dt:text('Paid orders') + dd")
    await dashboard.shot("dashboard-figures", readme=True)
    for watched in (studio, viewer, dashboard):
        assert [] == watched.page_errors
        assert [] == watched.dialogs
    await seller_ctx.close()
    await viewer_ctx.close()
