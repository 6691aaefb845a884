"""The composition root's start-up and shutdown, in one place and one order.

``runtime`` is the app's single cleanup context: it reads (or creates) the secret key, opens
every adapter once, builds every service once into ``app[keys.SERVICES]``, restores inventory,
seeds the demo, starts the broadcast plane, the hub and the background tasks, and on shutdown
stops them in reverse. ``create_app`` (``livecommerce/app.py``) only attaches handlers, so it
does no I/O.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import secrets
from collections.abc import AsyncIterator

from aiohttp import web

from livecommerce import keys
from livecommerce.bootstrap.adapters import ADAPTERS, open_adapters
from livecommerce.bootstrap.demo import seed_demo, seed_demo_offers
from livecommerce.bootstrap.media import running_media
from livecommerce.bootstrap.services import build_services
from livecommerce.bootstrap.tasks import background_tasks
from livecommerce.broadcast import HLS
from livecommerce.domain.shows import ShowStatus
from livecommerce.hub import HUB
from livecommerce.settings import Settings


def secret_key(settings: Settings) -> bytes:
    """The configured key, or one generated once and kept in the data dir (mode 0600).

    It signs CSRF tokens and keys the digests sign-in tokens are stored as: a new key ends every
    session and token (see docs/OPERATIONS.md)."""
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


async def runtime(app: web.Application) -> AsyncIterator[None]:
    settings = app[keys.SETTINGS]
    clock = app[keys.CLOCK]
    hub = app[HUB]
    app[keys.SECRET_KEY] = await asyncio.to_thread(secret_key, settings)
    async with contextlib.AsyncExitStack() as stack:
        adapters = await stack.enter_async_context(
            open_adapters(settings, clock, app[keys.REGISTRY], hub.node_id)
        )
        app[ADAPTERS] = adapters
        app[keys.HEALTH_CHECKS].update(adapters.health)
        services = build_services(settings, adapters, clock, app[keys.SECRET_KEY])
        app[keys.SERVICES] = services
        services.webhooks.listen()
        stack.push_async_callback(services.shop_events.close)
        stack.push_async_callback(services.auctions.aclose)
        stack.push_async_callback(services.giveaways.aclose)
        stack.push_async_callback(services.drops.aclose)
        stack.push_async_callback(services.groups.aclose)
        # pools the inventory store lacks (all of them in-process; a Redis that lost its data)
        # are rebuilt from stock movements and the orders still holding stock
        await services.stock.rebuild()
        # sellers from before handles existed get theirs (from the name; SQL cannot make them)
        await services.accounts.fill_handles()
        demo = None
        if settings.demo.enabled:
            demo = await seed_demo(
                settings.server.data_dir,
                settings.base_url,
                services.accounts,
                services.shows,
                services.catalog,
            )
            await seed_demo_offers(services, demo)
        media = await stack.enter_async_context(
            running_media(app, settings, services, app[keys.REGISTRY])
        )
        # shows a crashed process left live lost their publisher: paused, so the grace applies
        hls = app[HLS]
        await services.lifecycle.pause_orphans(
            {
                show.id: last
                for show in await services.shows.list([ShowStatus.LIVE])
                if (last := hls.last_media_ms(show.id)) is not None
            }
        )
        await stack.enter_async_context(hub.running(services))
        await stack.enter_async_context(background_tasks(settings, services))
        if demo is not None:
            await media.start_synthetic(str(demo["show_id"]))
        # what start-up made lives as long as the app: out of the cyclic collector's way, so a
        # full collection in a flash sale scans what the sale made, not the whole app (it paused
        # a 1,000-buyer stampede for 20-60 ms); shutdown hands it back
        gc.freeze()
        stack.callback(gc.unfreeze)
        previous = gc.get_threshold()
        gc.set_threshold(settings.server.gc_threshold, previous[1], previous[2])
        stack.callback(gc.set_threshold, *previous)
        yield
