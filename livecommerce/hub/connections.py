"""This node's Socket.IO connections: who may connect (origin, a cap per address, a token or the
page's session cookie), the record kept for each connection while it lasts, and handing its
events to the registry. A refused handshake carries the same ``{code, message}`` as an ack
error, so a client handles both the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import socketio
from aiohttp import web

from livecommerce import keys
from livecommerce.domain.access import Principal, ShowRef
from livecommerce.domain.presence import person_key, valid_visitor_id
from livecommerce.errors import LiveCommerceError, TooManyConnections, Unauthenticated
from livecommerce.hub.events import EventContext, user_room

if TYPE_CHECKING:
    from livecommerce.hub.server import Hub


@dataclass(slots=True)
class Connection:
    """One Socket.IO connection on this node (slots: there is one per viewer)."""

    sid: str
    principal: Principal | None
    address: str
    #: Who this connection is counted as in a show's audience (docs/METRICS.md).
    person: str = ""
    shows: dict[str, ShowRef] = field(default_factory=dict)
    #: The page's browser id (`lc_vid`, same-origin handshakes only) whose share-link visits
    #: its first checkout hands to the account, as a REST checkout does; None once handed.
    browser: str | None = None


class Gatekeeper:
    """Admits connections and keeps their records; the hub registers its methods with the
    server as the ``connect``, ``disconnect`` and catch-all event handlers."""

    def __init__(self, hub: Hub, base_url: str) -> None:
        self._hub = hub
        self._base_url = base_url
        self.connections: dict[str, Connection] = {}
        self._per_address: dict[str, int] = {}

    def origin_allowed(self, origin: str | None, environ: dict[str, Any]) -> bool:
        """Same origin (the Host the client connected to, or the public URL), or allow-listed."""
        if not origin or self.same_origin(origin, environ):
            return True
        allowed = set(self._hub.settings.cors_allowed_origins)
        return "*" in allowed or origin in allowed

    def same_origin(self, origin: str | None, environ: dict[str, Any]) -> bool:
        """Whether a handshake comes from this site's own pages (or from no page at all)."""
        if not origin:
            return True
        host = environ.get("HTTP_HOST")
        scheme = environ.get("wsgi.url_scheme", "http")
        return origin == self._base_url or (bool(host) and origin == f"{scheme}://{host}")

    async def connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        request: web.Request | None = environ.get("aiohttp.request")
        address = (request.remote if request is not None else None) or "unknown"
        if self._per_address.get(address, 0) >= self._hub.settings.max_connections_per_address:
            raise _refuse(TooManyConnections("too many connections from this address"))
        # take the slot before any await, so concurrent handshakes cannot overshoot the cap
        self._per_address[address] = self._per_address.get(address, 0) + 1
        try:
            # the page's cookie speaks for it only on our own origin: an allow-listed other
            # site (or "*") must present a token, or a page there would chat and buy as
            # whoever visits it (cross-site WebSocket hijacking)
            cookie_ok = self.same_origin(environ.get("HTTP_ORIGIN"), environ)
            principal = await self._principal(request, auth, cookie_ok)
        except BaseException:
            self._release_address(address)
            raise
        person = person_key(
            principal.user_id if principal is not None else None,
            _visitor(request, auth),
            sid,
        )
        browser = _page_browser(request) if cookie_ok and principal is not None else None
        self.connections[sid] = Connection(sid, principal, address, person, browser=browser)
        if principal is not None:
            await self._hub.sio.enter_room(sid, user_room(principal.user_id))

    async def _principal(
        self, request: web.Request | None, auth: Any, cookie_ok: bool
    ) -> Principal | None:
        """``auth.token`` (refused if wrong), else the page's session cookie on a same-origin
        handshake (anonymous if stale, as on HTTP), else nobody: a watch-only connection."""
        token = auth.get("token") if isinstance(auth, dict) else None
        if token is not None:
            if not isinstance(token, str):
                raise _refuse(Unauthenticated("token must be a string"))
            try:
                return await self._hub.services.accounts.authenticate(token)
            except LiveCommerceError as exc:
                raise _refuse(exc) from exc
        cookie = None
        if request is not None and cookie_ok:
            cookie = request.cookies.get(keys.SESSION_COOKIE)
        if cookie:
            try:
                return await self._hub.services.accounts.authenticate(cookie)
            except Unauthenticated:
                return None
        return None

    def _release_address(self, address: str) -> None:
        left = self._per_address.get(address, 1) - 1
        if left > 0:
            self._per_address[address] = left
        else:
            self._per_address.pop(address, None)

    async def disconnect(self, sid: str, *_reason: Any) -> None:
        conn = self.connections.pop(sid, None)
        if conn is None:
            return
        self._release_address(conn.address)
        for show_id in list(conn.shows):
            self._hub.local_shows.leave_local(sid, show_id)

    async def dispatch(self, event: str, sid: str, *args: Any) -> dict[str, Any]:
        conn = self.connections.get(sid)
        if conn is None:  # pragma: no cover - socketio only routes events of connected sids
            return {"ok": False, "error": {"code": "unauthenticated", "message": "not connected"}}
        data = args[0] if args else None
        hub = self._hub
        ctx = EventContext(sid=sid, principal=conn.principal, services=hub.services, hub=hub)
        return await hub.registry.dispatch(event, ctx, data)

    async def close_all(self) -> None:
        """Socket.IO-level disconnects first (clients see a clean close), then every Engine.IO
        socket, including half-open ones that never joined a namespace (their websocket
        handlers would otherwise hold aiohttp's shutdown for its full timeout), then the
        Engine.IO heartbeat task.
        """
        sio = self._hub.sio
        for sid in list(self.connections):
            with contextlib.suppress(Exception):
                await sio.disconnect(sid)
        # abort, do not wait: a socket whose peer is gone never drains its queue
        for socket in list(sio.eio.sockets.values()):
            with contextlib.suppress(Exception):
                await asyncio.wait_for(socket.close(wait=False, abort=True), 1.0)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(sio.shutdown(), 2.0)


def _visitor(request: web.Request | None, auth: Any) -> str | None:
    """The browser id a player sends in ``auth.vid``, else the page's ``lc_vid`` cookie (any
    origin: it only names a browser, it grants nothing)."""
    sent = auth.get("vid") if isinstance(auth, dict) else None
    if valid_visitor_id(sent):
        return str(sent)
    cookie = request.cookies.get(keys.VISITOR_COOKIE) if request is not None else None
    return cookie if valid_visitor_id(cookie) else None


def _page_browser(request: web.Request | None) -> str | None:
    """The page's own browser id (the cookie only: an id a client sends names a browser for
    counting, but may not move that browser's referral visits to an account)."""
    cookie = request.cookies.get(keys.VISITOR_COOKIE) if request is not None else None
    return cookie if valid_visitor_id(cookie) else None


def _refuse(exc: LiveCommerceError) -> socketio.exceptions.ConnectionRefusedError:
    """A refused connection carries the same ``{code, message}`` as an ack error."""
    return socketio.exceptions.ConnectionRefusedError(exc.message, {"code": exc.code})
