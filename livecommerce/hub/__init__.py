"""The live hub (real-time plane): Socket.IO chat, reactions, Q&A, presence and moderation.

``setup(app)`` attaches the Socket.IO server to the app at ``/socket.io/`` and wires the hub's
services when the app starts. Other planes add client events with ``events.on`` and relay bus
topics with ``relays`` (``livecommerce.hub.events``); see docs/HUB.md.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from livecommerce import keys
from livecommerce.adapters.hub_memory import MemoryPresence
from livecommerce.adapters.sql.hub import SqlHubStore
from livecommerce.domain.ratelimit import Rate
from livecommerce.hub import handlers as _handlers  # registers the hub's own events
from livecommerce.hub.events import EventContext, Payload, events, relays
from livecommerce.hub.fanout import Fanout, LocalFanout
from livecommerce.hub.server import Hub, HubServices
from livecommerce.routes import moderation as moderation_routes
from livecommerce.services.chat import ChatLimits, ChatService
from livecommerce.services.moderation import ModerationService
from livecommerce.services.presence import PresenceStore
from livecommerce.services.qa import QaService
from livecommerce.settings import RateSetting

__all__ = ["EventContext", "Hub", "Payload", "events", "relays", "setup"]
del _handlers


def _rates(settings: list[RateSetting]) -> tuple[Rate, ...]:
    return tuple(Rate(r.limit, r.per_seconds) for r in settings)


def setup(app: web.Application) -> None:
    """Attach the Socket.IO server (synchronously, before the app starts) and its lifecycle."""
    settings = app[keys.SETTINGS]
    hub = Hub(app, settings, events, relays)
    app[keys.HUB] = hub
    moderation_routes.api.register(app)
    app.cleanup_ctx.append(_hub_ctx)

    async def close_connections(app: web.Application) -> None:
        await app[keys.HUB].close_connections()

    app.on_shutdown.append(close_connections)


async def _hub_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[keys.SETTINGS]
    hub = app[keys.HUB]
    clock = app[keys.CLOCK]
    store = SqlHubStore(app[keys.DB])
    limits = ChatLimits(
        chat_rates=_rates(settings.hub.chat_rates),
        reaction_rates=_rates(settings.hub.reaction_rates),
        qa_rates=_rates(settings.hub.question_rates),
        reserved_names=tuple(settings.hub.reserved_names),
    )
    limiter = app[keys.RATE_LIMITER]
    client = None
    presence: PresenceStore
    fanout: Fanout
    if settings.redis.url:
        from livecommerce.adapters import redis as redis_adapters
        from livecommerce.adapters.hub_redis import RedisFanout, RedisPresence

        # a client of its own: the fan-out holds one connection in subscribed mode
        client = redis_adapters.connect(settings.redis.url, settings.redis.pool_size)
        presence = RedisPresence(client)
        fanout = RedisFanout(client, hub.node_id)
    else:
        presence = MemoryPresence(clock)
        fanout = LocalFanout(hub.node_id)
    services = HubServices(
        chat=ChatService(store, store, limiter, clock, limits),
        moderation=ModerationService(store, store, clock),
        qa=QaService(store, store, limiter, clock, limits),
        presence=presence,
        fanout=fanout,
    )
    try:
        async with hub.running(services):
            yield
    finally:
        if client is not None:
            await client.aclose()
