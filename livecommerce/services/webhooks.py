"""Outgoing webhooks: sellers register endpoints for event types; events about their shop are
enqueued durably and delivered, signed, by every node's worker with retries for a day.

Where events come from: `order.paid`, `order.refunded` and `order.fulfilled` are built here
(`order_event`) and written by the order store in the same transaction as the order change, so
a committed change always has its event and a rolled-back one never does. `show.live`,
`show.ended`, `auction.closed` and `giveaway.drawn` are heard on the bus (every node hears each
one; the event's key makes it one event whoever enqueues it first). Those are enqueued after the
change committed: a node dying in between loses that event (documented in docs/AUDIENCE.md).

Delivery: `deliver_due` claims due deliveries under a lease (a compare-and-set in SQL, so two
nodes never make the same attempt, and a node dying mid-send leaves a lease that runs out and
the attempt is made again), sends each once through the `WebhookSender` (which checks every
address it connects to), and records the attempt; failures wait `backoff_ms` and give up at the
event's `give_up_ms`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from livecommerce.domain.access import Action, Principal, authorize
from livecommerce.domain.orders import Order
from livecommerce.domain.shows import ShowStatus
from livecommerce.domain.webhooks import (
    SIGNATURE_HEADER,
    DeliveryStatus,
    Target,
    WebhookEvent,
    backoff_ms,
    check_events,
    check_target,
    order_data,
    signature,
)
from livecommerce.errors import InvalidInput, LimitReached, NotFound
from livecommerce.ids import new_id, new_secret
from livecommerce.services.ports import (
    Bus,
    Clock,
    Delivery,
    Endpoint,
    LeasedDelivery,
    WebhookSender,
    WebhookStore,
)
from livecommerce.services.shows import ShowService

log = logging.getLogger(__name__)

#: The secret's prefix says what it is when it turns up in a seller's configuration.
SECRET_PREFIX = "lcwhsec_"  # noqa: S105 why: a prefix, not a secret


@dataclass(frozen=True, slots=True)
class WebhookOptions:
    allow_private_targets: bool
    timeout_ms: int
    retry_base_ms: int
    retry_max_ms: int
    give_up_ms: int
    batch: int
    max_endpoints: int


def parse_target(url: str) -> Target:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise InvalidInput("url: not a URL") from None
    return Target(
        url=url,
        scheme=parts.scheme,
        host=parts.hostname or "",
        port=port,
        has_credentials=parts.username is not None or parts.password is not None,
    )


class WebhookService:
    def __init__(
        self,
        store: WebhookStore,
        sender: WebhookSender,
        shows: ShowService,
        bus: Bus,
        clock: Clock,
        options: WebhookOptions,
    ) -> None:
        self._store = store
        self._sender = sender
        self._shows = shows
        self._bus = bus
        self._clock = clock
        self._options = options
        #: Longer than any attempt can take, so a lease only runs out on a node that died.
        self._lease_ms = 2 * options.timeout_ms + 30_000

    # -- endpoints -------------------------------------------------------------------------------
    async def create(
        self, principal: Principal | None, url: str, events: Sequence[str]
    ) -> tuple[Endpoint, str]:
        """A new endpoint of the caller's (sellers) and its signing secret, shown this once."""
        seller = authorize(principal, Action.VIEW_SHOP_ORDERS)
        checked = check_target(parse_target(url), allow_private=self._options.allow_private_targets)
        endpoint = Endpoint(
            new_id("whe"), seller.user_id, checked, check_events(events), self._clock.now_ms()
        )
        secret = SECRET_PREFIX + new_secret(24)
        if not await self._store.add_endpoint(endpoint, secret, self._options.max_endpoints):
            raise LimitReached(f"at most {self._options.max_endpoints} webhook endpoints")
        return endpoint, secret

    async def list(self, principal: Principal | None) -> list[Endpoint]:
        seller = authorize(principal, Action.VIEW_SHOP_ORDERS)
        return await self._store.endpoints(seller.user_id)

    async def _own(self, principal: Principal | None, endpoint_id: str) -> Endpoint:
        seller = authorize(principal, Action.VIEW_SHOP_ORDERS)
        endpoint = await self._store.endpoint(endpoint_id)
        if endpoint is None or endpoint.seller_id != seller.user_id:
            raise NotFound("no such webhook endpoint")
        return endpoint

    async def delete(self, principal: Principal | None, endpoint_id: str) -> None:
        """Remove the endpoint: nothing more is sent to it, its pending deliveries included."""
        endpoint = await self._own(principal, endpoint_id)
        await self._store.delete_endpoint(endpoint.id, self._clock.now_ms())

    async def deliveries(
        self, principal: Principal | None, endpoint_id: str, limit: int
    ) -> Sequence[Delivery]:
        endpoint = await self._own(principal, endpoint_id)
        return await self._store.deliveries(endpoint.id, limit)

    async def redeliver(
        self, principal: Principal | None, endpoint_id: str, delivery_id: str
    ) -> Delivery:
        """Send a delivery again now, with a new retry window (the same event id and body)."""
        endpoint = await self._own(principal, endpoint_id)
        now = self._clock.now_ms()
        delivery = await self._store.redeliver(
            endpoint.id, delivery_id, now, now + self._options.give_up_ms
        )
        if delivery is None:
            raise NotFound("no such delivery")
        return delivery

    # -- events ----------------------------------------------------------------------------------
    def event(self, seller_id: str, type_: str, data: dict[str, Any], key: str) -> WebhookEvent:
        now = self._clock.now_ms()
        return WebhookEvent(
            id=new_id("evt"),
            seller_id=seller_id,
            type=type_,
            created_ms=now,
            data=data,
            key=key,
            give_up_ms=now + self._options.give_up_ms,
        )

    def order_event(self, type_: str, order: Order, key: str) -> WebhookEvent:
        """An `order.*` event of the order as it is after the change (`key`: the change's)."""
        return self.event(order.seller_id, type_, order_data(order), f"{type_}:{order.id}:{key}")

    def listen(self) -> None:
        """Hear the bus events that become webhooks (every node listens; keys dedupe)."""
        self._bus.subscribe("show.state", self._show_state)
        self._bus.subscribe("auction.closed", self._auction_closed)
        self._bus.subscribe("giveaway.drawn", self._giveaway_drawn)

    async def _show_state(self, payload: dict[str, Any]) -> None:
        state = payload.get("state")
        if state not in (ShowStatus.LIVE, ShowStatus.ENDED):
            return
        show = await self._shows.get(str(payload["show_id"]))
        data = {
            "id": show.id,
            "seller_id": show.seller_id,
            "title": show.title,
            "status": str(show.status),
            "scheduled_at": show.scheduled_at,
            "started_at": show.started_at,
            "ended_at": show.ended_at,
        }
        if state == ShowStatus.LIVE:
            # a resume after a pause keeps started_at: one show.live per show
            await self._store.enqueue(
                self.event(show.seller_id, "show.live", data, f"show.live:{show.id}")
            )
        else:
            await self._store.enqueue(
                self.event(show.seller_id, "show.ended", data, f"show.ended:{show.id}")
            )

    async def _auction_closed(self, payload: dict[str, Any]) -> None:
        show = await self._shows.get(str(payload["show_id"]))
        keep = ("show_id", "offer_id", "winner", "amount", "currency", "reserve_met", "order_id")
        data = {k: payload.get(k) for k in keep}
        key = f"auction.closed:{payload['offer_id']}"
        await self._store.enqueue(self.event(show.seller_id, "auction.closed", data, key))

    async def _giveaway_drawn(self, payload: dict[str, Any]) -> None:
        show = await self._shows.get(str(payload["show_id"]))
        data = {k: payload.get(k) for k in ("show_id", "giveaway_id", "winners", "seed")}
        key = f"giveaway.drawn:{payload['giveaway_id']}"
        await self._store.enqueue(self.event(show.seller_id, "giveaway.drawn", data, key))

    # -- delivery --------------------------------------------------------------------------------
    async def deliver_due(self) -> int:
        """Attempt every due delivery this node can lease (one batch); how many were sent."""
        leased = await self._store.claim(self._clock.now_ms(), self._lease_ms, self._options.batch)
        if leased:
            await asyncio.gather(*(self._attempt(d) for d in leased))
        return len(leased)

    async def _attempt(self, delivery: LeasedDelivery) -> None:
        timestamp = self._clock.now_ms() // 1000
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: signature(delivery.secret, timestamp, delivery.body),
        }
        result = await self._sender.send(delivery.url, delivery.body, headers)
        now = self._clock.now_ms()
        status, next_ms = DeliveryStatus.SUCCEEDED, now
        if not result.ok:
            o = self._options
            next_ms = now + backoff_ms(delivery.attempt, o.retry_base_ms, o.retry_max_ms)
            status = DeliveryStatus.FAILED
            if next_ms <= delivery.give_up_ms:
                status = DeliveryStatus.PENDING
        if not await self._store.record(delivery, result, status, next_ms, now):
            log.warning(
                "a webhook attempt outlived its lease", extra={"delivery": delivery.delivery_id}
            )
