"""The shop's Socket.IO events, registered on the hub's event table: thin handlers that validate
the payload, call the shop's services and return the ack body. `checkout.start` acks
`{ok, order: {id, status, total, ...}, payment: {...}}`; `offer.pin` / `offer.start` ack
`{ok, offer}` and the services announce `offer.pinned` / `offer.updated` on the Bus, which the
hub relays to the show's room (as it relays `order.updated` to the buyer and the show's staff).

Payload models forbid unknown keys, so a client that sends a price or total is refused with
`invalid_input` instead of having it silently ignored; quantities must be real integers.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from livecommerce.domain.offers import OfferStatus
from livecommerce.domain.orders import order_view
from livecommerce.hub.events import EventContext, Payload, events


class CheckoutStart(Payload):
    show_id: str = Field(min_length=1, max_length=100)
    offer_id: str = Field(min_length=1, max_length=100)
    variant_id: str | None = Field(None, max_length=100)
    quantity: int = Field(ge=1, le=100)
    idempotency_key: str = Field(min_length=8, max_length=100)


class OfferRef(Payload):
    show_id: str = Field(min_length=1, max_length=100)
    offer_id: str = Field(min_length=1, max_length=100)
    #: The studio player's position; the server stamps time since going live when absent.
    media_ts: float | None = Field(None, ge=0)


@events.on("checkout.start", model=CheckoutStart)
async def checkout_start(ctx: EventContext, p: CheckoutStart) -> dict[str, Any]:
    order, payment = await ctx.services.checkout.start(
        ctx.principal, p.show_id, p.offer_id, p.variant_id, p.quantity, p.idempotency_key
    )
    return {"order": order_view(order), "payment": payment.client}


@events.on("offer.pin", model=OfferRef)
async def offer_pin(ctx: EventContext, p: OfferRef) -> dict[str, Any]:
    offers = ctx.services.offers
    offer = await offers.pin(ctx.principal, p.show_id, p.offer_id, p.media_ts)
    return {"offer": await offers.view(offer)}


@events.on("offer.start", model=OfferRef)
async def offer_start(ctx: EventContext, p: OfferRef) -> dict[str, Any]:
    offers = ctx.services.offers
    offer = await offers.start(ctx.principal, p.show_id, p.offer_id, p.media_ts)
    return {"offer": await offers.view(offer)}


@events.join_field("pinned")
async def pinned_offer(ctx: EventContext, show_id: str) -> dict[str, Any] | None:
    """The offer on screen now (the latest pin of a live offer), for viewers who join late."""
    offers = ctx.services.offers
    live = [o for o in await offers.list(show_id) if o.pinned_at_ms is not None]
    live = [o for o in live if o.status is OfferStatus.LIVE]
    if not live:
        return None
    return await offers.view(max(live, key=lambda o: o.pinned_at_ms or 0))
