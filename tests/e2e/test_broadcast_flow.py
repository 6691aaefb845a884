"""Going live from the studio and watching in the viewer page: WebRTC first, HLS as fallback."""

from __future__ import annotations

import aiohttp
from playwright.async_api import Browser, Page, Route

from tests.conftest import SettingsFactory
from tests.e2e.conftest import Demo, login, open_page, start_demo

PLAYING_JS = """async () => {
  const v = document.getElementById('player');
  const t0 = v.currentTime;
  await new Promise((r) => setTimeout(r, 1500));
  const q = v.getVideoPlaybackQuality ? v.getVideoPlaybackQuality() : {};
  return { advanced: v.currentTime - t0,
           frames: q.totalVideoFrames || v.webkitDecodedFrameCount || 0,
           width: v.videoWidth, transport: document.body.dataset.transport };
}"""


async def wait_playing(page: Page, timeout_ms: int = 30000) -> dict[str, object]:
    """Wait until the player reports playback, then measure that the picture really moves."""
    await page.wait_for_function(
        "() => { const v = document.getElementById('player');"
        " return v && v.readyState >= 2 && v.currentTime > 0.3; }",
        timeout=timeout_ms,
    )
    result: dict[str, object] = await page.evaluate(PLAYING_JS)
    return result


async def new_show(demo: Demo, title: str) -> str:
    """A fresh scheduled show of the demo seller, through the public API."""
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{demo.base_url}/api/v1/shows",
            json={"title": title},
            headers={"Authorization": f"Bearer {demo.data['seller_token']}"},
        ) as resp,
    ):
        assert 201 == resp.status
        return str((await resp.json())["id"])


async def test_studio_goes_live_and_viewer_sees_moving_video(
    settings_factory: SettingsFactory, browser: Browser
) -> None:
    """The seller goes live from the fake camera over WHIP; a viewer plays it over WHEP."""
    async with start_demo(settings_factory) as demo:
        await _go_live_and_watch(demo, browser)


async def _go_live_and_watch(demo: Demo, browser: Browser) -> None:
    show_id = await new_show(demo, "Camera show")
    seller = await login(browser, demo.base_url, demo.data["seller_email"], demo.data["password"])
    studio = await open_page(browser, f"{demo.base_url}/studio/{show_id}", context=seller)
    page = studio.page
    await page.wait_for_selector("body[data-ready='1']", state="attached", timeout=15000)
    await page.click("#go-live")
    await page.wait_for_selector("body[data-publish='live']", state="attached", timeout=20000)
    assert "You are live." == await page.text_content("#studio-status")
    await page.wait_for_function(
        "() => /kbit\\/s/.test(document.getElementById('bitrate').textContent)", timeout=10000
    )

    viewer = await open_page(browser, f"{demo.base_url}/shows/{show_id}", mobile=True)
    measured = await wait_playing(viewer.page)
    assert "whep" == measured["transport"]
    assert float(str(measured["advanced"])) > 0.5, measured
    assert int(str(measured["frames"])) > 0, measured
    await viewer.shot("viewer-webrtc-mobile", readme=True)
    await studio.shot("studio-live")
    assert [] == viewer.page_errors
    assert [] == studio.page_errors

    await page.click("#pause")
    await page.wait_for_selector("body[data-publish='offline']", state="attached", timeout=10000)
    await seller.close()


# How far the player is behind the live edge hls.js knows (the end of the seekable range).
BEHIND_EDGE_JS = """() => { const v = document.getElementById('player');
  return v.seekable.length ? v.seekable.end(v.seekable.length - 1) - v.currentTime : null; }"""


async def test_viewer_falls_back_to_hls_when_whep_is_refused(demo: Demo, browser: Browser) -> None:
    """With WHEP answering 503 (node full), the viewer page plays the show over HLS by itself,
    as LL-HLS (the default): blocking playlist reloads, parts, about PART-HOLD-BACK behind."""
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    requested: list[str] = []
    context.on("request", lambda request: requested.append(request.url))

    async def refuse(route: Route) -> None:
        await route.fulfill(
            status=503,
            headers={"Retry-After": "10", "Content-Type": "application/json"},
            body='{"error": {"code": "store_unavailable", "message": "node full"}}',
        )

    await context.route("**/whep/**", refuse)
    viewer = await open_page(browser, f"{demo.base_url}/shows/{demo.show_id}", context=context)
    measured = await wait_playing(viewer.page, timeout_ms=60000)
    assert "hls" == measured["transport"]
    assert float(str(measured["advanced"])) > 0.5, measured
    assert any("_HLS_msn=" in url and "_HLS_part=" in url for url in requested), requested
    assert any("/part_" in url for url in requested), requested
    behind = await viewer.page.evaluate(BEHIND_EDGE_JS)
    # PART-HOLD-BACK is 1 s; plain HLS would hold back 3 target durations (3 s).
    assert behind is not None and behind < 3.0, behind
    await viewer.shot("viewer-hls-fallback")
    assert [] == viewer.page_errors
    await context.close()
