"""Order books and the shop's announcements: `OrderService` (a buyer's and a seller's orders,
fulfilment, CSV export) and `ShopEvents` (what the shop publishes on the bus for the hub).

Orders live behind the `OrderStore` port (services/ports/shop.py). Every status change is a
compare-and-set on the status the caller read, and a payment's journal transaction is written in
the same database transaction as the order's move to `paid`, so a crash can never leave a paid
order without its entries or entries without a paid order.
"""

from __future__ import annotations

import asyncio
import csv
import io
import time
from dataclasses import replace

from livecommerce.domain.access import Action, Principal, Role, authorize
from livecommerce.domain.offers import Offer, offer_view
from livecommerce.domain.orders import Order, OrderStatus, order_view, transition
from livecommerce.errors import Conflict, NotFound, Unauthenticated
from livecommerce.services.ports import (
    Bus,
    Clock,
    InventoryStore,
    OrderFilter,
    OrderStore,
    ShopMetrics,
)


class ShopEvents:
    """Publishes the shop's outcomes on the Bus (the hub relays them to rooms):
    `order.updated {show_id, buyer_id, seller_id, order}`, `offer.updated {show_id, offer}`,
    `offer.pinned {show_id, offer}` and `offer.unpinned {show_id, offer_id, offer}`. Stock
    updates are coalesced per offer (at most one per `stock_interval` seconds, the last one
    always sent) so a stampede does not flood the show."""

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
        return offer_view(offer, left, self._clock.now_ms())

    async def offer_pinned(self, offer: Offer, media_ts: float | None = None) -> None:
        view = await self.offer_view(offer)
        await self._bus.publish(
            "offer.pinned", {"show_id": offer.show_id, "offer": view, "media_ts": media_ts}
        )

    async def offer_unpinned(self, offer: Offer, media_ts: float | None = None) -> None:
        """The offer left the screen; `offer_id` says which, so a client showing another offer
        (pinned since) keeps it."""
        payload: dict[str, object] = {
            "show_id": offer.show_id,
            "offer_id": offer.id,
            "offer": await self.offer_view(offer),
        }
        if media_ts is not None:
            payload["media_ts"] = media_ts
        await self._bus.publish("offer.unpinned", payload)

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
        new = transition(order, OrderStatus.FULFILLED, self._clock.now_ms())
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


class NoMetrics:
    """A ShopMetrics that records nothing."""

    def checkout(self, outcome: str, seconds: float) -> None:
        return None

    def order_status(self, status: str) -> None:
        return None

    def webhook(self, result: str) -> None:
        return None
