"""Building every service once, from the opened adapters and the settings, into the one
``Services`` object the planes receive."""

from __future__ import annotations

from livecommerce.bootstrap.adapters import Adapters
from livecommerce.domain.ratelimit import Rate
from livecommerce.services.accounts import AccountService
from livecommerce.services.analytics import AnalyticsService
from livecommerce.services.auctions import AuctionOptions, AuctionService
from livecommerce.services.buyer_questions import BuyerQuestionService
from livecommerce.services.catalog import CatalogService
from livecommerce.services.catalog_admin import CatalogAdminService
from livecommerce.services.chat import ChatLimits, ChatService
from livecommerce.services.checkout import CheckoutService
from livecommerce.services.container import Services
from livecommerce.services.coupons import CouponService
from livecommerce.services.drops import DropOptions, DropService
from livecommerce.services.follows import FollowService
from livecommerce.services.giveaways import GiveawayOptions, GiveawayService
from livecommerce.services.groupbuys import GroupBuyService, GroupOptions
from livecommerce.services.lifecycle import ShowLifecycle
from livecommerce.services.moderation import ModerationService
from livecommerce.services.notifications import NotificationService
from livecommerce.services.notifier import Notifier, NotifierOptions
from livecommerce.services.offers import OfferService
from livecommerce.services.orders import OrderService, OrderViews, ShopEvents
from livecommerce.services.payments import PaymentService
from livecommerce.services.ports import Clock
from livecommerce.services.preferences import PreferenceService
from livecommerce.services.presence import PresenceService
from livecommerce.services.qa import QaService
from livecommerce.services.referrals import ReferralService
from livecommerce.services.reviews import ReviewService
from livecommerce.services.rsvps import RsvpService
from livecommerce.services.shows import ShowService
from livecommerce.services.stock import StockService
from livecommerce.services.webhooks import WebhookOptions, WebhookService
from livecommerce.settings import RateSetting, Settings


def _rates(settings: list[RateSetting]) -> tuple[Rate, ...]:
    return tuple(Rate(r.limit, r.per_seconds) for r in settings)


def build_services(
    settings: Settings, adapters: Adapters, clock: Clock, secret_key: bytes
) -> Services:
    a = adapters
    shop = settings.shop
    accounts = AccountService(
        a.accounts,
        clock,
        settings.auth,
        tuple(settings.hub.reserved_names),
        addresses=a.addresses,
        token_key=secret_key,
    )
    presence = PresenceService(
        a.presence, a.analytics, accounts, clock, secret_key, settings.hub.viewer_window_seconds
    )
    shows = ShowService(a.shows, a.accounts, clock, a.bus)
    stock = StockService(a.orders, a.stock, a.catalog, a.inventory, clock)
    catalog = CatalogService(a.catalog, clock, stock)
    events = ShopEvents(
        a.bus,
        a.orders,
        stock,
        clock,
        views=OrderViews(a.catalog, a.accounts, clock),
        stock_interval=shop.stock_update_interval_seconds,
        metrics=a.metrics,
    )
    follows = FollowService(a.follows, a.accounts, shows, clock)
    coupons = CouponService(
        a.coupons, a.redemptions, shows, catalog, clock, is_following=follows.is_following
    )
    hooks = settings.webhooks
    webhooks = WebhookService(
        a.webhooks,
        a.webhook_sender,
        shows,
        a.bus,
        clock,
        WebhookOptions(
            allow_private_targets=hooks.allow_private_targets,
            timeout_ms=round(hooks.timeout_seconds * 1000),
            retry_base_ms=round(hooks.retry_base_seconds * 1000),
            retry_max_ms=round(hooks.retry_max_seconds * 1000),
            give_up_ms=round(hooks.give_up_after_seconds * 1000),
            batch=hooks.batch,
            max_endpoints=hooks.max_endpoints,
        ),
    )
    pay = settings.payments
    referrals = ReferralService(a.referrals, shows, clock, base_url=settings.base_url)
    payments = PaymentService(
        a.orders,
        a.inventory,
        a.gateways,
        events,
        clock,
        stock=stock,
        coupons=coupons,
        referrals=referrals,
        webhooks=webhooks,
        fee_bps=pay.platform_fee_bps,
    )
    limits = ChatLimits(
        chat_rates=_rates(settings.hub.chat_rates),
        reaction_rates=_rates(settings.hub.reaction_rates),
        qa_rates=_rates(settings.hub.question_rates),
        reserved_names=tuple(settings.hub.reserved_names),
    )
    offers = OfferService(a.orders, stock, catalog, shows, events, clock, payments)
    lifecycle = ShowLifecycle(shows, offers, clock, settings.broadcast.reconnect_grace_seconds)
    checkout = CheckoutService(
        a.orders,
        a.inventory,
        payments,
        catalog,
        events,
        clock,
        offers=offers,
        addresses=a.addresses,
        stock=stock,
        coupons=coupons,
        groups=a.groups,
        provider=pay.provider,
        ttl_seconds=shop.reservation_ttl_seconds,
        limiter=a.rate_limiter,
        rates=_rates(shop.checkout_rates),
    )
    moderation = ModerationService(a.hub, a.hub, clock, a.accounts, a.bus)
    giveaways = GiveawayService(
        a.giveaways,
        orders=a.orders,
        shows=shows,
        catalog=catalog,
        stock=stock,
        payments=payments,
        moderation=moderation,
        addresses=a.addresses,
        events=events,
        bus=a.bus,
        clock=clock,
        limiter=a.rate_limiter,
        is_following=follows.is_following,
        options=GiveawayOptions(
            enter_rates=_rates(shop.giveaway_enter_rates),
            update_interval=shop.giveaway_update_interval_seconds,
        ),
    )
    groups = GroupBuyService(
        a.groups,
        a.orders,
        offers=offers,
        catalog=catalog,
        payments=payments,
        bus=a.bus,
        clock=clock,
        options=GroupOptions(update_interval=shop.group_update_interval_seconds),
    )
    rsvps = RsvpService(a.rsvps, shows, clock)
    notify = settings.notify
    preferences = PreferenceService(a.notifications, clock)
    notifications = NotificationService(
        a.notifications,
        preferences,
        a.push,
        clock,
        secret_key=secret_key,
        base_url=settings.base_url,
        allow_insecure_push_endpoints=notify.allow_insecure_push_endpoints,
    )
    notifier = Notifier(
        a.notifications,
        preferences,
        notifications,
        follows,
        rsvps,
        shows,
        a.bus,
        a.mailer,
        a.push,
        clock,
        NotifierOptions(
            base_url=settings.base_url,
            batch=notify.batch_size,
            lease_ms=round(notify.lease_seconds * 1000),
            retry_base_ms=round(notify.retry_base_seconds * 1000),
            retry_max_ms=round(notify.retry_max_seconds * 1000),
            max_attempts=notify.max_attempts,
        ),
    )
    return Services(
        accounts=accounts,
        shows=shows,
        catalog=catalog,
        catalog_admin=CatalogAdminService(
            catalog, a.catalog_admin, a.images, shop.image_max_bytes, stock=stock, events=events
        ),
        offers=offers,
        lifecycle=lifecycle,
        checkout=checkout,
        orders=OrderService(a.orders, events, clock, webhooks=webhooks),
        payments=payments,
        stock=stock,
        shop_events=events,
        chat=ChatService(a.hub, a.hub, a.rate_limiter, clock, limits),
        moderation=moderation,
        reviews=ReviewService(
            a.reviews, a.orders, a.catalog, clock, banned_words=shop.review_banned_words
        ),
        buyer_questions=BuyerQuestionService(
            a.buyer_questions,
            a.catalog,
            a.rate_limiter,
            clock,
            banned_words=shop.review_banned_words,
            wake=notifier.wake,
        ),
        qa=QaService(a.hub, a.hub, a.rate_limiter, clock, shows, limits),
        analytics=AnalyticsService(a.analytics, shows, presence, clock, shop.currency),
        auctions=AuctionService(
            a.auctions,
            a.bids,
            orders=a.orders,
            offers=offers,
            shows=shows,
            catalog=catalog,
            stock=stock,
            checkout=checkout,
            moderation=moderation,
            addresses=a.addresses,
            events=events,
            bus=a.bus,
            clock=clock,
            limiter=a.rate_limiter,
            options=AuctionOptions(
                payment_seconds=shop.auction_payment_seconds,
                bid_rates=_rates(shop.bid_rates),
                update_interval=shop.auction_update_interval_seconds,
                batch_max=shop.batch_max,
            ),
        ),
        follows=follows,
        rsvps=rsvps,
        giveaways=giveaways,
        coupons=coupons,
        referrals=referrals,
        webhooks=webhooks,
        drops=DropService(
            a.coupons,
            a.drop_claims,
            coupons,
            shows,
            moderation,
            a.bus,
            clock,
            limiter=a.rate_limiter,
            options=DropOptions(claim_rates=_rates(shop.claim_rates)),
        ),
        groups=groups,
        preferences=preferences,
        notifications=notifications,
        notifier=notifier,
        clock=clock,
        bus=a.bus,
        rate_limiter=a.rate_limiter,
        presence=presence,
        fanout=a.fanout,
        origins=a.origins,
    )
