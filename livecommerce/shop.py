"""The commerce plane's plug: `shop.setup(app)` builds the shop's adapters and services at start,
registers its routes, rebuilds inventory from the durable store and runs the expiry sweeper.

Adapters are chosen here from settings (memory or Redis inventory; demo and, when configured,
Stripe payments), next to app.py, so services never learn which ones they got.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

from aiohttp import web

from livecommerce import keys
from livecommerce.adapters.demo_payments import DemoPaymentGateway
from livecommerce.adapters.memory_inventory import MemoryInventory
from livecommerce.adapters.redis_inventory import RedisInventory
from livecommerce.adapters.shop_metrics import PrometheusShopMetrics
from livecommerce.adapters.sql_catalog_admin import SqlCatalogAdmin
from livecommerce.adapters.sql_orders import SqlOrderStore
from livecommerce.adapters.stripe_payments import StripePaymentGateway
from livecommerce.domain.offers import OfferKind, OfferStatus
from livecommerce.domain.ratelimit import Rate
from livecommerce.errors import LiveCommerceError, NotFound
from livecommerce.services.catalog_admin import CatalogAdminService
from livecommerce.services.checkout import CheckoutService
from livecommerce.services.demo import DEMO_FILE
from livecommerce.services.inventory import InventoryStore
from livecommerce.services.offers import OfferService
from livecommerce.services.orders import OrderService, ShopEvents
from livecommerce.services.payments import PaymentGateway, PaymentService

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Shop:
    """The shop's services, as the hub, routes and tests reach them (`app[keys.SHOP]`)."""

    checkout: CheckoutService
    offers: OfferService
    orders: OrderService
    payments: PaymentService
    store: SqlOrderStore
    inventory: InventoryStore
    events: ShopEvents
    catalog_admin: CatalogAdminService


async def rebuild_inventory(shop: Shop, *, force: bool) -> int:
    """Recreate every open offer's pool from orders (paid = sold, holding = held). With
    `force=False` only pools the inventory store lost are rebuilt, so a node starting next to
    live ones never overwrites their counts. Returns how many pools were rebuilt."""
    rebuilt = 0
    for offer in await shop.store.list_offers():
        if offer.status is OfferStatus.ENDED:
            continue
        if not force:
            try:
                await shop.inventory.level(offer.pool)
                continue
            except NotFound:
                pass
        await shop.payments.rebuild_pool(offer.id, offer.stock)
        rebuilt += 1
    return rebuilt


async def seed_demo_offers(shop: Shop, app: web.Application) -> None:
    """Give the demo show something to buy: a fixed-price offer, pinned, and a flash sale with
    a per-buyer limit. Only when the show has no offers yet (so restarts add nothing)."""
    settings = app[keys.SETTINGS]
    path = settings.server.data_dir / DEMO_FILE
    try:
        data = json.loads(await asyncio.to_thread(path.read_text))
        show_id = str(data["show_id"])
        seller = await app[keys.ACCOUNTS].authenticate(str(data["seller_token"]))
        product_ids = [str(p) for p in data.get("product_ids", [])]
    except (OSError, ValueError, KeyError, LiveCommerceError):
        log.warning("demo offers not seeded: no usable demo.json")
        return
    if not product_ids or await shop.offers.list(show_id):
        return
    now_ms = int(app[keys.CLOCK].now() * 1000)
    # the last product (the lamp) and the third (the sneaker): the first ones stay free for
    # the seller's own offers in the studio
    fixed = await shop.offers.create(
        seller, show_id, product_id=product_ids[-1], kind=OfferKind.FIXED
    )
    await shop.offers.start(seller, show_id, fixed.id)
    await shop.offers.pin(seller, show_id, fixed.id)
    flash_product = await app[keys.CATALOG].get(product_ids[min(2, len(product_ids) - 1)])
    flash = await shop.offers.create(
        seller,
        show_id,
        product_id=flash_product.id,
        kind=OfferKind.FLASH,
        price_minor=flash_product.price_minor * 3 // 4,
        stock=10,
        per_buyer_limit=2,
        ends_at_ms=now_ms + 24 * 3_600_000,
    )
    await shop.offers.start(seller, show_id, flash.id)


async def _sweeper(shop: Shop, interval: float) -> None:
    """Release expired reservations forever; one failing pass is logged, not fatal."""
    while True:
        await asyncio.sleep(interval)
        try:
            await shop.payments.sweep()
        except Exception:
            log.exception("expiry sweep failed")


async def _shop_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[keys.SETTINGS]
    clock = app[keys.CLOCK]
    db = app[keys.DB]
    inventory: InventoryStore
    redis_inventory: RedisInventory | None = None
    if settings.redis.url:
        redis_inventory = RedisInventory(
            settings.redis.url, max_connections=settings.redis.pool_size
        )
        inventory = redis_inventory
        app[keys.HEALTH_CHECKS]["inventory"] = redis_inventory.ping
        await redis_inventory.warm(min(20, settings.redis.pool_size))
    else:
        inventory = MemoryInventory()
    store = SqlOrderStore(db)
    events = ShopEvents(
        app[keys.BUS],
        store,
        inventory,
        clock,
        stock_interval=settings.shop.stock_update_interval_seconds,
        metrics=PrometheusShopMetrics(app[keys.REGISTRY]),
    )
    gateways: dict[str, PaymentGateway] = {"demo": DemoPaymentGateway(db, settings.base_url)}
    stripe_gateway: StripePaymentGateway | None = None
    pay = settings.payments
    if pay.provider == "stripe" or pay.stripe_secret_key.get_secret_value():
        stripe_gateway = StripePaymentGateway(
            pay.stripe_secret_key.get_secret_value(),
            publishable_key=pay.stripe_publishable_key,
            webhook_secret=pay.stripe_webhook_secret.get_secret_value(),
            api_base=pay.stripe_api_base,
        )
        gateways["stripe"] = stripe_gateway
    payments = PaymentService(
        store, inventory, gateways, events, clock, fee_bps=pay.platform_fee_bps
    )
    shop = Shop(
        checkout=CheckoutService(
            store,
            inventory,
            payments,
            app[keys.CATALOG],
            events,
            clock,
            provider=pay.provider,
            ttl_seconds=settings.shop.reservation_ttl_seconds,
            limiter=app[keys.RATE_LIMITER],
            rates=[Rate(r.limit, r.per_seconds) for r in settings.shop.checkout_rates],
        ),
        offers=OfferService(store, inventory, app[keys.CATALOG], app[keys.SHOWS], events, clock),
        orders=OrderService(store, events, clock),
        payments=payments,
        store=store,
        inventory=inventory,
        events=events,
        catalog_admin=CatalogAdminService(
            app[keys.CATALOG],
            SqlCatalogAdmin(db),
            settings.server.data_dir / "uploads" / "products",
            settings.shop.image_max_bytes,
        ),
    )
    app[keys.SHOP] = shop
    try:
        await rebuild_inventory(shop, force=redis_inventory is None)
        if settings.demo.enabled:
            await seed_demo_offers(shop, app)
        sweeper = asyncio.get_running_loop().create_task(
            _sweeper(shop, settings.shop.sweep_interval_seconds)
        )
        yield
        sweeper.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sweeper
    finally:
        await events.close()
        await inventory.close()
        if stripe_gateway is not None:
            await stripe_gateway.close()


def setup(app: web.Application) -> None:
    """Plug the shop into the app: start-up/cleanup and routes. Call after the foundation's
    contexts (it needs the store, the bus, the catalog and the shows)."""
    from livecommerce.routes import orders as order_routes
    from livecommerce.routes import payments as payment_routes
    from livecommerce.routes import shop as shop_routes
    from livecommerce.routes import webhooks
    from livecommerce.shop_hub import checkout_start  # registers the shop's Socket.IO events

    del checkout_start
    app.cleanup_ctx.append(_shop_ctx)
    shop_routes.api.register(app)
    order_routes.api.register(app)
    payment_routes.api.register(app)
    webhooks.setup(app)
    app.router.add_get("/uploads/products/{name}", shop_routes.product_image)
