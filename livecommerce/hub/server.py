"""The hub: a python-socketio ``AsyncServer`` on the app's own aiohttp server, and ``Hub``, the
one object handlers and the composition root reach it through. ``Hub`` wires one collaborator
per job to the server and runs them: the gatekeeper (``hub/connections.py``: who may connect,
each connection's record), this node's share of each show (``hub/shows.py``: joining, delivery
here and through the fan-out) and the periodic loops (``hub/loops.py``: reaction bursts,
viewer counts); it keeps the per-node cache of show records itself.

Only the hub's modules talk to socketio. Handlers (``hub/handlers.py`` and other planes'
modules) never emit to sockets directly: they return an ack and call the methods here
(``broadcast``, ``deliver_chat``, ``kick``), which deliver to this node's clients and publish
to the other nodes through the fan-out.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any

import socketio
from aiohttp import web

from livecommerce.domain.access import ShowRef
from livecommerce.domain.chat import ChatMessage
from livecommerce.domain.moderation import check_standing
from livecommerce.errors import InvalidInput
from livecommerce.hub import loops
from livecommerce.hub.connections import Connection, Gatekeeper
from livecommerce.hub.events import EventRegistry, RelayTable
from livecommerce.hub.shows import LocalShows, ShowState
from livecommerce.hub.wire import OrjsonCodec, use_transport
from livecommerce.ids import new_id
from livecommerce.services.container import Services
from livecommerce.services.ports import BusHandler, Show
from livecommerce.services.shows import show_ref as ref_of
from livecommerce.settings import HubSettings, Settings

#: How long a show's seller/hosts are cached per node (host grants apply within this).
SHOW_CACHE_SECONDS = 5.0


class Hub:
    """This node's Socket.IO server, its connections and its share of every show."""

    def __init__(
        self,
        app: web.Application,
        settings: Settings,
        registry: EventRegistry,
        relays: RelayTable,
    ) -> None:
        self.app = app
        self.settings: HubSettings = settings.hub
        self.registry = registry
        self.relays = relays
        self.node_id = new_id("node")
        self.gatekeeper = Gatekeeper(self, settings.base_url)
        self.local_shows = LocalShows(self)
        self.sio = socketio.AsyncServer(
            async_mode="aiohttp",
            cors_allowed_origins=self.gatekeeper.origin_allowed,
            max_http_buffer_size=self.settings.max_frame_bytes,
            ping_interval=self.settings.ping_interval,
            ping_timeout=self.settings.ping_timeout,
            logger=False,
            engineio_logger=False,
            json=OrjsonCodec,
        )
        use_transport(self.sio, compress=self.settings.websocket_compression)
        self.sio.attach(app, socketio_path="socket.io")
        self.sio.on("connect", self.gatekeeper.connect)
        self.sio.on("disconnect", self.gatekeeper.disconnect)
        self.sio.on("*", self.gatekeeper.dispatch)
        self._show_cache: dict[str, tuple[float, Show]] = {}
        self._services: Services | None = None
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def services(self) -> Services:
        if self._services is None:
            raise RuntimeError("the hub is not started")
        return self._services

    @property
    def connections(self) -> dict[str, Connection]:
        return self.gatekeeper.connections

    @property
    def shows(self) -> dict[str, ShowState]:
        return self.local_shows.states

    # --- lifecycle ------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def running(self, services: Services) -> AsyncIterator[None]:
        """Start loops and the fan-out; on exit stop them (connections close in on_shutdown)."""
        self._services = services
        services.presence.add_source(self.local_shows.people)
        services.fanout.set_handlers(self.local_shows.receive, self.local_shows.recovered)
        bus = services.bus

        async def forget_show(payload: dict[str, Any]) -> None:
            # a lifecycle change must reach the next join ack, not wait out the cache
            self._show_cache.pop(str(payload.get("show_id", "")), None)

        bus.subscribe("show.state", forget_show)
        for topic in self.relays.rules:
            bus.subscribe(topic, self._relay_handler(topic))
        async with services.fanout.running():
            self._tasks = [
                asyncio.create_task(loops.burst_reactions(self), name="hub-reactions"),
                asyncio.create_task(loops.count_viewers(self), name="hub-presence"),
            ]
            try:
                yield
            finally:
                for task in self._tasks:
                    task.cancel()
                for task in self._tasks:
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
                await self.local_shows.close()

    async def close_connections(self) -> None:
        """on_shutdown: tell every client to go away so the server can stop promptly."""
        await self.gatekeeper.close_all()

    def _relay_handler(self, topic: str) -> BusHandler:
        async def handle(payload: dict[str, Any]) -> None:
            for rule in self.relays.rules.get(topic, []):
                for event, room, data in rule(payload):
                    await self.emit_local(event, data, room)

        return handle

    # --- shows ----------------------------------------------------------------------------

    async def show(self, show_id: str) -> Show:
        """The show (NotFound if unknown), cached a few seconds per node: every chat line and
        moderation action needs its seller and hosts."""
        now = time.monotonic()
        cached = self._show_cache.get(show_id)
        if cached and cached[0] > now:
            return cached[1]
        show = await self.services.shows.get(show_id)
        if len(self._show_cache) > 10_000:
            self._show_cache = {k: v for k, v in self._show_cache.items() if v[0] > now}
        self._show_cache[show_id] = (now + SHOW_CACHE_SECONDS, show)
        return show

    async def show_ref(self, show_id: str) -> ShowRef:
        return ref_of(await self.show(show_id))

    async def joined(self, sid: str, show_id: str) -> ShowRef:
        """The show a handler acts on, which the connection must have joined first; its
        seller and hosts are re-read (5 s cache) so a host granted mid-show acts at once."""
        conn = self.connections.get(sid)
        if conn is None or show_id not in conn.shows:
            if conn is not None and conn.principal is not None:
                # a banned viewer was removed from the show: tell them why, not "join first"
                standing = await self.services.moderation.standing(show_id, conn.principal.user_id)
                if standing.banned:
                    check_standing(standing, self.services.clock.now_ms())
            raise InvalidInput("join the show first (show.join)")
        return await self.show_ref(show_id)

    async def join(
        self, sid: str, show: ShowRef, last_seq: int | None
    ) -> tuple[list[ChatMessage], list[dict[str, Any]]]:
        """Enter the show's rooms and return (history as stored, history as the ack carries it).

        Banned users are refused; the join barrier in the outbox makes the ack plus the live
        stream gap-free and duplicate-free.
        """
        return await self.local_shows.join(sid, show, last_seq)

    async def leave(self, sid: str, show_id: str) -> None:
        await self.local_shows.leave(sid, show_id)

    async def viewers(self, show_id: str) -> int:
        """The show's ``watching_now``; 0 while presence is unreachable (never a guess)."""
        try:
            return await self.services.presence.watching_now(show_id)
        except Exception:
            return 0

    # --- delivery -------------------------------------------------------------------------

    async def emit_local(self, event: str, data: dict[str, Any], room: str) -> None:
        """Deliver to this node's members of ``room`` only (the bus relay uses this)."""
        await self.local_shows.emit_local(event, data, room)

    async def deliver_chat(self, message: ChatMessage) -> None:
        """A new visible line: to this node's room now, and to the other nodes."""
        await self.local_shows.deliver_chat(message)

    async def broadcast(
        self, show_id: str, event: str, data: dict[str, Any], *, staff_only: bool = False
    ) -> None:
        """Any other show event (deleted lines, Q&A, moderation notices) to every node."""
        await self.local_shows.broadcast(show_id, event, data, staff_only=staff_only)

    async def delete_lines(self, show_id: str, messages: list[ChatMessage]) -> None:
        """Tell every node's viewers that these lines are gone."""
        await self.local_shows.delete_lines(show_id, messages)

    async def kick(
        self, show_id: str, user_id: str, reason: str, restriction: dict[str, Any] | None = None
    ) -> None:
        """Remove a user's connections from a show on every node (after a ban)."""
        await self.local_shows.kick(show_id, user_id, reason, restriction)

    def add_reactions(self, show_id: str, kind: str, count: int) -> None:
        self.local_shows.add_reactions(show_id, kind, count)
