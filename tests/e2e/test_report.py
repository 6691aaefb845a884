"""Viewers report chat lines from the viewer page; the hosts get the report in their console."""

from __future__ import annotations

from playwright.async_api import Browser, BrowserContext

from tests.e2e.conftest import Demo, open_page


async def _signed_in(browser: Browser, demo: Demo, token: str) -> BrowserContext:
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    await context.add_cookies([{"name": "lc_session", "value": token, "url": demo.base_url}])
    return context


async def test_viewer_reports_a_line_with_a_reason(small_demo: Demo, browser: Browser) -> None:
    """A signed-in viewer reports a guest's line with a reason from the picker: the server acks,
    the line's button says Reported, and the report reaches the console; someone who is not
    signed in sees no Report button."""
    url = f"{small_demo.base_url}/shows/{small_demo.show_id}"
    guest = await open_page(browser, url)
    viewer_ctx = await _signed_in(browser, small_demo, small_demo.data["viewer_token"])
    host_ctx = await _signed_in(browser, small_demo, small_demo.data["host_token"])
    viewer = await open_page(browser, url, context=viewer_ctx)
    console = await open_page(
        browser, f"{small_demo.base_url}/console/{small_demo.show_id}", context=host_ctx
    )
    for watched in (guest, viewer, console):
        await watched.page.wait_for_selector("body[data-ready='1']", state="attached")

    await guest.page.fill("#guest-name", "Spammy")
    await guest.page.click("#guest-form button[type=submit]")
    await guest.page.wait_for_selector("#chat-form:not([hidden])", timeout=10000)
    await guest.page.fill("#chat-input", "buy followers cheap")
    await guest.page.press("#chat-input", "Enter")
    own = guest.page.locator("#chat-list li", has_text="buy followers cheap")
    await own.wait_for(timeout=10000)
    assert 0 == await own.locator(".report").count()  # nobody reports their own line

    line = viewer.page.locator("#chat-list li", has_text="buy followers cheap")
    await line.wait_for(timeout=10000)
    await line.locator(".report").click()
    await viewer.page.wait_for_selector("#report-sheet[open]")
    assert "buy followers cheap" in (await viewer.page.text_content("#report-quote") or "")
    await viewer.page.check("input[name=reason][value=harassment]")
    await viewer.page.click("#report-send")
    await viewer.page.wait_for_selector("#report-sheet:not([open])", state="attached")
    await line.locator(".report:disabled", has_text="Reported").wait_for(timeout=5000)
    assert "hosts" in (await viewer.page.text_content("#chat-notice") or "")

    report = console.page.locator("#report-list li", has_text="reported Spammy")
    await report.wait_for(timeout=10000)
    assert "buy followers cheap" in (await report.text_content() or "")

    anonymous = await open_page(browser, url)
    await anonymous.page.locator("#chat-list li", has_text="buy followers cheap").wait_for(
        timeout=10000
    )
    assert await anonymous.page.locator("#chat-list .report").first.is_hidden()
    for watched in (guest, viewer, console, anonymous):
        assert [] == watched.page_errors
    await viewer_ctx.close()
    await host_ctx.close()
