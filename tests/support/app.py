"""The real app on a free loopback port, for tests that talk HTTP, Socket.IO or WebRTC to it."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

from aiohttp import web

from livecommerce.app import create_app
from livecommerce.settings import Settings


@dataclass
class RunningApp:
    app: web.Application
    base_url: str


@contextlib.asynccontextmanager
async def running_app(settings: Settings) -> AsyncIterator[RunningApp]:
    app = create_app(settings)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, settings.server.host, settings.server.port)
        await site.start()
        yield RunningApp(app=app, base_url=f"http://{settings.server.host}:{settings.server.port}")
    finally:
        await runner.cleanup()
