"""The app factory: the only place that knows concrete adapters.

``create_app`` is synchronous and does no I/O. Stores and clients open in ``cleanup_ctx`` (their
cleanup runs only if their startup ran); long-lived client connections close in ``on_shutdown``.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import jinja2
from aiohttp import web
from prometheus_client import CollectorRegistry, Gauge

from livecommerce import broadcast, hub, keys, shop
from livecommerce.adapters.memory import MemoryBus, MemoryRateLimiter, SystemClock
from livecommerce.adapters.sql.accounts import SqlAccountStore
from livecommerce.adapters.sql.catalog import SqlCatalogStore
from livecommerce.adapters.sql.database import open_database
from livecommerce.adapters.sql.shows import SqlShowStore
from livecommerce.routes import setup_routes
from livecommerce.routes.middleware import error_middleware, metrics_middleware, security_headers
from livecommerce.routes.pages import pre_session
from livecommerce.services.accounts import AccountService
from livecommerce.services.catalog import CatalogService
from livecommerce.services.demo import seed_demo
from livecommerce.services.shows import ShowService
from livecommerce.settings import Settings

log = logging.getLogger(__name__)

WEB_DIR = Path(__file__).resolve().parent.parent / "web"


def _secret_key(settings: Settings) -> bytes:
    """The configured key, or one generated once and kept in the data dir (mode 0600)."""
    configured = settings.server.secret_key.get_secret_value()
    if configured:
        return configured.encode()
    path = settings.server.data_dir / "secret_key"
    if path.exists():
        return path.read_bytes().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32).encode()
    path.write_bytes(key)
    path.chmod(0o600)
    return key


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


async def _store_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[keys.SETTINGS]
    db = await open_database(settings.store_url, settings.store.pool_size)
    app[keys.DB] = db
    app[keys.HEALTH_CHECKS]["store"] = db.ping
    yield
    await db.close()


async def _redis_ctx(app: web.Application) -> AsyncIterator[None]:
    """Redis-backed bus and rate limits when configured, in-process ones otherwise."""
    settings = app[keys.SETTINGS]
    if not settings.redis.url:
        app[keys.BUS] = MemoryBus()
        app[keys.RATE_LIMITER] = MemoryRateLimiter(app[keys.CLOCK])
        yield
        return
    from livecommerce.adapters import redis as redis_adapters

    client = redis_adapters.connect(settings.redis.url, settings.redis.pool_size)
    bus = redis_adapters.RedisBus(client)
    app[keys.BUS] = bus
    app[keys.RATE_LIMITER] = redis_adapters.RedisRateLimiter(client)

    async def ping() -> None:
        await client.ping()

    app[keys.HEALTH_CHECKS]["redis"] = ping
    async with bus.running():
        yield
    await client.aclose()


async def _services_ctx(app: web.Application) -> AsyncIterator[None]:
    db = app[keys.DB]
    clock = app[keys.CLOCK]
    settings = app[keys.SETTINGS]
    account_store = SqlAccountStore(db)
    app[keys.ACCOUNTS] = AccountService(
        account_store, clock, settings.auth, tuple(settings.hub.reserved_names)
    )
    app[keys.SHOWS] = ShowService(SqlShowStore(db), account_store, clock, app[keys.BUS])
    app[keys.CATALOG] = CatalogService(SqlCatalogStore(db), clock)
    if settings.demo.enabled:
        await seed_demo(
            settings.server.data_dir,
            settings.base_url,
            app[keys.ACCOUNTS],
            app[keys.SHOWS],
            app[keys.CATALOG],
        )
    yield


def create_app(settings: Settings) -> web.Application:
    registry = CollectorRegistry()
    app = web.Application(
        middlewares=[metrics_middleware(registry), security_headers, error_middleware, pre_session],
        client_max_size=max(settings.server.max_body_bytes, settings.shop.image_max_bytes) + 65536,
    )
    app[keys.SETTINGS] = settings
    app[keys.CLOCK] = SystemClock()
    app[keys.REGISTRY] = registry
    app[keys.HEALTH_CHECKS] = {}
    app[keys.API_ROUTES] = []
    app[keys.SECRET_KEY] = _secret_key(settings)
    app[keys.TEMPLATES] = _templates(app)
    Gauge("livecommerce_up", "1 while the server runs", registry=app[keys.REGISTRY]).set(1)

    app.cleanup_ctx.append(_store_ctx)
    app.cleanup_ctx.append(_redis_ctx)
    app.cleanup_ctx.append(_services_ctx)
    broadcast.setup(app)
    setup_routes(app, WEB_DIR / "static")
    shop.setup(app)
    hub.setup(app)
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
