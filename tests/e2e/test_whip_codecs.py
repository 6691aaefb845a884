"""Browser interop for ingest: Chromium publishes over WHIP with a VP8-only and an H.264-only
offer (as browsers and OBS-style encoders do), and another Chromium watches over WHEP and HLS.

The publisher here is a bare WHIP client evaluated in a page of our origin, not the studio, so
the offer's codec list can be pinned with ``setCodecPreferences`` exactly like a third-party
client would send it.
"""

from __future__ import annotations

import aiohttp
import pytest
from playwright.async_api import Browser, Route

from tests.conftest import SettingsFactory
from tests.e2e.conftest import open_page, start_demo
from tests.e2e.test_broadcast_flow import wait_playing

PUBLISH_JS = """async ({url, key, mime, fmtp}) => {
  const stream = await navigator.mediaDevices.getUserMedia({video: {width: 640, height: 360},
                                                             audio: true});
  const pc = new RTCPeerConnection({iceServers: []});
  for (const track of stream.getTracks()) {
    const t = pc.addTransceiver(track, {direction: 'sendonly'});
    if (track.kind === 'video') {
      const codecs = RTCRtpSender.getCapabilities('video').codecs.filter((c) =>
        c.mimeType === mime && (!fmtp || (c.sdpFmtpLine || '').includes(fmtp)));
      t.setCodecPreferences(codecs);
    }
  }
  await pc.setLocalDescription(await pc.createOffer());
  await new Promise((resolve) => {
    if (pc.iceGatheringState === 'complete') return resolve();
    pc.addEventListener('icegatheringstatechange',
      () => pc.iceGatheringState === 'complete' && resolve());
  });
  const offer = pc.localDescription.sdp;
  const resp = await fetch(url, {method: 'POST', body: offer,
    headers: {'Content-Type': 'application/sdp', 'Authorization': 'Bearer ' + key}});
  if (resp.status !== 201) return {status: resp.status, body: await resp.text()};
  await pc.setRemoteDescription({type: 'answer', sdp: await resp.text()});
  await new Promise((resolve, reject) => {
    const check = () => {
      if (pc.connectionState === 'connected') resolve();
      if (pc.connectionState === 'failed') reject(new Error('ice failed'));
    };
    pc.addEventListener('connectionstatechange', check);
    check();
  });
  window.__whip = pc;
  const videoLines = offer.split('\\r\\n').filter((l) => l.startsWith('a=rtpmap'));
  return {status: 201, location: resp.headers.get('Location'), offered: videoLines};
}"""

CODECS = {
    "vp8": ("video/VP8", ""),
    "h264": ("video/H264", "42e01f"),
}


@pytest.mark.parametrize("codec", sorted(CODECS))
async def test_chromium_whip_codec_only_offer_plays_over_whep_and_hls(
    settings_factory: SettingsFactory, browser: Browser, codec: str
) -> None:
    """A single-codec Chromium WHIP offer is accepted, and Chromium viewers play it both ways."""
    mime, fmtp = CODECS[codec]
    async with start_demo(settings_factory) as demo, aiohttp.ClientSession() as http:
        async with http.post(
            f"{demo.base_url}/api/v1/shows",
            json={"title": f"{codec} camera"},
            headers={"Authorization": f"Bearer {demo.data['seller_token']}"},
        ) as resp:
            show = await resp.json()
        publisher = await open_page(browser, f"{demo.base_url}/login")
        published = await publisher.page.evaluate(
            PUBLISH_JS,
            {
                "url": f"{demo.base_url}/whip/{show['id']}",
                "key": show["stream_key"],
                "mime": mime,
                "fmtp": fmtp,
            },
        )
        assert 201 == published["status"], published
        offered_video = {line.split(" ")[1].split("/")[0].lower() for line in published["offered"]}
        assert {codec} == offered_video & {"vp8", "vp9", "h264", "av1"}

        watcher = await open_page(browser, f"{demo.base_url}/shows/{show['id']}")
        measured = await wait_playing(watcher.page)
        assert "whep" == measured["transport"]
        assert int(str(measured["frames"])) > 0, measured

        context = await browser.new_context(viewport={"width": 1280, "height": 900})

        async def refuse(route: Route) -> None:
            await route.fulfill(status=503, headers={"Retry-After": "5"}, body="")

        await context.route("**/whep/**", refuse)
        hls_viewer = await open_page(
            browser, f"{demo.base_url}/shows/{show['id']}", context=context
        )
        measured = await wait_playing(hls_viewer.page, timeout_ms=60000)
        assert "hls" == measured["transport"]
        assert float(str(measured["advanced"])) > 0.5, measured
        await hls_viewer.shot(f"viewer-hls-from-chromium-{codec}")
        assert [] == watcher.page_errors + hls_viewer.page_errors + publisher.page_errors

        async with http.delete(
            demo.base_url + published["location"],
            headers={"Authorization": f"Bearer {show['stream_key']}"},
        ) as resp:
            assert resp.status in (200, 204)
        await context.close()
