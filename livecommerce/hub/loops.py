"""The hub's periodic work on each show watched on this node: reaction taps leave as one
``reaction.burst`` per interval (never one message per tap), and ``viewers.count`` pushes the
show's ``watching_now`` (docs/METRICS.md) to the room only when it changed (the presence beat
that feeds it runs with the app's background tasks). A show left without local viewers is
dropped here. The hub runs both as tasks.
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
    """Push ``viewers.count`` (the show's ``watching_now``) to this node's room when it changed."""
    push_every = hub.settings.viewers_push_seconds
    presence = hub.services.presence
    while True:
        await asyncio.sleep(push_every / 2)
        now = time.monotonic()
        for show_id, state in list(hub.shows.items()):
            if not state.sids and not state.outbox._joining:
                await hub.local_shows.drop(show_id, state)
                continue
            try:
                total = await presence.watching_now(show_id)
            except Exception:
                # no count rather than a guess: the room keeps the last one it was told
                log.warning("presence store unavailable; viewers.count not pushed")
                continue
            if should_push(state.pushed_at, state.pushed_count, total, now, push_every):
                state.pushed_at, state.pushed_count = now, total
                await hub.emit_local(
                    "viewers.count", {"show_id": show_id, "count": total}, show_room(show_id)
                )
