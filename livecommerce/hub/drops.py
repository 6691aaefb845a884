"""Voucher drops on the hub (docs/SOCIAL.md): `drop.claim {show_id, drop_id}` acks `{ok,
coupon_code, coupon, drop_id}` for the first claimers (the same code on a repeat); the service
announces `drop.started`, `drop.updated` and `drop.ended` on the Bus and the hub relays them to
the show's room. Drops are fired over REST (`POST /api/v1/shows/{id}/drops`). A late joiner gets
the show's running drops in the `show.join` ack (`drops`)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from livecommerce.errors import Unauthenticated
from livecommerce.hub.events import EventContext, Payload, events, relays


class DropClaim(Payload):
    show_id: str = Field(min_length=1, max_length=100)
    drop_id: str = Field(min_length=1, max_length=100)


@events.on("drop.claim", model=DropClaim)
async def drop_claim(ctx: EventContext, p: DropClaim) -> dict[str, Any]:
    if ctx.principal is None:
        raise Unauthenticated("sign in to claim")
    return await ctx.services.drops.claim(ctx.principal, p.show_id, p.drop_id)


@events.join_field("drops")
async def running_drops(ctx: EventContext, show_id: str) -> list[dict[str, Any]]:
    """The drops a viewer can still claim: `{id, show_id, claims, claims_left, ends_at,
    created_at}` each."""
    return await ctx.services.drops.running(show_id)


relays.to_show("drop.started")
relays.to_show("drop.updated")
relays.to_show("drop.ended")
