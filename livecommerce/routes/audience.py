"""Audience API: sellers' public profiles (by id or handle) with follower counts, follow and
unfollow, what the caller follows, the caller's handle, and show reminders (RSVP). Follows and
RSVPs are idempotent: a new one answers 201, a repeat 200, both with the current state."""

from __future__ import annotations

from datetime import datetime

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from livecommerce import keys
from livecommerce.domain.audience import HANDLE_MAX
from livecommerce.routes.accounts import UserEnvelope
from livecommerce.routes.api import ApiRoutes
from livecommerce.routes.auth import principal_of, require_principal
from livecommerce.services.follows import FollowResult, Seller
from livecommerce.services.ports import Show
from livecommerce.services.rsvps import RsvpState
from livecommerce.wire import UserOut, iso

api = ApiRoutes("audience")


class LiveShowOut(BaseModel):
    """The seller's show on air now (live, or paused while the seller reconnects)."""

    id: str
    title: str
    status: str
    started_at: datetime | None

    @classmethod
    def of(cls, show: Show | None) -> LiveShowOut | None:
        if show is None:
            return None
        return cls(
            id=show.id, title=show.title, status=show.status.value, started_at=iso(show.started_at)
        )


class SellerOut(BaseModel):
    id: str
    name: str
    handle: str | None = Field(description="the storefront is /s/{handle}")
    followers: int
    following: bool = Field(description="whether the caller follows this seller")
    live_show: LiveShowOut | None = Field(description="the seller's show on air now, if any")

    @classmethod
    def of(cls, seller: Seller) -> SellerOut:
        return cls(
            id=seller.user.id,
            name=seller.user.name,
            handle=seller.user.handle,
            followers=seller.followers,
            following=seller.following,
            live_show=LiveShowOut.of(seller.live_show),
        )


class FollowOut(BaseModel):
    following: bool
    followers: int = Field(description="the seller's follower count after this call")


class FollowedSellerOut(BaseModel):
    id: str
    name: str
    handle: str | None
    followed_at: int = Field(description="epoch milliseconds")
    live_show: LiveShowOut | None


class FollowingList(BaseModel):
    sellers: list[FollowedSellerOut]
    next_cursor: str | None = Field(description="pass as cursor for the next page; null: no more")


class FollowingQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    limit: int = Field(50, ge=1, le=200)
    cursor: str | None = Field(None, min_length=3, max_length=200)


class HandleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    handle: str = Field(
        min_length=1,
        max_length=100,
        description=f"3 to {HANDLE_MAX} of a-z, 0-9 and _ (any case; stored lower-case): "
        "422 handle_invalid, 409 handle_taken",
    )


class RsvpOut(BaseModel):
    rsvps: int = Field(description="how many asked to be reminded of the show")
    rsvped: bool = Field(description="whether the caller is among them")


def _follow_answer(result: FollowResult, new_status: int) -> web.Response:
    body = FollowOut(following=result.following, followers=result.followers)
    return web.json_response(
        body.model_dump(mode="json"), status=new_status if result.changed else 200
    )


def _rsvp_answer(state: RsvpState, new_status: int) -> web.Response:
    body = RsvpOut(rsvps=state.rsvps, rsvped=state.rsvped)
    return web.json_response(
        body.model_dump(mode="json"), status=new_status if state.changed else 200
    )


@api.get(
    "/api/v1/sellers/{seller_id}",
    response=SellerOut,
    auth=False,
    summary="A seller's public profile: name, handle, follower count, show on air now",
)
async def get_seller(request: web.Request) -> SellerOut:
    principal = await principal_of(request)
    seller = await request.app[keys.SERVICES].follows.seller(
        request.match_info["seller_id"], principal
    )
    return SellerOut.of(seller)


@api.get(
    "/api/v1/sellers/by-handle/{handle}",
    response=SellerOut,
    auth=False,
    summary="A seller's public profile by storefront handle (any case)",
)
async def get_seller_by_handle(request: web.Request) -> SellerOut:
    principal = await principal_of(request)
    seller = await request.app[keys.SERVICES].follows.seller_by_handle(
        request.match_info["handle"], principal
    )
    return SellerOut.of(seller)


@api.post(
    "/api/v1/sellers/{seller_id}/follow",
    response=FollowOut,
    status=201,
    also=(200,),
    summary="Follow a seller (accounts only, not yourself): 201 new, 200 already following",
)
async def follow_seller(request: web.Request) -> web.Response:
    principal = await require_principal(request)
    result = await request.app[keys.SERVICES].follows.follow(
        principal, request.match_info["seller_id"]
    )
    return _follow_answer(result, 201)


@api.delete(
    "/api/v1/sellers/{seller_id}/follow",
    response=FollowOut,
    summary="Stop following a seller (200 also when you did not follow them)",
)
async def unfollow_seller(request: web.Request) -> web.Response:
    principal = await require_principal(request)
    result = await request.app[keys.SERVICES].follows.unfollow(
        principal, request.match_info["seller_id"]
    )
    return _follow_answer(result, 200)


@api.get(
    "/api/v1/me/following",
    query=FollowingQuery,
    response=FollowingList,
    summary="The sellers you follow, newest first, with the show each has on air now",
)
async def list_following(request: web.Request, query: FollowingQuery) -> FollowingList:
    principal = await require_principal(request)
    page = await request.app[keys.SERVICES].follows.following(principal, query.cursor, query.limit)
    return FollowingList(
        sellers=[
            FollowedSellerOut(
                id=item.seller_id,
                name=item.name,
                handle=item.handle,
                followed_at=item.followed_at,
                live_show=LiveShowOut.of(show),
            )
            for item, show in page.sellers
        ],
        next_cursor=page.next_cursor,
    )


@api.put(
    "/api/v1/me/handle",
    body=HandleIn,
    response=UserEnvelope,
    summary="Choose your handle (your storefront's address /s/{handle} if you sell)",
)
async def put_handle(request: web.Request, body: HandleIn) -> UserEnvelope:
    principal = await require_principal(request)
    user = await request.app[keys.SERVICES].accounts.change_handle(principal, body.handle)
    return UserEnvelope(user=UserOut.of(user))


@api.post(
    "/api/v1/shows/{show_id}/rsvp",
    response=RsvpOut,
    status=201,
    also=(200,),
    summary="Remind me of this show (accounts; scheduled or on-air shows): 201 new, 200 repeat",
)
async def rsvp_show(request: web.Request) -> web.Response:
    principal = await require_principal(request)
    state = await request.app[keys.SERVICES].rsvps.rsvp(principal, request.match_info["show_id"])
    return _rsvp_answer(state, 201)


@api.delete(
    "/api/v1/shows/{show_id}/rsvp",
    response=RsvpOut,
    summary="Take back a reminder (200 also when there was none)",
)
async def cancel_rsvp(request: web.Request) -> web.Response:
    principal = await require_principal(request)
    state = await request.app[keys.SERVICES].rsvps.cancel(principal, request.match_info["show_id"])
    return _rsvp_answer(state, 200)
