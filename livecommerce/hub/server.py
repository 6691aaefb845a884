"""The hub: a python-socketio ``AsyncServer`` on the app's own aiohttp server, its connections,
and the per-show machinery (chat outbox, reaction bursts, viewer counts, cross-node fan-out).

This is the only module that talks to socketio. Handlers (``hub/handlers.py`` and other
planes' modules) never emit to sockets directly: they return an ack and call the methods here
(``broadcast``, ``deliver_chat``, ``kick``), which deliver to this node's clients and publish
to the other nodes through the fan-out.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import socketio
from aiohttp import web

from livecommerce import keys
from livecommerce.domain.access import Principal, ShowRef, is_staff
from livecommerce.domain.chat import ChatMessage, ReactionTally
from livecommerce.domain.presence import should_push
from livecommerce.errors import (
    Banned,
    InvalidInput,
    LiveCommerceError,
    TooManyConnections,
    Unauthenticated,
)
from livecommerce.hub.events import (
    EventContext,
    EventRegistry,
    RelayTable,
    show_room,
    staff_room,
    user_room,
)
from livecommerce.hub.outbox import ShowOutbox
from livecommerce.ids import new_id
from livecommerce.services.container import Services
from livecommerce.services.ports import Show
from livecommerce.services.shows import show_ref as ref_of
from livecommerce.settings import HubSettings, Settings

log = logging.getLogger(__name__)


#: How long a show's seller/hosts are cached per node (host grants apply within this).
SHOW_CACHE_SECONDS = 5.0


@dataclass
class Connection:
    """One Socket.IO connection on this node."""

    sid: str
    principal: Principal | None
    address: str
    shows: dict[str, ShowRef] = field(default_factory=dict)


@dataclass
class ShowState:
    """This node's share of one show: its local viewers and pending aggregates."""

    outbox: ShowOutbox
    sids: set[str] = field(default_factory=set)
    reactions_local: ReactionTally = field(default_factory=ReactionTally)
    reactions_out: ReactionTally = field(default_factory=ReactionTally)
    reported_count: int | None = None
    reported_at: float = 0.0
    pushed_count: int | None = None
    pushed_at: float | None = None


class Hub:
    def __init__(
        self,
        app: web.Application,
        settings: Settings,
        registry: EventRegistry,
        relays: RelayTable,
    ) -> None:
        self.app = app
        self.settings: HubSettings = settings.hub
        self._base_url = settings.base_url
        self.registry = registry
        self.relays = relays
        self.node_id = new_id("node")
        self.sio = socketio.AsyncServer(
            async_mode="aiohttp",
            cors_allowed_origins=self._origin_allowed,
            max_http_buffer_size=self.settings.max_frame_bytes,
            ping_interval=self.settings.ping_interval,
            ping_timeout=self.settings.ping_timeout,
            logger=False,
            engineio_logger=False,
        )
        self.sio.attach(app, socketio_path="socket.io")
        self.sio.on("connect", self._on_connect)
        self.sio.on("disconnect", self._on_disconnect)
        self.sio.on("*", self._on_event)
        self.connections: dict[str, Connection] = {}
        self.shows: dict[str, ShowState] = {}
        self._per_address: dict[str, int] = {}
        self._show_cache: dict[str, tuple[float, Show]] = {}
        self._services: Services | None = None
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def services(self) -> Services:
        if self._services is None:
            raise RuntimeError("the hub is not started")
        return self._services

    # --- lifecycle ------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def running(self, services: Services) -> AsyncIterator[None]:
        """Start loops and the fan-out; on exit stop them (connections close in on_shutdown)."""
        self._services = services
        services.fanout.set_handlers(self._on_fanout, self._on_fanout_reconnect)
        bus = services.bus
        for topic in self.relays.rules:
            bus.subscribe(topic, self._relay_handler(topic))
        async with services.fanout.running():
            self._tasks = [
                asyncio.create_task(self._reaction_loop(), name="hub-reactions"),
                asyncio.create_task(self._presence_loop(), name="hub-presence"),
            ]
            try:
                yield
            finally:
                for task in self._tasks:
                    task.cancel()
                for task in self._tasks:
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
                for state in self.shows.values():
                    await state.outbox.close()

    async def close_connections(self) -> None:
        """on_shutdown: tell every client to go away so the server can stop promptly.

        Socket.IO-level disconnects first (clients see a clean close), then every Engine.IO
        socket, including half-open ones that never joined a namespace (their websocket
        handlers would otherwise hold aiohttp's shutdown for its full timeout), then the
        Engine.IO heartbeat task.
        """
        for sid in list(self.connections):
            with contextlib.suppress(Exception):
                await self.sio.disconnect(sid)
        # abort, do not wait: a socket whose peer is gone never drains its queue
        for socket in list(self.sio.eio.sockets.values()):
            with contextlib.suppress(Exception):
                await asyncio.wait_for(socket.close(wait=False, abort=True), 1.0)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.sio.shutdown(), 2.0)

    # --- connections ----------------------------------------------------------------------

    def _origin_allowed(self, origin: str | None, environ: dict[str, Any]) -> bool:
        """Same origin (the Host the client connected to, or the public URL), or allow-listed."""
        if not origin:
            return True
        allowed = set(self.settings.cors_allowed_origins)
        if "*" in allowed:
            return True
        host = environ.get("HTTP_HOST")
        scheme = environ.get("wsgi.url_scheme", "http")
        if host:
            allowed.add(f"{scheme}://{host}")
        allowed.add(self._base_url)
        return origin in allowed

    async def _on_connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        request: web.Request | None = environ.get("aiohttp.request")
        address = (request.remote if request is not None else None) or "unknown"
        if self._per_address.get(address, 0) >= self.settings.max_connections_per_address:
            raise _refuse(TooManyConnections("too many connections from this address"))
        # take the slot before any await, so concurrent handshakes cannot overshoot the cap
        self._per_address[address] = self._per_address.get(address, 0) + 1
        try:
            principal = await self._principal(request, auth)
        except BaseException:
            self._release_address(address)
            raise
        self.connections[sid] = Connection(sid, principal, address)
        if principal is not None:
            await self.sio.enter_room(sid, user_room(principal.user_id))

    async def _principal(self, request: web.Request | None, auth: Any) -> Principal | None:
        """``auth.token`` (refused if wrong), else the page's session cookie (anonymous if
        stale, as on HTTP), else nobody: a watch-only connection."""
        token = auth.get("token") if isinstance(auth, dict) else None
        if token is not None:
            if not isinstance(token, str):
                raise _refuse(Unauthenticated("token must be a string"))
            try:
                return await self.services.accounts.authenticate(token)
            except LiveCommerceError as exc:
                raise _refuse(exc) from exc
        cookie = request.cookies.get(keys.SESSION_COOKIE) if request is not None else None
        if cookie:
            try:
                return await self.services.accounts.authenticate(cookie)
            except Unauthenticated:
                return None
        return None

    def _release_address(self, address: str) -> None:
        left = self._per_address.get(address, 1) - 1
        if left > 0:
            self._per_address[address] = left
        else:
            self._per_address.pop(address, None)

    async def _on_disconnect(self, sid: str, *_reason: Any) -> None:
        conn = self.connections.pop(sid, None)
        if conn is None:
            return
        self._release_address(conn.address)
        for show_id in list(conn.shows):
            self._leave_local(sid, show_id)

    async def _on_event(self, event: str, sid: str, *args: Any) -> dict[str, Any]:
        conn = self.connections.get(sid)
        if conn is None:  # pragma: no cover - socketio only routes events of connected sids
            return {"ok": False, "error": {"code": "unauthenticated", "message": "not connected"}}
        data = args[0] if args else None
        ctx = EventContext(sid=sid, principal=conn.principal, services=self.services, hub=self)
        return await self.registry.dispatch(event, ctx, data)

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
            raise InvalidInput("join the show first (show.join)")
        return await self.show_ref(show_id)

    def _state(self, show_id: str) -> ShowState:
        state = self.shows.get(show_id)
        if state is None:
            outbox = ShowOutbox(
                show_id,
                self._emit_chat_room(show_id),
                self._emit_sid,
                coalesce_above=self.settings.coalesce_above_per_second,
                interval=self.settings.coalesce_interval_ms / 1000,
                deliveries_above=self.settings.coalesce_above_deliveries_per_second,
                audience=lambda: self.local_viewers(show_id),
            )
            state = self.shows[show_id] = ShowState(outbox)
        return state

    async def join(
        self, sid: str, show: ShowRef, last_seq: int | None
    ) -> tuple[list[ChatMessage], list[dict[str, Any]]]:
        """Enter the show's rooms and return (history as stored, history as the ack carries it).

        Banned users are refused; the join barrier in the outbox makes the ack plus the live
        stream gap-free and duplicate-free.
        """
        conn = self.connections[sid]
        principal = conn.principal
        if principal is not None and not is_staff(principal, show):
            standing = await self.services.moderation.standing(show.id, principal.user_id)
            if standing.banned:
                raise Banned("you are banned from this show")
        state = self._state(show.id)
        state.outbox.begin_join(sid)
        try:
            # subscribed before the history read: what the store lacks, the channel brings
            await self.services.fanout.watch(show.id)
            await self.sio.enter_room(sid, show_room(show.id))
            if is_staff(principal, show):
                await self.sio.enter_room(sid, staff_room(show.id))
            conn.shows[show.id] = show
            state.sids.add(sid)
            history = await self.services.chat.history(
                show.id,
                last_seq=last_seq,
                recent=self.settings.history_lines,
                replay_limit=self.settings.replay_limit,
            )
        except BaseException:
            state.outbox.leave(sid)
            self._leave_local(sid, show.id)
            raise
        wire = state.outbox.finish_join(sid, [m.to_wire() for m in history], last_seq)
        return history, wire

    async def leave(self, sid: str, show_id: str) -> None:
        await self.sio.leave_room(sid, show_room(show_id))
        await self.sio.leave_room(sid, staff_room(show_id))
        self._leave_local(sid, show_id)

    def _leave_local(self, sid: str, show_id: str) -> None:
        conn = self.connections.get(sid)
        if conn is not None:
            conn.shows.pop(show_id, None)
        state = self.shows.get(show_id)
        if state is not None:
            state.sids.discard(sid)
            state.outbox.leave(sid)

    def local_viewers(self, show_id: str) -> int:
        state = self.shows.get(show_id)
        return len(state.sids) if state else 0

    # --- delivery -------------------------------------------------------------------------

    def _emit_chat_room(self, show_id: str) -> Any:
        async def emit(event: str, data: dict[str, Any], skip: list[str]) -> None:
            await self.sio.emit(event, data, room=show_room(show_id), skip_sid=skip or None)

        return emit

    async def _emit_sid(self, event: str, data: dict[str, Any], sid: str) -> None:
        await self.sio.emit(event, data, to=sid)

    async def emit_local(self, event: str, data: dict[str, Any], room: str) -> None:
        """Deliver to this node's members of ``room`` only (the bus relay uses this)."""
        await self.sio.emit(event, data, room=room)

    async def deliver_chat(self, message: ChatMessage) -> None:
        """A new visible line: to this node's room now, and to the other nodes."""
        wire = message.to_wire()
        await self._state(message.show_id).outbox.deliver(wire)
        await self.services.fanout.publish(message.show_id, {"t": "chat", "m": wire})

    async def broadcast(
        self, show_id: str, event: str, data: dict[str, Any], *, staff_only: bool = False
    ) -> None:
        """Any other show event (deleted lines, Q&A, moderation notices) to every node."""
        room = staff_room(show_id) if staff_only else show_room(show_id)
        await self.sio.emit(event, data, room=room)
        await self.services.fanout.publish(
            show_id, {"t": "emit", "e": event, "d": data, "staff": staff_only}
        )

    async def delete_lines(self, show_id: str, messages: list[ChatMessage]) -> None:
        """Tell every node's viewers that these lines are gone."""
        state = self.shows.get(show_id)
        if state is not None:
            state.outbox.forget_ids(m.id for m in messages)
        for message in messages:
            await self.broadcast(show_id, "chat.deleted", {"id": message.id, "seq": message.seq})

    async def kick(self, show_id: str, user_id: str, reason: str) -> None:
        """Remove a user's connections from a show on every node (after a ban)."""
        await self._kick_local(show_id, user_id, reason)
        await self.services.fanout.publish(show_id, {"t": "kick", "u": user_id, "r": reason})

    async def _kick_local(self, show_id: str, user_id: str, reason: str) -> None:
        state = self.shows.get(show_id)
        if state is None:
            return
        for sid in list(state.sids):
            conn = self.connections.get(sid)
            if conn and conn.principal and conn.principal.user_id == user_id:
                await self.leave(sid, show_id)
                await self._emit_sid("show.left", {"show_id": show_id, "reason": reason}, sid)

    def add_reactions(self, show_id: str, kind: str, count: int) -> None:
        state = self._state(show_id)
        state.reactions_local.add(kind, count)
        state.reactions_out.add(kind, count)

    # --- fan-out from other nodes ---------------------------------------------------------

    async def _on_fanout(self, show_id: str, envelope: dict[str, Any]) -> None:
        state = self.shows.get(show_id)
        if state is None:
            return
        kind = envelope.get("t")
        if kind == "chat" and isinstance(envelope.get("m"), dict):
            await state.outbox.deliver(envelope["m"])
        elif kind == "emit" and isinstance(envelope.get("e"), str):
            room = staff_room(show_id) if envelope.get("staff") else show_room(show_id)
            raw = envelope.get("d")
            data: dict[str, Any] = raw if isinstance(raw, dict) else {}
            if envelope["e"] == "chat.deleted":
                state.outbox.forget_ids([str(data.get("id"))])
            await self.sio.emit(envelope["e"], data, room=room)
        elif kind == "react" and isinstance(envelope.get("c"), dict):
            state.reactions_local.merge(envelope["c"])
        elif kind == "kick" and isinstance(envelope.get("u"), str):
            await self._kick_local(show_id, envelope["u"], str(envelope.get("r", "")))

    async def _on_fanout_reconnect(self) -> None:
        """After a fan-out outage, deliver from the store what other nodes said meanwhile."""
        for show_id, state in list(self.shows.items()):
            try:
                missed = await self.services.chat.history(
                    show_id, last_seq=state.outbox.max_seq, recent=0, replay_limit=500
                )
            except LiveCommerceError:
                log.warning("gap fill failed for a show", extra={"show_id": show_id})
                continue
            for message in missed:
                await state.outbox.deliver(message.to_wire())

    def _relay_handler(self, topic: str) -> Any:
        async def handle(payload: dict[str, Any]) -> None:
            for rule in self.relays.rules.get(topic, []):
                for event, room, data in rule(payload):
                    await self.emit_local(event, data, room)

        return handle

    # --- periodic work --------------------------------------------------------------------

    async def _reaction_loop(self) -> None:
        """One ``reaction.burst`` per show per interval at most, never one per tap."""
        interval = self.settings.reaction_interval_ms / 1000
        while True:
            await asyncio.sleep(interval)
            for show_id, state in list(self.shows.items()):
                try:
                    if state.reactions_out:
                        await self.services.fanout.publish(
                            show_id, {"t": "react", "c": state.reactions_out.drain()}
                        )
                    if state.reactions_local:
                        counts = state.reactions_local.drain()
                        await self.sio.emit(
                            "reaction.burst",
                            {"show_id": show_id, "counts": counts},
                            room=show_room(show_id),
                        )
                except Exception:
                    log.exception("reaction burst failed")

    async def _presence_loop(self) -> None:
        """Report local counts (heartbeat) and push ``viewers.count`` when it changed."""
        push_every = self.settings.viewers_push_seconds
        heartbeat = self.settings.presence_heartbeat_seconds
        presence = self.services.presence
        while True:
            await asyncio.sleep(min(push_every, heartbeat) / 2)
            now = time.monotonic()
            for show_id, state in list(self.shows.items()):
                local = len(state.sids)
                try:
                    if state.reported_count != local or now - state.reported_at >= heartbeat:
                        await presence.report(show_id, self.node_id, local, heartbeat * 3)
                        state.reported_count, state.reported_at = local, now
                    total = await presence.total(show_id)
                except Exception:
                    log.warning("presence store unavailable; counting this node only")
                    total = local
                if local == 0 and not state.outbox._joining:
                    await self._drop_show(show_id, state)
                    continue
                if should_push(state.pushed_at, state.pushed_count, total, now, push_every):
                    state.pushed_at, state.pushed_count = now, total
                    await self.sio.emit(
                        "viewers.count",
                        {"show_id": show_id, "count": total},
                        room=show_room(show_id),
                    )

    async def _drop_show(self, show_id: str, state: ShowState) -> None:
        """The last local viewer left: stop listening to the show's channel."""
        await state.outbox.flush()
        await state.outbox.close()
        self.shows.pop(show_id, None)
        self.services.fanout.unwatch(show_id)

    async def viewers(self, show_id: str) -> int:
        try:
            return await self.services.presence.total(show_id)
        except Exception:
            return self.local_viewers(show_id)


def _refuse(exc: LiveCommerceError) -> socketio.exceptions.ConnectionRefusedError:
    """A refused connection carries the same ``{code, message}`` as an ack error."""
    return socketio.exceptions.ConnectionRefusedError(exc.message, {"code": exc.code})
