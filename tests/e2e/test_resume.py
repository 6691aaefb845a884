"""Reconnecting viewers resume the chat where they left it: no gaps, no duplicates."""

from __future__ import annotations

from playwright.async_api import Browser

from tests.e2e.conftest import Demo, login, open_page


async def test_chat_resumes_after_a_dropped_connection(demo: Demo, browser: Browser) -> None:
    """Lines sent while a viewer was offline appear once after it reconnects (last_seq)."""
    reader_ctx = await login(
        browser, demo.base_url, demo.data["viewer_email"], demo.data["password"]
    )
    host_ctx = await login(browser, demo.base_url, demo.data["host_email"], demo.data["password"])
    reader = await open_page(browser, f"{demo.base_url}/shows/{demo.show_id}", context=reader_ctx)
    host = await open_page(browser, f"{demo.base_url}/console/{demo.show_id}", context=host_ctx)
    for watched in (reader, host):
        await watched.page.wait_for_selector("body[data-ready='1']", state="attached")
    rpage, hpage = reader.page, host.page

    await hpage.fill("#chat-input", "before the drop")
    await hpage.press("#chat-input", "Enter")
    await rpage.locator("#chat-list li", has_text="before the drop").wait_for(timeout=10000)

    await reader_ctx.set_offline(True)
    await rpage.wait_for_function(
        "() => /Reconnecting/.test(document.getElementById('chat-notice').textContent)",
        timeout=30000,
    )
    for n in range(3):
        await hpage.fill("#chat-input", f"while away {n}")
        await hpage.press("#chat-input", "Enter")
        await hpage.locator("#chat-list li", has_text=f"while away {n}").wait_for(timeout=10000)
        await hpage.wait_for_timeout(700)  # 3 lines per 2 s per user
    await reader_ctx.set_offline(False)
    await rpage.locator("#chat-list li", has_text="while away 2").wait_for(timeout=30000)
    texts = await rpage.locator("#chat-list li .text").all_text_contents()
    expected = ["before the drop", "while away 0", "while away 1", "while away 2"]
    assert expected == [t for t in texts if t in expected]
    assert [] == reader.page_errors
    await reader_ctx.close()
    await host_ctx.close()
