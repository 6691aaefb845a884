"""The OrderStore port: orders, offers, the journal and provider-event dedup in the durable store.

Every status change is a compare-and-set on the status the caller read, and a payment's journal
transaction is written in the same database transaction as the order's move to `paid`, so a
crash can never leave a paid order without its entries or entries without a paid order.
"""

from __future__ import annotations

import asyncio
import csv
import io
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Protocol

from livecommerce.domain.access import Action, Principal, Role, authorize
from livecommerce.domain.ledger import JournalTransaction
from livecommerce.domain.offers import Offer, offer_view
from livecommerce.domain.orders import Order, OrderStatus, order_view, transition
from livecommerce.errors import Conflict, NotFound, Unauthenticated
from livecommerce.services.inventory import InventoryStore
from livecommerce.services.ports import Bus, Clock


@dataclass(frozen=True, slots=True)
class OrderFilter:
    """Which orders a list returns; None means any."""

    buyer_id: str | None = None
    seller_id: str | None = None
    show_id: str | None = None
    offer_id: str | None = None
    statuses: tuple[OrderStatus, ...] = ()
    since_ms: int | None = None
    until_ms: int | None = None
    limit: int = 100


class OrderStore(Protocol):
    async def add_order(self, order: Order) -> Order:
        """Insert; when (buyer, idempotency key) exists, return the stored order instead."""
        ...

    async def get_order(self, order_id: str) -> Order | None: ...

    async def order_by_payment(self, provider: str, ref: str) -> Order | None: ...

    async def save_order(
        self,
        order: Order,
        expected: OrderStatus,
        journal: JournalTransaction | None = None,
        expected_refunded: int | None = None,
    ) -> bool:
        """Write `order` iff the stored status is still `expected` (and refunded amount still
        `expected_refunded` when given), plus `journal` in the same transaction; False when
        someone else moved it first or the journal key was already posted."""
        ...

    async def list_orders(self, flt: OrderFilter) -> list[Order]: ...

    async def due_orders(self, now_ms: int, limit: int = 100) -> list[Order]:
        """Orders still holding stock whose deadline passed."""
        ...

    async def offer_orders(self, offer_id: str, statuses: Sequence[OrderStatus]) -> list[Order]:
        """An offer's orders in these statuses (for rebuilding inventory)."""
        ...

    async def paid_orders(self, offer_id: str) -> list[Order]:
        """The offer's orders that have a payment in the journal (whatever their status says)."""
        ...

    async def journal(self, order_id: str | None = None) -> list[JournalTransaction]:
        """Journal transactions (of one order, or all), oldest first."""
        ...

    async def seen_event(self, event_id: str) -> bool: ...

    async def record_event(self, event_id: str, provider: str, type_: str, at_ms: int) -> None:
        """Remember a handled provider event (a second record is ignored)."""
        ...

    async def add_offer(self, offer: Offer) -> None: ...

    async def get_offer(self, offer_id: str) -> Offer | None: ...

    async def save_offer(self, offer: Offer, pinned_at_ms: int | None = None) -> None: ...

    async def list_offers(self, show_id: str | None = None) -> list[Offer]: ...

    async def add_timeline(
        self, show_id: str, offer_id: str, kind: str, at_ms: int, media_ts_ms: int | None
    ) -> None:
        """Append an offer moment (pinned, started, ended) to the show's timeline."""
        ...

    async def timeline(self, show_id: str) -> list[dict[str, object]]:
        """The show's offer moments, oldest first."""
        ...


class ShopEvents:
    """Publishes the shop's outcomes on the Bus (the hub relays them to rooms):
    `order.updated {show_id, buyer_id, seller_id, order}`, `offer.updated {show_id, offer}` and
    `offer.pinned {show_id, offer}`. Stock updates are coalesced per offer (at most one per
    `stock_interval` seconds, the last one always sent) so a stampede does not flood the show."""

    def __init__(
        self,
        bus: Bus,
        store: OrderStore,
        inventory: InventoryStore,
        clock: Clock,
        *,
        stock_interval: float = 0.2,
        metrics: ShopMetrics | None = None,
    ) -> None:
        self.metrics: ShopMetrics = metrics or NoMetrics()
        self._bus = bus
        self._store = store
        self._inventory = inventory
        self._clock = clock
        self._interval = stock_interval
        self._last: dict[str, float] = {}
        self._pending: dict[str, asyncio.Task[None]] = {}

    async def order_updated(self, order: Order) -> None:
        self.metrics.order_status(str(order.status))
        await self._bus.publish(
            "order.updated",
            {
                "show_id": order.show_id,
                "buyer_id": order.buyer_id,
                "seller_id": order.seller_id,
                "order": order_view(order),
            },
        )

    async def offer_view(self, offer: Offer) -> dict[str, object]:
        try:
            left = (await self._inventory.level(offer.pool)).available
        except NotFound:
            left = 0
        return offer_view(offer, left, int(self._clock.now() * 1000))

    async def offer_pinned(self, offer: Offer, media_ts: float | None = None) -> None:
        view = await self.offer_view(offer)
        await self._bus.publish(
            "offer.pinned", {"show_id": offer.show_id, "offer": view, "media_ts": media_ts}
        )

    async def offer_updated(self, offer: Offer, media_ts: float | None = None) -> None:
        view = await self.offer_view(offer)
        payload: dict[str, object] = {"show_id": offer.show_id, "offer": view}
        if media_ts is not None:
            payload["media_ts"] = media_ts
        await self._bus.publish("offer.updated", payload)

    async def stock_changed(self, show_id: str, offer_id: str) -> None:
        """Announce the offer's stock left, coalescing bursts."""
        if offer_id in self._pending:
            return
        wait = self._last.get(offer_id, 0.0) + self._interval - time.monotonic()
        if wait <= 0:
            await self._send_stock(offer_id)
            return
        task = asyncio.get_running_loop().create_task(self._later(offer_id, wait))
        self._pending[offer_id] = task

    async def _later(self, offer_id: str, wait: float) -> None:
        try:
            await asyncio.sleep(wait)
            await self._send_stock(offer_id)
        finally:
            self._pending.pop(offer_id, None)

    async def _send_stock(self, offer_id: str) -> None:
        self._last[offer_id] = time.monotonic()
        offer = await self._store.get_offer(offer_id)
        if offer is not None:
            await self.offer_updated(offer)

    async def close(self) -> None:
        """Cancel pending coalesced updates (on shutdown)."""
        tasks = list(self._pending.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


class OrderService:
    """Order books: a buyer's own orders, a seller's shop orders, fulfilment and CSV export."""

    def __init__(self, store: OrderStore, events: ShopEvents, clock: Clock) -> None:
        self._store = store
        self._events = events
        self._clock = clock

    async def list_orders(
        self, principal: Principal | None, *, scope: str, flt: OrderFilter
    ) -> list[Order]:
        """`scope="buyer"`: the caller's own orders; `scope="seller"`: the caller's shop's
        (admins see every shop's)."""
        if scope == "buyer":
            buyer = authorize(principal, Action.CHECKOUT)
            return await self._store.list_orders(replace(flt, buyer_id=buyer.user_id))
        seller = authorize(principal, Action.VIEW_SHOP_ORDERS)
        if seller.role is Role.ADMIN:
            return await self._store.list_orders(flt)
        return await self._store.list_orders(replace(flt, seller_id=seller.user_id))

    async def get(self, principal: Principal | None, order_id: str) -> Order:
        """One order, for its buyer, its seller or an admin."""
        if principal is None:
            raise Unauthenticated("sign in to see orders")
        order = await self._store.get_order(order_id)
        if order is None or not (
            principal.user_id in (order.buyer_id, order.seller_id) or principal.role is Role.ADMIN
        ):
            raise NotFound("no such order")
        return order

    async def fulfil(self, principal: Principal | None, order_id: str) -> Order:
        """Mark a paid order as handed over (its seller or an admin)."""
        seller = authorize(principal, Action.VIEW_SHOP_ORDERS)
        order = await self._store.get_order(order_id)
        if order is None or not (seller.user_id == order.seller_id or seller.role is Role.ADMIN):
            raise NotFound("no such order")
        new = transition(order, OrderStatus.FULFILLED, int(self._clock.now() * 1000))
        if not await self._store.save_order(new, order.status):
            raise Conflict("the order changed meanwhile; reload it")
        await self._events.order_updated(new)
        return new

    async def export_csv(self, principal: Principal | None, flt: OrderFilter) -> str:
        """The seller's orders as CSV (amounts in minor units, so spreadsheets never round)."""
        orders = await self.list_orders(principal, scope="seller", flt=flt)
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(CSV_COLUMNS)
        for o in orders:
            writer.writerow(
                [
                    o.id,
                    o.created_at_ms,
                    o.status,
                    o.show_id,
                    o.offer_id,
                    o.product_id,
                    o.variant_id or "",
                    o.quantity,
                    o.unit_price.minor,
                    o.total.minor,
                    o.refunded_minor,
                    o.total.currency,
                    o.buyer_id,
                    o.payment_provider,
                    o.payment_ref,
                ]
            )
        return out.getvalue()


CSV_COLUMNS = (
    "order_id",
    "created_at_ms",
    "status",
    "show_id",
    "offer_id",
    "product_id",
    "variant_id",
    "quantity",
    "unit_price_minor",
    "total_minor",
    "refunded_minor",
    "currency",
    "buyer_id",
    "payment_provider",
    "payment_ref",
)


class ShopMetrics(Protocol):
    """What the shop counts (Prometheus in production, nothing in unit tests)."""

    def checkout(self, outcome: str, seconds: float) -> None: ...

    def order_status(self, status: str) -> None: ...

    def webhook(self, result: str) -> None: ...


class NoMetrics:
    """A ShopMetrics that records nothing."""

    def checkout(self, outcome: str, seconds: float) -> None:
        return None

    def order_status(self, status: str) -> None:
        return None

    def webhook(self, result: str) -> None:
        return None
