"""The user's side of notifications: the in-app list (paged, unread count, mark read), Web Push
subscriptions (validated: an https endpoint, a P-256 key and a 16-byte auth secret) and the
signed per-kind unsubscribe links of e-mails.

An unsubscribe token is ``base64url(user_id|kind).hmac`` under the server's secret key: it
names one user and one kind, so whoever holds the e-mail can switch off that kind's e-mails for
that user and nothing else, without signing in (RFC 8058 one-click needs exactly that).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import ipaddress
from dataclasses import dataclass
from urllib.parse import urlsplit

from livecommerce.domain.access import Action, Principal, authorize
from livecommerce.domain.notifications import Kind
from livecommerce.errors import InvalidInput, NotFound
from livecommerce.ids import new_id
from livecommerce.services.ports import (
    Clock,
    Notification,
    NotificationStore,
    PushSender,
    PushSubscription,
)
from livecommerce.services.preferences import PreferenceService

ENDPOINT_MAX = 2048
#: The uncompressed P-256 point a browser's ``p256dh`` key is (RFC 8291).
P256DH_BYTES = 65
AUTH_BYTES = 16
#: Subscriptions one user may hold (browsers and devices); the oldest beyond are not refused,
#: the new one is.
SUBSCRIPTIONS_MAX = 20


@dataclass(frozen=True, slots=True)
class Inbox:
    notifications: list[Notification]
    unread: int
    next_cursor: str | None


def _b64url(raw: str, name: str, size: int) -> bytes:
    try:
        data = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4))
    except (binascii.Error, ValueError):
        raise InvalidInput(f"keys.{name}: not base64url") from None
    if len(data) != size:
        raise InvalidInput(f"keys.{name}: must decode to {size} bytes")
    return data


def _address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def check_endpoint(endpoint: str, allow_insecure: bool) -> None:
    """A push service URL: https to a name or a public address, or (when the setting allows
    it, for tests) http to a loopback address. Names are checked again after DNS on send."""
    if len(endpoint) > ENDPOINT_MAX:
        raise InvalidInput(f"endpoint: at most {ENDPOINT_MAX} characters")
    parts = urlsplit(endpoint)
    if not parts.hostname or parts.username or parts.password:
        raise InvalidInput("endpoint: an absolute URL of the browser's push service")
    ip = _address(parts.hostname)
    loopback = parts.hostname == "localhost" or (ip is not None and ip.is_loopback)
    if allow_insecure and loopback and parts.scheme in ("http", "https"):
        return
    if parts.scheme != "https":
        raise InvalidInput("endpoint: must be https")
    if loopback or (ip is not None and not ip.is_global):
        raise InvalidInput("endpoint: must be a public address")


class NotificationService:
    def __init__(
        self,
        store: NotificationStore,
        preferences: PreferenceService,
        push: PushSender,
        clock: Clock,
        *,
        secret_key: bytes,
        base_url: str,
        allow_insecure_push_endpoints: bool = False,
    ) -> None:
        self._store = store
        self._preferences = preferences
        self._push = push
        self._clock = clock
        self._key = secret_key
        self._base_url = base_url
        self._allow_insecure = allow_insecure_push_endpoints

    # -- in-app ----------------------------------------------------------------------------------
    async def inbox(self, principal: Principal | None, cursor: str | None, limit: int) -> Inbox:
        caller = authorize(principal, Action.FOLLOW)
        before = None
        if cursor is not None:
            at, _, nid = cursor.partition(".")
            if not at.isdigit() or not nid.startswith("ntf_"):
                raise InvalidInput("cursor: not a cursor this API handed out")
            before = (int(at), nid)
        rows = await self._store.notifications(caller.user_id, before, limit + 1)
        page = rows[:limit]
        return Inbox(
            notifications=page,
            unread=await self._store.unread_count(caller.user_id),
            next_cursor=f"{page[-1].created_at}.{page[-1].id}" if len(rows) > limit else None,
        )

    async def mark_read(self, principal: Principal | None, ids: list[str] | None) -> int:
        """Mark these (None: all) of the caller's notifications read; the unread count after."""
        caller = authorize(principal, Action.FOLLOW)
        await self._store.mark_read(caller.user_id, ids, self._clock.now_ms())
        return await self._store.unread_count(caller.user_id)

    async def unread(self, principal: Principal | None) -> int:
        if principal is None or principal.is_guest:
            return 0
        return await self._store.unread_count(principal.user_id)

    # -- Web Push --------------------------------------------------------------------------------
    @property
    def vapid_public_key(self) -> str:
        return self._push.public_key

    async def subscribe(
        self, principal: Principal | None, endpoint: str, p256dh: str, auth: str
    ) -> PushSubscription:
        caller = authorize(principal, Action.FOLLOW)
        check_endpoint(endpoint, self._allow_insecure)
        key = _b64url(p256dh, "p256dh", P256DH_BYTES)
        if key[0] != 0x04:
            raise InvalidInput("keys.p256dh: an uncompressed P-256 point")
        _b64url(auth, "auth", AUTH_BYTES)
        held = await self._store.subscriptions(caller.user_id)
        if len(held) >= SUBSCRIPTIONS_MAX and all(s.endpoint != endpoint for s in held):
            raise InvalidInput(f"at most {SUBSCRIPTIONS_MAX} push subscriptions per account")
        sub = PushSubscription(new_id("psb"), caller.user_id, endpoint, p256dh, auth)
        await self._store.add_subscription(sub, self._clock.now_ms())
        return sub

    async def unsubscribe_push(self, principal: Principal | None, endpoint: str) -> None:
        caller = authorize(principal, Action.FOLLOW)
        if not await self._store.remove_subscription(caller.user_id, endpoint):
            raise NotFound("no such push subscription")

    # -- e-mail unsubscribe links ----------------------------------------------------------------
    def _sign(self, body: str) -> str:
        digest = hmac.new(self._key, f"unsubscribe\x00{body}".encode(), hashlib.sha256)
        return digest.hexdigest()[:40]

    def unsubscribe_token(self, user_id: str, kind: Kind) -> str:
        body = base64.urlsafe_b64encode(f"{user_id}|{kind}".encode()).decode().rstrip("=")
        return f"{body}.{self._sign(body)}"

    def unsubscribe_url(self, user_id: str, kind: Kind) -> str:
        return f"{self._base_url}/unsubscribe/{self.unsubscribe_token(user_id, kind)}"

    def read_unsubscribe_token(self, token: str) -> tuple[str, Kind]:
        """The (user, kind) a token names; NotFound for anything this server did not sign."""
        body, _, sig = token.partition(".")
        if len(token) > 400 or not hmac.compare_digest(sig, self._sign(body)):
            raise NotFound("this unsubscribe link is not valid")
        user_id, _, kind = (
            base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode().partition("|")
        )
        return user_id, Kind(kind)

    async def unsubscribe_email(self, token: str) -> Kind:
        user_id, kind = self.read_unsubscribe_token(token)
        await self._preferences.unsubscribe(user_id, kind)
        return kind
