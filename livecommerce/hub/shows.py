"""This node's share of each show: who watches it here, joining and leaving its rooms, and
delivering its events, to this node's sockets now and to the other nodes through the fan-out
(and theirs to this node's sockets). A show's state exists while it has local viewers; the
periodic loops drop it when the last one has gone.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from livecommerce.domain.access import ShowRef, is_staff
from livecommerce.domain.chat import ChatMessage, ReactionTally
from livecommerce.domain.moderation import check_standing
from livecommerce.domain.offers import OfferStatus, on_screen
from livecommerce.errors import LiveCommerceError
from livecommerce.hub.events import show_room, staff_room
from livecommerce.hub.outbox import SEEN_IDS, ShowOutbox
from livecommerce.hub.wire import ChatWriter, write_room

if TYPE_CHECKING:
    from livecommerce.hub.server import Hub

log = logging.getLogger(__name__)

#: Most lines one gap fill after a fan-out outage looks back over and delivers: as many as the
#: outbox remembers, so nothing it fills can be delivered twice. Read in pages of this size:
GAP_FILL_PAGE = 500


@dataclass
class ShowState:
    """This node's share of one show: its local viewers and pending aggregates."""

    outbox: ShowOutbox
    writer: ChatWriter
    sids: set[str] = field(default_factory=set)
    reactions_local: ReactionTally = field(default_factory=ReactionTally)
    reactions_out: ReactionTally = field(default_factory=ReactionTally)
    pushed_count: int | None = None
    pushed_at: float | None = None


class LocalShows:
    """The ``ShowState`` of every show with viewers on this node, and what changes it."""

    def __init__(self, hub: Hub) -> None:
        self._hub = hub
        self.states: dict[str, ShowState] = {}

    def _state(self, show_id: str) -> ShowState:
        state = self.states.get(show_id)
        if state is None:
            settings = self._hub.settings
            writer = ChatWriter(
                self._hub.sio,
                show_id,
                show_room(show_id),
                max_packets=settings.slow_client_max_packets,
                max_bytes=settings.slow_client_max_bytes,
                keep=settings.slow_client_keep_lines,
            )
            outbox = ShowOutbox(
                show_id,
                writer.write,
                self._emit_sid,
                coalesce_above=settings.coalesce_above_per_second,
                interval=settings.coalesce_interval_ms / 1000,
                deliveries_above=settings.coalesce_above_deliveries_per_second,
                full_deliveries=settings.coalesce_full_deliveries_per_second,
                audience=lambda: self.local_viewers(show_id),
            )
            state = self.states[show_id] = ShowState(outbox, writer)
        return state

    # --- joining and leaving --------------------------------------------------------------

    async def join(
        self, sid: str, show: ShowRef, last_seq: int | None
    ) -> tuple[list[ChatMessage], list[dict[str, Any]]]:
        hub = self._hub
        conn = hub.connections[sid]
        principal = conn.principal
        if principal is not None and not is_staff(principal, show):
            standing = await hub.services.moderation.standing(show.id, principal.user_id)
            if standing.banned:
                check_standing(standing, hub.services.clock.now_ms())
        state = self._state(show.id)
        state.outbox.begin_join(sid)
        try:
            # subscribed before the history read: what the store lacks, the channel brings
            await hub.services.fanout.watch(show.id)
            await hub.sio.enter_room(sid, show_room(show.id))
            if is_staff(principal, show):
                await hub.sio.enter_room(sid, staff_room(show.id))
            conn.shows[show.id] = show
            state.sids.add(sid)
            # counted at once, not at the next presence beat
            await hub.services.presence.arrived(show.id, conn.person)
            history = await hub.services.chat.history(
                show.id,
                last_seq=last_seq,
                recent=hub.settings.history_lines,
                replay_limit=hub.settings.replay_limit,
            )
        except BaseException:
            state.outbox.leave(sid)
            self.leave_local(sid, show.id)
            raise
        wire = state.outbox.finish_join(sid, [m.to_wire() for m in history], last_seq)
        return history, wire

    async def leave(self, sid: str, show_id: str) -> None:
        await self._hub.sio.leave_room(sid, show_room(show_id))
        await self._hub.sio.leave_room(sid, staff_room(show_id))
        self.leave_local(sid, show_id)

    def leave_local(self, sid: str, show_id: str) -> None:
        """Forget ``sid`` in the show without touching its rooms (gone, or left them already)."""
        conn = self._hub.connections.get(sid)
        if conn is not None:
            conn.shows.pop(show_id, None)
        state = self.states.get(show_id)
        if state is not None:
            state.sids.discard(sid)
            state.outbox.leave(sid)
            state.writer.forget(sid)

    def local_viewers(self, show_id: str) -> int:
        state = self.states.get(show_id)
        return len(state.sids) if state else 0

    def people(self) -> list[tuple[str, str]]:
        """(show, person) of every joined connection here: the hub's presence source."""
        connections = self._hub.connections
        return [
            (show_id, conn.person)
            for show_id, state in self.states.items()
            for sid in state.sids
            if (conn := connections.get(sid)) is not None
        ]

    async def drop(self, show_id: str, state: ShowState) -> None:
        """The last local viewer left: stop listening to the show's channel."""
        await state.outbox.flush()
        await state.outbox.close()
        self.states.pop(show_id, None)
        self._hub.services.fanout.unwatch(show_id)

    async def close(self) -> None:
        """Cancel the pending chat batches when the hub stops."""
        for state in self.states.values():
            await state.outbox.close()

    # --- delivery -------------------------------------------------------------------------

    async def _emit_sid(self, event: str, data: dict[str, Any], sid: str) -> None:
        await self._hub.sio.emit(event, data, to=sid)

    async def emit_local(self, event: str, data: dict[str, Any], room: str) -> None:
        write_room(self._hub.sio, room, event, data)

    async def deliver_chat(self, message: ChatMessage) -> None:
        wire = message.to_wire()
        await self._state(message.show_id).outbox.deliver(wire)
        await self._hub.services.fanout.publish(message.show_id, {"t": "chat", "m": wire})

    async def broadcast(
        self, show_id: str, event: str, data: dict[str, Any], *, staff_only: bool = False
    ) -> None:
        room = staff_room(show_id) if staff_only else show_room(show_id)
        write_room(self._hub.sio, room, event, data)
        await self._hub.services.fanout.publish(
            show_id, {"t": "emit", "e": event, "d": data, "staff": staff_only}
        )

    async def delete_lines(self, show_id: str, messages: list[ChatMessage]) -> None:
        state = self.states.get(show_id)
        if state is not None:
            state.outbox.forget_ids(m.id for m in messages)
            state.writer.forget_ids({m.id for m in messages})
        for message in messages:
            await self.broadcast(show_id, "chat.deleted", {"id": message.id, "seq": message.seq})

    async def kick(
        self, show_id: str, user_id: str, reason: str, restriction: dict[str, Any] | None = None
    ) -> None:
        await self._kick_local(show_id, user_id, reason, restriction)
        await self._hub.services.fanout.publish(
            show_id, {"t": "kick", "u": user_id, "r": reason, "x": restriction}
        )

    async def _kick_local(
        self, show_id: str, user_id: str, reason: str, restriction: dict[str, Any] | None = None
    ) -> None:
        """`show.left {show_id, reason, restriction?}`: `restriction` says why (the staff's
        reason, until when, the action an appeal names) to the one removed, not the room."""
        left: dict[str, Any] = {"show_id": show_id, "reason": reason}
        if restriction is not None:
            left["restriction"] = restriction
        state = self.states.get(show_id)
        if state is None:
            return
        for sid in list(state.sids):
            conn = self._hub.connections.get(sid)
            if conn and conn.principal and conn.principal.user_id == user_id:
                await self.leave(sid, show_id)
                await self._emit_sid("show.left", left, sid)

    def add_reactions(self, show_id: str, kind: str, count: int) -> None:
        state = self._state(show_id)
        state.reactions_local.add(kind, count)
        state.reactions_out.add(kind, count)

    # --- fan-out from other nodes ---------------------------------------------------------

    async def receive(self, show_id: str, envelope: dict[str, Any]) -> None:
        """Another node's envelope for a show watched here: deliver it to this node's sockets."""
        state = self.states.get(show_id)
        if state is None:
            return
        kind = envelope.get("t")
        if kind == "chat" and isinstance(envelope.get("m"), dict):
            await state.outbox.deliver(envelope["m"])
        elif kind == "emit" and isinstance(envelope.get("e"), str):
            room = staff_room(show_id) if envelope.get("staff") else show_room(show_id)
            raw = envelope.get("d")
            data: dict[str, Any] = raw if isinstance(raw, dict) else {}
            if envelope["e"] == "chat.deleted":
                state.outbox.forget_ids([str(data.get("id"))])
                state.writer.forget_ids({str(data.get("id"))})
            write_room(self._hub.sio, room, envelope["e"], data)
        elif kind == "react" and isinstance(envelope.get("c"), dict):
            state.reactions_local.merge(envelope["c"])
        elif kind == "kick" and isinstance(envelope.get("u"), str):
            why = envelope.get("x")
            await self._kick_local(
                show_id,
                envelope["u"],
                str(envelope.get("r", "")),
                why if isinstance(why, dict) else None,
            )

    async def recovered(self) -> None:
        """The fan-out is back after an outage: fill the chat gap, then re-send the offers."""
        await self.fill_gaps()
        await self.resend_offers()

    async def resend_offers(self) -> None:
        """Tell this node's viewers the state of each show's offers now: the offer on screen
        (`offer.pinned`) and every offer on sale (`offer.updated`, stock left). The Bus's
        offer events are pub/sub, which keeps nothing for a node that was cut off, so its
        viewers would otherwise keep a sold-out offer in stock until it next changed."""
        offers = self._hub.services.offers
        for show_id in list(self.states):
            try:
                listed = await offers.list(show_id)
                shown = on_screen(listed)
                if shown is not None:
                    view = await offers.view(shown)
                    await self.emit_local(
                        "offer.pinned", {"show_id": show_id, "offer": view}, show_room(show_id)
                    )
                for offer in listed:
                    if offer.status is OfferStatus.LIVE and offer is not shown:
                        view = await offers.view(offer)
                        await self.emit_local(
                            "offer.updated", {"show_id": show_id, "offer": view}, show_room(show_id)
                        )
            except LiveCommerceError:
                log.warning("offer re-send failed for a show", extra={"show_id": show_id})

    async def fill_gaps(self) -> None:
        """After a fan-out outage, deliver from the store what other nodes said meanwhile."""
        for show_id, state in list(self.states.items()):
            floor, filled = state.outbox.gap_floor(SEEN_IDS), 0
            while filled < SEEN_IDS:
                try:
                    missed = await self._hub.services.chat.history(
                        show_id, last_seq=floor, recent=0, replay_limit=GAP_FILL_PAGE
                    )
                except LiveCommerceError:
                    log.warning("gap fill failed for a show", extra={"show_id": show_id})
                    break
                for message in missed:
                    await state.outbox.deliver(message.to_wire())
                filled += len(missed)
                if len(missed) < GAP_FILL_PAGE:
                    break
                floor = missed[-1].seq
