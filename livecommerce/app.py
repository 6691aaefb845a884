"""The composition root: ``create_app`` attaches every plane's handlers to one aiohttp app and
registers the single start-up/shutdown context (``livecommerce/bootstrap/``), which opens the
adapters, builds the services and starts the background work.

``create_app`` is synchronous and does no I/O (the secret key, the store and Redis are opened at
start-up, so building an app in a test or at import never fails on the environment). Together
with ``bootstrap/`` and the CLI this is the only code that names concrete adapters.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import jinja2
from aiohttp import web
from prometheus_client import CollectorRegistry, Gauge

from livecommerce import bootstrap, hub, keys
from livecommerce.adapters.clock import SystemClock
from livecommerce.broadcast import BROADCAST
from livecommerce.routes import setup_routes
from livecommerce.routes.login import pre_session
from livecommerce.routes.middleware import (
    client_address,
    error_middleware,
    metrics_middleware,
    security_headers,
)
from livecommerce.settings import Settings

WEB_DIR = Path(__file__).resolve().parent.parent / "web"


def _templates(app: web.Application) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(WEB_DIR / "templates"),
        autoescape=True,
        enable_async=True,
        undefined=jinja2.StrictUndefined,
    )

    def static(name: str) -> str:
        return str(app.router["static"].url_for(filename=name))

    def iso(ms: int | None) -> str:
        return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat() if ms else ""

    env.globals.update(static=static, iso=iso)
    return env


async def _close_peers(app: web.Application) -> None:
    """Peer connections are long-lived clients: close them before the server waits on them."""
    manager = app.get(BROADCAST)
    if manager is not None:
        await manager.close()


def create_app(settings: Settings) -> web.Application:
    registry = CollectorRegistry()
    app = web.Application(
        middlewares=[
            client_address(settings.server.trusted_proxies),
            metrics_middleware(registry),
            security_headers,
            error_middleware,
            pre_session,
        ],
        client_max_size=max(settings.server.max_body_bytes, settings.shop.image_max_bytes) + 65536,
    )
    app[keys.SETTINGS] = settings
    app[keys.CLOCK] = SystemClock()
    app[keys.REGISTRY] = registry
    app[keys.HEALTH_CHECKS] = {}
    app[keys.TEMPLATES] = _templates(app)
    Gauge("livecommerce_up", "1 while the server runs", registry=registry).set(1)
    # why: a leak of per-connection tasks shows here first (the idle-connection soak, RB-18)
    Gauge(
        "livecommerce_asyncio_tasks", "asyncio tasks alive in the server's loop", registry=registry
    ).set_function(lambda: len(asyncio.all_tasks()))
    setup_routes(app, WEB_DIR / "static")
    hub.attach(app)
    app.cleanup_ctx.append(bootstrap.runtime)
    app.on_shutdown.append(_close_peers)
    return app


@contextlib.asynccontextmanager
async def serving(settings: Settings) -> AsyncIterator[web.AppRunner]:
    """Run the app on its configured host and port until the context closes."""
    runner = web.AppRunner(create_app(settings), access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, settings.server.host, settings.server.port)
        await site.start()
        yield runner
    finally:
        await runner.cleanup()
