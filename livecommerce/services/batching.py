"""One store call per event-loop tick for many concurrent callers (a micro-batcher).

The instant a flash sale opens, a thousand coroutines ask the same store the same kind of
question within one or two ticks of the event loop. Answered one by one, each pays a network
round trip plus the client library's per-command CPU (redis-py spends more on packing and
parsing a command than Redis spends running our Lua); answered together, the whole tick costs
one call. `TickBatcher.submit` parks the item, and the first submit of a tick schedules one
`run(items)` for everything submitted until the loop comes round again (in chunks of at most
`max_size`). Each caller gets its own outcome — the batch answers one result or one exception
per item, in order — and an exception raised by `run` itself fails every caller of that chunk
(a store that is down fails them all alike, nobody hangs).

`max_size=1` turns batching off: every call runs alone, at once, exactly as an unbatched
adapter would (the stampede benchmark's "batching off" row).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")

#: The largest batch by default: big enough for a burst, small enough that one Lua script or
#: one multi-row INSERT stays short (Redis runs nothing else while a script runs).
DEFAULT_BATCH_MAX = 256


class TickBatcher(Generic[T, R]):
    """Collects `submit`ted items per tick and answers them with one `run` call per chunk.

    `run(items)` returns, for each item in order, its result or the exception its caller
    raises."""

    def __init__(
        self,
        run: Callable[[list[T]], Awaitable[Sequence[R | Exception]]],
        max_size: int = DEFAULT_BATCH_MAX,
    ) -> None:
        if max_size < 1:
            raise ValueError("a batch holds at least one item")
        self._run = run
        self._max = max_size
        self._pending: list[tuple[T, asyncio.Future[R]]] = []
        self._scheduled = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._running: set[asyncio.Task[None]] = set()

    async def submit(self, item: T) -> R:
        """The item's own outcome, once the batch it joined has run."""
        if self._max == 1:
            return _unwrap((await self._run([item]))[0])
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # another event loop (tests run many): the old one's is dead
            self._loop, self._pending, self._scheduled = loop, [], False
        future: asyncio.Future[R] = loop.create_future()
        self._pending.append((item, future))
        if not self._scheduled:
            self._scheduled = True
            # call_soon runs after every callback already ready in this tick, so the batch
            # holds everything submitted in it
            loop.call_soon(self._flush)
        return await future

    def _flush(self) -> None:
        self._scheduled = False
        pending, self._pending = self._pending, []
        loop = asyncio.get_running_loop()
        for start in range(0, len(pending), self._max):
            task = loop.create_task(self._answer(pending[start : start + self._max]))
            self._running.add(task)
            task.add_done_callback(self._running.discard)

    async def _answer(self, chunk: list[tuple[T, asyncio.Future[R]]]) -> None:
        try:
            outcomes = await self._run([item for item, _ in chunk])
        except asyncio.CancelledError:
            for _, future in chunk:
                future.cancel()
            raise
        except Exception as exc:  # it is every caller's to handle, not ours
            for _, future in chunk:
                if not future.done():
                    future.set_exception(exc)
            return
        for (_, future), outcome in zip(chunk, outcomes, strict=True):
            if future.done():  # its caller was cancelled: the answer has nobody to go to
                continue
            if isinstance(outcome, Exception):
                future.set_exception(outcome)
            else:
                future.set_result(outcome)


def _unwrap(outcome: R | Exception) -> R:
    if isinstance(outcome, Exception):
        raise outcome
    return outcome
