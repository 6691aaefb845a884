"""The port for group buys: each group offer's tiers and its one close decision (SQL).

The close is frozen once (`freeze` is a conditional write: the first closer's count and final
price stand, every later or racing closer gets them back), so members are captured or voided by
one decision however many nodes close, and again after a crash half-way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from livecommerce.domain.groupbuy import Tier


@dataclass(frozen=True, slots=True)
class GroupRecord:
    """A group offer's tiers and, once closed, the decision: `buyers` counted at the close and
    the `final_price` every member pays a unit (None with `closed_at_ms` set: voided)."""

    offer_id: str
    show_id: str
    variant_id: str | None
    tiers: tuple[Tier, ...]
    currency: str
    buyers: int | None = None
    final_price: int | None = None
    closed_at_ms: int | None = None
    settled_at_ms: int | None = None


class GroupBuyStore(Protocol):
    async def add_group(self, record: GroupRecord) -> None: ...

    async def group(self, offer_id: str) -> GroupRecord | None: ...

    async def buyers(self, offer_id: str) -> int:
        """Distinct people with an `authorized` order in the group."""
        ...

    async def freeze(
        self, offer_id: str, buyers: int, final_price: int | None, at_ms: int
    ) -> GroupRecord:
        """Record the close iff none is recorded; the stored record either way."""
        ...

    async def mark_settled(self, offer_id: str, at_ms: int) -> bool:
        """True for the one call that marks a closed group settled."""
        ...

    async def due(self, now_ms: int, limit: int = 100) -> list[str]:
        """Groups to close: unsettled ones whose offer ended or whose deadline passed, and
        settled ones that still have a member to capture or void (authorised late)."""
        ...
