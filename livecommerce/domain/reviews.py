"""Reviews by verified buyers: who may review which order and when, what a review may say, and
the product's summary. Pure rules over values the service loads (the order, the product, when
it was paid); docs/TRUST.md has the whole story.

An order is one line (a product, a variant, a quantity), so a review belongs to an order: one
per order, by its buyer only, once the goods arrived. The order must have been paid; it opens
at fulfilment, or — for products that are not shipped (downloads, pick-ups, services that never
get a fulfilment) — `NO_SHIPPING_WAIT_MS` after payment, whichever comes first. A refunded
order's review stays, marked `refunded`.

The text goes through chat's own filters (`moderation.screen_text`): links are always refused in
a review, and so are the words the shop's `review_banned_words` lists.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from livecommerce.domain.chat import normalize_text
from livecommerce.domain.moderation import ChatPolicy, Verdict, screen_text
from livecommerce.domain.orders import Order, OrderStatus
from livecommerce.errors import InvalidInput, OrderNotPaid, ReviewNotYet, ReviewRejected

#: Products that need no shipping can be reviewed this long after payment (14 days).
NO_SHIPPING_WAIT_MS = 14 * 24 * 3600 * 1000
MAX_REVIEW_LENGTH = 2000
MAX_REPLY_LENGTH = 1000
RATINGS = (1, 2, 3, 4, 5)

#: Orders whose money was never taken.
UNPAID = frozenset(
    {
        OrderStatus.RESERVED,
        OrderStatus.PENDING_PAYMENT,
        OrderStatus.EXPIRED,
        OrderStatus.FAILED,
        OrderStatus.CANCELLED,
    }
)


class ReviewStatus(StrEnum):
    PUBLISHED = "published"  # shown on the product
    REPORTED = "reported"  # still shown; someone reported it and staff have not looked yet
    HIDDEN = "hidden"  # staff hid it; only staff see it (and may restore it)


def opens_at(order: Order, *, requires_shipping: bool, paid_at_ms: int | None) -> int | None:
    """When the order may be reviewed (epoch ms): its fulfilment, or for goods not shipped
    `NO_SHIPPING_WAIT_MS` after payment if that comes first; None while it waits on a
    fulfilment that has not happened. Raises OrderNotPaid for an order never paid."""
    if order.status in UNPAID:
        raise OrderNotPaid("this order was never paid")
    candidates = []
    if order.fulfilment is not None:
        candidates.append(order.fulfilment.fulfilled_at_ms)
    if not requires_shipping and paid_at_ms is not None:
        candidates.append(paid_at_ms + NO_SHIPPING_WAIT_MS)
    return min(candidates) if candidates else None


def check_open(
    order: Order, *, requires_shipping: bool, paid_at_ms: int | None, now_ms: int
) -> None:
    """Raise OrderNotPaid or ReviewNotYet (`details.opens_at`) unless the order may be reviewed."""
    when = opens_at(order, requires_shipping=requires_shipping, paid_at_ms=paid_at_ms)
    if when is None:
        raise ReviewNotYet(
            "you can review this order once the seller has fulfilled it",
            details={"opens_at": None, "after": "fulfilment"},
        )
    if now_ms < when:
        raise ReviewNotYet(
            "you can review this order from opens_at on",
            details={"opens_at": when, "after": "fulfilment_or_wait"},
        )


def check_rating(rating: object) -> int:
    if isinstance(rating, bool) or not isinstance(rating, int) or rating not in RATINGS:
        raise InvalidInput("rating must be a whole number from 1 to 5")
    return rating


#: What a buyer reads when the filters refuse their text, by reason.
REFUSALS = {
    "banned_word": "Your text contains a word that may not be used here.",
    "link": "Links are not allowed here.",
}


def clean_text(
    raw: str,
    banned_words: Sequence[str],
    *,
    max_length: int,
    rejected: type[InvalidInput] = ReviewRejected,
) -> str:
    """Normalise a review or reply (or a buyer question or answer, refused as ``rejected``)
    and run chat's filters over it (links always refused)."""
    text = normalize_text(raw, max_length=max_length)
    policy = ChatPolicy(banned_words=tuple(banned_words), block_links=True)
    screening = screen_text(text, policy)
    if screening.verdict is not Verdict.PUBLISH:
        raise rejected(
            REFUSALS.get(screening.reason or "", REFUSALS["link"]),
            details={"reason": screening.reason},
        )
    return text


@dataclass(frozen=True, slots=True)
class Review:
    id: str
    order_id: str
    product_id: str
    variant_id: str | None
    #: The variant's label when it was bought ("M"), kept so a renamed variant does not
    #: rewrite what the buyer bought.
    variant_label: str
    seller_id: str
    buyer_id: str
    buyer_name: str
    rating: int
    text: str
    at_ms: int
    status: ReviewStatus = ReviewStatus.PUBLISHED
    reply: str | None = None
    reply_at_ms: int | None = None
    #: The order was refunded after (or before) the review: it stays, marked.
    refunded: bool = False
    reports: int = 0

    def to_wire(self, *, staff: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "product_id": self.product_id,
            "rating": self.rating,
            "text": self.text,
            "verified_purchase": True,
            "variant": (
                {"id": self.variant_id, "label": self.variant_label} if self.variant_id else None
            ),
            "author": {"name": self.buyer_name},
            "at": self.at_ms,
            "refunded": self.refunded,
            "reply": (
                {"text": self.reply, "at": self.reply_at_ms} if self.reply is not None else None
            ),
            "status": str(self.status),
        }
        if staff:
            out.update(order_id=self.order_id, buyer_id=self.buyer_id, reports=self.reports)
        return out


def summary(counts: Mapping[int, int]) -> dict[str, Any]:
    """`{average, count, distribution: {"1".."5": n}}` from ratings counted per star; the
    average to two decimals, null without reviews."""
    distribution = {str(r): int(counts.get(r, 0)) for r in RATINGS}
    count = sum(distribution.values())
    total = sum(r * int(counts.get(r, 0)) for r in RATINGS)
    return {
        "average": round(total / count, 2) if count else None,
        "count": count,
        "distribution": distribution,
    }
