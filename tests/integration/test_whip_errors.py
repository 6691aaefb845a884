"""WHIP/WHEP refusals: right status, JSON error, and never a dangling peer connection."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest

from livecommerce.broadcast.synthetic import SyntheticSource
from tests.support.media import Publisher, Viewer
from tests.support.media_app import MediaApp, running_media_app


async def _post(env: MediaApp, path: str, body: str | bytes, **headers: str) -> tuple[int, str]:
    data = body.encode() if isinstance(body, str) else body
    hdrs = {"Content-Type": "application/sdp", **headers}
    async with env.http.post(env.base_url + path, data=data, headers=hdrs) as resp:
        return resp.status, await resp.text()


async def _offer(video_mime: str = "video/H264") -> tuple[Publisher, str]:
    publisher = Publisher(SyntheticSource(640, 368), video_mime=video_mime)
    return publisher, await publisher.offer()


def _only_vp9(sdp: str) -> str:
    """Rewrite an aiortc offer so its video section offers VP9 only (as a VP9-only client)."""
    out = []
    for line in sdp.splitlines():
        if line.startswith("m=video"):
            parts = line.split()
            line = " ".join([*parts[:3], "98"])
        elif re.match(r"a=(rtpmap|fmtp|rtcp-fb):\d+ ", line) and " " in line:
            pt = int(line.split(":", 1)[1].split()[0])
            if 96 <= pt < 127:
                if pt == 96 and line.startswith("a=rtpmap"):
                    out.append("a=rtpmap:98 VP9/90000")
                continue
        out.append(line)
    return "\r\n".join(out) + "\r\n"


@pytest.mark.parametrize(
    ("case", "status", "code"),
    [
        ("wrong_key", 401, "unauthenticated"),
        ("no_key", 401, "unauthenticated"),
        ("oversized", 413, "payload_too_large"),
        ("vp9_only", 406, "unsupported_media"),
        ("unknown_show", 404, "not_found"),
        ("malformed", 400, "invalid_sdp"),
        ("wrong_type", 415, "unsupported_media_type"),
    ],
)
async def test_whip_refusals_leave_no_peer(
    tmp_path: Path, case: str, status: int, code: str
) -> None:
    """Each bad WHIP request gets its RFC status and leaves zero peer connections."""
    async with running_media_app(tmp_path) as env:
        publisher, offer = await _offer()
        auth = {"Authorization": f"Bearer {env.stream_key}"}
        path = f"/whip/{env.show_id}"
        headers: dict[str, str] = dict(auth)
        body: str | bytes = offer
        if case == "wrong_key":
            headers = {"Authorization": "Bearer sk_wrong"}
        elif case == "no_key":
            headers = {}
        elif case == "oversized":
            body = offer + "a=x-pad:" + "x" * (64 * 1024) + "\r\n"
        elif case == "vp9_only":
            body = _only_vp9(offer)
        elif case == "unknown_show":
            path = "/whip/shw_doesnotexist"
        elif case == "malformed":
            body = "hello, this is not SDP"
        elif case == "wrong_type":
            headers["Content-Type"] = "text/plain"
        got_status, text = await _post(env, path, body, **headers)
        assert (got_status, f'"code": "{code}"' in text) == (status, True), text
        assert env.manager.peer_count == 0
        await publisher.close()


async def test_second_publisher_replaces_the_first(tmp_path: Path) -> None:
    """A second WHIP offer with the key replaces the live session (a reloaded studio must get
    its show back): one publisher peer, and the show stays live, never paused."""
    async with running_media_app(tmp_path) as env:
        first = Publisher(SyntheticSource(640, 368), audio=False)
        await first.connect(env.whip)
        await _wait_for_status(env, "live")
        old_session = next(iter(env.manager.sessions))
        second, offer = await _offer()
        status, _ = await _post(
            env, f"/whip/{env.show_id}", offer, Authorization=f"Bearer {env.stream_key}"
        )
        assert status == 201
        assert env.manager.peer_count == 1
        assert old_session not in env.manager.sessions
        await asyncio.sleep(0.3)
        assert await env.status() == "live"
        await first.close()
        await second.close()


async def _wait_for_status(env: MediaApp, status: str, within: float = 10) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while await env.status() != status:
        assert asyncio.get_running_loop().time() < deadline, await env.status()
        await asyncio.sleep(0.05)


async def test_whep_refusals(tmp_path: Path) -> None:
    """WHEP: unknown show 404, show not live 409, viewer cap 503 with Retry-After."""
    async with running_media_app(tmp_path, {"viewer_cap": 1}) as env:
        viewer = Viewer()
        offer = await viewer.offer()
        assert (await _post(env, "/whep/shw_nope", offer))[0] == 404
        assert (await _post(env, f"/whep/{env.show_id}", offer))[0] == 409
        await env.manager.start_synthetic(env.show_id)
        await viewer.connect(env.whep)
        other = Viewer()
        async with env.http.post(
            f"{env.base_url}/whep/{env.show_id}",
            data=(await other.offer()).encode(),
            headers={"Content-Type": "application/sdp"},
        ) as resp:
            assert (resp.status, resp.headers.get("Retry-After")) == (503, "10")
        assert env.manager.peer_count == 1
        await viewer.close()
        await other.close()


async def test_whip_delete_and_patch(tmp_path: Path) -> None:
    """DELETE on the Location ends the session; PATCH (trickle) gets 405; unknown session 404."""
    async with running_media_app(tmp_path) as env:
        publisher, offer = await _offer()
        async with env.http.post(
            f"{env.base_url}/whip/{env.show_id}",
            data=offer.encode(),
            headers={
                "Content-Type": "application/sdp",
                "Authorization": f"Bearer {env.stream_key}",
            },
        ) as resp:
            assert resp.status == 201
            assert resp.content_type == "application/sdp"
            location = resp.headers["Location"]
        session_id = location.rsplit("/", 1)[1]
        assert location == f"/whip/{env.show_id}/{session_id}"
        assert len(session_id) >= 22  # 128 bits in URL-safe base64
        async with env.http.patch(env.base_url + location, data=b"") as resp:
            assert resp.status == 405
        auth = {"Authorization": f"Bearer {env.stream_key}"}
        async with env.http.delete(env.base_url + location) as resp:
            assert resp.status == 401  # the stream key authorises a WHIP DELETE
        async with env.http.delete(
            env.base_url + location, headers={"Authorization": "Bearer sk_wrong"}
        ) as resp:
            assert resp.status == 401
        assert env.manager.peer_count == 1
        async with env.http.delete(env.base_url + location, headers=auth) as resp:
            assert resp.status == 200
        assert env.manager.peer_count == 0
        async with env.http.delete(env.base_url + location, headers=auth) as resp:
            assert resp.status == 404
        await publisher.close()


async def test_delete_after_the_peer_left_answers_200_once(tmp_path: Path) -> None:
    """A page closes its peer connection and then sends DELETE: the session is already gone
    on the server, yet the DELETE gets its 200 (once), for WHIP and WHEP alike."""
    async with running_media_app(tmp_path) as env:
        publisher = Publisher(SyntheticSource(640, 368), audio=False)
        await publisher.connect(env.whip)
        viewer = Viewer(audio=False)
        await viewer.connect(env.whep)
        await viewer.wait_frames(5, within=20)
        ids = {s.role: s.id for s in env.manager.sessions.values()}
        await viewer.close()
        await publisher.close()
        deadline = asyncio.get_running_loop().time() + 10
        while env.manager.peer_count:
            assert asyncio.get_running_loop().time() < deadline
            await asyncio.sleep(0.05)
        auth = {"Authorization": f"Bearer {env.stream_key}"}
        whip = f"{env.base_url}/whip/{env.show_id}/{ids['publisher']}"
        whep = f"{env.base_url}/whep/{env.show_id}/{ids['viewer']}"
        for url, headers in ((whip, auth), (whep, {})):
            async with env.http.delete(url, headers=headers) as resp:
                assert resp.status == 200, url
            async with env.http.delete(url, headers=headers) as resp:
                assert resp.status == 404, url
        await _wait_for_status(env, "paused")


async def test_options_preflight_and_ice_links(tmp_path: Path) -> None:
    """RFC 9725 clients send OPTIONS first: 204 with CORS, Accept-Post and, for the key's
    holder, the configured ICE servers as Link headers."""
    ice = {
        "ice": {
            "host_addresses": ["127.0.0.1"],
            "servers": [
                {"urls": ["stun:127.0.0.1:3478"]},
                {"urls": ["turn:127.0.0.1:3478"], "username": "u", "credential": 'p"w'},
            ],
        }
    }
    async with running_media_app(tmp_path, ice) as env:
        url = f"{env.base_url}/whip/{env.show_id}"
        preflight = {"Origin": "https://studio.example", "Access-Control-Request-Method": "POST"}
        async with env.http.options(url, headers=preflight) as resp:
            assert resp.status == 204
            assert resp.headers["Accept-Post"] == "application/sdp"
            assert resp.headers["Access-Control-Allow-Origin"] == "*"
            assert "POST" in resp.headers["Access-Control-Allow-Methods"]
            assert "Authorization" in resp.headers["Access-Control-Allow-Headers"]
            assert "Link" not in resp.headers  # no key, no TURN credentials
        auth = {"Authorization": f"Bearer {env.stream_key}"}
        async with env.http.options(url, headers=auth) as resp:
            links = resp.headers["Link"]
        assert '<stun:127.0.0.1:3478>; rel="ice-server"' in links
        assert (
            '<turn:127.0.0.1:3478>; rel="ice-server"; username="u"; credential="p\\"w"; '
            'credential-type="password"'
        ) in links
        async with env.http.options(f"{env.base_url}/whep/{env.show_id}") as resp:
            assert resp.status == 204
            assert 'rel="ice-server"' in resp.headers["Link"]
        async with env.http.options(f"{env.base_url}/whep/{env.show_id}/abc") as resp:
            assert resp.status == 204
            assert "DELETE" in resp.headers["Allow"]
