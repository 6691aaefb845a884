"""Ports for outgoing webhooks: the durable store of endpoints, events, deliveries and attempts,
and the HTTP sender that checks every address it connects to."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from livecommerce.domain.webhooks import DeliveryStatus, WebhookEvent


@dataclass(frozen=True, slots=True)
class Endpoint:
    id: str
    seller_id: str
    url: str
    events: tuple[str, ...]
    created_ms: int


@dataclass(frozen=True, slots=True)
class Attempt:
    """One try at a delivery: the answer's status (None: no answer) or why it failed."""

    number: int
    at_ms: int
    status_code: int | None
    error: str | None
    duration_ms: int
    response_excerpt: str


@dataclass(frozen=True, slots=True)
class Delivery:
    id: str
    endpoint_id: str
    event_id: str
    event_type: str
    status: DeliveryStatus
    attempts: int
    next_attempt_ms: int
    give_up_ms: int
    last_status: int | None
    last_error: str | None
    created_ms: int
    log: tuple[Attempt, ...] = ()


@dataclass(frozen=True, slots=True)
class LeasedDelivery:
    """A delivery this node holds the lease of: what to send, and where."""

    delivery_id: str
    lease: str
    attempt: int
    url: str
    secret: str
    body: bytes
    give_up_ms: int


@dataclass(frozen=True, slots=True)
class SendResult:
    status_code: int | None
    error: str | None
    response_excerpt: str
    duration_ms: int

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


class WebhookStore(Protocol):
    async def add_endpoint(self, endpoint: Endpoint, secret: str, max_endpoints: int) -> bool:
        """Store the endpoint; False when the seller has `max_endpoints` already."""

    async def endpoints(self, seller_id: str) -> list[Endpoint]: ...

    async def endpoint(self, endpoint_id: str) -> Endpoint | None: ...

    async def delete_endpoint(self, endpoint_id: str, at_ms: int) -> bool: ...

    async def enqueue(self, event: WebhookEvent) -> bool:
        """Store the event and a delivery for each endpoint of its seller subscribed to its
        type, in one transaction; False (nothing written) when no endpoint wants it or its key
        was enqueued before."""

    async def claim(self, now_ms: int, lease_ms: int, limit: int) -> list[LeasedDelivery]:
        """Take up to `limit` due deliveries under a fresh lease (never one leased to a node
        whose lease is still running)."""

    async def record(
        self,
        claimed: LeasedDelivery,
        result: SendResult,
        status: DeliveryStatus,
        next_ms: int,
        at_ms: int,
    ) -> bool:
        """Log the attempt and set the delivery's state, if this node still holds the lease."""

    async def deliveries(self, endpoint_id: str, limit: int) -> Sequence[Delivery]:
        """The endpoint's deliveries, newest first, each with its attempts."""

    async def redeliver(
        self, endpoint_id: str, delivery_id: str, now_ms: int, give_up_ms: int
    ) -> Delivery | None:
        """Make the delivery due now (pending, its retry window started again)."""


class WebhookSender(Protocol):
    async def send(self, url: str, body: bytes, headers: dict[str, str]) -> SendResult:
        """POST `body` to `url` once, connecting only to checked addresses; never raises for
        the receiver's or the network's failures (they are the result's `error`)."""
