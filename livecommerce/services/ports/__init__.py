"""Every interface the services need from the outside world, in one place.

Adapters (``livecommerce/adapters/``) implement these Protocols and only the composition root
(``livecommerce/app.py`` with ``livecommerce/bootstrap/``) decides which ones a process gets.
The records that cross a port are frozen dataclasses defined beside it, so stores never leak
rows. The modules split the ports by the state they guard; import them from here.
"""

from livecommerce.services.ports.addresses import AddressStore
from livecommerce.services.ports.analytics import (
    AnalyticsStore,
    AudienceTally,
    ShowFigures,
    TopProduct,
)
from livecommerce.services.ports.auctions import (
    AuctionRecord,
    AuctionStore,
    BidLog,
    Commit,
    OwnedRow,
)
from livecommerce.services.ports.audience import Followed, FollowStore, RsvpStore
from livecommerce.services.ports.buyer_questions import BuyerQuestionStore
from livecommerce.services.ports.catalog import (
    AccountStore,
    CatalogAdminStore,
    CatalogStore,
    ImageSize,
    Product,
    ProductImages,
    SessionRecord,
    Show,
    ShowStore,
    StoredImage,
    User,
    Variant,
)
from livecommerce.services.ports.coupons import (
    Claim,
    Claimed,
    CouponStore,
    Drop,
    DropClaims,
    Redeemed,
    Redemptions,
)
from livecommerce.services.ports.giveaways import GiveawayRecord, GiveawayStore, OwnedEntry
from livecommerce.services.ports.groupbuys import GroupBuyStore, GroupRecord
from livecommerce.services.ports.hub import (
    Audience,
    ChatStore,
    ModerationStore,
    QaStore,
    Report,
    Restriction,
)
from livecommerce.services.ports.notifications import (
    ClaimedDelivery,
    ClaimedEvent,
    DeliveryOutcome,
    Mailer,
    Notification,
    NotificationStore,
    PushSender,
    PushSubscription,
)
from livecommerce.services.ports.referrals import ReferralStore, ReferrerFigures, ShareCode
from livecommerce.services.ports.reviews import ReviewStore
from livecommerce.services.ports.shop import (
    InventoryStore,
    OrderFilter,
    OrderStore,
    PaymentGateway,
    PaymentInfo,
    RefundResult,
    ReserveResult,
    ShopMetrics,
    SignedWebhooks,
    StockLedger,
)
from livecommerce.services.ports.system import (
    Bus,
    BusHandler,
    Clock,
    Fanout,
    FanoutHandler,
    PresenceStore,
    RateLimiter,
    ReconnectHandler,
)
from livecommerce.services.ports.webhooks import (
    Attempt,
    Delivery,
    Endpoint,
    LeasedDelivery,
    SendResult,
    WebhookSender,
    WebhookStore,
)

__all__ = [
    "AccountStore",
    "AddressStore",
    "AnalyticsStore",
    "Attempt",
    "AuctionRecord",
    "AuctionStore",
    "Audience",
    "AudienceTally",
    "BidLog",
    "Bus",
    "BusHandler",
    "BuyerQuestionStore",
    "CatalogAdminStore",
    "CatalogStore",
    "ChatStore",
    "Claim",
    "Claimed",
    "ClaimedDelivery",
    "ClaimedEvent",
    "Clock",
    "Commit",
    "CouponStore",
    "Delivery",
    "DeliveryOutcome",
    "Drop",
    "DropClaims",
    "Endpoint",
    "Fanout",
    "FanoutHandler",
    "FollowStore",
    "Followed",
    "GiveawayRecord",
    "GiveawayStore",
    "GroupBuyStore",
    "GroupRecord",
    "ImageSize",
    "InventoryStore",
    "LeasedDelivery",
    "Mailer",
    "ModerationStore",
    "Notification",
    "NotificationStore",
    "OrderFilter",
    "OrderStore",
    "OwnedEntry",
    "OwnedRow",
    "PaymentGateway",
    "PaymentInfo",
    "PresenceStore",
    "Product",
    "ProductImages",
    "PushSender",
    "PushSubscription",
    "QaStore",
    "RateLimiter",
    "ReconnectHandler",
    "Redeemed",
    "Redemptions",
    "ReferralStore",
    "ReferrerFigures",
    "RefundResult",
    "Report",
    "ReserveResult",
    "Restriction",
    "ReviewStore",
    "RsvpStore",
    "SendResult",
    "SessionRecord",
    "ShareCode",
    "ShopMetrics",
    "Show",
    "ShowFigures",
    "ShowStore",
    "SignedWebhooks",
    "StockLedger",
    "StoredImage",
    "TopProduct",
    "User",
    "Variant",
    "WebhookSender",
    "WebhookStore",
]
