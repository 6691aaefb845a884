"""Notifications API: the caller's preferences, in-app notifications (list, unread count, mark
read), Web Push subscriptions and the VAPID public key; and the e-mail unsubscribe pages
(``GET`` a confirmation page, ``POST`` the RFC 8058 one-click unsubscribe, no sign-in: the
signed token in the address names the user and the kind)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, model_validator

from livecommerce import keys
from livecommerce.domain.notifications import Preferences, switches
from livecommerce.routes.api import ApiRoutes
from livecommerce.routes.auth import require_principal
from livecommerce.routes.pages import render
from livecommerce.services.ports import Notification

api = ApiRoutes("notifications")
routes = web.RouteTableDef()

Switches = dict[str, dict[str, bool]]
Clock = Annotated[str, Field(pattern=r"^\d\d:\d\d$", description="HH:MM, 24 h")]


class QuietHoursIO(BaseModel):
    model_config = ConfigDict(extra="forbid")
    start: Clock
    end: Clock = Field(description="e-mail and push wait until this local time (in-app not)")
    timezone: str = Field(min_length=1, max_length=64, description="IANA, e.g. Europe/Berlin")


class PreferencesOut(BaseModel):
    kinds: Switches = Field(description="kind -> channel (in_app, email, push) -> on")
    quiet_hours: QuietHoursIO | None
    answer_buyer_questions: bool

    @classmethod
    def of(cls, prefs: Preferences) -> PreferencesOut:
        quiet = None
        if prefs.quiet_start and prefs.quiet_end and prefs.timezone:
            quiet = QuietHoursIO(
                start=prefs.quiet_start, end=prefs.quiet_end, timezone=prefs.timezone
            )
        return cls(
            kinds=switches(prefs),
            quiet_hours=quiet,
            answer_buyer_questions=prefs.answer_buyer_questions,
        )


class PreferencesIn(BaseModel):
    """Only what is sent changes; ``quiet_hours: null`` removes the window."""

    model_config = ConfigDict(extra="forbid")
    kinds: Switches | None = Field(None, max_length=20)
    quiet_hours: QuietHoursIO | None = None
    answer_buyer_questions: bool | None = None


class NotificationOut(BaseModel):
    id: str
    kind: str
    title: str
    body: str
    url: str
    created_at: datetime
    read: bool

    @classmethod
    def of(cls, n: Notification) -> NotificationOut:
        return cls(
            id=n.id,
            kind=str(n.kind),
            title=n.title,
            body=n.body,
            url=n.url,
            created_at=datetime.fromtimestamp(n.created_at / 1000, UTC),
            read=n.read_at is not None,
        )


class NotificationList(BaseModel):
    notifications: list[NotificationOut]
    unread: int = Field(description="the caller's unread notifications (all pages)")
    next_cursor: str | None


class NotificationQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    limit: int = Field(20, ge=1, le=100)
    cursor: str | None = Field(None, min_length=3, max_length=200)


class ReadIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ids: list[Annotated[str, Field(min_length=1, max_length=80)]] | None = Field(
        None, max_length=500
    )
    all: bool = False

    @model_validator(mode="after")
    def _one(self) -> ReadIn:
        if (self.ids is None) == (not self.all):
            raise ValueError("send either ids or all: true")
        return self


class UnreadOut(BaseModel):
    unread: int


class VapidKeyOut(BaseModel):
    public_key: str = Field(description="applicationServerKey for pushManager.subscribe")


class PushKeys(BaseModel):
    model_config = ConfigDict(extra="forbid")
    p256dh: str = Field(min_length=1, max_length=200)
    auth: str = Field(min_length=1, max_length=100)


class PushSubscriptionIn(BaseModel):
    """What ``PushSubscription.toJSON()`` gives in the browser (``expirationTime`` ignored)."""

    model_config = ConfigDict(extra="forbid")
    endpoint: str = Field(min_length=8, max_length=2048)
    keys: PushKeys
    expirationTime: int | None = None


class PushEndpointIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    endpoint: str = Field(min_length=8, max_length=2048)


class PushSubscriptionOut(BaseModel):
    id: str
    endpoint: str


@api.get(
    "/api/v1/me/preferences",
    response=PreferencesOut,
    summary="Your notification preferences: switches per kind and channel, quiet hours",
)
async def get_preferences(request: web.Request) -> PreferencesOut:
    principal = await require_principal(request)
    return PreferencesOut.of(await request.app[keys.SERVICES].preferences.mine(principal))


@api.put(
    "/api/v1/me/preferences",
    body=PreferencesIn,
    response=PreferencesOut,
    summary="Change notification preferences (only the fields sent)",
)
async def put_preferences(request: web.Request, body: PreferencesIn) -> PreferencesOut:
    principal = await require_principal(request)
    quiet = body.quiet_hours
    prefs = await request.app[keys.SERVICES].preferences.update(
        principal,
        kinds=body.kinds,
        quiet=(quiet.start, quiet.end, quiet.timezone) if quiet is not None else None,
        clear_quiet="quiet_hours" in body.model_fields_set and quiet is None,
        answer_buyer_questions=body.answer_buyer_questions,
    )
    return PreferencesOut.of(prefs)


@api.get(
    "/api/v1/me/notifications",
    query=NotificationQuery,
    response=NotificationList,
    summary="Your in-app notifications, newest first, with the unread count",
)
async def list_notifications(request: web.Request, query: NotificationQuery) -> NotificationList:
    principal = await require_principal(request)
    inbox = await request.app[keys.SERVICES].notifications.inbox(
        principal, query.cursor, query.limit
    )
    return NotificationList(
        notifications=[NotificationOut.of(n) for n in inbox.notifications],
        unread=inbox.unread,
        next_cursor=inbox.next_cursor,
    )


@api.post(
    "/api/v1/me/notifications/read",
    body=ReadIn,
    response=UnreadOut,
    summary="Mark notifications read: {ids: [...]} or {all: true}",
)
async def read_notifications(request: web.Request, body: ReadIn) -> UnreadOut:
    principal = await require_principal(request)
    unread = await request.app[keys.SERVICES].notifications.mark_read(
        principal, None if body.all else body.ids
    )
    return UnreadOut(unread=unread)


@api.get(
    "/api/v1/push/vapid-public-key",
    response=VapidKeyOut,
    auth=False,
    summary="The server's VAPID public key (applicationServerKey)",
)
async def vapid_public_key(request: web.Request) -> VapidKeyOut:
    return VapidKeyOut(public_key=request.app[keys.SERVICES].notifications.vapid_public_key)


@api.post(
    "/api/v1/me/push-subscriptions",
    body=PushSubscriptionIn,
    response=PushSubscriptionOut,
    status=201,
    summary="Subscribe this browser to Web Push (an https endpoint, p256dh and auth keys)",
)
async def add_push_subscription(
    request: web.Request, body: PushSubscriptionIn
) -> PushSubscriptionOut:
    principal = await require_principal(request)
    sub = await request.app[keys.SERVICES].notifications.subscribe(
        principal, body.endpoint, body.keys.p256dh, body.keys.auth
    )
    return PushSubscriptionOut(id=sub.id, endpoint=sub.endpoint)


@api.delete(
    "/api/v1/me/push-subscriptions",
    body=PushEndpointIn,
    response=PushEndpointIn,
    summary="Unsubscribe a browser from Web Push (by its endpoint)",
)
async def remove_push_subscription(request: web.Request, body: PushEndpointIn) -> PushEndpointIn:
    principal = await require_principal(request)
    await request.app[keys.SERVICES].notifications.unsubscribe_push(principal, body.endpoint)
    return body


@routes.get("/unsubscribe/{token}")
async def unsubscribe_page(request: web.Request) -> web.Response:
    """The link in an e-mail's footer: a page that asks before it changes anything (mail
    scanners follow links; they do not submit forms)."""
    notifications = request.app[keys.SERVICES].notifications
    _, kind = notifications.read_unsubscribe_token(request.match_info["token"])
    return await render(request, "unsubscribe.html", kind=str(kind), done=False)


@routes.post("/unsubscribe/{token}")
async def unsubscribe(request: web.Request) -> web.Response:
    """RFC 8058 one-click (``List-Unsubscribe=One-Click`` posted by the mail client) and the
    confirmation page's button alike: that kind's e-mails stop."""
    kind = await request.app[keys.SERVICES].notifications.unsubscribe_email(
        request.match_info["token"]
    )
    return await render(request, "unsubscribe.html", kind=str(kind), done=True)
