"""Order books and the shop's announcements: `OrderService` (a buyer's and a seller's orders,
fulfilment with carrier and tracking number, CSV export), `OrderViews` (an order as clients see
it) and `ShopEvents` (what the shop publishes on the bus for the hub).

Orders live behind the `OrderStore` port (services/ports/shop.py). Every status change is a
compare-and-set on the status the caller read, and a payment's journal transaction is written in
the same database transaction as the order's move to `paid`, so a crash can never leave a paid
order without its entries or entries without a paid order.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import replace

from livecommerce.domain.access import Action, Principal, Role, authorize
from livecommerce.domain.notifications import order_event
from livecommerce.domain.offers import Offer, OfferStatus, offer_view
from livecommerce.domain.orders import Order, OrderStatus, order_view, transition
from livecommerce.domain.shipping import make_fulfilment
from livecommerce.errors import Conflict, NotFound, Unauthenticated
from livecommerce.services.ports import (
    AccountStore,
    Bus,
    CatalogStore,
    Clock,
    OrderFilter,
    OrderStore,
    Product,
    ShopMetrics,
    User,
)
from livecommerce.services.singleflight import SingleFlight
from livecommerce.services.stock import StockService
from livecommerce.services.throttle import Throttle
from livecommerce.services.webhooks import WebhookService

#: How long a node reuses a product's name and image or a buyer's name for order views.
VIEW_CACHE_MS = 30_000
#: Entries kept per cache before it starts over (bounds memory on a long-running node).
VIEW_CACHE_SIZE = 10_000


def variant_label(product: Product | None, variant_id: str | None) -> str:
    """The variant's label as the catalog has it now ("" when unknown)."""
    variants = product.variants if product else ()
    return next((v.label for v in variants if v.id == variant_id), "")


class OrderViews:
    """Orders as clients see them (REST, `order.updated`, the checkout ack): the order's own
    fields plus `product {id, name, image_url}`, `variant {id, label} | null` and `buyer_name`,
    read from the catalog and the accounts. Those reads are cached for `VIEW_CACHE_MS` and
    coalesced, so announcing every order of a stampede costs the store one read per product
    and buyer, not one per announcement; a renamed product shows within that time."""

    def __init__(self, catalog: CatalogStore, accounts: AccountStore, clock: Clock) -> None:
        self._catalog = catalog
        self._accounts = accounts
        self._clock = clock
        self._products: dict[str, tuple[int, Product | None]] = {}
        self._users: dict[str, tuple[int, User | None]] = {}
        self._flights = SingleFlight()

    async def product(self, product_id: str) -> Product | None:
        now = self._clock.now_ms()
        cached = self._products.get(product_id)
        if cached is not None and cached[0] > now:
            return cached[1]
        product = await self._flights.run(
            f"product:{product_id}", lambda: self._catalog.get_product(product_id)
        )
        if len(self._products) >= VIEW_CACHE_SIZE:
            self._products.clear()
        self._products[product_id] = (now + VIEW_CACHE_MS, product)
        return product

    async def user(self, user_id: str) -> User | None:
        now = self._clock.now_ms()
        cached = self._users.get(user_id)
        if cached is not None and cached[0] > now:
            return cached[1]
        user = await self._flights.run(
            f"user:{user_id}", lambda: self._accounts.user_by_id(user_id)
        )
        if len(self._users) >= VIEW_CACHE_SIZE:
            self._users.clear()
        self._users[user_id] = (now + VIEW_CACHE_MS, user)
        return user

    async def view(self, order: Order) -> dict[str, object]:
        product = await self.product(order.product_id)
        buyer = await self.user(order.buyer_id)
        variant = None
        if order.variant_id is not None:
            variant = {"id": order.variant_id, "label": variant_label(product, order.variant_id)}
        return {
            **order_view(order),
            "product": {
                "id": order.product_id,
                "name": product.name if product else "",
                "image_url": product.image_url if product else "",
            },
            "variant": variant,
            "buyer_name": buyer.name if buyer else "",
        }

    async def views(self, orders: Sequence[Order]) -> list[dict[str, object]]:
        return [await self.view(order) for order in orders]


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
        stock: StockService,
        clock: Clock,
        *,
        views: OrderViews,
        stock_interval: float = 0.2,
        metrics: ShopMetrics | None = None,
    ) -> None:
        self.metrics: ShopMetrics = metrics or NoMetrics()
        self.views = views
        self._bus = bus
        self._store = store
        self._stock = stock
        self._clock = clock
        self._stock_updates: Throttle[None] = Throttle(
            stock_interval, self._send_stock, what="offer.updated (stock)"
        )

    async def order_updated(self, order: Order) -> None:
        self.metrics.order_status(str(order.status))
        await self._bus.publish(
            "order.updated",
            {
                "show_id": order.show_id,
                "buyer_id": order.buyer_id,
                "seller_id": order.seller_id,
                "order": await self.views.view(order),
            },
        )

    async def offer_view(self, offer: Offer) -> dict[str, object]:
        left = await self._stock.offer_stock(offer)
        return offer_view(offer, left.left, self._clock.now_ms(), left.variants)

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
        await self._stock_updates.changed(offer_id, None)

    async def product_stock_changed(self, product_id: str) -> None:
        """A product's stock changed outside a checkout (an adjustment, a restock): announce
        the stock left of every live offer selling it, in any show."""
        for offer in await self._store.list_offers(product_id=product_id):
            if offer.status is OfferStatus.LIVE:
                await self.stock_changed(offer.show_id, offer.id)

    async def _send_stock(self, offer_id: str, _: None) -> None:
        offer = await self._store.get_offer(offer_id)
        if offer is not None:
            await self.offer_updated(offer)

    async def close(self) -> None:
        """Cancel pending coalesced updates (on shutdown)."""
        await self._stock_updates.aclose()


class OrderService:
    """Order books: a buyer's own orders, a seller's shop orders, fulfilment and CSV export."""

    def __init__(
        self, store: OrderStore, events: ShopEvents, clock: Clock, *, webhooks: WebhookService
    ) -> None:
        self._store = store
        self._events = events
        self._clock = clock
        self._webhooks = webhooks

    async def view(self, order: Order) -> dict[str, object]:
        """The order as clients see it (see `OrderViews`)."""
        return await self._events.views.view(order)

    async def views(self, orders: Sequence[Order]) -> list[dict[str, object]]:
        return await self._events.views.views(orders)

    async def list_orders(
        self, principal: Principal | None, *, scope: str, flt: OrderFilter
    ) -> list[Order]:
        """`scope="buyer"`: the caller's own orders (anyone signed in; a guest who cannot buy
        simply has none); `scope="seller"`: the caller's shop's (admins see every shop's)."""
        if scope == "buyer":
            buyer = authorize(principal, Action.WATCH)
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

    async def fulfil(
        self,
        principal: Principal | None,
        order_id: str,
        *,
        carrier: str | None = None,
        tracking_number: str | None = None,
    ) -> Order:
        """Mark a paid order as handed over (its seller or an admin), with the carrier and
        tracking number the buyer sees on their order."""
        seller = authorize(principal, Action.VIEW_SHOP_ORDERS)
        now = self._clock.now_ms()
        fulfilment = make_fulfilment(carrier, tracking_number, now)
        order = await self._store.get_order(order_id)
        if order is None or not (seller.user_id == order.seller_id or seller.role is Role.ADMIN):
            raise NotFound("no such order")
        new = replace(transition(order, OrderStatus.FULFILLED, now), fulfilment=fulfilment)
        fulfilled = self._webhooks.order_event("order.fulfilled", new, "fulfilled")
        shipped = order_event(
            "order.fulfilled", order.id, order.buyer_id, order.total.display(), now
        )
        if not await self._store.save_order(
            new, order.status, webhook_events=[fulfilled], outbox=[shipped]
        ):
            raise Conflict("the order changed meanwhile; reload it")
        await self._events.order_updated(new)
        return new

    async def export_csv(self, principal: Principal | None, flt: OrderFilter) -> str:
        """The seller's orders as CSV (amounts in minor units, so spreadsheets never round).
        Text a buyer typed is written so a spreadsheet never runs it as a formula."""
        orders = await self.list_orders(principal, scope="seller", flt=flt)
        views = self._events.views
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(CSV_COLUMNS)
        for o in orders:
            buyer = await views.user(o.buyer_id)
            product = await views.product(o.product_id)
            ship = o.shipping_address
            done = o.fulfilment
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
                    *[
                        _cell(text)
                        for text in (
                            buyer.name if buyer else "",
                            (buyer.contact_email if buyer else None) or "",
                            product.name if product else "",
                            variant_label(product, o.variant_id),
                            ship.name if ship else "",
                            ship.line1 if ship else "",
                            (ship.line2 if ship else None) or "",
                            ship.city if ship else "",
                            (ship.region if ship else None) or "",
                            ship.postal_code if ship else "",
                            ship.country if ship else "",
                            done.carrier if done else "",
                            done.tracking_number if done else "",
                        )
                    ],
                    done.fulfilled_at_ms if done else "",
                ]
            )
        return out.getvalue()


def _cell(text: str) -> str:
    """Text for a CSV cell that spreadsheets show as text: a leading = + - @ or control
    character would make it a formula (OWASP's CSV injection advice), so it gets a quote."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


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
    "buyer_name",
    "buyer_email",
    "product_name",
    "variant_label",
    "ship_name",
    "ship_line1",
    "ship_line2",
    "ship_city",
    "ship_region",
    "ship_postal_code",
    "ship_country",
    "carrier",
    "tracking_number",
    "fulfilled_at_ms",
)


class NoMetrics:
    """A ShopMetrics that records nothing."""

    def checkout(self, outcome: str, seconds: float) -> None:
        return None

    def order_status(self, status: str) -> None:
        return None

    def webhook(self, result: str) -> None:
        return None
