"""The shop's Socket.IO events, registered on the hub's event table: thin handlers that validate
the payload, call the shop's services and return the ack body. `checkout.start` (with an
optional `shipping_address`, else the buyer's saved one, and an optional `coupon_code`) acks
`{ok, order, payment: {...}}`, the order in the same shape as REST and `order.updated`; the
studio's `offer.pin`, `offer.unpin`, `offer.start` and `offer.end` ack `{ok, offer}` and the
services announce `offer.pinned` / `offer.unpinned` / `offer.updated` on the Bus, which the hub
relays to the show's room (as it relays `order.updated` to the buyer and the show's staff).

Payload models forbid unknown keys, so a client that sends a price or total is refused with
`invalid_input` instead of having it silently ignored; quantities must be real integers.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import Field

from livecommerce.domain.access import Principal
from livecommerce.domain.offers import MAX_DURATION_MS, Offer, on_screen
from livecommerce.errors import Unauthenticated
from livecommerce.hub.events import EventContext, Payload, events
from livecommerce.wire import ShippingAddressIn

#: An OfferService step a staff event runs: (principal, show id, offer id, media_ts) -> offer.
OfferStep = Callable[[Principal | None, str, str, float | None], Awaitable[Offer]]


class CheckoutStart(Payload):
    show_id: str = Field(min_length=1, max_length=100)
    offer_id: str = Field(min_length=1, max_length=100)
    variant_id: str | None = Field(None, max_length=100)
    quantity: int = Field(ge=1, le=100)
    idempotency_key: str = Field(min_length=8, max_length=100)
    shipping_address: ShippingAddressIn | None = None
    coupon_code: str | None = Field(None, max_length=40)


class OfferRef(Payload):
    show_id: str = Field(min_length=1, max_length=100)
    offer_id: str = Field(min_length=1, max_length=100)
    #: The studio player's position; the server stamps the show's on-air time when absent.
    media_ts: float | None = Field(None, ge=0)


class OfferStart(OfferRef):
    #: A new length for the sale window, replacing the prepared one (or its `ends_at`).
    duration_seconds: int | None = Field(None, ge=1, le=MAX_DURATION_MS // 1000)


@events.on("checkout.start", model=CheckoutStart)
async def checkout_start(ctx: EventContext, p: CheckoutStart) -> dict[str, Any]:
    if ctx.principal is None:
        raise Unauthenticated("sign in to buy")
    await ctx.hub.joined(ctx.sid, p.show_id)  # as HUB.md says: join first
    conn = ctx.hub.connections.get(ctx.sid)
    if conn is not None and conn.browser is not None:  # once per connection
        browser, conn.browser = conn.browser, None
        await ctx.services.referrals.claim(browser, ctx.principal.user_id)
    order, payment = await ctx.services.checkout.start(
        ctx.principal,
        p.show_id,
        p.offer_id,
        p.variant_id,
        p.quantity,
        p.idempotency_key,
        shipping_address=p.shipping_address.model_dump() if p.shipping_address else None,
        coupon=p.coupon_code,
    )
    return {"order": await ctx.services.orders.view(order), "payment": payment.client}


async def _offer_step(ctx: EventContext, p: OfferRef, step: OfferStep) -> dict[str, Any]:
    """One staff step on an offer of a show this connection joined; acked with the offer."""
    await ctx.hub.joined(ctx.sid, p.show_id)
    offer = await step(ctx.principal, p.show_id, p.offer_id, p.media_ts)
    return {"offer": await ctx.services.offers.view(offer)}


@events.on("offer.pin", model=OfferRef)
async def offer_pin(ctx: EventContext, p: OfferRef) -> dict[str, Any]:
    return await _offer_step(ctx, p, ctx.services.offers.pin)


@events.on("offer.unpin", model=OfferRef)
async def offer_unpin(ctx: EventContext, p: OfferRef) -> dict[str, Any]:
    return await _offer_step(ctx, p, ctx.services.offers.unpin)


@events.on("offer.start", model=OfferStart)
async def offer_start(ctx: EventContext, p: OfferStart) -> dict[str, Any]:
    await ctx.hub.joined(ctx.sid, p.show_id)
    offers = ctx.services.offers
    duration_ms = None if p.duration_seconds is None else p.duration_seconds * 1000
    offer = await offers.start(ctx.principal, p.show_id, p.offer_id, p.media_ts, duration_ms)
    await ctx.services.auctions.started(offer)
    await ctx.services.groups.started(offer)
    return {"offer": await offers.view(offer)}


@events.on("offer.end", model=OfferRef)
async def offer_end(ctx: EventContext, p: OfferRef) -> dict[str, Any]:
    return await _offer_step(ctx, p, ctx.services.offers.end)


@events.join_field("pinned")
async def pinned_offer(ctx: EventContext, show_id: str) -> dict[str, Any] | None:
    """The offer on screen now, for viewers who join late: the latest pin, unless it was
    unpinned or ended since (a draft on screen shows as "not on sale yet")."""
    offers = ctx.services.offers
    offer = on_screen(await offers.list(show_id))
    return None if offer is None else await offers.view(offer)
