"""A group buy in the browser: the seller creates and starts it in the studio, a viewer opens the
share link (the page focuses the group offer without a pin), joins with the demo card (held, not
charged) and sees the count rise; when the seller ends the offer the close captures the member at
the tier reached and "My orders" shows it paid."""

from __future__ import annotations

from playwright.async_api import Browser

from tests.e2e.conftest import Demo, login, open_page


async def test_group_buy_share_link_join_and_close(small_demo: Demo, browser: Browser) -> None:
    """Studio creates and starts a group buy; the share link opens the viewer on it; joining holds
    the card; the close charges the reached tier's price; neither page logged an error."""
    demo = small_demo
    seller_ctx = await login(
        browser, demo.base_url, demo.data["seller_email"], demo.data["password"]
    )
    viewer_ctx = await login(
        browser, demo.base_url, demo.data["viewer_email"], demo.data["password"]
    )
    studio = await open_page(browser, f"{demo.base_url}/studio/{demo.show_id}", context=seller_ctx)
    spage = studio.page
    await spage.wait_for_selector("body[data-ready='1']", state="attached")
    await spage.click("#new-offer summary")
    await spage.locator("#offer-product option", has_text="Desk lamp").wait_for(state="attached")
    label = await spage.locator("#offer-product option", has_text="Desk lamp").text_content()
    await spage.select_option("#offer-product", label=label)
    await spage.select_option("#offer-kind", "group")
    await spage.fill("#offer-tiers", "1:40.00, 3:35.00")
    await spage.fill("#offer-minutes", "10")
    await spage.click("#offer-form button[type=submit]")
    row = spage.locator("#offer-list li", has_text="group")
    await row.wait_for(timeout=10000)
    offer_id = await row.get_attribute("data-offer-id")
    await row.locator("[data-action=start]").click()
    await row.locator("[data-action=end]").wait_for(timeout=10000)

    link = f"{demo.base_url}/shows/{demo.show_id}?offer={offer_id}&ref=usr_friend"
    viewer = await open_page(browser, link, context=viewer_ctx)
    vpage = viewer.page
    await vpage.wait_for_selector(f"#offer[data-offer-id='{offer_id}']", timeout=10000)
    await vpage.wait_for_selector("#group:not([hidden])", timeout=10000)
    assert "0" == await vpage.text_content("#group-buyers")
    assert "$40.00" == await vpage.text_content("#group-price")
    assert "Join the group" == await vpage.text_content("#buy")
    assert "usr_friend" == await vpage.evaluate("sessionStorage.getItem('lc_group_ref')")

    await vpage.click("#buy")
    await vpage.wait_for_selector("#buy-sheet[open]", timeout=10000)
    await vpage.click("#pay")
    await vpage.wait_for_selector("#checkout-status[data-state='paid']", timeout=15000)
    assert (await vpage.text_content("#checkout-status") or "").startswith("Joined")
    await vpage.click("#sheet-done")
    await vpage.wait_for_selector("#group[data-buyers='1']", timeout=10000)
    assert "2 more people and everyone pays $35.00." == await vpage.text_content("#group-next")
    await viewer.shot("viewer-group-buy")
    await vpage.click("#tab-orders")
    await vpage.wait_for_selector("#orders-list li[data-status='authorized']", timeout=5000)

    await row.locator("[data-action=end]").click()
    await row.locator("[data-action=end]", has_text="Confirm end").click()
    await vpage.wait_for_selector("#orders-list li[data-status='paid']", timeout=20000)
    for watched in (studio, viewer):
        assert [] == watched.page_errors
        assert [] == watched.console_errors
