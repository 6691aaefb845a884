"""Auctions: the rules of a live auction and its verifiable bid log, as pure functions.

An auction is an offer of kind `auction` selling one unit. Its settings (starting bid, the
increment, the clock, anti-snipe, sudden death, reserve) are fixed when it is created; its live
state (`AuctionState`) moves only through `place_bid` and `close`, which the services apply as a
compare-and-set on `version` in the auction store, so two bids can never both become the high bid.

**Bids and maxes.** A bid carries a firm `amount` (at least `min_bid`) and an optional
`max_amount`: the proxy bids for its owner by the minimum increment up to that cap. The leader is
the bidder with the highest max; on equal maxes the one who set it first (lower `seq`) leads. The
price (the high bid) is the second-highest max plus one increment, capped at the leader's max,
or the leader's own firm bid when that is higher (a jump bid is kept as bid). A non-leader's max
never exceeds the price, so only the leader and the runner-up's max are kept.

**The clock.** A bid accepted within the last `anti_snipe_seconds` moves the end to
now + `extend_seconds` (never backwards), except in sudden-death mode where the end never moves.
Times are the server's (the node's clock), never a client's.

**Reserve.** With a `reserve_price`, the item sells only when the leader's max reaches it; the
price is then raised to the reserve if it is below. Otherwise nobody wins.

**The log.** Every accepted bid appends one row `{seq, offer_id, bidder, amount, max_applied,
at}` (`bidder` is a stable per-auction pseudonym, `max_applied` marks a row the proxy placed)
to a hash chain: `hash = SHA-256(prev_hash ‖ canonical JSON of the row)` where `prev_hash` is the
lowercase hex of the previous row's hash (for the first row, of the SHA-256 of the canonical
settings) and `‖` concatenates the two as UTF-8 text. Canonical JSON: keys sorted, no spaces
(`","` and `":"` separators), non-ASCII kept as UTF-8, integers as integers, booleans as
`true`/`false`. `verify_log` recomputes it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

from livecommerce.domain.chain import Verdict, sha256_hex, verify_chain
from livecommerce.domain.chain import chain_hash as link
from livecommerce.domain.chain import chained as chain_rows
from livecommerce.errors import AuctionClosed, AuctionNotOpen, BidTooLow, InvalidInput

#: The increment by price band when the auction sets no `min_increment`: (price below, step),
#: in minor units. From 500,000 up the step is `TOP_INCREMENT`.
INCREMENTS: tuple[tuple[int, int], ...] = (
    (1_000, 50),
    (5_000, 100),
    (10_000, 250),
    (50_000, 500),
    (100_000, 1_000),
    (500_000, 2_500),
)
TOP_INCREMENT = 5_000
#: Bounds on what an auction may ask for (a typo, not an auction, beyond them).
MAX_AMOUNT = 100_000_000
MAX_DURATION_SECONDS = 24 * 3600
MAX_CLOCK_SECONDS = 600


@dataclass(frozen=True, slots=True)
class AuctionSettings:
    """What the seller fixed at creation; its canonical JSON seeds the hash chain."""

    offer_id: str
    currency: str
    starting_bid: int
    duration_seconds: int
    min_increment: int | None = None
    anti_snipe_seconds: int = 10
    extend_seconds: int = 10
    sudden_death: bool = False
    reserve_price: int | None = None

    def to_wire(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> AuctionSettings:
        return cls(**data)


def make_settings(
    *,
    offer_id: str,
    currency: str,
    starting_bid: int,
    duration_seconds: int,
    min_increment: int | None = None,
    anti_snipe_seconds: int = 10,
    extend_seconds: int = 10,
    sudden_death: bool = False,
    reserve_price: int | None = None,
) -> AuctionSettings:
    """Validate an auction's settings."""
    if not 1 <= starting_bid <= MAX_AMOUNT:
        raise InvalidInput(f"starting_bid must be between 1 and {MAX_AMOUNT}")
    if min_increment is not None and not 1 <= min_increment <= MAX_AMOUNT:
        raise InvalidInput(f"min_increment must be between 1 and {MAX_AMOUNT}")
    if not 5 <= duration_seconds <= MAX_DURATION_SECONDS:
        raise InvalidInput(f"duration_seconds must be between 5 and {MAX_DURATION_SECONDS}")
    if not 0 <= anti_snipe_seconds <= MAX_CLOCK_SECONDS:
        raise InvalidInput(f"anti_snipe_seconds must be between 0 and {MAX_CLOCK_SECONDS}")
    if not 1 <= extend_seconds <= MAX_CLOCK_SECONDS:
        raise InvalidInput(f"extend_seconds must be between 1 and {MAX_CLOCK_SECONDS}")
    if reserve_price is not None and not starting_bid <= reserve_price <= MAX_AMOUNT:
        raise InvalidInput("reserve_price must be at least the starting bid")
    return AuctionSettings(
        offer_id=offer_id,
        currency=currency,
        starting_bid=starting_bid,
        duration_seconds=duration_seconds,
        min_increment=min_increment,
        anti_snipe_seconds=anti_snipe_seconds,
        extend_seconds=extend_seconds,
        sudden_death=sudden_death,
        reserve_price=reserve_price,
    )


def increment(settings: AuctionSettings, price: int) -> int:
    """The step above `price`: the auction's `min_increment`, else the band table."""
    if settings.min_increment is not None:
        return settings.min_increment
    for below, step in INCREMENTS:
        if price < below:
            return step
    return TOP_INCREMENT


@dataclass(frozen=True, slots=True)
class Leader:
    """The bidder holding the high bid: their (secret) max, when they set it, their firm bid."""

    user_id: str
    name: str
    max_amount: int
    max_seq: int
    firm: int


@dataclass(frozen=True, slots=True)
class AuctionState:
    """The live auction. `version` changes on every write (the store's compare-and-set);
    `seq` counts log rows."""

    offer_id: str
    starts_at_ms: int
    ends_at_ms: int
    version: int = 0
    seq: int = 0
    bids: int = 0
    price: int | None = None
    leader: Leader | None = None
    #: The runner-up: the highest max of anyone but the leader, and whose it is.
    second_max: int | None = None
    second_user_id: str | None = None
    closed: bool = False

    def to_wire(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> AuctionState:
        leader = data.get("leader")
        fields = {k: v for k, v in data.items() if k != "leader"}
        return cls(**fields, leader=Leader(**leader) if leader else None)


def open_state(offer_id: str, starts_at_ms: int, ends_at_ms: int) -> AuctionState:
    return AuctionState(offer_id=offer_id, starts_at_ms=starts_at_ms, ends_at_ms=ends_at_ms)


@dataclass(frozen=True, slots=True)
class BidRow:
    """One row of the public log (what the chain hashes)."""

    seq: int
    offer_id: str
    bidder: str
    amount: int
    max_applied: bool
    at: int

    def to_wire(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Placed:
    """An accepted bid: the new state, the rows it appends (the bidder's own row first, then
    a proxy row when a max moved the price) with the user id behind each row."""

    state: AuctionState
    rows: tuple[tuple[BidRow, str], ...]
    extended: bool

    @property
    def own(self) -> BidRow:
        return self.rows[0][0]


def pseudonym(salt: str, user_id: str) -> str:
    """A bidder's stable name in one auction's public log: unlinkable to the account without
    the auction's secret salt."""
    return "bidder-" + sha256_hex(f"{salt}:{user_id}")[:10]


def min_bid(settings: AuctionSettings, state: AuctionState) -> int:
    """The least a new bid may be: the starting bid, then the price plus one increment."""
    if state.price is None:
        return settings.starting_bid
    return state.price + increment(settings, state.price)


def check_open(state: AuctionState, now_ms: int) -> None:
    if state.closed or now_ms >= state.ends_at_ms:
        raise AuctionClosed("this auction has closed")
    if now_ms < state.starts_at_ms:
        raise AuctionNotOpen("this auction has not started")


def _price(settings: AuctionSettings, leader: Leader, second_max: int | None) -> int:
    if second_max is None:
        return leader.firm
    proxy = min(leader.max_amount, second_max + increment(settings, second_max))
    return max(leader.firm, proxy)


def new_end(settings: AuctionSettings, ends_at_ms: int, now_ms: int) -> int:
    """Anti-snipe: a bid in the last `anti_snipe_seconds` moves the end to now +
    `extend_seconds`, never earlier and never in sudden death."""
    if settings.sudden_death or ends_at_ms - now_ms > settings.anti_snipe_seconds * 1000:
        return ends_at_ms
    return max(ends_at_ms, now_ms + settings.extend_seconds * 1000)


def place_bid(
    settings: AuctionSettings,
    state: AuctionState,
    *,
    user_id: str,
    name: str,
    amount: int,
    max_amount: int | None,
    now_ms: int,
    salt: str,
) -> Placed:
    """Accept a bid or raise AuctionClosed / AuctionNotOpen / BidTooLow (`details.min_bid`) /
    InvalidInput. `salt` is the auction's secret for bidder pseudonyms."""
    check_open(state, now_ms)
    least = min_bid(settings, state)
    if amount < least:
        raise BidTooLow(f"the minimum bid is {least}", details={"min_bid": least})
    if amount > MAX_AMOUNT or (max_amount is not None and max_amount > MAX_AMOUNT):
        raise InvalidInput(f"bids are at most {MAX_AMOUNT}")
    if max_amount is not None and max_amount < amount:
        raise InvalidInput("max_amount must be at least the amount")
    cap = max(amount, max_amount or amount)
    seq = state.seq + 1
    leader, second_max, second_user = state.leader, state.second_max, state.second_user_id
    if leader is None:
        leader = Leader(user_id, name, cap, seq, amount)
    elif leader.user_id == user_id:
        raised = cap > leader.max_amount
        leader = Leader(
            user_id,
            name,
            max(cap, leader.max_amount),
            seq if raised else leader.max_seq,
            amount,
        )
    elif cap > leader.max_amount:
        second_max, second_user = leader.max_amount, leader.user_id
        leader = Leader(user_id, name, cap, seq, amount)
    else:
        second_max, second_user = cap, user_id
    price = _price(settings, leader, second_max)
    own = BidRow(seq, settings.offer_id, pseudonym(salt, user_id), amount, False, now_ms)
    rows: list[tuple[BidRow, str]] = [(own, user_id)]
    if leader.user_id != user_id or price != amount:
        proxy = pseudonym(salt, leader.user_id)
        rows.append(
            (BidRow(seq + 1, settings.offer_id, proxy, price, True, now_ms), leader.user_id)
        )
    ends = new_end(settings, state.ends_at_ms, now_ms)
    new = replace(
        state,
        version=state.version + 1,
        seq=state.seq + len(rows),
        bids=state.bids + 1,
        price=price,
        leader=leader,
        second_max=second_max,
        second_user_id=second_user,
        ends_at_ms=ends,
    )
    return Placed(new, tuple(rows), ends > state.ends_at_ms)


@dataclass(frozen=True, slots=True)
class Outcome:
    """How a closed auction ended: the winner and the price, or nobody (no bid, or reserve not
    met)."""

    winner_id: str | None
    winner_name: str | None
    amount: int | None
    reserve_met: bool


def close(
    settings: AuctionSettings, state: AuctionState, now_ms: int, *, force: bool = False
) -> AuctionState | None:
    """The closed state once the clock ran out, or at once with `force` (its offer was ended);
    None while it runs. Closing a closed auction returns it unchanged."""
    if state.closed:
        return state
    if now_ms < state.ends_at_ms and not force:
        return None
    return replace(state, closed=True, version=state.version + 1)


def outcome(settings: AuctionSettings, state: AuctionState) -> Outcome:
    """Who won at what price; no sale below the reserve (a leader whose max reaches it pays at
    least the reserve)."""
    leader = state.leader
    if leader is None or state.price is None:
        return Outcome(None, None, None, settings.reserve_price is None)
    reserve = settings.reserve_price
    if reserve is not None and leader.max_amount < reserve:
        return Outcome(None, None, None, False)
    amount = state.price if reserve is None else max(state.price, reserve)
    return Outcome(leader.user_id, leader.name, amount, True)


def reserve_met(settings: AuctionSettings, state: AuctionState) -> bool:
    reserve = settings.reserve_price
    return reserve is None or (state.leader is not None and state.leader.max_amount >= reserve)


def auction_view(settings: AuctionSettings, state: AuctionState) -> dict[str, Any]:
    """The public shape in acks, `auction.updated` and REST: no max is ever shown."""
    leader = state.leader
    high = None
    if leader is not None and state.price is not None:
        high = {"amount": state.price, "bidder": {"id": leader.user_id, "name": leader.name}}
    return {
        "offer_id": state.offer_id,
        "status": "closed" if state.closed else "open",
        "currency": settings.currency,
        "high_bid": high,
        "min_bid": min_bid(settings, state),
        "bids": state.bids,
        "starts_at": state.starts_at_ms,
        "ends_at": state.ends_at_ms,
        "seq": state.seq,
        "sudden_death": settings.sudden_death,
        "has_reserve": settings.reserve_price is not None,
        "reserve_met": reserve_met(settings, state),
    }


# --- the hash chain (the shared scheme of livecommerce/domain/chain.py) ----------------------

#: The fields of a bid row the chain hashes; the seed is the auction's settings.
BID_FIELDS = ("seq", "offer_id", "bidder", "amount", "max_applied", "at")


def chain_hash(prev_hash: str, row: Mapping[str, Any]) -> str:
    """SHA-256 of the previous hash (hex text) followed by the row's canonical JSON."""
    return link(prev_hash, row, BID_FIELDS)


def chained(
    settings: Mapping[str, Any], rows: Sequence[BidRow]
) -> tuple[list[dict[str, Any]], str]:
    """The published rows with their `hash`, and the head (the last hash; the genesis hash for
    an auction without bids)."""
    return chain_rows(settings, [row.to_wire() for row in rows], BID_FIELDS)


def verify_log(log: Mapping[str, Any]) -> Verdict:
    """Recompute a published log `{settings, bids: [{..., hash}], head}`: every row's hash,
    consecutive seqs from 1, and the head."""
    try:
        return verify_chain(log["settings"], log["bids"], BID_FIELDS, log.get("head"))
    except (KeyError, TypeError) as exc:
        return Verdict(False, None, f"malformed log: {exc}")
