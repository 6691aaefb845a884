"""The replay page is shoppable: the timeline's moments sit on the seek bar, the product list jumps
to the moment a product came on screen, and the offer card follows the playhead. HLS plays with no
Content-Security-Policy violation (hls.js starts its worker from a blob: URL)."""

from __future__ import annotations

import asyncio
import time

import aiohttp
from playwright.async_api import Browser, Page

from livecommerce import keys
from tests.e2e.conftest import Demo, open_page

SEGMENT = 2.0  # broadcast.hls_segment_seconds: "within one segment"
#: Collects every CSP violation the page reports, from before its first script runs.
CSP_LISTENER = """
window.__csp = [];
document.addEventListener("securitypolicyviolation",
  (e) => window.__csp.push(`${e.violatedDirective} ${e.blockedURI}`));
"""


async def _replay_ready(base_url: str, show_id: str) -> None:
    """Wait (30 s at most) until the ended show's replay playlist is served: every rendition
    finalised."""
    deadline = time.monotonic() + 30
    async with aiohttp.ClientSession() as http:
        while True:
            async with http.get(f"{base_url}/replays/{show_id}/index.m3u8") as resp:
                if resp.status == 200:
                    return
            assert time.monotonic() < deadline, "the replay never became available"
            await asyncio.sleep(0.5)


async def _playhead(page: Page) -> float:
    return float(await page.evaluate("() => document.getElementById('player').currentTime"))


async def test_replay_list_jumps_to_the_moment_and_the_card_follows(
    small_demo: Demo, browser: Browser
) -> None:
    """Two offers pinned at known moments of a synthetic show; after the end, clicking each in the
    replay's product list seeks the video to its pin (within one segment) and puts it in the
    card; the seek bar carries a marker per moment; no CSP violation while HLS plays."""
    services = small_demo.app.app[keys.SERVICES]
    seller = await services.accounts.authenticate(small_demo.data["seller_token"])
    offers = [o for o in await services.offers.list(small_demo.show_id) if o.status == "live"]
    assert len(offers) >= 2
    first, second = offers[0], offers[1]
    await asyncio.sleep(3)
    await services.offers.pin(seller, small_demo.show_id, first.id)
    await asyncio.sleep(6)
    await services.offers.pin(seller, small_demo.show_id, second.id)
    await asyncio.sleep(5)
    await services.lifecycle.end(seller, small_demo.show_id)
    await _replay_ready(small_demo.base_url, small_demo.show_id)
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{small_demo.base_url}/api/v1/shows/{small_demo.show_id}/timeline") as resp,
    ):
        events = (await resp.json())["events"]
    pinned_at: dict[str, float] = {}
    for event in events:
        if event["type"] == "offer.pinned":
            pinned_at.setdefault(event["offer_id"], float(event["media_ts"]))
    assert pinned_at[second.id] - pinned_at[first.id] > 4, pinned_at

    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    await context.add_init_script(CSP_LISTENER)
    viewer = await open_page(
        browser, f"{small_demo.base_url}/shows/{small_demo.show_id}", context=context
    )
    page = viewer.page
    await page.wait_for_selector(
        "body[data-mode='replay'][data-player='playing']", state="attached", timeout=20000
    )
    await page.wait_for_selector("#markers .marker", state="attached", timeout=10000)
    assert await page.locator("#markers .marker.offer-pinned").count() >= 2
    for offer in (second, first):
        await page.click(f"#tray-list .tray-item[data-offer-id='{offer.id}']")
        await page.wait_for_selector(f"#offer[data-offer-id='{offer.id}']", timeout=5000)
        position = await _playhead(page)
        assert abs(position - pinned_at[offer.id]) <= SEGMENT, (position, pinned_at[offer.id])
        moment = await page.text_content("#offer-moment")
        assert moment is not None and "On screen at" in moment
    # It plays on from there (the seek landed in a real segment).
    before = await _playhead(page)
    await page.wait_for_function(
        f"() => document.getElementById('player').currentTime > {before + 0.5}", timeout=10000
    )
    await viewer.shot("replay-shoppable", readme=True)
    assert [] == await page.evaluate("() => window.__csp")
    assert not [e for e in viewer.console_errors if "Content Security Policy" in e]
    assert [] == viewer.page_errors
    await context.close()
