"""The live hub (real-time plane): Socket.IO chat, reactions, Q&A, presence, moderation and the
commerce events (checkout, pins), all as thin handlers over the services.

``attach(app)`` puts the Socket.IO server on the app at ``/socket.io/`` (synchronously, before
the app starts) and closes its connections on shutdown; the composition root starts it with
``app[HUB].running(services)``. Handlers register with ``events.on`` and bus topics are relayed
to rooms with ``relays`` (``livecommerce.hub.events``); see docs/HUB.md. This is the only package
that imports socketio.
"""

from __future__ import annotations

from aiohttp import web

from livecommerce import keys
from livecommerce.hub import auctions as _auctions  # registers the auction events
from livecommerce.hub import drops as _drops  # registers the voucher drop event
from livecommerce.hub import giveaways as _giveaways  # registers the giveaway events
from livecommerce.hub import groupbuys as _groupbuys  # relays the group buy's updates
from livecommerce.hub import handlers as _handlers  # registers the hub's own events
from livecommerce.hub import shop as _shop  # registers the commerce events
from livecommerce.hub.events import events, relays
from livecommerce.hub.server import Hub

__all__ = ["HUB", "Hub", "attach"]
del _auctions, _drops, _giveaways, _groupbuys, _handlers, _shop

#: This node's Socket.IO server and its per-show state.
HUB = web.AppKey("hub", Hub)


def attach(app: web.Application) -> Hub:
    """Attach the Socket.IO server; its connections close in ``on_shutdown``."""
    hub = Hub(app, app[keys.SETTINGS], events, relays)
    app[HUB] = hub

    async def close_connections(app: web.Application) -> None:
        await app[HUB].close_connections()

    app.on_shutdown.append(close_connections)
    return hub
