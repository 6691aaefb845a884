"""The group buy's hub side (docs/SOCIAL.md): joining is `checkout.start` like any offer, so there
is no event of its own to handle; the service announces `group.updated` on the Bus and the hub
relays it to the show's room. A late joiner gets the on-screen group buy in the `show.join` ack
(`group`)."""

from __future__ import annotations

from typing import Any

from livecommerce.domain.offers import OfferKind, on_screen
from livecommerce.hub.events import EventContext, events, relays


@events.join_field("group")
async def on_screen_group(ctx: EventContext, show_id: str) -> dict[str, Any] | None:
    """The group buy on screen now (members, price now, next tier, deadline)."""
    offer = on_screen(await ctx.services.offers.list(show_id))
    if offer is None or offer.kind is not OfferKind.GROUP:
        return None
    return await ctx.services.groups.view(offer.id)


relays.to_show("group.updated")
