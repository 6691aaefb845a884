"""WHIP/WHEP refusals: right status, JSON error, and never a dangling peer connection."""

from __future__ import annotations

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


async def test_second_publisher_gets_409(tmp_path: Path) -> None:
    """While a publisher is live a second WHIP offer gets 409 and no extra peer connection."""
    async with running_media_app(tmp_path) as env:
        first = Publisher(SyntheticSource(640, 368), audio=False)
        await first.connect(env.whip)
        second, offer = await _offer()
        status, _ = await _post(
            env, f"/whip/{env.show_id}", offer, Authorization=f"Bearer {env.stream_key}"
        )
        assert status == 409
        assert env.manager.peer_count == 1
        await first.close()
        await second.close()


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
        async with env.http.delete(env.base_url + location) as resp:
            assert resp.status == 200
        assert env.manager.peer_count == 0
        async with env.http.delete(env.base_url + location) as resp:
            assert resp.status == 404
        await publisher.close()
