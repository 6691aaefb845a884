"""The OrderStore port: orders, offers, the journal and provider-event dedup in the durable store.

Every status change is a compare-and-set on the status the caller read, and a payment's journal
transaction is written in the same database transaction as the order's move to `paid`, so a
crash can never leave a paid order without its entries or entries without a paid order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from livecommerce.domain.ledger import JournalTransaction
from livecommerce.domain.offers import Offer
from livecommerce.domain.orders import Order, OrderStatus


@dataclass(frozen=True, slots=True)
class OrderFilter:
    """Which orders a list returns; None means any."""

    buyer_id: str | None = None
    seller_id: str | None = None
    show_id: str | None = None
    offer_id: str | None = None
    statuses: tuple[OrderStatus, ...] = ()
    since_ms: int | None = None
    until_ms: int | None = None
    limit: int = 100


class OrderStore(Protocol):
    async def add_order(self, order: Order) -> Order:
        """Insert; when (buyer, idempotency key) exists, return the stored order instead."""
        ...

    async def get_order(self, order_id: str) -> Order | None: ...

    async def order_by_payment(self, provider: str, ref: str) -> Order | None: ...

    async def save_order(
        self,
        order: Order,
        expected: OrderStatus,
        journal: JournalTransaction | None = None,
        expected_refunded: int | None = None,
    ) -> bool:
        """Write `order` iff the stored status is still `expected` (and refunded amount still
        `expected_refunded` when given), plus `journal` in the same transaction; False when
        someone else moved it first or the journal key was already posted."""
        ...

    async def list_orders(self, flt: OrderFilter) -> list[Order]: ...

    async def due_orders(self, now_ms: int, limit: int = 100) -> list[Order]:
        """Orders still holding stock whose deadline passed."""
        ...

    async def offer_orders(self, offer_id: str, statuses: Sequence[OrderStatus]) -> list[Order]:
        """An offer's orders in these statuses (for rebuilding inventory)."""
        ...

    async def journal(self, order_id: str | None = None) -> list[JournalTransaction]:
        """Journal transactions (of one order, or all), oldest first."""
        ...

    async def seen_event(self, event_id: str) -> bool: ...

    async def record_event(self, event_id: str, provider: str, type_: str, at_ms: int) -> None:
        """Remember a handled provider event (a second record is ignored)."""
        ...

    async def add_offer(self, offer: Offer) -> None: ...

    async def get_offer(self, offer_id: str) -> Offer | None: ...

    async def save_offer(self, offer: Offer, pinned_at_ms: int | None = None) -> None: ...

    async def list_offers(self, show_id: str | None = None) -> list[Offer]: ...
