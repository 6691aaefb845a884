"""The demo show broadcasts the synthetic test pattern as soon as the server starts."""

from __future__ import annotations

import json
from pathlib import Path

import aiohttp

from livecommerce.broadcast import BROADCAST
from livecommerce.settings import load_settings
from tests.support.app import running_app
from tests.support.media import Viewer
from tests.support.servers import free_port


async def test_demo_show_is_live_with_synthetic_picture(tmp_path: Path) -> None:
    """With the demo on, a WHEP viewer of the demo show decodes stamped frames."""
    port = free_port()
    settings = load_settings(
        None,
        {
            "server": {"host": "127.0.0.1", "port": port, "data_dir": str(tmp_path)},
            "demo": {"enabled": True},
            "broadcast": {
                "ice": {"host_addresses": ["127.0.0.1"]},
                "media_dir": str(tmp_path / "media"),
                "synthetic_width": 640,
                "synthetic_height": 368,
                "hls_enabled": False,
            },
        },
    )
    async with running_app(settings) as running:
        demo = json.loads((tmp_path / "demo.json").read_text())
        manager = running.app[BROADCAST]
        assert demo["show_id"] in manager.feeds

        viewer = Viewer()
        async with aiohttp.ClientSession() as http:

            async def whep(offer: str) -> str:
                async with http.post(
                    f"{running.base_url}/whep/{demo['show_id']}",
                    data=offer.encode(),
                    headers={"Content-Type": "application/sdp"},
                ) as resp:
                    assert resp.status == 201
                    return await resp.text()

            await viewer.connect(whep)
            await viewer.wait_frames(10, within=20)
        await viewer.close()
