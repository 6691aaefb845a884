"""Q&A from the keyboard: a viewer asks, another upvotes, the seller answers from the studio."""

from __future__ import annotations

from playwright.async_api import Browser

from tests.e2e.conftest import Demo, login, open_page


async def test_question_upvote_and_answer(demo: Demo, browser: Browser) -> None:
    """A question asked with the keyboard gets an upvote and the studio's answer, live."""
    viewer_ctx = await login(
        browser, demo.base_url, demo.data["viewer_email"], demo.data["password"]
    )
    seller_ctx = await login(
        browser, demo.base_url, demo.data["seller_email"], demo.data["password"]
    )
    viewer = await open_page(browser, f"{demo.base_url}/shows/{demo.show_id}", context=viewer_ctx)
    studio = await open_page(browser, f"{demo.base_url}/studio/{demo.show_id}", context=seller_ctx)
    guest = await open_page(browser, f"{demo.base_url}/shows/{demo.show_id}")
    for watched in (viewer, studio, guest):
        await watched.page.wait_for_selector("body[data-ready='1']", state="attached")
    vpage = viewer.page

    # Keyboard only: focus the Chat tab, arrow right to Q&A, one Tab into the question box.
    await vpage.focus("#tab-chat")
    await vpage.keyboard.press("ArrowRight")
    assert "true" == await vpage.get_attribute("#tab-qa", "aria-selected")
    assert await vpage.is_visible("#panel-qa")
    await vpage.keyboard.press("Tab")
    assert "qa-input" == await vpage.evaluate("() => document.activeElement.id")
    await vpage.keyboard.type("Does the tee shrink?")
    await vpage.keyboard.press("Enter")
    await vpage.locator("#qa-list li", has_text="Does the tee shrink?").wait_for(timeout=10000)

    # A guest upvotes it.
    gpage = guest.page
    await gpage.fill("#guest-name", "Sam")
    await gpage.click("#guest-form button[type=submit]")
    await gpage.wait_for_selector("#chat-form:not([hidden])", timeout=10000)
    await gpage.click("#tab-qa")
    question = gpage.locator("#qa-list li", has_text="Does the tee shrink?")
    await question.locator("button.vote").click()
    await vpage.locator("#qa-list li button.vote", has_text="1").wait_for(timeout=10000)

    # The seller answers from the studio; the answer shows on the viewer page.
    entry = studio.page.locator("#qa-list li", has_text="Does the tee shrink?")
    await entry.locator("input").fill("No, it is pre-washed.")
    await entry.locator("button[type=submit]").click()
    await vpage.locator("#qa-list li .answer", has_text="pre-washed").wait_for(timeout=10000)
    for watched in (viewer, studio, guest):
        assert [] == watched.page_errors
    await viewer_ctx.close()
    await seller_ctx.close()
