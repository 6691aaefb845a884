"""The port for giveaways: the durable record of each giveaway and its entries (SQL, shared by
every node). An entry and the close serialise on the giveaway's row, so no entry lands after
the entry list was frozen; the close and the draw are conditional updates, so each happens once
whichever nodes try."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from livecommerce.domain.giveaways import Entry, EntryMode, GiveawayStatus
from livecommerce.domain.notifications import OutboxEvent


@dataclass(frozen=True, slots=True)
class GiveawayRecord:
    """A giveaway as stored; `seed` and `salt` are secrets the service never publishes early."""

    id: str
    show_id: str
    seller_id: str
    product_id: str
    variant_id: str
    winners_count: int
    entry: EntryMode
    keyword: str | None
    requires_follow: bool
    seed: str
    salt: str
    commitment: str
    status: GiveawayStatus
    created_at_ms: int
    closes_at_ms: int
    closed_at_ms: int | None = None
    entries_hash: str | None = None
    drawn_at_ms: int | None = None
    #: Winning entry ids in pick order (empty until drawn).
    winners: tuple[str, ...] = ()
    settled: bool = False


#: An entry with the account behind it (the account id is never published).
OwnedEntry = tuple[Entry, str]


class GiveawayStore(Protocol):
    async def add_giveaway(self, record: GiveawayRecord) -> None: ...

    async def giveaway(self, giveaway_id: str) -> GiveawayRecord | None: ...

    async def latest(self, show_id: str) -> GiveawayRecord | None:
        """The show's newest giveaway (what a joining viewer sees)."""
        ...

    async def keywords(self, show_id: str) -> list[tuple[str, str]]:
        """(giveaway id, keyword) of the show's open chat-keyword giveaways."""
        ...

    async def entry_of(self, giveaway_id: str, user_id: str) -> str | None:
        """The person's entry id, if they entered."""
        ...

    async def enter(self, giveaway_id: str, entry: Entry, user_id: str, at_ms: int) -> str | None:
        """The person's entry id: theirs already when they entered before (even after the
        close), else `entry` added iff the giveaway is open and `at_ms` before its close;
        None when it is not."""
        ...

    async def count(self, giveaway_id: str) -> int: ...

    async def entries(self, giveaway_id: str) -> list[OwnedEntry]:
        """Every entry, sorted by entry id."""
        ...

    async def close(self, giveaway_id: str, now_ms: int) -> bool:
        """Atomically, iff it is open and due: mark it closed and store the hash of its entries
        (`domain.giveaways.entries_hash`). True for the one call that closed it."""
        ...

    async def mark_drawn(
        self,
        giveaway_id: str,
        winners: Sequence[str],
        at_ms: int,
        events: Sequence[OutboxEvent] = (),
    ) -> bool:
        """Record the winners iff it is closed and not drawn (and ``events`` for the outbox in
        the same transaction); True for the one call that did."""
        ...

    async def settle(self, giveaway_id: str) -> bool:
        """Mark the prize orders placed (once)."""
        ...

    async def unfinished(self, now_ms: int) -> list[str]:
        """Giveaways a sweep must move on: open past their close, drawn but not settled."""
        ...
