"""Coupons and voucher drops in the browser: the seller fires a drop from the studio, a viewer
taps the envelope, gets a code, applies it and pays the discounted total."""

from __future__ import annotations

from playwright.async_api import Browser

from tests.e2e.conftest import Demo, login, open_page


async def test_drop_claim_and_coupon_checkout(demo: Demo, browser: Browser) -> None:
    """A drop fired in the studio appears as an envelope; the claim shows a code, Apply opens
    the buy sheet with it, and the paid order shows the discount the server gave."""
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
    await vpage.wait_for_function("() => !document.getElementById('buy').disabled", timeout=10000)

    await spage.fill("#coupon-value", "25")
    await spage.fill("#drop-claims", "3")
    await spage.click("#drop-fire")
    await spage.wait_for_selector("#social-status:has-text('Drop fired')", timeout=10000)
    await vpage.wait_for_selector("#drop[data-state='open']", timeout=10000)
    assert "3 left" == await vpage.text_content("#drop-left")
    await vpage.click("#drop-envelope")
    await vpage.wait_for_selector("#drop[data-state='claimed']", timeout=10000)
    status = await vpage.text_content("#drop-status")
    assert status is not None and "25% off" in status
    await vpage.wait_for_function(
        "() => document.getElementById('drop-left').textContent === '2 left'", timeout=10000
    )
    await viewer.shot("viewer-drop")

    await vpage.click("#drop-apply")
    await vpage.wait_for_selector("#buy-sheet[open]", timeout=10000)
    code = await vpage.input_value("#coupon-code")
    assert code and code in status
    await vpage.click("#pay")
    await vpage.wait_for_selector("#checkout-status[data-state='paid']", timeout=15000)
    discount = await vpage.text_content("#sheet-discount")
    assert discount is not None and discount.startswith(f"Coupon {code}: −")
