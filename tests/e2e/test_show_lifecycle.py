"""A show survives the seller's day: a studio reload pauses and resumes the same show for WHEP
and HLS viewers; only End show (confirmed) ends it, and then for good."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import aiohttp
from playwright.async_api import Browser, BrowserContext, Page, Request, Route

from livecommerce.broadcast import BROADCAST
from livecommerce.broadcast.synthetic import SyntheticSource
from tests.conftest import SettingsFactory
from tests.e2e.conftest import Demo, Watched, login, open_page, start_demo
from tests.e2e.test_broadcast_flow import new_show, wait_playing
from tests.support.hub_clients import join_show
from tests.support.media import Publisher

#: Records each presented video frame in window.frames: [ms on the browser's clock, height].
RECORD_FRAMES_JS = """() => {
  const v = document.getElementById('player');
  window.frames = [];
  const each = (_now, meta) => {
    window.frames.push([Date.now(), meta.height]);
    v.requestVideoFrameCallback(each);
  };
  v.requestVideoFrameCallback(each);
}"""

#: The media time up to which the player had buffered (the end of its last buffered range).
PLAYED_OUT_JS = """() => {
  const v = document.getElementById('player');
  return v.buffered.length ? v.buffered.end(v.buffered.length - 1) : v.currentTime;
}"""


async def refuse_whep(route: Route) -> None:
    """WHEP answering 503 (node full): the viewer page plays HLS."""
    await route.fulfill(
        status=503,
        headers={"Retry-After": "10", "Content-Type": "application/json"},
        body='{"error": {"code": "store_unavailable", "message": "node full"}}',
    )


async def eventually(check: Callable[[], Awaitable[bool]], within: float, what: str) -> None:
    """Poll ``check`` every 250 ms until it is true (AssertionError naming ``what`` if not)."""
    deadline = time.monotonic() + within
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {within} s: {what}")
        await asyncio.sleep(0.25)


def whep_offers(context: BrowserContext) -> list[str]:
    """The WHEP offers pages of ``context`` send from now on (one per negotiated session), as a
    live list. Listen on the context before the page opens: its module may post the first offer
    before ``goto`` returns (at the load event)."""
    sent: list[str] = []

    def on_request(request: Request) -> None:
        if request.method == "POST" and "/whep/" in request.url:
            sent.append(request.url)

    context.on("request", on_request)
    return sent


async def first_frame(page: Page, where: str, within_ms: int) -> int:
    """When the first recorded frame ``[t, h]`` matching the JS condition ``where`` was shown."""
    find = f"() => (window.frames.find(([t, h]) => {where}) || [null])[0]"
    await page.wait_for_function(find, timeout=within_ms)
    return int(await page.evaluate(find))


async def go_live(studio: Page) -> int:
    """Press Go live; returns the press time (ms, the browser's clock) once the studio is live."""
    pressed = int(await studio.evaluate("Date.now()"))
    await studio.click("#go-live")
    await studio.wait_for_selector("body[data-publish='live']", state="attached", timeout=20000)
    return pressed


async def open_studio(browser: Browser, demo: Demo, show_id: str) -> Watched:
    """The seller's studio for ``show_id``, signed in, camera ready."""
    seller = await login(browser, demo.base_url, demo.data["seller_email"], demo.data["password"])
    studio = await open_page(browser, f"{demo.base_url}/studio/{show_id}", context=seller)
    await studio.page.wait_for_selector("body[data-ready='1']", state="attached", timeout=15000)
    return studio


async def segments(http: aiohttp.ClientSession, url: str) -> list[str]:
    """The media segment URIs a live playlist lists now (none while it does not exist yet)."""
    async with http.get(url) as resp:
        if resp.status != 200:
            return []
        text = await resp.text()
    return [line for line in text.splitlines() if line and not line.startswith("#")]


async def grown(http: aiohttp.ClientSession, playlist: str, than: int) -> bool:
    """Whether ``playlist`` lists more than ``than`` segments now."""
    return len(await segments(http, playlist)) > than


async def show_status(http: aiohttp.ClientSession, base_url: str, show_id: str) -> str:
    """The show's status over REST."""
    async with http.get(f"{base_url}/api/v1/shows/{show_id}") as resp:
        return str((await resp.json())["status"])


async def rendition_url(http: aiohttp.ClientSession, base_url: str, show_id: str) -> str:
    """The first rendition playlist the show's multivariant HLS playlist names."""
    url = f"{base_url}/hls/{show_id}/index.m3u8"
    names: list[str] = []

    async def listed() -> bool:
        names[:] = await segments(http, url)
        return bool(names)

    await eventually(listed, 20, "the multivariant playlist")
    return f"{base_url}/hls/{show_id}/{names[0]}"


async def test_studio_reload_pauses_and_resumes_the_same_show(
    settings_factory: SettingsFactory, browser: Browser
) -> None:
    """Reloading the live studio pauses the show; Go live again resumes the same show: the WHEP
    viewer's frames return within 5 s on its session, the same HLS playlist grows past a
    discontinuity and hls.js plays on."""
    async with (
        start_demo(settings_factory) as demo,
        aiohttp.ClientSession() as http,
    ):
        show_id = await new_show(demo, "Reload show")
        studio = await open_studio(browser, demo, show_id)
        await go_live(studio.page)
        key = await studio.page.input_value("#stream-key")
        hub, _ = await join_show(demo.base_url, show_id, None)

        viewer_context = await browser.new_context(viewport={"width": 1280, "height": 900})
        whep_posts = whep_offers(viewer_context)
        viewer = await open_page(
            browser, f"{demo.base_url}/shows/{show_id}", context=viewer_context
        )
        measured = await wait_playing(viewer.page)
        assert "whep" == measured["transport"]
        await viewer.page.evaluate(RECORD_FRAMES_JS)
        hls_context = await browser.new_context(viewport={"width": 1280, "height": 900})
        await hls_context.route("**/whep/**", refuse_whep)
        hls_viewer = await open_page(
            browser, f"{demo.base_url}/shows/{show_id}", context=hls_context
        )
        assert "hls" == (await wait_playing(hls_viewer.page, timeout_ms=40000))["transport"]
        playlist = await rendition_url(http, demo.base_url, show_id)
        await eventually(lambda: grown(http, playlist, 0), 20, "HLS segments before the reload")

        await studio.page.reload()
        await studio.page.wait_for_selector("body[data-ready='1']", state="attached")
        assert key == await studio.page.input_value("#stream-key"), "the key survived the reload"
        await hub.expect("show.state", lambda p: "paused" == p["state"], within=10)
        await viewer.page.wait_for_selector("body[data-show-status='paused']", state="attached")
        assert await viewer.page.is_visible("#paused-note")
        assert "PAUSED" == await studio.page.text_content("#live-badge")
        await viewer.shot("viewer-paused", readme=True)
        at_pause = len(await segments(http, playlist))

        pressed = await go_live(studio.page)
        await hub.expect("show.state", lambda p: "live" == p["state"], within=10)
        await viewer.page.wait_for_selector("body[data-show-status='live']", state="attached")
        first = await first_frame(viewer.page, f"t > {pressed}", within_ms=5000)
        assert first - pressed <= 5000
        assert not await viewer.page.is_visible("#paused-note")
        assert "whep" == await viewer.page.evaluate("document.body.dataset.transport")
        assert 1 == len(whep_posts), "the WHEP session survived the pause"
        await eventually(
            lambda: grown(http, playlist, at_pause), 20, "HLS segments after the resume"
        )

        async def marked() -> bool:  # the pause's own last segment can be the growth seen
            async with http.get(playlist) as resp:
                return "#EXT-X-DISCONTINUITY" in await resp.text()

        await eventually(marked, 20, "the resume marked by a discontinuity")
        # Past whatever was buffered before the pause: the HLS page plays the resumed show.
        played_out = await hls_viewer.page.evaluate(PLAYED_OUT_JS)
        await hls_viewer.page.wait_for_function(
            f"() => document.getElementById('player').currentTime > {played_out} + 1",
            timeout=30000,
        )

        assert "live" == await show_status(http, demo.base_url, show_id)
        states = [data["state"] for name, data in await hub.drain() if name == "show.state"]
        assert "ended" not in states
        assert "LIVE" == await studio.page.text_content("#live-badge")
        assert [] == viewer.page_errors
        assert [] == studio.page_errors
        await hub.close()
        await hls_context.close()
        await studio.page.context.close()


async def test_end_show_is_confirmed_and_final(
    settings_factory: SettingsFactory, browser: Browser
) -> None:
    """End show asks first; once confirmed viewers see the end, the studio cannot go live
    again (also after a reload) and a WHIP offer with the key gets 409 show_ended."""
    async with (
        start_demo(settings_factory) as demo,
        aiohttp.ClientSession() as http,
    ):
        show_id = await new_show(demo, "Ending show")
        studio = await open_studio(browser, demo, show_id)
        page = studio.page
        await go_live(page)
        key = await page.input_value("#stream-key")
        viewer = await open_page(browser, f"{demo.base_url}/shows/{show_id}")
        await wait_playing(viewer.page)

        await page.click("#end-show")
        assert await page.is_visible("#end-dialog")
        await page.click("#end-dialog button[value=cancel]")
        assert not await page.is_visible("#end-dialog")
        await page.wait_for_timeout(500)
        assert "live" == await show_status(http, demo.base_url, show_id)

        await page.click("#end-show")
        await studio.shot("studio-end-show", readme=True)
        await page.click("#end-confirm")
        await page.wait_for_selector("#ended-note", state="visible", timeout=10000)
        assert "ENDED" == await page.text_content("#live-badge")
        for button in ("#go-live", "#pause", "#end-show"):
            assert await page.is_disabled(button), button
        assert "offline" == await page.evaluate("document.body.dataset.publish")
        assert f"/shows/{show_id}" == await page.get_attribute("#ended-note a", "href")
        await viewer.page.wait_for_selector(
            "body[data-show-status='ended']", state="attached", timeout=10000
        )
        assert "The show has ended." == await viewer.page.text_content("#player-status")
        assert await viewer.page.is_visible("#replay")
        assert "ended" == await show_status(http, demo.base_url, show_id)
        # the camera show's replay (default ladder: source + a 360p re-encode) is complete VOD
        for rendition in ("source", "360p"):
            url = f"{demo.base_url}/replays/{show_id}/{rendition}/index.m3u8"
            async with http.get(url) as resp:
                assert resp.status == 200, rendition
                vod = await resp.text()
            assert "#EXT-X-ENDLIST" in vod
            assert vod.count("#EXTINF:") >= 2, vod

        offer = await page.evaluate(
            """async () => {
              const pc = new RTCPeerConnection({ iceServers: [] });
              pc.addTransceiver('video', { direction: 'sendonly' });
              const offer = await pc.createOffer();
              pc.close();
              return offer.sdp;
            }"""
        )
        async with http.post(
            f"{demo.base_url}/whip/{show_id}",
            data=offer,
            headers={"Authorization": f"Bearer {key}", "Content-Type": "application/sdp"},
        ) as resp:
            assert (409, "show_ended") == (resp.status, (await resp.json())["error"]["code"])

        await page.reload()
        await page.wait_for_selector("body[data-ready='1']", state="attached")
        assert await page.is_disabled("#go-live")
        assert await page.is_visible("#ended-note")
        assert "The show has ended." == await page.text_content("#studio-status")
        assert [] == viewer.page_errors
        assert [] == studio.page_errors
        await page.context.close()


async def test_viewer_reconnects_when_another_encoder_takes_over_with_another_codec(
    settings_factory: SettingsFactory, browser: Browser
) -> None:
    """An encoder with the key takes the live show over in another codec: the server closes
    the viewer's WHEP session and the page is back on the show within 3 s; the studio it
    replaced says so and does not take the show back by itself."""
    async with start_demo(settings_factory) as demo:
        show_id = await new_show(demo, "Takeover show")
        studio = await open_studio(browser, demo, show_id)
        await go_live(studio.page)
        key = await studio.page.input_value("#stream-key")
        viewer_context = await browser.new_context(viewport={"width": 1280, "height": 900})
        whep_posts = whep_offers(viewer_context)
        viewer = await open_page(
            browser, f"{demo.base_url}/shows/{show_id}", context=viewer_context
        )
        await wait_playing(viewer.page)
        await viewer.page.evaluate(RECORD_FRAMES_JS)
        feed = demo.app.app[BROADCAST].feeds[show_id]
        assert feed.video_codec is not None
        other = "video/VP8" if "h264" == feed.video_codec.name.lower() else "video/H264"

        encoder = Publisher(SyntheticSource(640, 368), video_mime=other)
        async with aiohttp.ClientSession() as http:

            async def whip(offer: str) -> str:
                async with http.post(
                    f"{demo.base_url}/whip/{show_id}",
                    data=offer,
                    headers={"Authorization": f"Bearer {key}", "Content-Type": "application/sdp"},
                ) as resp:
                    assert 201 == resp.status, await resp.text()
                    return await resp.text()

            took_over = int(await viewer.page.evaluate("Date.now()"))
            await encoder.connect(whip)
        # The encoder's frames are 368 lines high, the fake camera's are not.
        first = await first_frame(viewer.page, "h === 368", within_ms=5000)
        assert first - took_over <= 3000, "back on the show within 3 s of the offer"
        assert 2 == len(whep_posts), "the page negotiated again for the new codec"
        assert "whep" == await viewer.page.evaluate("document.body.dataset.transport")

        await studio.page.wait_for_function(
            "() => /took over/.test(document.getElementById('studio-status').textContent)",
            timeout=10000,
        )
        await studio.page.wait_for_timeout(3000)
        assert "connected" == encoder.pc.connectionState, "the studio left the encoder alone"
        assert not await studio.page.is_disabled("#go-live")
        assert "live" == await viewer.page.evaluate("document.body.dataset.showStatus")
        assert [] == viewer.page_errors
        assert [] == studio.page_errors
        await encoder.close()
        await studio.page.context.close()
