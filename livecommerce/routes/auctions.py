"""Auction API: the REST twin of the hub's `auction.bid` (for scripts), the public bid log with
its hash chain (`GET /api/v1/offers/{id}/bids`, verified by `livecommerce verify-bids URL` or the
script in docs/AUCTIONS.md), and the seller's second-chance offer to the runner-up. Auction
offers themselves are created with the other offers (`kind: "auction"`, routes/shop.py)."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from livecommerce import keys
from livecommerce.domain.auctions import MAX_AMOUNT
from livecommerce.routes.api import ApiRoutes
from livecommerce.routes.auth import principal_of, require_principal
from livecommerce.wire import OrderOut

api = ApiRoutes("auctions")


class BidIn(BaseModel):
    """No bidder and no time: both are the server's."""

    model_config = ConfigDict(extra="forbid")
    amount: int = Field(ge=1, le=MAX_AMOUNT, strict=True, description="minor units")
    max_amount: int | None = Field(
        None,
        ge=1,
        le=MAX_AMOUNT,
        strict=True,
        description="proxy cap: bids for you by the minimum increment up to it (kept secret)",
    )
    idempotency_key: str = Field(pattern=r"^[A-Za-z0-9._:\-]{8,100}$")


class BidderOut(BaseModel):
    id: str
    name: str


class HighBidOut(BaseModel):
    amount: int
    bidder: BidderOut


class AuctionOut(BaseModel):
    offer_id: str
    status: str = Field(description="open or closed")
    currency: str
    high_bid: HighBidOut | None
    min_bid: int = Field(description="the least the next bid may be, in minor units")
    bids: int = Field(description="accepted bids so far")
    starts_at: int
    ends_at: int = Field(description="epoch milliseconds, server time (anti-snipe moves it)")
    seq: int = Field(description="log rows so far")
    sudden_death: bool
    has_reserve: bool
    reserve_met: bool


class BidAckOut(BaseModel):
    id: str
    seq: int
    amount: int
    at: int


class BidOut(BaseModel):
    bid: BidAckOut
    auction: AuctionOut


class LogRowOut(BaseModel):
    seq: int
    offer_id: str
    bidder: str = Field(description="the bidder's stable pseudonym in this auction")
    amount: int
    max_applied: bool = Field(description="placed by the bidder's max (proxy bid)")
    at: int
    hash: str = Field(description="SHA-256 hex of the previous hash and this row (AUCTIONS.md)")
    you: bool | None = Field(None, description="your own row (only to you)")
    bidder_user: BidderOut | None = Field(None, description="who bid (only to the seller)")


class BidLogOut(BaseModel):
    offer_id: str
    settings: dict[str, Any] = Field(description="the canonical settings that seed the chain")
    bids: list[LogRowOut]
    head: str
    settled: bool
    auction: AuctionOut | None
    refused: dict[str, int] | None = Field(
        None, description="refused bids per error code (only to the seller; not in the chain)"
    )


@api.post(
    "/api/v1/shows/{show_id}/offers/{offer_id}/bids",
    body=BidIn,
    response=BidOut,
    status=201,
    summary="Bid in an auction (same as the hub's auction.bid)",
)
async def place_bid(request: web.Request, body: BidIn) -> BidOut:
    principal = await require_principal(request)
    bid, auction = await request.app[keys.SERVICES].auctions.bid(
        principal,
        request.match_info["show_id"],
        request.match_info["offer_id"],
        amount=body.amount,
        max_amount=body.max_amount,
        idempotency_key=body.idempotency_key,
    )
    return BidOut.model_validate({"bid": bid, "auction": auction})


@api.get(
    "/api/v1/offers/{offer_id}/bids",
    response=BidLogOut,
    auth=False,
    summary="An auction's whole bid log as a hash chain, with its head",
)
async def bid_log(request: web.Request) -> BidLogOut:
    principal = await principal_of(request)
    log = await request.app[keys.SERVICES].auctions.log(principal, request.match_info["offer_id"])
    return BidLogOut.model_validate(log)


@api.post(
    "/api/v1/shows/{show_id}/offers/{offer_id}/second-chance",
    response=OrderOut,
    status=201,
    summary="Offer an unpaid auction's item to the runner-up at their last bid (seller)",
)
async def second_chance(request: web.Request) -> OrderOut:
    principal = await require_principal(request)
    services = request.app[keys.SERVICES]
    order = await services.auctions.second_chance(
        principal, request.match_info["show_id"], request.match_info["offer_id"]
    )
    return OrderOut.model_validate(await services.orders.view(order))
