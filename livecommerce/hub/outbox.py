"""Chat delivery for one show on one node: an adaptive coalescing window for busy shows, and
the join barrier that makes ``show.join`` gap-free and duplicate-free.

Coalescing: each packet costs the server one write per socket in the room, so a show with many
viewers and many lines batches its lines into one ``chat.batch``, and a quiet show does not
wait at all. The window is 0 while the show is quiet (at most ``coalesce_above`` lines in the
last second and lines x local audience at most ``deliveries_above`` per second); above that it
grows in proportion to lines x audience per second, reaching ``interval`` (the longest) at
``full_deliveries``. A line arriving when nothing is pending and the last packet left at least
a window ago goes out at once (so an isolated line never waits); others join the pending batch,
which leaves one window after the last packet finished going out. The audience term matters
because an overloaded node handles sends more slowly, so the line rate it sees drops exactly
when batching is needed most (measured: without it a 1,000-viewer show at 20 lines/s never
batched).

Join barrier: a joining connection is in the room before its history is read from the store
(so nothing falls between the read and the live stream), but lines emitted meanwhile are held
back for it and merged into its ack; afterwards, for a short while, lines it already got in the
ack (``seq`` at or below its floor) are filtered out of what it is sent live.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

Wire = dict[str, Any]
#: emit(event, data, lines carried, skip_sids) to the show room on this node.
RoomEmit = Callable[[str, Wire, list[Wire], list[str]], None]
#: emit(event, data, sid) to one connection.
SidEmit = Callable[[str, Wire, str], Awaitable[None]]

#: How long a joined connection's floor filters late lines it already has.
FLOOR_SECONDS = 15.0
#: Message ids remembered to drop duplicates (a line seen live and again in a gap fill).
SEEN_IDS = 4096


class ShowOutbox:
    def __init__(
        self,
        show_id: str,
        emit_room: RoomEmit,
        emit_sid: SidEmit,
        *,
        coalesce_above: float,
        interval: float,
        deliveries_above: float = float("inf"),
        full_deliveries: float = 100_000.0,
        audience: Callable[[], int] = lambda: 0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.show_id = show_id
        self._emit_room = emit_room
        self._emit_sid = emit_sid
        self._coalesce_above = coalesce_above
        self._deliveries_above = deliveries_above
        self._audience = audience
        self._interval = interval
        self._full_deliveries = full_deliveries
        self._clock = clock
        self._recent: deque[float] = deque()
        self._pending: list[Wire] = []
        self._flush_task: asyncio.Task[None] | None = None
        #: When the last packet left; the window the latest line was judged by.
        self._sent_at = float("-inf")
        self.window = 0.0
        self._joining: dict[str, list[Wire]] = {}
        self._floors: dict[str, tuple[int, float]] = {}
        #: id → seq of the lines delivered here lately (newest last).
        self._seen: OrderedDict[str, int] = OrderedDict()
        #: Highest seq delivered here.
        self.max_seq = 0
        self.batches_sent = 0

    # --- delivery ------------------------------------------------------------------------

    async def deliver(self, message: Wire) -> None:
        """Deliver one ``chat.message`` payload now, or queue it for the next batch."""
        if message["id"] in self._seen:
            return
        self._seen[message["id"]] = int(message["seq"])
        if len(self._seen) > SEEN_IDS:
            self._seen.popitem(last=False)
        self.max_seq = max(self.max_seq, int(message["seq"]))
        now = self._clock()
        self._recent.append(now)
        while self._recent and self._recent[0] <= now - 1.0:
            self._recent.popleft()
        self.window = self.window_for(len(self._recent), self._audience())
        if not self._pending and now - self._sent_at >= self.window:
            await self._send([message])
            return
        self._pending.append(message)
        if self._flush_task is None:
            delay = max(0.0, self._sent_at + self.window - now)
            self._flush_task = asyncio.create_task(self._flush_later(delay))

    def window_for(self, rate: int, audience: int) -> float:
        """The coalescing window (seconds) at ``rate`` lines in the last second and
        ``audience`` local viewers: 0 while quiet, then growing with deliveries per second."""
        deliveries = rate * audience
        if rate <= self._coalesce_above and deliveries <= self._deliveries_above:
            return 0.0
        return self._interval * min(1.0, deliveries / self._full_deliveries)

    def gap_floor(self, span: int) -> int:
        """The seq a gap fill reads after: just below the lowest of the last ``span`` seqs not
        delivered here, else ``max_seq``.

        Not ``max_seq`` alone: while the fan-out is down this node still delivers its own
        lines, whose seqs pass those the other nodes stored meanwhile, so filling after
        ``max_seq`` skipped exactly the lines the fill is for. A seq that never reaches the
        room (a held line) only makes the fill re-read lines it then drops as seen.
        """
        delivered = set(self._seen.values())
        low = max(self.max_seq - span, min(delivered, default=self.max_seq))
        return next(
            (seq - 1 for seq in range(low + 1, self.max_seq + 1) if seq not in delivered),
            self.max_seq,
        )

    def forget_ids(self, ids: Iterable[str]) -> None:
        """Drop deleted lines still waiting for a batch."""
        gone = set(ids)
        self._pending = [m for m in self._pending if m["id"] not in gone]

    async def _flush_later(self, delay: float) -> None:
        await asyncio.sleep(delay)
        self._flush_task = None
        await self.flush()

    async def flush(self) -> None:
        batch, self._pending = self._pending, []
        if batch:
            await self._send(batch)

    async def _send(self, messages: list[Wire]) -> None:
        skip: list[str] = []
        for sid, held in self._joining.items():
            held.extend(messages)
            skip.append(sid)
        now = self._clock()
        for sid, (floor, until) in list(self._floors.items()):
            if until < now:
                del self._floors[sid]
                continue
            if any(int(m["seq"]) <= floor for m in messages):
                skip.append(sid)
                newer = [m for m in messages if int(m["seq"]) > floor]
                if newer:
                    await self._emit_sid(*self._packet(newer), sid)
        self._emit_room(*self._packet(messages), messages, skip)
        # the window counts from when the packet has gone out: on an overloaded node writing
        # it to every socket can take longer than the window, and counting from the start
        # would then never batch, exactly when batching matters most
        self._sent_at = self._clock()

    def _packet(self, messages: list[Wire]) -> tuple[str, Wire]:
        if len(messages) == 1:
            return "chat.message", messages[0]
        self.batches_sent += 1
        return "chat.batch", {"show_id": self.show_id, "messages": messages}

    # --- the join barrier -------------------------------------------------------------------

    def begin_join(self, sid: str) -> None:
        """Call before entering the room: from now on lines for ``sid`` are held back."""
        self._joining[sid] = []
        self._floors.pop(sid, None)

    def finish_join(self, sid: str, history: list[Wire], last_seq: int | None) -> list[Wire]:
        """Merge the held-back lines into the history; returns what the ack should carry."""
        held = self._joining.pop(sid, [])
        floor = max([int(m["seq"]) for m in history] + [last_seq or 0])
        ids = {m["id"] for m in history}
        extra = [m for m in held if int(m["seq"]) > floor and m["id"] not in ids]
        merged = sorted(history + extra, key=lambda m: int(m["seq"]))
        if merged:
            floor = max(floor, int(merged[-1]["seq"]))
        # lines still queued for a batch are at or below the floor: the filter drops them for sid
        self._floors[sid] = (floor, self._clock() + FLOOR_SECONDS)
        return merged

    def leave(self, sid: str) -> None:
        self._joining.pop(sid, None)
        self._floors.pop(sid, None)

    async def close(self) -> None:
        if self._flush_task is not None:
            self._flush_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flush_task
            self._flush_task = None
