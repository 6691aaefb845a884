"""The app-wide state, as typed ``web.AppKey``s, and the session cookie's name.

Every plane reads these; a plane's own state (the hub's server, the broadcast manager, the API
route table) is keyed in that plane's package, next to its type, so this module imports
nothing above the services and no import circle runs through it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import jinja2
from aiohttp import web
from prometheus_client import CollectorRegistry

if TYPE_CHECKING:
    from livecommerce.domain.access import Principal
    from livecommerce.services.container import Services
    from livecommerce.services.ports import Clock
    from livecommerce.settings import Settings

HealthCheck = Callable[[], Awaitable[None]]

#: The cookie that carries a browser's session token (pages, API and Socket.IO all read it).
SESSION_COOKIE = "lc_session"
#: The first-party browser id the show page sets, so one browser counts as one viewer across
#: its socket, WebRTC and HLS requests (docs/METRICS.md); also accepted as a query parameter.
VISITOR_COOKIE = "lc_vid"

SETTINGS: web.AppKey[Settings] = web.AppKey("settings")
CLOCK: web.AppKey[Clock] = web.AppKey("clock")
REGISTRY = web.AppKey("registry", CollectorRegistry)
HEALTH_CHECKS = web.AppKey("health_checks", dict[str, HealthCheck])
TEMPLATES = web.AppKey("templates", jinja2.Environment)
#: Signs CSRF tokens and keys stored token digests; read or created at start-up (never by
#: ``create_app``).
SECRET_KEY = web.AppKey("secret_key", bytes)
#: Every service, built once at start-up by the composition root.
SERVICES: web.AppKey[Services] = web.AppKey("services")

# Per-request state
PRINCIPAL: web.RequestKey[Principal | None] = web.RequestKey("principal")
PRE_SESSION: web.RequestKey[str] = web.RequestKey("pre_session")
