"""Opening every adapter a process uses, once, from settings: the SQL pool, the one Redis pool
(shared by the bus, rate limits, inventory, the hub's fan-out and presence, and the media
origin records), payment providers, the webhook sender, files and metrics; and closing them in
reverse order.

This and ``bootstrap/services.py`` are the only modules that name concrete adapters; with no
Redis URL the in-process ones stand in (one node only).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from email.utils import parseaddr
from pathlib import Path

from aiohttp import web
from prometheus_client import CollectorRegistry

from livecommerce.adapters.demo_payments import DemoPaymentGateway
from livecommerce.adapters.email import SmtpMailer
from livecommerce.adapters.files import FileProductImages
from livecommerce.adapters.memory.auctions import MemoryAuctions
from livecommerce.adapters.memory.bus import MemoryBus
from livecommerce.adapters.memory.coupons import MemoryDropClaims, MemoryRedemptions
from livecommerce.adapters.memory.fanout import LocalFanout
from livecommerce.adapters.memory.inventory import MemoryInventory
from livecommerce.adapters.memory.origins import MemoryShowOrigins
from livecommerce.adapters.memory.presence import MemoryPresence
from livecommerce.adapters.memory.ratelimit import MemoryRateLimiter
from livecommerce.adapters.prometheus import PrometheusShopMetrics
from livecommerce.adapters.redis.auctions import RedisAuctions
from livecommerce.adapters.redis.bus import RedisBus
from livecommerce.adapters.redis.client import RedisClient, connect
from livecommerce.adapters.redis.coupons import RedisDropClaims, RedisRedemptions
from livecommerce.adapters.redis.fanout import RedisFanout
from livecommerce.adapters.redis.inventory import RedisInventory
from livecommerce.adapters.redis.origins import RedisShowOrigins
from livecommerce.adapters.redis.presence import RedisPresence
from livecommerce.adapters.redis.ratelimit import RedisRateLimiter
from livecommerce.adapters.sql.accounts import SqlAccountStore
from livecommerce.adapters.sql.addresses import SqlAddressStore
from livecommerce.adapters.sql.analytics import SqlAnalyticsStore
from livecommerce.adapters.sql.auctions import SqlBidLog
from livecommerce.adapters.sql.audience import SqlFollowStore, SqlRsvpStore
from livecommerce.adapters.sql.buyer_questions import SqlBuyerQuestionStore
from livecommerce.adapters.sql.catalog import SqlCatalogStore
from livecommerce.adapters.sql.catalog_admin import SqlCatalogAdmin
from livecommerce.adapters.sql.coupons import SqlCouponStore
from livecommerce.adapters.sql.database import PostgresDatabase, SqliteDatabase, open_database
from livecommerce.adapters.sql.giveaways import SqlGiveawayStore
from livecommerce.adapters.sql.groupbuys import SqlGroupBuyStore
from livecommerce.adapters.sql.hub import SqlHubStore
from livecommerce.adapters.sql.notifications import SqlNotificationStore
from livecommerce.adapters.sql.orders import SqlOrderStore
from livecommerce.adapters.sql.referrals import SqlReferralStore
from livecommerce.adapters.sql.reviews import SqlReviewStore
from livecommerce.adapters.sql.shows import SqlShowStore
from livecommerce.adapters.sql.stock import SqlStockLedger
from livecommerce.adapters.sql.webhooks import SqlWebhookStore
from livecommerce.adapters.stripe import StripePaymentGateway
from livecommerce.adapters.webhooks import HttpWebhookSender
from livecommerce.adapters.webpush import WebPushSender, load_or_create_key
from livecommerce.keys import HealthCheck
from livecommerce.services.ports import (
    AuctionStore,
    Bus,
    Clock,
    DropClaims,
    Fanout,
    InventoryStore,
    PaymentGateway,
    PresenceStore,
    RateLimiter,
    Redemptions,
    ShowOrigins,
)
from livecommerce.settings import Settings


@dataclass(frozen=True, slots=True)
class Adapters:
    """What the process opened; services are built from these (tests may read them too)."""

    db: SqliteDatabase | PostgresDatabase
    redis: RedisClient | None
    bus: Bus
    rate_limiter: RateLimiter
    inventory: InventoryStore
    presence: PresenceStore
    fanout: Fanout
    origins: ShowOrigins
    accounts: SqlAccountStore
    addresses: SqlAddressStore
    shows: SqlShowStore
    catalog: SqlCatalogStore
    catalog_admin: SqlCatalogAdmin
    orders: SqlOrderStore
    stock: SqlStockLedger
    hub: SqlHubStore
    reviews: SqlReviewStore
    buyer_questions: SqlBuyerQuestionStore
    analytics: SqlAnalyticsStore
    auctions: AuctionStore
    bids: SqlBidLog
    follows: SqlFollowStore
    rsvps: SqlRsvpStore
    giveaways: SqlGiveawayStore
    coupons: SqlCouponStore
    referrals: SqlReferralStore
    webhooks: SqlWebhookStore
    webhook_sender: HttpWebhookSender
    redemptions: Redemptions
    drop_claims: DropClaims
    groups: SqlGroupBuyStore
    images: FileProductImages
    notifications: SqlNotificationStore
    mailer: SmtpMailer
    push: WebPushSender
    gateways: dict[str, PaymentGateway]
    metrics: PrometheusShopMetrics
    #: Named checks for ``/healthz``: each raises when its dependency is down.
    health: dict[str, HealthCheck]


#: The notification e-mails' text and HTML templates.
EMAIL_TEMPLATES = Path(__file__).resolve().parents[2] / "web" / "templates" / "email"


#: The opened adapters of a running app (set at start-up; tests reach stores through it).
ADAPTERS = web.AppKey("adapters", Adapters)


@contextlib.asynccontextmanager
async def open_adapters(
    settings: Settings, clock: Clock, registry: CollectorRegistry, node_id: str
) -> AsyncIterator[Adapters]:
    """Open everything, yield it, and close it all again (also when start-up fails half way)."""
    async with contextlib.AsyncExitStack() as stack:
        db = await open_database(settings.store_url, settings.store.pool_size)
        stack.push_async_callback(db.close)
        health: dict[str, HealthCheck] = {"store": db.ping}
        batch_max = settings.shop.batch_max
        client: RedisClient | None = None
        bus: Bus
        limiter: RateLimiter
        inventory: InventoryStore
        presence: PresenceStore
        fanout: Fanout
        origins: ShowOrigins
        auctions: AuctionStore
        redemptions: Redemptions
        drop_claims: DropClaims
        if settings.redis.url:
            client = connect(
                settings.redis.url, settings.redis.pool_size, cluster=settings.redis.cluster
            )
            stack.push_async_callback(client.aclose)
            redis_bus = RedisBus(client, batch_max=batch_max)
            await stack.enter_async_context(redis_bus.running())
            bus, limiter = redis_bus, RedisRateLimiter(client, batch_max=batch_max)
            redis_inventory = RedisInventory(client, batch_max=batch_max)
            await redis_inventory.warm(min(20, settings.redis.pool_size))
            inventory = redis_inventory
            presence = RedisPresence(client)
            fanout = RedisFanout(client, node_id)
            origins = RedisShowOrigins(client)
            auctions = RedisAuctions(client)
            redemptions, drop_claims = RedisRedemptions(client), RedisDropClaims(client)
            health["redis"] = _ping(client)
        else:
            bus, limiter = MemoryBus(), MemoryRateLimiter(clock)
            inventory = MemoryInventory()
            presence = MemoryPresence()
            fanout = LocalFanout(node_id)
            origins = MemoryShowOrigins(clock)
            auctions = MemoryAuctions()
            redemptions, drop_claims = MemoryRedemptions(), MemoryDropClaims()
        pay = settings.payments
        gateways: dict[str, PaymentGateway] = {
            "demo": DemoPaymentGateway(db, settings.base_url, batch_max=batch_max)
        }
        if pay.provider == "stripe" or pay.stripe_secret_key.get_secret_value():
            stripe_gateway = StripePaymentGateway(
                pay.stripe_secret_key.get_secret_value(),
                publishable_key=pay.stripe_publishable_key,
                webhook_secret=pay.stripe_webhook_secret.get_secret_value(),
                api_base=pay.stripe_api_base,
            )
            stack.push_async_callback(stripe_gateway.close)
            gateways["stripe"] = stripe_gateway
        hooks = settings.webhooks
        webhook_sender = HttpWebhookSender(
            timeout_seconds=hooks.timeout_seconds,
            excerpt_bytes=hooks.response_excerpt_bytes,
            allow_private=hooks.allow_private_targets,
        )
        stack.push_async_callback(webhook_sender.close)
        notify = settings.notify
        mailer = SmtpMailer(
            notify.smtp_url.get_secret_value(),
            notify.from_,
            EMAIL_TEMPLATES,
            timeout=notify.send_timeout_seconds,
        )
        key_file = await asyncio.to_thread(load_or_create_key, settings.server.data_dir)
        push = WebPushSender(
            key_file,
            notify.vapid_subject or f"mailto:{parseaddr(notify.from_)[1]}",
            ttl_seconds=notify.push_ttl_seconds,
            timeout=notify.send_timeout_seconds,
            allow_loopback=notify.allow_insecure_push_endpoints,
        )
        stack.push_async_callback(push.close)
        yield Adapters(
            db=db,
            redis=client,
            bus=bus,
            rate_limiter=limiter,
            inventory=inventory,
            presence=presence,
            fanout=fanout,
            origins=origins,
            accounts=SqlAccountStore(db, batch_max=batch_max),
            addresses=SqlAddressStore(db, batch_max=batch_max),
            shows=SqlShowStore(db),
            catalog=SqlCatalogStore(db),
            catalog_admin=SqlCatalogAdmin(db),
            orders=SqlOrderStore(db, batch_max=batch_max),
            stock=SqlStockLedger(db),
            hub=SqlHubStore(db),
            reviews=SqlReviewStore(db),
            buyer_questions=SqlBuyerQuestionStore(db),
            analytics=SqlAnalyticsStore(db),
            auctions=auctions,
            bids=SqlBidLog(db),
            follows=SqlFollowStore(db),
            rsvps=SqlRsvpStore(db),
            giveaways=SqlGiveawayStore(db),
            coupons=SqlCouponStore(db),
            referrals=SqlReferralStore(db),
            webhooks=SqlWebhookStore(db),
            webhook_sender=webhook_sender,
            redemptions=redemptions,
            drop_claims=drop_claims,
            groups=SqlGroupBuyStore(db),
            images=FileProductImages(settings.server.data_dir / "uploads" / "products"),
            notifications=SqlNotificationStore(db),
            mailer=mailer,
            push=push,
            gateways=gateways,
            metrics=PrometheusShopMetrics(registry),
            health=health,
        )


def _ping(client: RedisClient) -> HealthCheck:
    async def ping() -> None:
        await client.ping()

    return ping
