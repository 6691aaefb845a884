"""Every piece of app state, as a typed ``web.AppKey``; nothing else holds live state."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import jinja2
from aiohttp import web
from prometheus_client import CollectorRegistry

if TYPE_CHECKING:
    from livecommerce.adapters.sql.database import PostgresDatabase, SqliteDatabase
    from livecommerce.domain.access import Principal
    from livecommerce.routes.api import ApiRoute
    from livecommerce.services.accounts import AccountService
    from livecommerce.services.catalog import CatalogService
    from livecommerce.services.ports import Bus, Clock, RateLimiter
    from livecommerce.services.shows import ShowService
    from livecommerce.settings import Settings
    from livecommerce.shop import Shop

HealthCheck = Callable[[], Awaitable[None]]

SETTINGS: web.AppKey[Settings] = web.AppKey("settings")
CLOCK: web.AppKey[Clock] = web.AppKey("clock")
REGISTRY = web.AppKey("registry", CollectorRegistry)
HEALTH_CHECKS = web.AppKey("health_checks", dict[str, HealthCheck])
API_ROUTES = web.AppKey("api_routes", list["ApiRoute"])
TEMPLATES = web.AppKey("templates", jinja2.Environment)
SECRET_KEY = web.AppKey("secret_key", bytes)

DB: web.AppKey[SqliteDatabase | PostgresDatabase] = web.AppKey("db")
BUS: web.AppKey[Bus] = web.AppKey("bus")
RATE_LIMITER: web.AppKey[RateLimiter] = web.AppKey("rate_limiter")

ACCOUNTS: web.AppKey[AccountService] = web.AppKey("accounts")
SHOWS: web.AppKey[ShowService] = web.AppKey("shows")
CATALOG: web.AppKey[CatalogService] = web.AppKey("catalog")

# Per-request state
PRINCIPAL: web.RequestKey[Principal | None] = web.RequestKey("principal")
PRE_SESSION: web.RequestKey[str] = web.RequestKey("pre_session")

# Broadcast plane (media): peer sessions, feeds and packagers of this node.
if TYPE_CHECKING:
    from livecommerce.broadcast.hls import HlsPackagers
    from livecommerce.broadcast.manager import BroadcastManager

BROADCAST: web.AppKey[BroadcastManager] = web.AppKey("broadcast")
HLS: web.AppKey[HlsPackagers] = web.AppKey("hls")

# -- shop (issue 5): one container holding checkout, offers, orders, payments, inventory --------
SHOP: web.AppKey[Shop] = web.AppKey("shop")


# --- live hub (issue 4) ---
if TYPE_CHECKING:
    from livecommerce.hub.server import Hub

HUB: web.AppKey[Hub] = web.AppKey("hub")
