"""Port for reviews by verified buyers (docs/TRUST.md): one review per order, the seller's one
reply, reports and the staff's hide/restore, and the per-product rating counts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from livecommerce.domain.reviews import Review, ReviewStatus


class ReviewStore(Protocol):
    async def add_review(self, review: Review) -> bool:
        """False when the order has a review already (one per order)."""

    async def get_review(self, review_id: str) -> Review | None:
        """With `refunded` from the order's status now."""

    async def review_of_order(self, order_id: str) -> Review | None: ...

    async def product_reviews(self, product_id: str, limit: int, offset: int) -> list[Review]:
        """Shown reviews (published or reported) of a product, newest first."""

    async def rating_counts(self, product_ids: Sequence[str]) -> dict[str, dict[int, int]]:
        """Per product, shown reviews per star (a product without reviews is absent)."""

    async def seller_reviews(
        self, seller_id: str | None, status: ReviewStatus | None, limit: int
    ) -> list[Review]:
        """A seller's reviews (every seller's with None), newest first, of a status or all."""

    async def set_reply(self, review_id: str, text: str, at_ms: int) -> bool:
        """Store the seller's reply iff there is none yet."""

    async def add_report(self, review_id: str, reporter_id: str, reason: str, at_ms: int) -> bool:
        """Record a report (one per reporter; False for a repeat) and move a published review
        to `reported`."""

    async def set_status(self, review_id: str, status: ReviewStatus) -> bool: ...
