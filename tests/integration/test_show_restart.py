"""``kill -9`` of the server during a live show: after the restart the show is paused (its
publisher died with the old process), resumes when the publisher POSTs again, and ends by itself
when nobody returns within the grace."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from livecommerce.broadcast.synthetic import SyntheticSource
from tests.support.http import Api
from tests.support.media import Publisher, Viewer
from tests.support.servers import free_port

pytestmark = pytest.mark.timeout(180)


class Server:
    """``python -m livecommerce serve`` in its own process, so it can be killed for real."""

    def __init__(self, tmp: Path, grace: float) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.config = tmp / f"config-{grace}.json"  # JSON is YAML
        self.config.write_text(
            json.dumps(
                {
                    "server": {"host": "127.0.0.1", "port": self.port, "data_dir": str(tmp)},
                    "demo": {"enabled": False},
                    "log": {"format": "text", "level": "WARNING"},
                    "broadcast": {
                        "ice": {"host_addresses": ["127.0.0.2"]},
                        "reconnect_grace_seconds": grace,
                        "hls_segment_seconds": 1.0,
                        "whip_rate_per_minute": 1000,
                    },
                }
            )
        )
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self, http: aiohttp.ClientSession) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "livecommerce", "serve", "--config", str(self.config),
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        deadline = asyncio.get_running_loop().time() + 60
        while True:
            try:
                async with http.get(f"{self.base_url}/healthz") as resp:
                    if resp.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            assert asyncio.get_running_loop().time() < deadline, "server never became healthy"
            await asyncio.sleep(0.1)

    async def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        await self.proc.wait()

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.terminate()
            await self.proc.wait()


def whip(http: aiohttp.ClientSession, base_url: str, show_id: str, key: str) -> Any:
    async def signal_(offer: str) -> str:
        async with http.post(
            f"{base_url}/whip/{show_id}",
            data=offer.encode(),
            headers={"Content-Type": "application/sdp", "Authorization": f"Bearer {key}"},
        ) as resp:
            body = await resp.text()
            assert resp.status == 201, body
            return body

    return signal_


async def status_of(api: Api, show_id: str) -> dict[str, Any]:
    status, show = await api.call("GET", f"/api/v1/shows/{show_id}")
    assert status == 200, show
    return dict(show)


async def wait_status(api: Api, show_id: str, wanted: str, within: float = 15) -> dict[str, Any]:
    deadline = asyncio.get_running_loop().time() + within
    while (show := await status_of(api, show_id))["status"] != wanted:
        assert asyncio.get_running_loop().time() < deadline, show
        await asyncio.sleep(0.1)
    return show


async def test_kill_9_pauses_then_resumes_or_ends(
    tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    server = Server(tmp_path, grace=300)
    await server.start(http)
    api = Api(http, server.base_url)
    try:
        token, _ = await api.signup("Crashy", role="seller")
        status, show = await api.call("POST", "/api/v1/shows", token, json={"title": "Crash"})
        assert status == 201, show
        show_id, key = show["id"], show["stream_key"]
        publisher = Publisher(SyntheticSource(320, 176), audio=False)
        await publisher.connect(whip(http, server.base_url, show_id, key))
        first_live = await wait_status(api, show_id, "live")
        await asyncio.sleep(2)  # some media recorded
        await server.kill()
        await publisher.close()

        await server.start(http)  # the same data dir: a restart after a crash
        paused = await status_of(api, show_id)
        assert paused["status"] == "paused", paused
        assert paused["paused_at"] is not None
        # the publisher comes back: the same show resumes and viewers get its media
        publisher = Publisher(SyntheticSource(320, 176), audio=False)
        await publisher.connect(whip(http, server.base_url, show_id, key))
        resumed = await wait_status(api, show_id, "live")
        assert resumed["started_at"] == first_live["started_at"]  # one show, not a new one
        viewer = Viewer(audio=False)

        async def whep(offer: str) -> str:
            async with http.post(
                f"{server.base_url}/whep/{show_id}",
                data=offer.encode(),
                headers={"Content-Type": "application/sdp"},
            ) as resp:
                assert resp.status == 201
                return await resp.text()

        await viewer.connect(whep)
        await viewer.wait_frames(10, within=20)
        await viewer.close()
        await server.kill()
        await publisher.close()

        # nobody comes back this time: the grace (2 s here) runs out and the show ends
        server = Server(tmp_path, grace=2)
        await server.start(http)
        api = Api(http, server.base_url)
        await wait_status(api, show_id, "paused", within=2)
        ended = await wait_status(api, show_id, "ended", within=10)
        assert ended["ended_at"] is not None
        refused = Publisher(SyntheticSource(320, 176), audio=False)
        async with http.post(
            f"{server.base_url}/whip/{show_id}",
            data=(await refused.offer()).encode(),
            headers={"Content-Type": "application/sdp", "Authorization": f"Bearer {key}"},
        ) as resp:
            assert resp.status == 409
            assert (await resp.json())["error"]["code"] == "show_ended"
        await refused.close()
    finally:
        await server.stop()
