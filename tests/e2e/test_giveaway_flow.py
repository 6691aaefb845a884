"""A giveaway in the browser: the seller starts it in the studio; the viewer's card shows the
prize, the commitment and an Enter button, the entry counts, and after the close the studio's
Draw names the viewer on both pages with a Verify link to a record that verifies."""

from __future__ import annotations

import json

from playwright.async_api import Browser

from livecommerce.domain.giveaways import verify_draw
from tests.e2e.conftest import Demo, login, open_page


async def test_giveaway_in_studio_and_viewer_page(small_demo: Demo, browser: Browser) -> None:
    """Start → enter → close → draw: the lone entrant wins, sees it, and the record behind the
    Verify link verifies; neither page logged an error."""
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

    await spage.click("#new-giveaway summary")
    lamp = spage.locator("#giveaway-product option", has_text="Desk lamp")
    await lamp.wait_for(state="attached")
    await spage.select_option("#giveaway-product", label=await lamp.text_content())
    await spage.fill("#giveaway-seconds", "5")
    await spage.click("#giveaway-form button[type=submit]")

    await vpage.wait_for_selector("#giveaway[data-status='open']", timeout=10000)
    commitment = await vpage.text_content("#giveaway-commitment")
    assert 64 == len(commitment or "")
    await vpage.click("#giveaway-enter")
    await vpage.wait_for_function(
        "() => document.getElementById('giveaway-status').textContent.startsWith(\"You're in\")",
        timeout=10000,
    )
    await spage.wait_for_function(
        "() => document.getElementById('giveaway-entries').textContent === '1'", timeout=10000
    )
    await spage.wait_for_selector("#giveaway[data-status='closed']", timeout=20000)
    await spage.click("#giveaway-draw")
    await vpage.wait_for_selector("#giveaway[data-status='drawn']", timeout=10000)
    winners = await vpage.locator("#giveaway-winners li").all_text_contents()
    assert ["Demo Viewer"] == winners
    href = await vpage.get_attribute("#giveaway-record", "href")
    answer = await vpage.request.get(f"{demo.base_url}{href}")
    record = json.loads(await answer.text())
    assert (commitment, True) == (record["commitment"], verify_draw(record).ok)
    for watched in (studio, viewer):
        assert ([], []) == (watched.console_errors, watched.page_errors)
