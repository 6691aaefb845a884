"""The auction's Socket.IO event, registered on the hub's event table: `auction.bid {show_id,
offer_id, amount, max_amount?, idempotency_key}` acks `{ok, bid: {id, seq, amount, at},
auction}`; the service announces `auction.updated` and `auction.closed` on the Bus and the hub
relays both to the show's room. A late joiner gets the on-screen auction in the `show.join` ack
(`auction`). Payload models forbid unknown keys and take real integers only (minor units)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from livecommerce.domain.auctions import MAX_AMOUNT
from livecommerce.domain.offers import OfferKind, on_screen
from livecommerce.errors import Unauthenticated
from livecommerce.hub.events import EventContext, Payload, events, relays


class AuctionBid(Payload):
    show_id: str = Field(min_length=1, max_length=100)
    offer_id: str = Field(min_length=1, max_length=100)
    amount: int = Field(ge=1, le=MAX_AMOUNT)
    max_amount: int | None = Field(None, ge=1, le=MAX_AMOUNT)
    idempotency_key: str = Field(min_length=8, max_length=100)


@events.on("auction.bid", model=AuctionBid)
async def auction_bid(ctx: EventContext, p: AuctionBid) -> dict[str, Any]:
    """A bid; no need to have joined (the REST twin needs none either), the room's updates
    need a join."""
    if ctx.principal is None:
        raise Unauthenticated("sign in to bid")
    bid, auction = await ctx.services.auctions.bid(
        ctx.principal,
        p.show_id,
        p.offer_id,
        amount=p.amount,
        max_amount=p.max_amount,
        idempotency_key=p.idempotency_key,
    )
    return {"bid": bid, "auction": auction}


@events.join_field("auction")
async def on_screen_auction(ctx: EventContext, show_id: str) -> dict[str, Any] | None:
    """The auction on screen now (its clock and high bid), for viewers who join late."""
    offer = on_screen(await ctx.services.offers.list(show_id))
    if offer is None or offer.kind is not OfferKind.AUCTION:
        return None
    return await ctx.services.auctions.view(offer.id)


relays.to_show("auction.updated")
relays.to_show("auction.closed")
