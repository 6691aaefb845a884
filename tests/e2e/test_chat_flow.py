"""Chat between a viewer and a host: lines arrive live, a host deletes one and it vanishes."""

from __future__ import annotations

from playwright.async_api import Browser

from tests.e2e.conftest import Demo, login, open_page


async def test_viewer_chats_and_host_deletes_the_line(demo: Demo, browser: Browser) -> None:
    """A host deletes a viewer's line (it vanishes for the viewer), then times out and bans them."""
    viewer_ctx = await login(
        browser, demo.base_url, demo.data["viewer_email"], demo.data["password"]
    )
    host_ctx = await login(browser, demo.base_url, demo.data["host_email"], demo.data["password"])
    viewer = await open_page(browser, f"{demo.base_url}/shows/{demo.show_id}", context=viewer_ctx)
    console = await open_page(browser, f"{demo.base_url}/console/{demo.show_id}", context=host_ctx)
    for watched in (viewer, console):
        await watched.page.wait_for_selector("body[data-ready='1']", state="attached")
    vpage, cpage = viewer.page, console.page

    await vpage.wait_for_selector("#chat-form:not([hidden])", timeout=10000)
    await vpage.fill("#chat-input", "Is the mug dishwasher safe?")
    await vpage.press("#chat-input", "Enter")
    line = vpage.locator("#chat-list li", has_text="Is the mug dishwasher safe?")
    await line.wait_for(timeout=10000)
    message_id = await line.get_attribute("data-id")
    assert message_id

    host_line = cpage.locator(f"#msg-{message_id}")
    await host_line.wait_for(timeout=10000)
    await console.shot("console-with-chat", readme=True)
    await host_line.locator("[data-action=delete]").click()
    await vpage.wait_for_selector(f"#msg-{message_id}", state="detached", timeout=10000)
    await cpage.wait_for_selector(f"#msg-{message_id}", state="detached", timeout=10000)

    # A timeout is announced to the affected viewer in place.
    await vpage.fill("#chat-input", "one more")
    await vpage.press("#chat-input", "Enter")
    second = cpage.locator("#chat-list li", has_text="one more")
    await second.wait_for(timeout=10000)
    await second.locator("[data-action=timeout]").click()
    await vpage.wait_for_function(
        "() => /timed you out/.test(document.getElementById('chat-notice').textContent)",
        timeout=10000,
    )
    await viewer.shot("viewer-timed-out")

    # A ban (two presses: the button arms first) is announced and survives a reload.
    ban = second.locator("[data-action=ban]")
    await ban.click()
    await ban.click()
    await vpage.wait_for_function(
        "() => /banned you/.test(document.getElementById('chat-notice').textContent)",
        timeout=10000,
    )
    assert await vpage.is_hidden("#chat-form")
    await vpage.reload()
    await vpage.wait_for_function(
        "() => /banned you/.test(document.getElementById('chat-notice').textContent)",
        timeout=10000,
    )
    assert await vpage.is_hidden("#chat-form")
    await cpage.wait_for_function(
        "() => document.querySelectorAll('#audit-list li').length >= 3", timeout=10000
    )
    for watched in (viewer, console):
        assert [] == watched.page_errors
        assert [] == watched.dialogs
    await viewer_ctx.close()
    await host_ctx.close()


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
