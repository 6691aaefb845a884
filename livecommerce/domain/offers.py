"""Offers: a product on sale in a show, at a fixed price or as a flash sale.

The price a buyer pays always comes from here (the server's offer), never from a client payload.
A flash sale has its own sale price, a stock cap, a per-buyer limit and a window
`starts_at ≤ now < ends_at`; outside it checkout is refused with `offer_not_active`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum

from livecommerce.domain.money import Money
from livecommerce.errors import InvalidInput, OfferNotActive


class OfferKind(StrEnum):
    """How an offer sells."""

    FIXED = "fixed"  # the product's price (or a set one), open while the offer is live
    FLASH = "flash"  # a sale price for a window, with a stock cap and usually a per-buyer limit


class OfferStatus(StrEnum):
    """The seller's switch for an offer."""

    DRAFT = "draft"  # created, not yet on sale
    LIVE = "live"  # started: buyers can check out inside the window
    ENDED = "ended"  # closed by the seller; no further checkouts


#: A sane upper bound so a typo cannot create a billion-unit pool.
MAX_STOCK = 1_000_000


@dataclass(frozen=True, slots=True)
class Offer:
    """A product on sale in one show; `stock` is the units allotted to this offer."""

    id: str
    show_id: str
    seller_id: str
    product_id: str
    kind: OfferKind
    price: Money
    stock: int
    per_buyer_limit: int | None
    starts_at_ms: int | None
    ends_at_ms: int | None
    status: OfferStatus
    created_at_ms: int
    #: When a seller or host last put it on screen (None: never pinned).
    pinned_at_ms: int | None = None

    @property
    def pool(self) -> str:
        """The inventory pool this offer sells from."""
        return pool_of(self.id)


def pool_of(offer_id: str) -> str:
    """The inventory pool of an offer (orders know their offer id, not the offer)."""
    return f"offer:{offer_id}"


def make_offer(
    *,
    offer_id: str,
    show_id: str,
    seller_id: str,
    product_id: str,
    kind: OfferKind,
    price: Money,
    stock: int,
    per_buyer_limit: int | None,
    starts_at_ms: int | None,
    ends_at_ms: int | None,
    now_ms: int,
) -> Offer:
    """Validate and build a draft offer."""
    if price.minor < 0:
        raise InvalidInput("price cannot be negative")
    if isinstance(stock, bool) or stock < 1 or stock > MAX_STOCK:
        raise InvalidInput(f"stock must be between 1 and {MAX_STOCK}")
    if per_buyer_limit is not None and per_buyer_limit < 1:
        raise InvalidInput("per_buyer_limit must be at least 1")
    if starts_at_ms is not None and ends_at_ms is not None and ends_at_ms <= starts_at_ms:
        raise InvalidInput("ends_at must be after starts_at")
    if kind is OfferKind.FLASH and ends_at_ms is None:
        raise InvalidInput("a flash sale needs ends_at")
    return Offer(
        id=offer_id,
        show_id=show_id,
        seller_id=seller_id,
        product_id=product_id,
        kind=kind,
        price=price,
        stock=stock,
        per_buyer_limit=per_buyer_limit,
        starts_at_ms=starts_at_ms,
        ends_at_ms=ends_at_ms,
        status=OfferStatus.DRAFT,
        created_at_ms=now_ms,
    )


def start_offer(offer: Offer, now_ms: int) -> Offer:
    """Put an offer on sale; a flash sale without a start time starts now."""
    if offer.status is OfferStatus.ENDED:
        raise OfferNotActive("offer has ended")
    starts = offer.starts_at_ms if offer.starts_at_ms is not None else now_ms
    if offer.ends_at_ms is not None and offer.ends_at_ms <= starts:
        raise OfferNotActive("offer window is already over")
    return replace(offer, status=OfferStatus.LIVE, starts_at_ms=starts)


def end_offer(offer: Offer) -> Offer:
    """Close an offer for good."""
    return replace(offer, status=OfferStatus.ENDED)


def check_open(offer: Offer, now_ms: int) -> None:
    """Raise OfferNotActive unless buyers may check out this offer at `now_ms`."""
    if offer.status is not OfferStatus.LIVE:
        raise OfferNotActive("offer is not on sale")
    if offer.starts_at_ms is not None and now_ms < offer.starts_at_ms:
        raise OfferNotActive("sale has not started")
    if offer.ends_at_ms is not None and now_ms >= offer.ends_at_ms:
        raise OfferNotActive("sale is over")


def offer_view(offer: Offer, stock_left: int, now_ms: int) -> dict[str, object]:
    """The public shape for `offer.updated` / `offer.pinned` (countdown in whole seconds)."""
    countdown: int | None = None
    if offer.starts_at_ms is not None and now_ms < offer.starts_at_ms:
        countdown = (offer.starts_at_ms - now_ms + 999) // 1000
    return {
        "id": offer.id,
        "show_id": offer.show_id,
        "product_id": offer.product_id,
        "kind": str(offer.kind),
        "status": str(offer.status),
        "price": {"amount": offer.price.minor, "currency": offer.price.currency},
        "stock": offer.stock,
        "stock_left": stock_left,
        "per_buyer_limit": offer.per_buyer_limit,
        "starts_at": offer.starts_at_ms,
        "ends_at": offer.ends_at_ms,
        "countdown": countdown,
        "pinned_at": offer.pinned_at_ms,
    }
