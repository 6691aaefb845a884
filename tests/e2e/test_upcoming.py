"""An upcoming show reads in the viewer's own time zone, on its page and on the home page, and its
page counts down to the start."""

from __future__ import annotations

import re

from playwright.async_api import Browser

from livecommerce import keys
from livecommerce.routes.pages import utc_text
from tests.e2e.conftest import Demo, open_page


async def test_upcoming_show_counts_down_in_local_time(small_demo: Demo, browser: Browser) -> None:
    """A show a day and two hours away: a New York viewer sees the start in New York time (the
    UTC text stays as its title) and a countdown that ticks; the home page shows the same time."""
    services = small_demo.app.app[keys.SERVICES]
    seller = await services.accounts.authenticate(small_demo.data["seller_token"])
    starts = small_demo.app.app[keys.CLOCK].now_ms() + 26 * 3_600_000
    show, _ = await services.shows.create(seller, "Autumn preview", "", starts)
    context = await browser.new_context(timezone_id="America/New_York", locale="en-US")
    viewer = await open_page(browser, f"{small_demo.base_url}/shows/{show.id}", context=context)
    page = viewer.page
    await page.wait_for_selector("body[data-ready='1']", state="attached")
    assert await page.is_visible("#upcoming")
    local = await page.text_content("#starts-at") or ""
    assert utc_text(starts) == await page.get_attribute("#starts-at", "title")
    assert "UTC" not in local and re.search(r"\b(EST|EDT)\b", local), local
    first = await page.text_content("#starts-in") or ""
    assert re.fullmatch(r"in 1 d 0[12]:\d\d:\d\d", first), first
    await page.wait_for_function(
        "(before) => document.getElementById('starts-in').textContent !== before", arg=first
    )
    home = await open_page(browser, f"{small_demo.base_url}/", context=context)
    await home.page.wait_for_selector("body[data-ready='1']", state="attached")
    assert local == await home.page.text_content(f"li:has(a[href='/shows/{show.id}']) time")
    for watched in (viewer, home):
        assert [] == watched.page_errors
    await context.close()
