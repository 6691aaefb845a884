"""Offers: a product on sale in a show, at a fixed price or as a flash sale.

The price a buyer pays always comes from here (the server's offer), never from a client payload;
an offer without its own price sells at the product's (so a flash sale may be a pure
stock-limited drop). An offer sells from its product's variant stock (domain/inventory.py); an
optional `cap` limits how many units this offer may sell in total. A flash sale usually has a cap,
a per-buyer limit and a window
`starts_at ≤ now < ends_at` that opens when the seller *starts* it, not when it is created: it is
prepared with a duration (or, for older clients, an explicit `ends_at`) and the window is fixed
at start. Checkout before the window is `offer_not_active`; on an offer that will never sell
again (ended, window over) it is `offer_closed`.

One offer at a time is on screen: the latest pin, until it is unpinned, ended or replaced by
another pin.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum

from livecommerce.domain.money import Money
from livecommerce.errors import InvalidInput, OfferClosed, OfferNotActive


class OfferKind(StrEnum):
    """How an offer sells."""

    FIXED = "fixed"  # the product's price (or a set one), open while the offer is live
    FLASH = "flash"  # a sale price for a window, with a stock cap and usually a per-buyer limit
    AUCTION = "auction"  # one unit to the highest bidder (domain/auctions.py); never checked out
    GROUP = "group"  # price tiers by members; held at checkout, captured at the deadline


class OfferStatus(StrEnum):
    """The seller's switch for an offer."""

    DRAFT = "draft"  # created, not yet on sale
    LIVE = "live"  # started: buyers can check out inside the window
    ENDED = "ended"  # closed by the seller; no further checkouts


#: A sane upper bound so a typo cannot create a billion-unit cap.
MAX_CAP = 1_000_000
#: The longest sale window a duration may ask for (a week; longer is a typo, not a sale).
MAX_DURATION_MS = 7 * 24 * 3_600_000


@dataclass(frozen=True, slots=True)
class Offer:
    """A product on sale in one show; `cap` is how many units it may sell in total (None: as
    many as its variants have)."""

    id: str
    show_id: str
    seller_id: str
    product_id: str
    kind: OfferKind
    price: Money
    cap: int | None
    per_buyer_limit: int | None
    starts_at_ms: int | None
    ends_at_ms: int | None
    status: OfferStatus
    created_at_ms: int
    #: When a seller or host last put it on screen (None: never pinned).
    pinned_at_ms: int | None = None
    #: How long the window stays open once started (None: until `ends_at_ms`, or no end).
    duration_ms: int | None = None
    #: When it was taken off screen after its last pin (None: not unpinned since).
    unpinned_at_ms: int | None = None


def _check_duration(duration_ms: int | None) -> None:
    if duration_ms is not None and not 1_000 <= duration_ms <= MAX_DURATION_MS:
        raise InvalidInput(f"duration must be between 1 second and {MAX_DURATION_MS // 1000} s")


def make_offer(
    *,
    offer_id: str,
    show_id: str,
    seller_id: str,
    product_id: str,
    kind: OfferKind,
    price: Money,
    cap: int | None,
    per_buyer_limit: int | None,
    starts_at_ms: int | None,
    ends_at_ms: int | None,
    now_ms: int,
    duration_ms: int | None = None,
) -> Offer:
    """Validate and build a draft offer: nothing counts down until it is started."""
    if price.minor < 0:
        raise InvalidInput("price cannot be negative")
    if cap is not None and (isinstance(cap, bool) or not 1 <= cap <= MAX_CAP):
        raise InvalidInput(f"cap must be between 1 and {MAX_CAP}")
    if per_buyer_limit is not None and per_buyer_limit < 1:
        raise InvalidInput("per_buyer_limit must be at least 1")
    _check_duration(duration_ms)
    if duration_ms is not None and ends_at_ms is not None:
        raise InvalidInput("give a duration or ends_at, not both")
    if starts_at_ms is not None and ends_at_ms is not None and ends_at_ms <= starts_at_ms:
        raise InvalidInput("ends_at must be after starts_at")
    if kind is OfferKind.FLASH and ends_at_ms is None and duration_ms is None:
        raise InvalidInput("a flash sale needs a duration")
    if kind is OfferKind.GROUP and ends_at_ms is None and duration_ms is None:
        raise InvalidInput("a group buy needs a deadline: ends_at or duration_seconds")
    return Offer(
        id=offer_id,
        show_id=show_id,
        seller_id=seller_id,
        product_id=product_id,
        kind=kind,
        price=price,
        cap=cap,
        per_buyer_limit=per_buyer_limit,
        starts_at_ms=starts_at_ms,
        ends_at_ms=ends_at_ms,
        status=OfferStatus.DRAFT,
        created_at_ms=now_ms,
        duration_ms=duration_ms,
    )


def start_offer(offer: Offer, now_ms: int, duration_ms: int | None = None) -> Offer:
    """Put a draft on sale: its window opens now (or at an explicit start still ahead) and runs
    for its duration. `duration_ms` replaces the prepared length (or an explicit `ends_at`), so a
    seller whose planned end has passed can still run the sale. Starting a live offer changes
    nothing (a repeated click must not stretch or restart the window)."""
    if offer.status is OfferStatus.ENDED:
        raise OfferClosed("this offer has ended")
    if offer.status is OfferStatus.LIVE:
        if duration_ms is not None:
            raise InvalidInput("this offer is already on sale; its window is set")
        return offer
    _check_duration(duration_ms)
    duration = duration_ms if duration_ms is not None else offer.duration_ms
    explicit_start = offer.starts_at_ms
    starts = explicit_start if explicit_start is not None and explicit_start > now_ms else now_ms
    ends = starts + duration if duration is not None else offer.ends_at_ms
    if ends is not None and ends <= now_ms:
        raise InvalidInput("this flash sale's end time has passed; set a new duration")
    return replace(
        offer, status=OfferStatus.LIVE, starts_at_ms=starts, ends_at_ms=ends, duration_ms=duration
    )


def end_offer(offer: Offer) -> Offer:
    """Close an offer for good (ending an ended offer changes nothing)."""
    return replace(offer, status=OfferStatus.ENDED)


def is_closed(offer: Offer, now_ms: int) -> bool:
    """Whether the offer will never sell again: ended, or started and past its window."""
    if offer.status is OfferStatus.ENDED:
        return True
    return (
        offer.status is OfferStatus.LIVE
        and offer.ends_at_ms is not None
        and now_ms >= offer.ends_at_ms
    )


def check_open(offer: Offer, now_ms: int) -> None:
    """Raise unless buyers may check out this offer at `now_ms`: OfferClosed when it will never
    sell again, OfferNotActive when it is not on sale yet (or is an auction, sold by bids)."""
    if offer.status is OfferStatus.ENDED:
        raise OfferClosed("this offer has ended")
    if offer.kind is OfferKind.AUCTION:
        raise OfferNotActive("an auction sells to the highest bid: bid on it")
    if offer.status is not OfferStatus.LIVE:
        raise OfferNotActive("this offer is not on sale yet")
    if offer.starts_at_ms is not None and now_ms < offer.starts_at_ms:
        raise OfferNotActive("the sale has not started")
    if is_closed(offer, now_ms):
        raise OfferClosed("this sale is over")


def is_pinned(offer: Offer) -> bool:
    """Whether the offer's own record says it is on screen (pinned, not unpinned or ended)."""
    return (
        offer.pinned_at_ms is not None
        and offer.unpinned_at_ms is None
        and offer.status is not OfferStatus.ENDED
    )


def on_screen(offers: Iterable[Offer]) -> Offer | None:
    """The one offer on screen in a show: the latest pin still standing. A pin replaces the one
    before it (the store unpins it), so an earlier offer never comes back on screen when the
    newer one is unpinned or ended."""
    pinned = [o for o in offers if is_pinned(o)]
    return max(pinned, key=lambda o: (o.pinned_at_ms or 0, o.id)) if pinned else None


def offer_view(
    offer: Offer,
    stock_left: int,
    now_ms: int,
    variants: Sequence[tuple[str, str, int]] = (),
) -> dict[str, object]:
    """The public shape for `offer.updated` / `offer.pinned` (countdown in whole seconds).

    `stock_left` is what the offer can still sell (its cap left, or its variants' available
    units, whichever is smaller); `variants` is `(id, label, units left)` per variant, so a card
    can show which sizes are gone. `stock` is the cap under its older name (null: no cap).

    A draft has no window yet (`starts_at`, `ends_at` and `countdown` are null), so no client
    runs a clock for a sale that has not been started; `duration_seconds` says how long it will
    run once started.
    """
    started = offer.status is not OfferStatus.DRAFT
    starts = offer.starts_at_ms if started else None
    countdown: int | None = None
    if offer.status is OfferStatus.LIVE and starts is not None and now_ms < starts:
        countdown = (starts - now_ms + 999) // 1000
    return {
        "id": offer.id,
        "show_id": offer.show_id,
        "product_id": offer.product_id,
        "kind": str(offer.kind),
        "status": str(offer.status),
        "price": {"amount": offer.price.minor, "currency": offer.price.currency},
        "stock": offer.cap,
        "cap": offer.cap,
        "stock_left": stock_left,
        "variants": [{"id": i, "label": label, "stock_left": left} for i, label, left in variants],
        "per_buyer_limit": offer.per_buyer_limit,
        "starts_at": starts,
        "ends_at": offer.ends_at_ms if started else None,
        "duration_seconds": None if offer.duration_ms is None else offer.duration_ms // 1000,
        "countdown": countdown,
        "pinned_at": offer.pinned_at_ms,
        "pinned": is_pinned(offer),
    }
