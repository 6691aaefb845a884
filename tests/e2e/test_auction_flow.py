"""An auction in the browser: the seller creates, pins and starts it in the studio; the viewer's
card shows the clock and a "Bid $X" button, a bid and a max bid lead, and at the close the viewer
reads that they won and pays from the card while the studio names the winner."""

from __future__ import annotations

from playwright.async_api import Browser

from tests.e2e.conftest import Demo, login, open_page


async def test_auction_in_studio_and_viewer_page(small_demo: Demo, browser: Browser) -> None:
    """Create → pin → start in the studio; bid and set a max on the viewer page; the close
    announces the winner on both pages, the winner pays with the demo card from the card, and
    neither page logged an error."""
    demo = small_demo
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

    await spage.click("#new-offer summary")
    await spage.locator("#offer-product option", has_text="Desk lamp").wait_for(state="attached")
    label = await spage.locator("#offer-product option", has_text="Desk lamp").text_content()
    await spage.select_option("#offer-product", label=label)
    await spage.select_option("#offer-kind", "auction")
    await spage.fill("#offer-price", "5.00")
    await spage.fill("#offer-seconds", "6")
    await spage.click("#offer-form button[type=submit]")
    row = spage.locator("#offer-list li", has_text="auction")
    await row.wait_for(timeout=10000)
    offer_id = await row.get_attribute("data-offer-id")
    await row.locator("[data-action=pin]").click()
    await vpage.wait_for_selector(f"#offer[data-offer-id='{offer_id}']", timeout=10000)
    await row.locator("[data-action=start]").click()

    bid = vpage.locator("#bid")
    await vpage.wait_for_function(
        "() => !document.getElementById('bid').disabled"
        " && /ends in/.test(document.getElementById('offer-countdown').textContent)",
        timeout=10000,
    )
    assert "Bid $5.00" == await bid.text_content()
    assert await vpage.is_hidden("#buy")
    await bid.click()
    await vpage.wait_for_function(
        "() => document.getElementById('auction-status').textContent.startsWith('You lead')",
        timeout=10000,
    )
    assert "$5.00" == await vpage.text_content("#auction-high")
    await vpage.fill("#max-bid", "9.00")
    await vpage.click("#max-form button[type=submit]")
    await vpage.wait_for_function(
        "() => document.getElementById('auction-high').textContent === '$5.50'", timeout=10000
    )
    await viewer.shot("viewer-auction")

    await vpage.wait_for_function(
        "() => document.getElementById('auction-status').textContent"
        ".startsWith('You won at $5.50')",
        timeout=20000,
    )
    assert "Bidding closed" == await bid.text_content()
    # the winner pays from the card: the sheet opens on the won order, the demo card pays it
    await vpage.click("#pay-won")
    await vpage.wait_for_selector("#buy-sheet[open]", timeout=10000)
    assert "Pay $5.50" == await vpage.text_content("#pay")
    await vpage.click("#pay")
    await vpage.wait_for_selector("#checkout-status[data-state='paid']", timeout=15000)
    assert (await vpage.text_content("#checkout-status") or "").startswith("Paid")
    await vpage.click("#sheet-done")
    assert await vpage.is_hidden("#pay-won")
    await spage.wait_for_function(
        "() => document.getElementById('offer-status').textContent.startsWith('Auction won by')",
        timeout=10000,
    )
    for watched in (studio, viewer):
        assert ([], []) == (watched.console_errors, watched.page_errors)
