"""A running app on 127.0.0.1 with one seller and one show, for WHIP/WHEP/HLS tests."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from livecommerce import keys
from livecommerce.app import create_app
from livecommerce.broadcast import BROADCAST
from livecommerce.broadcast.manager import BroadcastManager
from livecommerce.domain.access import Principal, Role
from livecommerce.settings import load_settings

__all__ = ["MediaApp", "running_media_app"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class MediaApp:
    """Handles a test needs: base URL, the app, an HTTP session, a show and its stream key."""

    base_url: str
    app: web.Application
    http: aiohttp.ClientSession
    show_id: str
    stream_key: str
    principal: Principal

    @property
    def manager(self) -> BroadcastManager:
        """The broadcast manager (peer registry, feeds)."""
        return self.app[BROADCAST]

    async def new_show(self) -> tuple[str, str]:
        """Another show of the same seller: (show id, stream key)."""
        show, key = await self.app[keys.SERVICES].shows.create(self.principal, "another show")
        return show.id, key

    async def end_show(self, show_id: str | None = None) -> None:
        """The seller ends the show (only an explicit end ends one)."""
        await self.app[keys.SERVICES].lifecycle.end(self.principal, show_id or self.show_id)

    async def status(self, show_id: str | None = None) -> str:
        """The show's lifecycle status, as stored."""
        show = await self.app[keys.SERVICES].shows.get(show_id or self.show_id)
        return show.status.value

    async def whip(self, offer: str, show_id: str | None = None, key: str | None = None) -> str:
        """POST a WHIP offer; returns the answer SDP (asserts 201)."""
        async with self.http.post(
            f"{self.base_url}/whip/{show_id or self.show_id}",
            data=offer.encode(),
            headers={
                "Content-Type": "application/sdp",
                "Authorization": f"Bearer {key or self.stream_key}",
            },
        ) as resp:
            text = await resp.text()
            assert resp.status == 201, text
            return text

    async def whep(self, offer: str, show_id: str | None = None) -> str:
        """POST a WHEP offer; returns the answer SDP (asserts 201)."""
        async with self.http.post(
            f"{self.base_url}/whep/{show_id or self.show_id}",
            data=offer.encode(),
            headers={"Content-Type": "application/sdp"},
        ) as resp:
            text = await resp.text()
            assert resp.status == 201, text
            return text


@contextlib.asynccontextmanager
async def running_media_app(
    data_dir: Path, broadcast: dict[str, Any] | None = None
) -> AsyncIterator[MediaApp]:
    """Start the real app (demo off, loopback ICE) and create a seller with one show."""
    port = _free_port()
    section: dict[str, Any] = {
        "ice": {"host_addresses": ["127.0.0.1"]},
        "media_dir": str(data_dir / "media"),
        "reconnect_grace_seconds": 1.0,
        "whip_rate_per_minute": 1000,
        "synthetic_width": 640,
        "synthetic_height": 368,
    }
    section.update(broadcast or {})
    settings = load_settings(
        None,
        {
            "server": {"host": "127.0.0.1", "port": port, "data_dir": str(data_dir)},
            "demo": {"enabled": False},
            "broadcast": section,
        },
    )
    app = create_app(settings)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, "127.0.0.1", port).start()
        user = await app[keys.SERVICES].accounts.create_user(
            "Seller", "seller@example.test", "correct horse battery", Role.SELLER
        )
        principal = Principal(user.id, user.name, Role.SELLER)
        show, key = await app[keys.SERVICES].shows.create(principal, "test show")
        async with aiohttp.ClientSession() as http:
            yield MediaApp(f"http://127.0.0.1:{port}", app, http, show.id, key, principal)
    finally:
        await runner.cleanup()


#: A small synthetic picture (320×176), cheap to encode, for media tests about control paths.
SMALL = {"synthetic_width": 320, "synthetic_height": 176}


async def post_sdp(
    env: MediaApp,
    path: str,
    body: str | bytes,
    key: str | None = None,
    extra: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], str]:
    headers = {"Content-Type": "application/sdp", **(extra or {})}
    if key is not None:
        headers["Authorization"] = f"Bearer {key}"
    data = body.encode() if isinstance(body, str) else body
    async with env.http.post(env.base_url + path, data=data, headers=headers) as resp:
        return resp.status, dict(resp.headers), await resp.text()


async def until(predicate: object, within: float) -> float:
    started = time.monotonic()
    while not predicate():  # type: ignore[operator]
        assert time.monotonic() - started < within
        await asyncio.sleep(0.02)
    return time.monotonic() - started
