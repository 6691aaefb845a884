"""Reviews by verified buyers (docs/TRUST.md): write one for a paid, fulfilled order of yours;
read a product's reviews and its summary; the seller's one public reply; reports by anyone
signed in and the review queue where the seller (or a host of one of the seller's shows, or an
admin) hides or restores a review.

Whose order it is, whether it was paid and when it opens are decided from the ledger's own
order and journal, never from what the client says, so every review is a verified purchase.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from livecommerce.domain.access import Action, Principal, Role, ShowRef, authorize
from livecommerce.domain.ledger import EntryKind
from livecommerce.domain.moderation import normalize_reason
from livecommerce.domain.reviews import (
    MAX_REPLY_LENGTH,
    MAX_REVIEW_LENGTH,
    Review,
    ReviewStatus,
    check_open,
    check_rating,
    clean_text,
    summary,
)
from livecommerce.errors import (
    AlreadyReplied,
    AlreadyReviewed,
    NotFound,
    NotYourOrder,
    PermissionDenied,
    Unauthenticated,
)
from livecommerce.ids import new_id
from livecommerce.services.orders import variant_label
from livecommerce.services.ports import CatalogStore, Clock, OrderStore, ReviewStore

#: The most reviews one page (or one queue read) returns.
MAX_PAGE = 100


class ReviewService:
    def __init__(
        self,
        store: ReviewStore,
        orders: OrderStore,
        catalog: CatalogStore,
        clock: Clock,
        banned_words: Sequence[str] = (),
    ) -> None:
        self._store = store
        self._orders = orders
        self._catalog = catalog
        self._clock = clock
        self._banned_words = tuple(banned_words)

    async def review(
        self, principal: Principal | None, order_id: str, rating: int, text: str
    ) -> Review:
        """The buyer's review of their order: refused with `not_your_order` (404),
        `order_not_paid`, `review_not_yet` (`details.opens_at`), `already_reviewed`,
        `review_rejected` (a link or a banned word) or `invalid_input`."""
        if principal is None:
            raise Unauthenticated("sign in to review your order")
        order = await self._orders.get_order(order_id)
        if order is None or order.buyer_id != principal.user_id:
            raise NotYourOrder("no such order of yours")
        stars = check_rating(rating)
        body = clean_text(text, self._banned_words, max_length=MAX_REVIEW_LENGTH)
        product = await self._catalog.get_product(order.product_id)
        paid = [
            e.at_ms for e in await self._orders.journal(order.id) if e.kind is EntryKind.PAYMENT
        ]
        check_open(
            order,
            requires_shipping=product.requires_shipping if product else True,
            paid_at_ms=min(paid) if paid else None,
            now_ms=self._clock.now_ms(),
        )
        if await self._store.review_of_order(order.id) is not None:
            raise AlreadyReviewed("you have reviewed this order already")
        review = Review(
            id=new_id("rev"),
            order_id=order.id,
            product_id=order.product_id,
            variant_id=order.variant_id,
            variant_label=variant_label(product, order.variant_id),
            seller_id=order.seller_id,
            buyer_id=order.buyer_id,
            buyer_name=principal.name,
            rating=stars,
            text=body,
            at_ms=self._clock.now_ms(),
        )
        if not await self._store.add_review(review):
            raise AlreadyReviewed("you have reviewed this order already")
        stored = await self._store.get_review(review.id)
        return stored or review

    async def product_reviews(
        self, product_id: str, limit: int, offset: int
    ) -> tuple[list[Review], dict[str, Any]]:
        """A page of the product's shown reviews, newest first, and its summary."""
        if await self._catalog.get_product(product_id) is None:
            raise NotFound("no such product")
        page = await self._store.product_reviews(product_id, min(limit, MAX_PAGE), offset)
        return page, await self.summary(product_id)

    async def summary(self, product_id: str) -> dict[str, Any]:
        return (await self.summaries([product_id]))[product_id]

    async def summaries(self, product_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """`{average, count, distribution}` per product, in one store read."""
        counts = await self._store.rating_counts(product_ids)
        return {pid: summary(counts.get(pid, {})) for pid in product_ids}

    async def get(self, principal: Principal | None, review_id: str) -> Review:
        """A shown review for anyone; a hidden one only for those who may moderate it."""
        review = await self._store.get_review(review_id)
        if review is None or (
            review.status is ReviewStatus.HIDDEN and not self._moderates(principal, review)
        ):
            raise NotFound("no such review")
        return review

    def _moderates(
        self, principal: Principal | None, review: Review, show: ShowRef | None = None
    ) -> bool:
        """The seller of the product, an admin, or staff of one of the seller's shows."""
        if principal is None or principal.is_guest:
            return False
        if principal.role is Role.ADMIN or principal.user_id == review.seller_id:
            return True
        return (
            show is not None
            and show.seller_id == review.seller_id
            and (principal.user_id in show.host_ids)
        )

    async def reply(self, principal: Principal | None, review_id: str, text: str) -> Review:
        """The seller's one public reply."""
        who = authorize(principal, Action.WATCH)
        review = await self.get(who, review_id)
        if who.user_id != review.seller_id:
            raise PermissionDenied("only the seller replies to a review")
        body = clean_text(text, self._banned_words, max_length=MAX_REPLY_LENGTH)
        if not await self._store.set_reply(review.id, body, self._clock.now_ms()):
            raise AlreadyReplied("you have replied to this review already")
        return await self.get(who, review_id)

    async def report(
        self, principal: Principal | None, review_id: str, reason: str | None
    ) -> Review:
        """Anyone signed in (not a guest) flags a review for the seller's queue; a repeat by
        the same person changes nothing."""
        who = authorize(principal, Action.WATCH)
        if who.is_guest:
            raise PermissionDenied("sign in with an account to report a review")
        review = await self.get(who, review_id)
        await self._store.add_report(
            review.id, who.user_id, normalize_reason(reason), self._clock.now_ms()
        )
        return await self.get(who, review_id)

    async def queue(
        self,
        principal: Principal | None,
        status: ReviewStatus | None,
        show: ShowRef | None,
        limit: int,
    ) -> list[Review]:
        """The review queue: with a show, its seller's reviews (the show's staff may read
        them); without, the caller's own shop's (an admin's: every shop's)."""
        who = authorize(principal, Action.WATCH)
        if show is not None:
            authorize(who, Action.MODERATE, show)
            seller: str | None = show.seller_id
        elif who.role is Role.ADMIN:
            seller = None
        elif who.role is Role.SELLER:
            seller = who.user_id
        else:
            raise PermissionDenied("only a seller, a show's staff or an admin has a review queue")
        return await self._store.seller_reviews(seller, status, min(limit, MAX_PAGE))

    async def moderate(
        self, principal: Principal | None, review_id: str, hide: bool, show: ShowRef | None
    ) -> Review:
        """Hide a review (off the product and its summary) or restore it (out of the queue)."""
        review = await self._store.get_review(review_id)
        if review is None:
            raise NotFound("no such review")
        if not self._moderates(principal, review, show):
            if principal is None:
                raise Unauthenticated("sign in to moderate reviews")
            raise PermissionDenied("only the seller or their shows' staff moderate this review")
        status = ReviewStatus.HIDDEN if hide else ReviewStatus.PUBLISHED
        await self._store.set_status(review.id, status)
        found = await self._store.get_review(review.id)
        return found or review
