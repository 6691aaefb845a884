"""Ports for notifications: the outbox the state changes write to, the notifications and their
per-channel deliveries the worker claims with a lease, the users' preferences and Web Push
subscriptions, and the two senders (SMTP, Web Push).

Claims are leases (``claimed_until`` plus a random claim token): a worker that dies leaves its
rows to be claimed again once the lease runs out, and a worker writes an outcome only while its
own claim still holds, so two workers never both record one delivery.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from livecommerce.domain.notifications import (
    Channel,
    Content,
    DeliveryStatus,
    Kind,
    OutboxEvent,
    Preferences,
)


@dataclass(frozen=True, slots=True)
class ClaimedEvent:
    """An outbox event a worker holds the lease of."""

    id: str
    topic: str
    payload: dict[str, Any]
    created_at: int
    claim: str
    #: How far its fan-out got: "" (nothing yet), or "<stage>:<last recipient id>".
    progress: str


@dataclass(frozen=True, slots=True)
class Notification:
    id: str
    user_id: str
    kind: Kind
    title: str
    body: str
    url: str
    created_at: int
    read_at: int | None


@dataclass(frozen=True, slots=True)
class ClaimedDelivery:
    """One (notification, channel) a worker holds the lease of, with what it needs to send."""

    id: str
    notification: Notification
    channel: Channel
    attempts: int
    claim: str
    email: str | None
    name: str


@dataclass(frozen=True, slots=True)
class DeliveryOutcome:
    id: str
    claim: str
    status: DeliveryStatus
    attempts: int
    next_at: int
    error: str | None = None


@dataclass(frozen=True, slots=True)
class PushSubscription:
    id: str
    user_id: str
    endpoint: str
    p256dh: str
    auth: str


class NotificationStore(Protocol):
    async def add_events(self, events: list[OutboxEvent]) -> None:
        """Write events outside any other change (scheduled reminders); a repeat is a no-op."""

    async def claim_events(self, now_ms: int, lease_ms: int, limit: int) -> list[ClaimedEvent]:
        """Open events nobody holds (or whose lease ran out), now leased to the caller."""

    async def expand(
        self,
        event: ClaimedEvent,
        recipients: list[tuple[str, Content, Kind]],
        progress: str,
        now_ms: int,
        lease_ms: int,
    ) -> bool:
        """In one transaction: a notification per recipient (user id, words, kind) with its
        three deliveries, and the event's progress (lease renewed). False, with nothing
        written, when the caller's lease was lost."""

    async def finish_event(self, event: ClaimedEvent, now_ms: int) -> None:
        """The fan-out is complete (only while the caller's lease holds)."""

    async def claim_deliveries(
        self, now_ms: int, lease_ms: int, limit: int
    ) -> list[ClaimedDelivery]:
        """Pending deliveries that are due, nobody holds, now leased to the caller."""

    async def record(self, outcomes: list[DeliveryOutcome], now_ms: int) -> list[str]:
        """Write the outcomes (each only while its claim holds; sent in-app ones also mark the
        notification shown), in one transaction; the ids actually written."""

    async def notifications(
        self, user_id: str, before: tuple[int, str] | None, limit: int
    ) -> list[Notification]:
        """A user's shown notifications, newest first, those before the cursor."""

    async def unread_count(self, user_id: str) -> int: ...

    async def mark_read(self, user_id: str, ids: list[str] | None, now_ms: int) -> int:
        """Mark these (None: all) of the user's notifications read; how many changed."""

    async def deliveries(self, notification_id: str) -> list[dict[str, Any]]:
        """Each channel's delivery of a notification (status, attempts) for operators/tests."""

    async def preferences(self, user_ids: list[str]) -> dict[str, Preferences]:
        """Stored preferences of these users (users without a row are left out)."""

    async def save_preferences(self, user_id: str, prefs: Preferences, now_ms: int) -> None: ...

    async def add_subscription(self, sub: PushSubscription, now_ms: int) -> None:
        """Store (or move to this user) the subscription of one endpoint."""

    async def remove_subscription(self, user_id: str, endpoint: str) -> bool: ...

    async def drop_endpoint(self, endpoint: str) -> None:
        """The push service said the endpoint is gone (404/410): forget it."""

    async def subscriptions(self, user_id: str) -> list[PushSubscription]: ...


class Mailer(Protocol):
    """Sends one notification e-mail (a text and an HTML part, unsubscribe headers)."""

    @property
    def enabled(self) -> bool: ...

    async def send(
        self,
        *,
        to: str,
        name: str,
        kind: Kind,
        content: Content,
        base_url: str,
        unsubscribe_url: str,
        message_id: str,
    ) -> None:
        """Raise on failure (the worker retries); return once the SMTP server took it."""


class PushSender(Protocol):
    @property
    def public_key(self) -> str:
        """The VAPID application server key (base64url, uncompressed P-256 point)."""

    async def send(self, sub: PushSubscription, data: dict[str, Any], topic: str) -> bool:
        """Push ``data`` (JSON) to one browser; False when the endpoint is gone (404/410),
        raise on any other failure."""
