"""The hub's plug-in points: a registry of client events and a table of bus topics to relay.

Handlers anywhere in the code base (the hub's own chat/Q&A/moderation handlers, the shop's
``checkout.start`` / ``offer.pin``) register with ``@events.on(name, model=Model)``: the
registry validates the payload with the model, calls ``handler(ctx, payload)`` and turns the
result into the ack envelope ``{"ok": true, ...}`` or, from any ``LiveCommerceError``,
``{"ok": false, "error": {"code", "message"}}``. So no handler builds an envelope or catches
errors itself, and every event is acknowledged the same way. Module-level tables (like the
REST ``ApiRoutes``) hold declarations only; live state hangs off the app.

Server-side events that originate elsewhere travel on the Bus; ``relays.add(topic, ...)``
says which rooms each topic reaches (see docs/HUB.md).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from livecommerce.domain.access import Principal
from livecommerce.errors import InvalidInput, LiveCommerceError, PermissionDenied, Unauthenticated

if TYPE_CHECKING:
    from livecommerce.hub.server import Hub
    from livecommerce.services.container import Services

log = logging.getLogger(__name__)

M = TypeVar("M", bound=BaseModel)
Handler = Callable[["EventContext", M], Awaitable[Mapping[str, Any] | None]]


def show_room(show_id: str) -> str:
    """Everyone watching a show (viewers, guests and staff)."""
    return f"show:{show_id}"


def staff_room(show_id: str) -> str:
    """The show's seller, hosts and admins who joined it: review queue, reports, orders."""
    return f"staff:{show_id}"


def user_room(user_id: str) -> str:
    """Every connection of one account (all tabs, all nodes): order updates, notices."""
    return f"user:{user_id}"


class Payload(BaseModel):
    """Base for event payload models: unknown keys are refused, strings are not coerced."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


@dataclass(frozen=True, slots=True)
class EventContext:
    """What a handler gets besides its payload."""

    sid: str
    #: None for a watch-only connection (no token).
    principal: Principal | None
    services: Services
    hub: Hub

    def require_principal(self) -> Principal:
        if self.principal is None:
            raise Unauthenticated("connect with a token to do this")
        return self.principal


@dataclass(frozen=True, slots=True)
class _Registered(Generic[M]):
    name: str
    model: type[M]
    handler: Handler[M]


def ok(result: Mapping[str, Any] | None = None) -> dict[str, Any]:
    return {"ok": True, **(result or {})}


def failure(exc: LiveCommerceError) -> dict[str, Any]:
    return {"ok": False, **exc.to_wire()}


INTERNAL_ERROR = {"ok": False, "error": {"code": "internal_error", "message": "internal error"}}


#: Adds one field to the ``show.join`` ack: ``(ctx, show_id) -> value``.
JoinField = Callable[[EventContext, str], Awaitable[Any]]


class EventRegistry:
    def __init__(self) -> None:
        self._handlers: dict[str, _Registered[Any]] = {}
        self._join_fields: dict[str, JoinField] = {}

    def join_field(self, name: str) -> Callable[[JoinField], JoinField]:
        """Let another plane add ``name`` to the ``show.join`` ack (the shop adds the pinned offer),
        so a late joiner sees the whole room at once without the hub importing that plane."""

        def decorate(field: JoinField) -> JoinField:
            if name in self._join_fields:
                raise ValueError(f"a join field {name!r} is already registered")
            self._join_fields[name] = field
            return field

        return decorate

    async def join_fields(self, ctx: EventContext, show_id: str) -> dict[str, Any]:
        return {name: await field(ctx, show_id) for name, field in self._join_fields.items()}

    def on(self, name: str, *, model: type[M]) -> Callable[[Handler[M]], Handler[M]]:
        """Register ``handler(ctx, payload) -> dict | None`` for the client event ``name``."""

        def decorate(handler: Handler[M]) -> Handler[M]:
            if name in self._handlers:
                raise ValueError(f"a handler for {name!r} is already registered")
            self._handlers[name] = _Registered(name, model, handler)
            return handler

        return decorate

    def names(self) -> list[str]:
        return sorted(self._handlers)

    async def dispatch(self, name: str, ctx: EventContext, data: Any) -> dict[str, Any]:
        """Validate, run, and build the ack envelope; never raises."""
        registered = self._handlers.get(name)
        try:
            if registered is None:
                raise InvalidInput(f"unknown event {name!r}")
            try:
                payload = registered.model.model_validate(data if data is not None else {})
            except ValidationError as exc:
                details = [
                    {"field": ".".join(str(p) for p in e["loc"]) or "payload", "problem": e["msg"]}
                    for e in exc.errors()
                ]
                raise InvalidInput(
                    f"{details[0]['field']}: {details[0]['problem']}", details=details
                ) from exc
            return ok(await registered.handler(ctx, payload))
        except PermissionDenied as exc:
            # ASVS 16.3.2: a refused privileged event is a security event, logged with who tried
            log.warning(
                "authorization failure",
                extra={
                    "event": name,
                    "user_id": ctx.principal.user_id if ctx.principal else None,
                    "show_id": data.get("show_id") if isinstance(data, dict) else None,
                    "reason": exc.message,
                },
            )
            return failure(exc)
        except LiveCommerceError as exc:
            return failure(exc)
        except Exception:
            log.exception("hub event handler failed", extra={"event": name})
            return dict(INTERNAL_ERROR)


# --- bus topics → rooms ------------------------------------------------------------------------

#: Given a bus payload, the (event, room, data) deliveries it becomes; [] to drop it.
RelayRule = Callable[[dict[str, Any]], list[tuple[str, str, dict[str, Any]]]]


@dataclass
class RelayTable:
    """Bus topic → deliveries to Socket.IO rooms on this node (the bus already reached every
    node, so each node delivers to its own clients only)."""

    rules: dict[str, list[RelayRule]] = field(default_factory=dict)

    def add(self, topic: str, rule: RelayRule) -> None:
        self.rules.setdefault(topic, []).append(rule)

    def to_show(self, topic: str, event: str | None = None) -> None:
        """Relay ``topic`` (payload must carry ``show_id``) to the show room as ``event``."""

        def rule(payload: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
            show_id = payload.get("show_id")
            return [(event or topic, show_room(show_id), payload)] if show_id else []

        self.add(topic, rule)


events = EventRegistry()
relays = RelayTable()


def _order_updated(payload: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """``order.updated`` bus payload: ``{order: {...}, buyer_id, show_id?}``; the client gets
    ``{order}`` in the buyer's personal room and the show's staff room."""
    order = payload.get("order")
    if not isinstance(order, dict):
        return []
    data = {"order": order}
    out: list[tuple[str, str, dict[str, Any]]] = []
    if payload.get("buyer_id"):
        out.append(("order.updated", user_room(str(payload["buyer_id"])), data))
    show_id = payload.get("show_id") or order.get("show_id")
    if show_id:
        out.append(("order.updated", staff_room(str(show_id)), data))
    return out


def _appeal_new(payload: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """``appeal.new {show_id, appeal}``: to the show's staff (the console's appeal list)."""
    show_id = payload.get("show_id")
    return [("appeal.new", staff_room(str(show_id)), payload)] if show_id else []


def _appeal_decided(payload: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """``appeal.decided {show_id, appeal}``: to the viewer who appealed and the show's staff."""
    show_id, user_id = payload.get("show_id"), payload.get("user_id")
    if not show_id:
        return []
    data = {"show_id": show_id, "appeal": payload.get("appeal")}
    out = [("appeal.decided", staff_room(str(show_id)), data)]
    if user_id:
        out.append(("appeal.decided", user_room(str(user_id)), data))
    return out


def _notification_new(payload: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """``notification.new {user_id, notification}``: the notification itself to every connection
    of its user (``{id, kind, title, body, url, created_at}``)."""
    user_id, notification = payload.get("user_id"), payload.get("notification")
    if not user_id or not isinstance(notification, dict):
        return []
    return [("notification.new", user_room(str(user_id)), notification)]


relays.add("order.updated", _order_updated)
relays.add("notification.new", _notification_new)
relays.add("appeal.new", _appeal_new)
relays.add("appeal.decided", _appeal_decided)
relays.to_show("offer.pinned")
relays.to_show("offer.unpinned")
relays.to_show("offer.updated")
relays.to_show("show.state")
