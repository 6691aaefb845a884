"""Chat on the viewer page when its guest token is stale (the chat and moderation flow: RB-25)."""

from __future__ import annotations

from playwright.async_api import Browser

from tests.e2e.conftest import Demo, open_page


async def test_stale_guest_token_falls_back_to_watching(demo: Demo, browser: Browser) -> None:
    """A guest token the server refuses is dropped: the page watches and asks for a name."""
    context = await browser.new_context()
    await context.add_init_script("sessionStorage.setItem('lc_guest_token', 'lct_not-a-token')")
    viewer = await open_page(browser, f"{demo.base_url}/shows/{demo.show_id}", context=context)
    page = viewer.page
    await page.wait_for_selector("#guest-form:not([hidden])", timeout=10000)
    assert await page.evaluate("() => sessionStorage.getItem('lc_guest_token') === null")
    await page.fill("#guest-name", "Robin")
    await page.click("#guest-form button[type=submit]")
    await page.fill("#chat-input", "hello again")
    await page.press("#chat-input", "Enter")
    await page.locator("#chat-list li", has_text="hello again").wait_for(timeout=10000)
    assert [] == viewer.page_errors
    await context.close()
