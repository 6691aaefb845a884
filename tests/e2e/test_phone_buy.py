"""Buying on a phone: a guest with a name and an e-mail, the shipping address asked once, a
declined card and Try again; a signed-in viewer with a saved address in two taps. The page is never
wider than the screen and the Chat / Q&A / My orders tabs stay tappable at every step."""

from __future__ import annotations

import aiohttp
import pytest
from playwright.async_api import Browser, Page

from tests.e2e.conftest import Demo, open_page

DECLINED = "4000 0000 0000 0002"
PAYS = "4242 4242 4242 4242"
TABS = ("tab-chat", "tab-qa", "tab-orders")

# Whether the middle of an element is on screen and the element (not something over it) gets a
# tap there.
_TAPPABLE = """(id) => {
  const node = document.getElementById(id);
  const r = node.getBoundingClientRect();
  const x = r.left + r.width / 2, y = r.top + r.height / 2;
  if (!r.width || x < 0 || y < 0 || x > innerWidth || y > innerHeight) return false;
  const hit = document.elementFromPoint(x, y);
  return hit === node || node.contains(hit);
}"""


async def assert_fits(page: Page, step: str, tabs: bool = True) -> None:
    """The page is no wider than the viewport, and (outside the buy sheet) the tabs are free."""
    width, viewport = await page.evaluate(
        "() => [document.documentElement.scrollWidth, innerWidth]"
    )
    assert width <= viewport, f"{step}: page {width} px wide on a {viewport} px screen"
    if tabs:
        for tab in TABS:
            assert await page.evaluate(_TAPPABLE, tab), f"{step}: #{tab} is covered"


@pytest.mark.parametrize("width", [390, 360])
async def test_guest_buys_on_a_phone_after_a_decline(
    small_demo: Demo, browser: Browser, width: int
) -> None:
    """A guest on a phone buys with name + e-mail + address + 4242…: the page never grows wider
    than the screen, the tabs stay tappable, a decline then Try again with 4242 pays, Buy works
    again afterwards and My orders shows the product, the order id, "paid" and, once the seller
    ships it, the tracking number."""
    context = await browser.new_context(viewport={"width": width, "height": 844}, locale="de-DE")
    viewer = await open_page(
        browser, f"{small_demo.base_url}/shows/{small_demo.show_id}", context=context
    )
    page = viewer.page
    await page.wait_for_selector("body[data-ready='1']", state="attached", timeout=15000)
    await page.wait_for_selector("#offer:not([hidden]) #buy:not([disabled])", timeout=15000)
    name = await page.text_content("#offer-name")
    await assert_fits(page, "loaded")
    fit = await page.evaluate("() => getComputedStyle(document.getElementById('player')).objectFit")
    assert "cover" == fit
    await page.wait_for_selector("#tray:not([hidden]) .tray-item", timeout=10000)
    assert 2 <= await page.locator("#tray-list .tray-item").count()

    await page.click("#buy")  # tap 1
    await page.wait_for_selector("#buy-sheet[open]")
    await assert_fits(page, "sheet open", tabs=False)
    await page.fill("#buyer-name", "Gus Guest")
    await page.fill("#buyer-email", "gus@example.com")
    assert "Gus Guest" == await page.input_value("#ship-name")
    await page.fill("#ship-line1", "Hauptstraße 5")
    await page.fill("#ship-city", "Berlin")
    await page.fill("#ship-postal", "10115")
    assert "DE" == await page.input_value("#ship-country")  # from the browser's locale
    await page.fill("#card", DECLINED)
    await page.click("#pay")
    await page.wait_for_selector("#checkout-status[data-state='error']", timeout=15000)
    status = await page.text_content("#checkout-status")
    assert status is not None and "declined" in status, status
    assert (await page.text_content("#pay") or "").startswith("Try again")
    # The address was saved: it is shown, not asked again.
    await page.wait_for_selector("#address-summary:not([hidden])")
    assert "Berlin" in (await page.text_content("#address-text") or "")
    await assert_fits(page, "declined", tabs=False)

    await page.fill("#card", PAYS)
    await page.click("#pay")
    await page.wait_for_selector("#checkout-status[data-state='paid']", timeout=15000)
    paid = await page.text_content("#checkout-status")
    assert paid is not None and paid.startswith("Paid"), paid
    await assert_fits(page, "paid", tabs=False)
    await viewer.shot(f"phone-{width}-paid")
    await page.click("#sheet-done")
    await page.wait_for_selector("#buy-sheet:not([open])", state="attached")
    await assert_fits(page, "sheet closed")
    assert await page.is_enabled("#buy")

    await page.click("#tab-orders")
    paid_row = page.locator("#orders-list li[data-status='paid']")
    await paid_row.wait_for(timeout=10000)
    assert name is not None and name in (await paid_row.text_content() or "")
    assert 1 == await page.locator("#orders-list li[data-status='failed']").count()
    order_id = await paid_row.locator("code").text_content()
    assert order_id and order_id in (paid or "")
    await assert_fits(page, "my orders")
    # The seller ships it: the tracking number shows up in My orders by itself.
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{small_demo.base_url}/api/v1/orders/{order_id}/fulfil",
            json={"carrier": "DHL", "tracking_number": "JD014600006281230704"},
            headers={"Authorization": f"Bearer {small_demo.data['seller_token']}"},
        ) as resp,
    ):
        assert 200 == resp.status, await resp.text()
    shipped = page.locator("#orders-list li[data-status='fulfilled'] .order-tracking")
    await shipped.wait_for(timeout=10000)
    assert "Shipped with DHL · tracking JD014600006281230704" == await shipped.text_content()
    await assert_fits(page, "shipped")
    await viewer.shot(f"phone-{width}-orders", readme=width == 390)
    await page.click("#tab-qa")
    await page.click("#tab-chat")
    await assert_fits(page, "back to chat")

    # Buy is enabled again: a second purchase needs no details and no address.
    await page.click("#buy")
    await page.wait_for_selector("#buy-sheet[open]")
    assert await page.locator("#guest-fields").is_hidden()
    assert await page.locator("#address-fields").is_hidden()
    await page.click("#sheet-close")
    assert [] == viewer.page_errors
    assert [] == viewer.dialogs
    await context.close()


async def test_signed_in_viewer_with_a_saved_address_buys_in_two_taps(
    small_demo: Demo, browser: Browser
) -> None:
    """The demo viewer (saved address, demo card prefilled) buys with Buy and Pay, nothing else."""
    context = await browser.new_context(viewport={"width": 390, "height": 844})
    await context.add_cookies(
        [
            {
                "name": "lc_session",
                "value": small_demo.data["viewer_token"],
                "url": small_demo.base_url,
            }
        ]
    )
    viewer = await open_page(
        browser, f"{small_demo.base_url}/shows/{small_demo.show_id}", context=context
    )
    page = viewer.page
    await page.wait_for_selector("#offer:not([hidden]) #buy:not([disabled])", timeout=15000)
    await page.click("#buy")  # tap 1
    await page.wait_for_selector("#buy-sheet[open] #address-summary:not([hidden])")
    assert await page.locator("#guest-fields").is_hidden()
    await page.click("#pay")  # tap 2
    await page.wait_for_selector("#checkout-status[data-state='paid']", timeout=15000)
    await assert_fits(page, "paid", tabs=False)
    assert [] == viewer.page_errors
    await context.close()
