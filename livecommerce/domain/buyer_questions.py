"""Ask someone who bought it (docs/TRUST.md): who a shopper's question about a product goes
to, how often one buyer may be asked, and what an answer shows about the purchase behind it.

A question goes to at most `ROUTE_MAX` verified buyers of the product (a paid order of it not
refunded in full; never the asker, never the seller) who opted in, least recently asked first,
and no buyer is asked more than `WEEKLY_CAP` times in any `WEEK_MS`. The store applies
`choose_buyers` to candidates it has locked, so two questions at once cannot both take a
buyer's last ask of the week. An answer carries the badge "bought <variant> on <Month YYYY>",
from the buyer's own order, never from what the client says.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from livecommerce.domain.orders import OrderStatus
from livecommerce.domain.ratelimit import Rate

MAX_QUESTION_LENGTH = 500
MAX_ANSWER_LENGTH = 1000
#: Buyers one question goes to.
ROUTE_MAX = 5
#: Asks one buyer receives in any rolling week.
WEEKLY_CAP = 3
WEEK_MS = 7 * 24 * 3600 * 1000
#: Questions one shopper may ask (every product together).
ASK_RATE = Rate(5, 3600)
#: An order of these makes its buyer a verified buyer of its product.
VERIFIED = (OrderStatus.PAID, OrderStatus.FULFILLED, OrderStatus.PARTIALLY_REFUNDED)


@dataclass(frozen=True, slots=True)
class Candidate:
    """An opted-in verified buyer as the store sees them while routing."""

    user_id: str
    #: The last time they were asked (epoch ms), None if never.
    last_asked_ms: int | None
    #: Asks they received in the last `WEEK_MS`.
    asks_this_week: int


def choose_buyers(candidates: Sequence[Candidate], limit: int = ROUTE_MAX) -> list[str]:
    """Up to `limit` buyers under the weekly cap, never asked first, then least recently
    asked (ties by id, so the choice is the same on every node)."""
    open_ = [c for c in candidates if c.asks_this_week < WEEKLY_CAP]
    open_.sort(key=lambda c: (-1 if c.last_asked_ms is None else c.last_asked_ms, c.user_id))
    return [c.user_id for c in open_[:limit]]


MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip


def month_label(at_ms: int) -> str:
    """'March 2026' (UTC): how precisely an answer says when the buyer bought. The civil
    calendar from days since the epoch (H. Hinnant's ``civil_from_days``), as the domain
    does no clock or calendar I/O."""
    z = at_ms // 86_400_000 + 719_468
    era = z // 146_097
    doe = z - era * 146_097
    yoe = (doe - doe // 1460 + doe // 36_524 - doe // 146_096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    month = mp + 3 if mp < 10 else mp - 9
    year = yoe + era * 400 + (1 if month <= 2 else 0)
    return f"{MONTHS[month - 1]} {year}"


@dataclass(frozen=True, slots=True)
class Purchase:
    """The order that makes someone a verified buyer of a product."""

    order_id: str
    variant_id: str | None
    #: When it was paid (the journal's payment entry), epoch ms.
    paid_at_ms: int


@dataclass(frozen=True, slots=True)
class BuyerAnswer:
    id: str
    question_id: str
    product_id: str
    buyer_id: str
    buyer_name: str
    #: The variant's label when it was bought, kept so a renamed variant does not rewrite it.
    variant_label: str
    bought_at_ms: int
    text: str
    at_ms: int

    def badge(self) -> dict[str, str]:
        return {"variant": self.variant_label, "bought_at_month": month_label(self.bought_at_ms)}

    def to_wire(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "question_id": self.question_id,
            "text": self.text,
            "author": {"name": self.buyer_name},
            "verified_purchase": True,
            "badge": self.badge(),
            "at": self.at_ms,
        }


@dataclass(frozen=True, slots=True)
class BuyerQuestion:
    id: str
    product_id: str
    product_name: str
    seller_id: str
    asker_id: str
    asker_name: str
    text: str
    asked_at_ms: int
    #: How many buyers it was routed to.
    routed_to: int
    answers: tuple[BuyerAnswer, ...] = ()

    def to_wire(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "product_id": self.product_id,
            "text": self.text,
            "author": {"name": self.asker_name},
            "asked_at": self.asked_at_ms,
            "routed_to": self.routed_to,
            "answers": [a.to_wire() for a in self.answers],
        }
