"""The one typed object through which the planes reach the application: every service, built
once by the composition root, plus the few ports a plane drives itself (the hub relays the
bus, fans out across nodes and reports presence; the broadcast plane records which node is a
show's origin; handlers read the clock and rate limits).

Routes, Socket.IO handlers and the broadcast plane take what they need from here
(``app[keys.SERVICES]``) and never from each other's objects.
"""

from __future__ import annotations

from dataclasses import dataclass

from livecommerce.services.accounts import AccountService
from livecommerce.services.analytics import AnalyticsService
from livecommerce.services.auctions import AuctionService
from livecommerce.services.buyer_questions import BuyerQuestionService
from livecommerce.services.catalog import CatalogService
from livecommerce.services.catalog_admin import CatalogAdminService
from livecommerce.services.chat import ChatService
from livecommerce.services.checkout import CheckoutService
from livecommerce.services.coupons import CouponService
from livecommerce.services.drops import DropService
from livecommerce.services.follows import FollowService
from livecommerce.services.giveaways import GiveawayService
from livecommerce.services.groupbuys import GroupBuyService
from livecommerce.services.lifecycle import ShowLifecycle
from livecommerce.services.moderation import ModerationService
from livecommerce.services.notifications import NotificationService
from livecommerce.services.notifier import Notifier
from livecommerce.services.offers import OfferService
from livecommerce.services.orders import OrderService, ShopEvents
from livecommerce.services.payments import PaymentService
from livecommerce.services.ports import Bus, Clock, Fanout, RateLimiter, ShowOrigins
from livecommerce.services.preferences import PreferenceService
from livecommerce.services.presence import PresenceService
from livecommerce.services.qa import QaService
from livecommerce.services.referrals import ReferralService
from livecommerce.services.reviews import ReviewService
from livecommerce.services.rsvps import RsvpService
from livecommerce.services.shows import ShowService
from livecommerce.services.stock import StockService
from livecommerce.services.webhooks import WebhookService


@dataclass(frozen=True, slots=True)
class Services:
    accounts: AccountService
    shows: ShowService
    catalog: CatalogService
    catalog_admin: CatalogAdminService
    offers: OfferService
    lifecycle: ShowLifecycle
    checkout: CheckoutService
    orders: OrderService
    payments: PaymentService
    stock: StockService
    shop_events: ShopEvents
    chat: ChatService
    moderation: ModerationService
    reviews: ReviewService
    buyer_questions: BuyerQuestionService
    qa: QaService
    analytics: AnalyticsService
    auctions: AuctionService
    follows: FollowService
    rsvps: RsvpService
    giveaways: GiveawayService
    coupons: CouponService
    referrals: ReferralService
    webhooks: WebhookService
    drops: DropService
    groups: GroupBuyService
    preferences: PreferenceService
    notifications: NotificationService
    notifier: Notifier
    clock: Clock
    bus: Bus
    rate_limiter: RateLimiter
    presence: PresenceService
    fanout: Fanout
    origins: ShowOrigins
