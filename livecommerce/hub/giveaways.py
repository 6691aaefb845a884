"""The giveaway's Socket.IO event, registered on the hub's event table: `giveaway.enter
{show_id, giveaway_id}` acks `{ok, entry: {id, entrant}}` (the same entry when asked again);
the service announces `giveaway.started`, `giveaway.updated`, `giveaway.closed` and
`giveaway.drawn` on the Bus and the hub relays them to the show's room. A late joiner gets the
show's newest giveaway in the `show.join` ack (`giveaway`). Chat lines reach the service's
keyword check from the `chat.send` handler (hub/handlers.py)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from livecommerce.hub.events import EventContext, Payload, events, relays


class GiveawayEnter(Payload):
    show_id: str = Field(min_length=1, max_length=100)
    giveaway_id: str = Field(min_length=1, max_length=100)


@events.on("giveaway.enter", model=GiveawayEnter)
async def giveaway_enter(ctx: EventContext, p: GiveawayEnter) -> dict[str, Any]:
    """An entry; no need to have joined (the room's updates need a join)."""
    return await ctx.services.giveaways.enter(ctx.principal, p.show_id, p.giveaway_id)


@events.join_field("giveaway")
async def current_giveaway(ctx: EventContext, show_id: str) -> dict[str, Any] | None:
    """The show's newest giveaway (its commitment, count, and winners once drawn)."""
    return await ctx.services.giveaways.current(show_id)


relays.to_show("giveaway.started")
relays.to_show("giveaway.updated")
relays.to_show("giveaway.closed")
relays.to_show("giveaway.drawn")
