"""The hub's periodic work on each show watched on this node: reaction taps leave as one
``reaction.burst`` per interval (never one message per tap), and viewer counts are reported to
the presence store as a heartbeat and pushed to the room as ``viewers.count`` only when they
changed. A show left without local viewers is dropped here. The hub runs both as tasks.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING

from livecommerce.domain.presence import should_push
from livecommerce.hub.events import show_room

if TYPE_CHECKING:
    from livecommerce.hub.server import Hub

log = logging.getLogger(__name__)


async def burst_reactions(hub: Hub) -> None:
    """One ``reaction.burst`` per show per interval at most, never one per tap."""
    interval = hub.settings.reaction_interval_ms / 1000
    while True:
        await asyncio.sleep(interval)
        for show_id, state in list(hub.shows.items()):
            try:
                if state.reactions_out:
                    await hub.services.fanout.publish(
                        show_id, {"t": "react", "c": state.reactions_out.drain()}
                    )
                if state.reactions_local:
                    counts = state.reactions_local.drain()
                    await hub.emit_local(
                        "reaction.burst", {"show_id": show_id, "counts": counts}, show_room(show_id)
                    )
            except Exception:
                log.exception("reaction burst failed")


async def count_viewers(hub: Hub) -> None:
    """Report local counts (heartbeat) and push ``viewers.count`` when it changed."""
    push_every = hub.settings.viewers_push_seconds
    heartbeat = hub.settings.presence_heartbeat_seconds
    presence = hub.services.presence
    while True:
        await asyncio.sleep(min(push_every, heartbeat) / 2)
        now = time.monotonic()
        for show_id, state in list(hub.shows.items()):
            local = len(state.sids)
            try:
                if state.reported_count != local or now - state.reported_at >= heartbeat:
                    await presence.report(show_id, hub.node_id, local, heartbeat * 3)
                    state.reported_count, state.reported_at = local, now
                total = await presence.total(show_id)
            except Exception:
                log.warning("presence store unavailable; counting this node only")
                total = local
            if local == 0 and not state.outbox._joining:
                await hub.local_shows.drop(show_id, state)
                continue
            if should_push(state.pushed_at, state.pushed_count, total, now, push_every):
                state.pushed_at, state.pushed_count = now, total
                await hub.emit_local(
                    "viewers.count", {"show_id": show_id, "count": total}, show_room(show_id)
                )
