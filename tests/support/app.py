"""The real app on a free loopback port, for tests that talk HTTP, Socket.IO or WebRTC to it."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

from aiohttp import web

from livecommerce import keys
from livecommerce.app import create_app
from livecommerce.services.ports import Clock
from livecommerce.settings import Settings


@dataclass
class RunningApp:
    app: web.Application
    base_url: str


@contextlib.asynccontextmanager
async def running_app(settings: Settings, clock: Clock | None = None) -> AsyncIterator[RunningApp]:
    """``clock`` (a test's fake) replaces the wall clock before startup, so every adapter and
    service built at startup reads it."""
    app = create_app(settings)
    if clock is not None:
        app[keys.CLOCK] = clock
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, settings.server.host, settings.server.port)
        await site.start()
        yield RunningApp(app=app, base_url=f"http://{settings.server.host}:{settings.server.port}")
    finally:
        await runner.cleanup()
