"""Ports for auctions: the live state that accepts bids (`AuctionStore`, atomic across nodes) and
the durable record of each auction and its bid log (`BidLog`, SQL).

The live state of a running auction moves by compare-and-set on its `version` (memory: one event
loop; Redis: one Lua script under the auction's hash tag), together with the log rows the bid
appends and the bidder's idempotency record, so a bid is all or nothing. The log is also written
to SQL by the accepting node and completed from the live store at the close; once an auction is
settled the SQL log is its source of truth (held to it by tests/contract/test_auction_store.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from livecommerce.domain.auctions import AuctionSettings, AuctionState, BidRow
from livecommerce.domain.notifications import OutboxEvent

#: A log row with the account behind it (the account id is never published).
OwnedRow = tuple[BidRow, str]


@dataclass(frozen=True, slots=True)
class Commit:
    """What a compare-and-set did: `done`, or the ack a replayed idempotency key (`key`)
    stored, or neither (the state moved meanwhile: read it again)."""

    done: bool
    replay: Mapping[str, Any] | None = None
    key: str | None = None


class AuctionStore(Protocol):
    async def state(self, offer_id: str) -> AuctionState | None: ...

    async def open(self, state: AuctionState, rows: Sequence[OwnedRow] = ()) -> AuctionState:
        """Write the state (and, as its log, `rows`) iff the auction has none yet; the stored
        state either way. `rows` rebuild a state the store lost from the SQL log."""
        ...

    async def replay(self, offer_id: str, key: str) -> Mapping[str, Any] | None:
        """The ack stored for an idempotency key (already namespaced by bidder), or None."""
        ...

    async def commit(
        self,
        expected_version: int,
        state: AuctionState,
        rows: Sequence[OwnedRow] = (),
        acks: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> Commit:
        """Atomically: when a key of `acks` has an ack already, return it (nothing written);
        when the stored version is not `expected_version`, write nothing; else write `state`,
        append `rows` to the log and store each ack under its key (one commit may carry the
        bids of many bidders, judged in order)."""
        ...

    async def rows(self, offer_id: str) -> list[OwnedRow]:
        """The auction's log rows so far, in seq order."""
        ...

    async def refuse(self, offer_id: str, counts: Mapping[str, int]) -> None:
        """Add refused bids per error code (for the seller's figures)."""
        ...

    async def refusals(self, offer_id: str) -> dict[str, int]:
        """Refused bids so far per error code."""
        ...


@dataclass(frozen=True, slots=True)
class AuctionRecord:
    """An auction as SQL keeps it: settings, the pseudonym salt, and its settlement."""

    offer_id: str
    show_id: str
    product_id: str
    variant_id: str | None
    settings: AuctionSettings
    salt: str
    settled: bool = False
    winner_id: str | None = None
    amount: int | None = None
    order_id: str | None = None
    second_order_id: str | None = None
    head: str | None = None
    closed_at_ms: int | None = None
    #: Refused bids per error code, as counted at the close.
    refused: Mapping[str, int] = field(default_factory=dict)
    #: `auction.closed` went out (a settlement whose node died first is announced by a sweeper).
    announced: bool = False


class BidLog(Protocol):
    async def add_auction(self, record: AuctionRecord) -> None: ...

    async def auction(self, offer_id: str) -> AuctionRecord | None: ...

    async def append(
        self, offer_id: str, rows: Sequence[OwnedRow], state: AuctionState | None = None
    ) -> None:
        """Record rows (a seq already recorded is kept as it is) and the live state after them
        (kept only when newer than the one recorded)."""
        ...

    async def snapshot(self, offer_id: str) -> AuctionState | None:
        """The newest live state `append` recorded (None before the first bid)."""
        ...

    async def rows(self, offer_id: str) -> list[OwnedRow]: ...

    async def settle(
        self,
        offer_id: str,
        *,
        winner_id: str | None,
        amount: int | None,
        order_id: str | None,
        head: str,
        at_ms: int,
        refused: Mapping[str, int],
        events: Sequence[OutboxEvent] = (),
    ) -> bool:
        """Record the close once (with the refused bids' counts, and ``events`` for the outbox
        in the same transaction); True only for the call that did it."""
        ...

    async def set_second_chance(self, offer_id: str, order_id: str) -> bool:
        """Record the runner-up's order once; True only for the call that did it."""
        ...

    async def unsettled(self, limit: int = 100) -> list[str]:
        """Offer ids of started (or ended) auctions not settled yet: the sweeper closes the due
        ones."""
        ...

    async def mark_announced(self, offer_id: str) -> None:
        """Record that the settled auction's `auction.closed` went out."""
        ...

    async def unannounced(self, closed_before_ms: int, limit: int = 100) -> list[str]:
        """Offer ids of auctions settled before that time whose close was never announced (the
        settling node died between the settlement and the announcement)."""
        ...
