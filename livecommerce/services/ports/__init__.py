"""Every interface the services need from the outside world, in one place.

Adapters (``livecommerce/adapters/``) implement these Protocols and only the composition root
(``livecommerce/app.py`` with ``livecommerce/bootstrap/``) decides which ones a process gets.
The records that cross a port are frozen dataclasses defined beside it, so stores never leak
rows. The modules split the ports by the state they guard; import them from here.
"""

from livecommerce.services.ports.addresses import AddressStore
from livecommerce.services.ports.analytics import AnalyticsStore, ShowFigures, TopProduct
from livecommerce.services.ports.auctions import (
    AuctionRecord,
    AuctionStore,
    BidLog,
    Commit,
    OwnedRow,
)
from livecommerce.services.ports.audience import Followed, FollowStore, RsvpStore
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
from livecommerce.services.ports.hub import (
    Audience,
    ChatStore,
    ModerationStore,
    QaStore,
    Report,
    Restriction,
)
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
    ShowOrigins,
)

__all__ = [
    "AccountStore",
    "AddressStore",
    "AnalyticsStore",
    "AuctionRecord",
    "AuctionStore",
    "Audience",
    "BidLog",
    "Bus",
    "BusHandler",
    "CatalogAdminStore",
    "CatalogStore",
    "ChatStore",
    "Claim",
    "Claimed",
    "Clock",
    "Commit",
    "CouponStore",
    "Drop",
    "DropClaims",
    "Fanout",
    "FanoutHandler",
    "FollowStore",
    "Followed",
    "GiveawayRecord",
    "GiveawayStore",
    "ImageSize",
    "InventoryStore",
    "ModerationStore",
    "OrderFilter",
    "OrderStore",
    "OwnedEntry",
    "OwnedRow",
    "PaymentGateway",
    "PaymentInfo",
    "PresenceStore",
    "Product",
    "ProductImages",
    "QaStore",
    "RateLimiter",
    "ReconnectHandler",
    "Redeemed",
    "Redemptions",
    "RefundResult",
    "Report",
    "ReserveResult",
    "Restriction",
    "ReviewStore",
    "RsvpStore",
    "SessionRecord",
    "ShopMetrics",
    "Show",
    "ShowFigures",
    "ShowOrigins",
    "ShowStore",
    "SignedWebhooks",
    "StockLedger",
    "StoredImage",
    "TopProduct",
    "User",
    "Variant",
]
