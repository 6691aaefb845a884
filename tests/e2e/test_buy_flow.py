"""The money path in the browser: pin, flash sale, demo card, "paid" in place, studio feed,
unpin and end."""

from __future__ import annotations

from playwright.async_api import Browser

from tests.e2e.conftest import Demo, login, open_page


async def test_pin_flash_sale_and_demo_buy_end_to_end(demo: Demo, browser: Browser) -> None:
    """The seller pins and starts a flash sale; a viewer pays with the demo card and sees "paid";
    the order shows up in the studio's feed with the running total; the seller unpins and ends
    the sale and the viewer's card goes away."""
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

    # The seller creates the flash sale in the studio's form.
    await spage.click("#new-offer summary")
    await spage.locator("#offer-product option", has_text="Studio mug").wait_for(state="attached")
    await spage.select_option("#offer-product", label="Studio mug · $18.00")
    await spage.select_option("#offer-kind", "flash")
    await spage.fill("#offer-price", "12.00")
    await spage.fill("#offer-stock", "3")
    await spage.fill("#offer-limit", "2")
    await spage.fill("#offer-minutes", "10")
    await spage.click("#offer-form button[type=submit]")
    row = spage.locator("#offer-list li", has_text="Studio mug")
    await row.wait_for(timeout=10000)
    offer_id = await row.get_attribute("data-offer-id")
    await row.locator("[data-action=pin]").click()
    await vpage.wait_for_selector(f"#offer[data-offer-id='{offer_id}']", timeout=10000)
    assert "Studio mug" == await vpage.text_content("#offer-name")
    await row.locator("[data-action=start]").click()
    await vpage.wait_for_function(
        "() => /ends in \\d+:\\d\\d/.test(document.getElementById('offer-countdown').textContent)"
        " && !document.getElementById('buy').disabled",
        timeout=10000,
    )
    await row.locator(".countdown", has_text="ends in").wait_for(timeout=5000)
    price = await vpage.text_content("#offer-price")
    assert price is not None and "12.00" in price
    assert "3 left" == await vpage.text_content("#offer-stock")
    await viewer.shot("viewer-offer", readme=True)

    await vpage.click("#buy")
    await vpage.wait_for_selector("#buy-sheet[open]", timeout=10000)
    await vpage.select_option("#variant", label="Slate")
    await vpage.click("#pay")
    await vpage.wait_for_selector("#checkout-status[data-state='paid']", timeout=15000)
    status = await vpage.text_content("#checkout-status")
    assert status is not None and status.startswith("Paid")
    await vpage.click("#sheet-done")
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

    # The seller takes the sale off screen (the viewer's card goes with it), then ends it (two
    # presses: it cannot be undone).
    await row.locator("[data-action=unpin]").click()
    await row.locator("[data-action=unpin]").wait_for(state="hidden", timeout=5000)
    await vpage.wait_for_selector("#offer", state="hidden", timeout=10000)
    await row.locator("[data-action=end]").click()
    await row.locator("[data-action=end][data-armed]").click()
    await row.locator(".badge.status", has_text="ended").wait_for(timeout=5000)
    for watched in (studio, viewer, dashboard):
        assert [] == watched.page_errors
        assert [] == watched.dialogs
    await seller_ctx.close()
    await viewer_ctx.close()
