"""Reviews by verified buyers over HTTP (docs/TRUST.md): the buyer's review of their order, a
product's reviews (public, paginated, with the summary), the seller's reply, reports, and the
review queue where the seller or a show's staff hide and restore reviews."""

from __future__ import annotations

from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from livecommerce import keys
from livecommerce.domain.access import Principal, ShowRef
from livecommerce.domain.reviews import MAX_REPLY_LENGTH, MAX_REVIEW_LENGTH, ReviewStatus
from livecommerce.routes.api import ApiRoutes
from livecommerce.routes.auth import principal_of, require_principal
from livecommerce.services.reviews import MAX_PAGE, ReviewService

api = ApiRoutes("reviews")


class ReviewIn(BaseModel):
    """No `photos`: the server keeps no buyer uploads, so a review is stars and text."""

    model_config = ConfigDict(extra="forbid")
    rating: int = Field(ge=1, le=5, strict=True)
    text: str = Field(min_length=1, max_length=MAX_REVIEW_LENGTH)


class PageQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    limit: int = Field(20, ge=1, le=MAX_PAGE)
    offset: int = Field(0, ge=0, le=1_000_000)


class ReplyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(min_length=1, max_length=MAX_REPLY_LENGTH)


class ReportIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str | None = Field(None, max_length=200)


class QueueQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: Literal["published", "reported", "hidden"] | None = "reported"
    show_id: str | None = Field(
        None, max_length=100, description="a show you are staff of: its seller's reviews"
    )
    limit: int = Field(100, ge=1, le=MAX_PAGE)


class ModerateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    show_id: str | None = Field(
        None, max_length=100, description="acting as staff of this show of the seller's"
    )


def _reviews(request: web.Request) -> ReviewService:
    return request.app[keys.SERVICES].reviews


async def _show(request: web.Request, show_id: str | None) -> ShowRef | None:
    return None if show_id is None else await request.app[keys.SERVICES].shows.show_ref(show_id)


def _wire(review: Any, principal: Principal | None) -> dict[str, Any]:
    staff = principal is not None and principal.user_id == review.seller_id
    return dict(review.to_wire(staff=staff))


@api.post(
    "/api/v1/orders/{order_id}/review",
    body=ReviewIn,
    status=201,
    summary="Review your order once it was fulfilled (or 14 days after payment when nothing "
    "ships); one review per order",
)
async def create_review(request: web.Request, body: ReviewIn) -> dict[str, Any]:
    principal = await require_principal(request)
    review = await _reviews(request).review(
        principal, request.match_info["order_id"], body.rating, body.text
    )
    return {**review.to_wire(), "order_id": review.order_id}


@api.get(
    "/api/v1/products/{product_id}/reviews",
    query=PageQuery,
    auth=False,
    summary="A product's reviews by verified buyers, newest first, with the summary",
)
async def product_reviews(request: web.Request, query: PageQuery) -> dict[str, Any]:
    page, summary = await _reviews(request).product_reviews(
        request.match_info["product_id"], query.limit, query.offset
    )
    more = len(page) == query.limit
    return {
        "product_id": request.match_info["product_id"],
        "summary": summary,
        "reviews": [r.to_wire() for r in page],
        "next_offset": query.offset + len(page) if more else None,
    }


@api.get("/api/v1/reviews/{review_id}", auth=False, summary="One review")
async def get_review(request: web.Request) -> dict[str, Any]:
    principal = await principal_of(request)
    review = await _reviews(request).get(principal, request.match_info["review_id"])
    return _wire(review, principal)


@api.post(
    "/api/v1/reviews/{review_id}/reply",
    body=ReplyIn,
    summary="The seller's one public reply to a review",
)
async def reply_review(request: web.Request, body: ReplyIn) -> dict[str, Any]:
    principal = await require_principal(request)
    review = await _reviews(request).reply(principal, request.match_info["review_id"], body.text)
    return _wire(review, principal)


@api.post(
    "/api/v1/reviews/{review_id}/report",
    body=ReportIn,
    summary="Report a review to the seller's review queue (signed in; once per person)",
)
async def report_review(request: web.Request, body: ReportIn) -> dict[str, Any]:
    principal = await require_principal(request)
    review = await _reviews(request).report(principal, request.match_info["review_id"], body.reason)
    return {"id": review.id, "reported": True}


@api.get(
    "/api/v1/reviews",
    query=QueueQuery,
    summary="The review queue (status=reported by default): your shop's reviews, a show's "
    "seller's for its staff (show_id), every shop's for admins",
)
async def list_reviews(request: web.Request, query: QueueQuery) -> dict[str, Any]:
    principal = await require_principal(request)
    show = await _show(request, query.show_id)
    status = ReviewStatus(query.status) if query.status else None
    found = await _reviews(request).queue(principal, status, show, query.limit)
    return {"reviews": [r.to_wire(staff=True) for r in found]}


async def _moderate(request: web.Request, body: ModerateIn, hide: bool) -> dict[str, Any]:
    principal = await require_principal(request)
    show = await _show(request, body.show_id)
    review = await _reviews(request).moderate(
        principal, request.match_info["review_id"], hide, show
    )
    return review.to_wire(staff=True)


@api.post(
    "/api/v1/reviews/{review_id}/hide",
    body=ModerateIn,
    summary="Hide a review from the product and its summary (the seller or their shows' staff)",
)
async def hide_review(request: web.Request, body: ModerateIn) -> dict[str, Any]:
    return await _moderate(request, body, hide=True)


@api.post(
    "/api/v1/reviews/{review_id}/restore",
    body=ModerateIn,
    summary="Show a hidden or reported review again (the seller or their shows' staff)",
)
async def restore_review(request: web.Request, body: ModerateIn) -> dict[str, Any]:
    return await _moderate(request, body, hide=False)
