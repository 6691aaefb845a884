"""Auctions: creating an auction offer, accepting bids, closing at the deadline, selling to the
winner (and, when the winner does not pay, to the runner-up) and publishing the bid log.

A bid is judged by the pure rules of `domain/auctions.py` against the live state read from the
`AuctionStore` and written back by compare-and-set on the state's version; on a lost race the
bid is judged again on the new state (it usually becomes `bid_too_low`). The time is this
node's clock. The accepted rows go to the SQL `BidLog` right after; the close completes the SQL
log from the live store, so after settlement SQL is the log's source of truth.

Closing: every node that opens an auction or accepts a bid keeps a timer for its end (moved by
anti-snipe extensions); the background sweeper closes due auctions any node left behind (a node
killed before its timer fired). The close is a compare-and-set too and the settlement a
conditional SQL update, so `auction.closed` is announced once. The winner's order goes the way a
checkout's goes: one unit reserved (its deadline is the payment deadline), the order placed,
its payment created by `CheckoutService.pay`, `order.updated` sent; an unpaid order expires at
the deadline through the ordinary sweeper, after which the seller may offer the item to the
runner-up at their last bid.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import secrets
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from livecommerce.domain.access import Action, Principal, Role, ShowRef, authorize
from livecommerce.domain.auctions import (
    AuctionSettings,
    AuctionState,
    auction_view,
    chained,
    close,
    make_settings,
    open_state,
    outcome,
    place_bid,
)
from livecommerce.domain.money import Money
from livecommerce.domain.notifications import auction_won_event
from livecommerce.domain.offers import Offer, OfferKind, OfferStatus, end_offer
from livecommerce.domain.orders import RELEASED, Order, place_order, request_fingerprint
from livecommerce.domain.ratelimit import Rate
from livecommerce.domain.shows import moment_media_ts
from livecommerce.errors import (
    AuctionClosed,
    AuctionNotOpen,
    Banned,
    Conflict,
    DomainError,
    InvalidInput,
    LiveCommerceError,
    NotAnAuction,
    NotFound,
    PaymentMethodRequired,
    RateLimited,
    SellerCannotBid,
    SoldOut,
)
from livecommerce.faults import fault_point
from livecommerce.services.batching import DEFAULT_BATCH_MAX, TickBatcher
from livecommerce.services.catalog import CatalogService
from livecommerce.services.checkout import (
    PRODUCT_CACHE_MS,
    CheckoutService,
    check_idempotency_key,
    order_id_for,
)
from livecommerce.services.deadlines import Deadlines
from livecommerce.services.moderation import ModerationService
from livecommerce.services.offers import OfferService
from livecommerce.services.orders import ShopEvents
from livecommerce.services.ports import (
    AddressStore,
    AuctionRecord,
    AuctionStore,
    BidLog,
    Bus,
    Clock,
    OrderStore,
    OwnedRow,
    RateLimiter,
)
from livecommerce.services.shows import ShowService, show_ref
from livecommerce.services.singleflight import SingleFlight
from livecommerce.services.stock import StockService
from livecommerce.services.throttle import Throttle

log = logging.getLogger(__name__)

#: How long a node reuses a show's seller and hosts for bids (a new host may bid this long).
SHOW_CACHE_MS = 1_000
#: How long after a settlement its node has to announce it before any node's sweeper does (a
#: duplicate `auction.closed` only if the settling node takes longer than this).
ANNOUNCE_GRACE_MS = 5_000
#: Compare-and-set attempts per bid before giving up with `conflict` (each lost race means
#: another bid landed, so a bid rarely needs more than a few).
ATTEMPTS = 50


@dataclass(frozen=True, slots=True)
class AuctionOptions:
    """The settings' part of the service: the payment deadline and the bid rate per bidder."""

    payment_seconds: int = 900
    bid_rates: Sequence[Rate] = (Rate(10, 1.0),)
    #: Shortest gap between two `auction.updated` of one auction from one node (coalescing).
    update_interval: float = 0.1
    #: The most bids one compare-and-set carries (`shop.batch_max`; 1: one per bid).
    batch_max: int = DEFAULT_BATCH_MAX


def _version(state: AuctionState) -> int:
    return state.version


#: An `auction.updated` to send: the show, the auction's settings and its state.
Update = tuple[str, AuctionSettings, AuctionState]


def newest_state(old: Update, new: Update) -> Update:
    """Of two states, the later (by seq): concurrent bids' batches may finish out of order."""
    return new if new[2].seq >= old[2].seq else old


@dataclass(frozen=True, slots=True)
class _Ask:
    """One bidder's bid, past the per-bidder checks, waiting for its tick's batch."""

    record: AuctionRecord
    show_id: str
    user_id: str
    name: str
    amount: int
    max_amount: int | None
    key: str


class AuctionService:
    def __init__(
        self,
        store: AuctionStore,
        bids: BidLog,
        *,
        orders: OrderStore,
        offers: OfferService,
        shows: ShowService,
        catalog: CatalogService,
        stock: StockService,
        checkout: CheckoutService,
        moderation: ModerationService,
        addresses: AddressStore,
        events: ShopEvents,
        bus: Bus,
        clock: Clock,
        limiter: RateLimiter,
        options: AuctionOptions,
    ) -> None:
        self._store = store
        self._bids = bids
        self._orders = orders
        self._offers = offers
        self._shows = shows
        self._catalog = catalog
        self._stock = stock
        self._checkout = checkout
        self._moderation = moderation
        self._addresses = addresses
        self._events = events
        self._bus = bus
        self._clock = clock
        self._limiter = limiter
        self._options = options
        #: Settings never change after creation: one read per auction per node.
        self._records: dict[str, AuctionRecord] = {}
        #: This node's timers for the auctions' ends, and its bookkeeping in the background.
        self._deadlines = Deadlines(clock, self._on_timer, "closing or bookkeeping an auction")
        self._show_refs: dict[str, tuple[int, ShowRef]] = {}
        #: Refused bids per auction and code not yet added to the live store (one write per
        #: auction per sweep, not one per refusal).
        self._refused: dict[str, Counter[str]] = {}
        #: Coalesced `auction.updated`: a bidding war of hundreds of bids a second would
        #: otherwise cost a message per bid to every viewer (each bidder's ack carries the state
        #: after their own bid). Of a burst, the newest state goes out.
        self._updates: Throttle[Update] = Throttle(
            options.update_interval, self._send_update, keep=newest_state, what="auction.updated"
        )
        self._shipping: dict[str, tuple[int, bool]] = {}
        #: Per auction: the newest state this node has seen, and the accepted rows (with the
        #: newest state) its SQL writer has not written yet.
        self._known: dict[str, AuctionState] = {}
        self._flights = SingleFlight()
        self._placing_locks: dict[str, asyncio.Lock] = {}
        self._unwritten: dict[str, tuple[list[OwnedRow], AuctionState]] = {}
        #: The bids of one event-loop tick go to the live store in one compare-and-set per
        #: auction, not one (and its lost races) per bid.
        self._placing: TickBatcher[_Ask, tuple[dict[str, Any], AuctionState]] = TickBatcher(
            self._place, options.batch_max
        )

    # -- creating and opening ------------------------------------------------------------------
    async def create(
        self,
        principal: Principal | None,
        show_id: str,
        *,
        product_id: str,
        variant_id: str | None,
        starting_bid: int,
        duration_seconds: int,
        min_increment: int | None = None,
        anti_snipe_seconds: int = 10,
        extend_seconds: int = 10,
        sudden_death: bool = False,
        reserve_price: int | None = None,
    ) -> Offer:
        """A draft auction offer of one unit; its clock starts when the offer is started."""
        product = await self._catalog.get(product_id)
        build = functools.partial(
            make_settings,
            currency=product.currency,
            starting_bid=starting_bid,
            duration_seconds=duration_seconds,
            min_increment=min_increment,
            anti_snipe_seconds=anti_snipe_seconds,
            extend_seconds=extend_seconds,
            sudden_death=sudden_death,
            reserve_price=reserve_price,
        )
        build(offer_id="-")  # refuse bad settings before anything is written
        variants = [v.id for v in product.variants]
        if variant_id is None and len(variants) > 1:
            raise InvalidInput("choose a variant to auction")
        if variant_id is not None and variant_id not in variants:
            raise InvalidInput("unknown variant for this product")
        offer = await self._offers.create(
            principal,
            show_id,
            product_id=product_id,
            kind=OfferKind.AUCTION,
            price_minor=starting_bid,
            cap=1,
            duration_ms=duration_seconds * 1000,
        )
        settings = build(offer_id=offer.id)
        await self._bids.add_auction(
            AuctionRecord(
                offer_id=offer.id,
                show_id=show_id,
                product_id=product_id,
                variant_id=variant_id if variant_id is not None else variants[0],
                settings=settings,
                salt=secrets.token_hex(16),
            )
        )
        return offer

    async def record(self, offer_id: str) -> AuctionRecord:
        cached = self._records.get(offer_id)
        if cached is not None:
            return cached
        found = await self._flights.run(f"record:{offer_id}", lambda: self._bids.auction(offer_id))
        if found is None:
            if await self._orders.get_offer(offer_id) is not None:
                raise NotAnAuction("this offer is not an auction")
            raise NotFound("no such auction")
        self._records[offer_id] = found
        return found

    async def started(self, offer: Offer) -> None:
        """An offer was started: when it is an auction, open its clock here and time its end."""
        if offer.kind is not OfferKind.AUCTION:
            return
        state = await self._live(await self.record(offer.id))
        settings = (await self.record(offer.id)).settings
        await self._updates.changed(offer.id, (offer.show_id, settings, state))

    async def _stored(self, offer_id: str) -> AuctionState | None:
        """The live state; when the store has none although bids were recorded (a Redis that
        restarted empty), rebuilt from the SQL snapshot and log rows, unless it is settled."""
        state = await self._store.state(offer_id)
        if state is not None:
            return state
        snapshot = await self._bids.snapshot(offer_id)
        if snapshot is None:
            return None
        fresh = await self._bids.auction(offer_id)
        if fresh is None or fresh.settled:
            return None
        rows = [owned for owned in await self._bids.rows(offer_id) if owned[0].seq <= snapshot.seq]
        state = await self._store.open(snapshot, rows)
        if state == snapshot:
            log.warning(
                "auction live state rebuilt from SQL",
                extra={"offer": offer_id, "seq": snapshot.seq, "rows": len(rows)},
            )
        return state

    async def _live(self, record: AuctionRecord) -> AuctionState:
        """The live state, opened from the started offer when the store has none (and no bid
        was recorded in SQL: then it is rebuilt from there). Concurrent reads on this node
        share one."""
        return await self._flights.run(f"live:{record.offer_id}", lambda: self._read(record))

    async def _read(self, record: AuctionRecord) -> AuctionState:
        state = await self._stored(record.offer_id)
        if state is None:
            offer = await self._orders.get_offer(record.offer_id)
            if offer is None:
                raise NotFound("no such auction")
            if offer.status is OfferStatus.ENDED:
                raise AuctionClosed("this auction has closed")
            if offer.status is not OfferStatus.LIVE:
                raise AuctionNotOpen("this auction has not started")
            assert offer.starts_at_ms is not None
            assert offer.ends_at_ms is not None
            state = await self._store.open(
                open_state(offer.id, offer.starts_at_ms, offer.ends_at_ms)
            )
        if not state.closed:
            self._time(state)
        self._note(state)
        return state

    def _note(self, state: AuctionState) -> None:
        """Remember the newest state this node has seen of an auction (versions only grow)."""
        known = self._known.get(state.offer_id)
        if known is None or known.version < state.version:
            self._known[state.offer_id] = state

    # -- bidding -------------------------------------------------------------------------------
    async def bid(
        self,
        principal: Principal | None,
        show_id: str,
        offer_id: str,
        *,
        amount: int,
        max_amount: int | None,
        idempotency_key: str,
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """Place a bid: ({id, seq, amount, at}, the auction's view). Idempotent per (bidder,
        key): a retry gets the first answer. Refusals of an existing auction are counted for
        the seller: on this node at once, in the live store at the next sweep or close."""
        try:
            return await self._bid(
                principal, show_id, offer_id, amount, max_amount, idempotency_key
            )
        except DomainError as exc:
            if offer_id in self._records:
                self._refused.setdefault(offer_id, Counter())[exc.code] += 1
            raise

    async def _flush_refusals(self, offer_id: str | None = None) -> None:
        """Move this node's refusal counts (of one auction, or all) to the live store."""
        for oid in [offer_id] if offer_id is not None else list(self._refused):
            counts = self._refused.pop(oid, None)
            if counts:
                await self._store.refuse(oid, counts)

    async def _bid(
        self,
        principal: Principal | None,
        show_id: str,
        offer_id: str,
        amount: int,
        max_amount: int | None,
        idempotency_key: str,
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        who = authorize(principal, Action.CHECKOUT)
        check_idempotency_key(idempotency_key)
        record = await self.record(offer_id)
        if record.show_id != show_id:
            raise NotFound("no such auction in this show")
        show = await self._show(show_id)
        if who.user_id == show.seller_id or who.user_id in show.host_ids:
            raise SellerCannotBid("the seller and the show's hosts cannot bid")
        key = f"{who.user_id}:{idempotency_key}"
        try:
            ask = await self._admit(who, show, record, amount, max_amount, key)
        except DomainError:
            # a retry of a bid accepted earlier gets its first answer, not today's refusal;
            # a retry that passes gets it from the commit, which checks every key it writes
            replayed = await self._store.replay(offer_id, key)
            if replayed is None:
                raise
            return await self._replayed(record, replayed)
        ack, after = await self._placing.submit(ask)
        return ack, auction_view(record.settings, after)

    async def _admit(
        self,
        who: Principal,
        show: ShowRef,
        record: AuctionRecord,
        amount: int,
        max_amount: int | None,
        key: str,
    ) -> _Ask:
        """The checks before a bid joins its tick's batch: the bidder's rate, a first judgement
        on the newest state this node knows (no round trip: a price only rises and a close is
        final, so what it refuses is refused; a refusal is judged again on the stored state for
        its exact `min_bid`), then the per-bidder reads (ban, shipping address)."""
        if not await self._limiter.allow(f"bid:{who.user_id}", self._options.bid_rates):
            raise RateLimited("too many bids; wait a moment")
        known = self._known.get(record.offer_id)
        state = known if known is not None else await self._live(record)

        def judge(state: AuctionState) -> None:
            place_bid(
                record.settings,
                state,
                user_id=who.user_id,
                name=who.name,
                amount=amount,
                max_amount=max_amount,
                now_ms=self._clock.now_ms(),
                salt=record.salt,
            )

        try:
            judge(state)
        except DomainError:
            if known is None:
                raise
            judge(await self._live(record))
        await self._may_bid(who, show, record)
        return _Ask(record, show.id, who.user_id, who.name, amount, max_amount, key)

    async def _place(
        self, asks: list[_Ask]
    ) -> list[tuple[dict[str, Any], AuctionState] | Exception]:
        """The bids of one event-loop tick (from `_placing`), per auction: judged in arrival
        order on one read of the state, each on the state the previous ones left, and written
        with one compare-and-set that carries every accepted row and ack. On a lost race
        (another node wrote) the whole batch is judged again on the new state."""
        out: list[tuple[dict[str, Any], AuctionState] | Exception] = [
            Conflict("not placed") for _ in asks
        ]
        by_auction: dict[str, list[int]] = {}
        for n, ask in enumerate(asks):
            by_auction.setdefault(ask.record.offer_id, []).append(n)

        async def place(indexes: list[int]) -> None:
            # one batch of an auction at a time on this node: the next tick's batch waits for
            # this commit and then starts from the state it wrote, instead of racing it
            lock = self._placing_locks.setdefault(asks[indexes[0]].record.offer_id, asyncio.Lock())
            try:
                async with lock:
                    await self._place_one_auction([asks[n] for n in indexes], indexes, out)
            except Exception as exc:  # a store that is down fails this auction's bids alike
                for n in indexes:
                    out[n] = exc

        await asyncio.gather(*(place(indexes) for indexes in by_auction.values()))
        return out

    async def _place_one_auction(
        self,
        asks: list[_Ask],
        indexes: list[int],
        out: list[tuple[dict[str, Any], AuctionState] | Exception],
    ) -> None:
        record = asks[0].record
        settings = record.settings
        offer_id = record.offer_id
        todo = list(zip(indexes, asks, strict=True))
        # the known state saves a read; when another node moved it, the set fails and we read
        known = self._known.get(offer_id)
        for _ in range(ATTEMPTS):
            state = known if known is not None else await self._live(record)
            known = None
            current = state
            rows: list[OwnedRow] = []
            acks: dict[str, dict[str, Any]] = {}
            judged: dict[int, tuple[dict[str, Any], AuctionState] | Exception] = {}
            extended = False
            for n, ask in todo:
                if ask.key in acks:  # the same bid twice in one tick: one answer
                    judged[n] = (acks[ask.key]["bid"], current)
                    continue
                try:
                    placed = place_bid(
                        settings,
                        current,
                        user_id=ask.user_id,
                        name=ask.name,
                        amount=ask.amount,
                        max_amount=ask.max_amount,
                        now_ms=self._clock.now_ms(),
                        salt=record.salt,
                    )
                except DomainError as exc:  # counted for the seller by `bid`
                    judged[n] = exc
                    continue
                own = placed.own
                ack = {"id": f"{offer_id}-{own.seq}", "seq": own.seq, "amount": own.amount,
                       "at": own.at}  # fmt: skip
                current = placed.state
                rows.extend(placed.rows)
                acks[ask.key] = {"bid": ack}
                judged[n] = (ack, current)
                extended = extended or placed.extended
            if not rows:
                for n, result in judged.items():
                    out[n] = result
                return
            done = await self._store.commit(state.version, current, rows, acks)
            if done.replay is not None:  # a retry raced its first try: it gets the first answer
                replayed = [(n, ask) for n, ask in todo if ask.key == done.key]
                for n, _ask in replayed:
                    out[n] = (dict(done.replay["bid"]), await self._live(record))
                todo = [(n, ask) for n, ask in todo if ask.key != done.key]
                continue
            if done.done:
                for n, result in judged.items():
                    out[n] = result
                self._note(current)
                self._record_rows(offer_id, rows, current)
                if extended:
                    self._time(current)
                await self._updates.changed(offer_id, (asks[0].show_id, settings, current))
                return
        for n, _ask in todo:
            out[n] = Conflict("the auction is too busy; bid again")

    def _record_rows(self, offer_id: str, rows: Sequence[OwnedRow], state: AuctionState) -> None:
        """Write accepted rows and the state after them to SQL without holding the bidder's
        ack: the live store has them already, the close copies any row SQL lacks before it
        computes the head, and a live store that lost them is rebuilt from these. One writer
        per auction: what is accepted while it writes goes in its next transaction."""
        queued = self._unwritten.get(offer_id)
        if queued is None:
            self._unwritten[offer_id] = ([*rows], state)
            # bookkeeping no ack waits for; a failure is logged (the close repairs the log)
            self._deadlines.spawn(self._write_rows(offer_id), offer_id)
        else:
            queued[0].extend(rows)
            self._unwritten[offer_id] = (queued[0], max(queued[1], state, key=_version))

    async def _write_rows(self, offer_id: str) -> None:
        try:
            while (queued := self._unwritten.get(offer_id)) is not None:
                rows, state = queued
                self._unwritten[offer_id] = ([], state)
                if not rows:
                    break
                await self._bids.append(offer_id, rows, state)
        finally:
            self._unwritten.pop(offer_id, None)

    async def _replayed(
        self, record: AuctionRecord, stored: Any
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        state = await self._store.state(record.offer_id)
        assert state is not None
        return dict(stored["bid"]), auction_view(record.settings, state)

    async def _may_bid(self, who: Principal, show: ShowRef, record: AuctionRecord) -> None:
        """Banned viewers and bidders a win could not ship to are refused."""
        if (await self._moderation.standing(show.id, who.user_id)).banned:
            raise Banned("you are banned from this show")
        ships = await self._ships(record.product_id, self._clock.now_ms())
        if ships and await self._addresses.address_of(who.user_id) is None:
            raise PaymentMethodRequired("save a shipping address before bidding")

    async def _show(self, show_id: str) -> ShowRef:
        """Whose show it is and who hosts it, from a short per-node cache (every bid asks)."""
        now = self._clock.now_ms()
        cached = self._show_refs.get(show_id)
        if cached is not None and cached[0] > now:
            return cached[1]
        ref = show_ref(await self._flights.run(f"show:{show_id}", lambda: self._shows.get(show_id)))
        self._show_refs[show_id] = (now + SHOW_CACHE_MS, ref)
        return ref

    async def _ships(self, product_id: str, now: int) -> bool:
        cached = self._shipping.get(product_id)
        if cached is not None and cached[0] > now:
            return cached[1]
        product = await self._flights.run(
            f"product:{product_id}", lambda: self._catalog.get(product_id)
        )
        ships = product.requires_shipping
        self._shipping[product_id] = (now + PRODUCT_CACHE_MS, ships)
        return ships

    async def _send_update(self, offer_id: str, update: Update) -> None:
        show_id, settings, state = update
        await self._bus.publish(
            "auction.updated", {"show_id": show_id, **auction_view(settings, state)}
        )

    async def view(self, offer_id: str) -> dict[str, Any] | None:
        """The auction's public state (None before it is started)."""
        record = await self.record(offer_id)
        state = await self._stored(offer_id)
        return None if state is None else auction_view(record.settings, state)

    # -- closing -------------------------------------------------------------------------------
    def _time(self, state: AuctionState) -> None:
        """(Re)arm this node's timer for the auction's end."""
        self._deadlines.arm(state.offer_id, state.ends_at_ms)

    async def _on_timer(self, offer_id: str) -> None:
        if not await self.close(offer_id):
            state = await self._store.state(offer_id)
            if state is not None and not state.closed:
                self._time(state)  # extended meanwhile (by another node)

    async def close(self, offer_id: str) -> bool:
        """Close the auction if its clock ran out (or its offer was ended) and settle it: the
        winner's order, the log's head, `auction.closed`. True when this call settled it;
        safe to run on every node at once and again after a crash half-way."""
        record = await self.record(offer_id)
        if (await self._bids.auction(offer_id) or record).settled:
            return False
        offer = await self._orders.get_offer(offer_id)
        if offer is None or offer.status is OfferStatus.DRAFT:
            return False
        ended = offer.status is OfferStatus.ENDED
        state = await self._stored(offer_id)
        if state is None:
            start = offer.starts_at_ms or offer.created_at_ms
            state = await self._store.open(open_state(offer_id, start, offer.ends_at_ms or start))
        while True:
            closed = close(record.settings, state, self._clock.now_ms(), force=ended)
            if closed is None:
                return False
            if closed is state or (await self._store.commit(state.version, closed)).done:
                break
            moved = await self._store.state(offer_id)
            assert moved is not None
            state = moved
        return await self._settle(record, offer, closed)

    async def _settle(self, record: AuctionRecord, offer: Offer, state: AuctionState) -> bool:
        offer_id = record.offer_id
        await self._bids.append(offer_id, await self._store.rows(offer_id))
        rows = await self._bids.rows(offer_id)
        _, head = chained(record.settings.to_wire(), [row for row, _ in rows])
        result = outcome(record.settings, state)
        order_id = None
        if result.winner_id is not None and result.amount is not None:
            try:
                order = await self._sell(record, offer, result.winner_id, result.amount, "")
                order_id = order.id
            except SoldOut:
                log.warning("an auction's unit was gone at its close", extra={"offer": offer_id})
        now = self._clock.now_ms()
        if not await self._bids.settle(
            offer_id,
            winner_id=result.winner_id,
            amount=result.amount,
            order_id=order_id,
            head=head,
            at_ms=now,
            refused=await self._flushed_refusals(offer_id),
            events=[auction_won_event(offer_id, record.show_id, result.winner_id, order_id, now)]
            if result.winner_id is not None and order_id is not None
            else [],
        ):
            return False
        fault_point("auction.after_settle")
        settled = replace(
            record, settled=True, winner_id=result.winner_id, amount=result.amount,
            order_id=order_id, head=head, closed_at_ms=now,
        )  # fmt: skip
        await self._announce(settled, offer, state)
        return True

    async def _announce(self, record: AuctionRecord, offer: Offer, state: AuctionState) -> None:
        """What follows a settlement (`record`, as settled): the offer ends (with its timeline
        entry) and `auction.closed` goes out, then the settlement is marked announced. Each
        step is safe to repeat, so a sweeper finishes the work of a node that died half-way;
        `state` (the closed live state) gives the winner's name and the bid count."""
        offer_id = record.offer_id
        closed_at_ms = record.closed_at_ms or self._clock.now_ms()
        if offer.status is not OfferStatus.ENDED:
            ended = end_offer(offer)
            if await self._orders.save_offer(ended, offer.status):
                # the replay's timeline marks the close where a seller's end would be
                show = await self._shows.get(offer.show_id)
                media_ts = moment_media_ts(show.times, closed_at_ms, None)
                media_ms = None if media_ts is None else round(media_ts * 1000)
                await self._orders.add_timeline(
                    offer.show_id, offer.id, "ended", closed_at_ms, media_ms
                )
                await self._events.offer_updated(ended, media_ts)
        result = outcome(record.settings, state)
        winner = None
        if record.winner_id is not None:
            winner = {"id": record.winner_id, "name": result.winner_name}
        await self._bus.publish(
            "auction.closed",
            {
                "show_id": record.show_id,
                "offer_id": offer_id,
                "winner": winner,
                "amount": record.amount,
                "currency": record.settings.currency,
                "reserve_met": result.reserve_met,
                "order_id": record.order_id,
                "log_head": record.head,
                "bids": state.bids,
            },
        )
        await self._bids.mark_announced(offer_id)

    async def _announce_left_behind(self) -> None:
        """Announce the settlements whose node died before announcing them; the grace keeps
        this from racing a node that is still on its way from the settlement to the bus."""
        before = self._clock.now_ms() - ANNOUNCE_GRACE_MS
        for offer_id in await self._bids.unannounced(before):
            record = await self._bids.auction(offer_id)
            offer = await self._orders.get_offer(offer_id)
            state = await self._store.state(offer_id) or await self._bids.snapshot(offer_id)
            if record is None or offer is None or state is None:
                continue
            log.warning("announcing an auction's close its node left behind",
                        extra={"offer": offer_id})  # fmt: skip
            await self._announce(record, offer, state)

    async def _flushed_refusals(self, offer_id: str) -> dict[str, int]:
        await self._flush_refusals(offer_id)
        return await self._store.refusals(offer_id)

    async def sweep(self) -> int:
        """Close the due auctions any node left behind (and count this node's refused bids in
        the live store); how many this pass settled."""
        await self._flush_refusals()
        await self._announce_left_behind()
        settled = 0
        for offer_id in await self._bids.unsettled():
            if await self.close(offer_id):
                settled += 1
        return settled

    async def aclose(self) -> None:
        """Stop this node's timers (on shutdown; the sweeper of any node takes over) and count
        its last refusals."""
        with contextlib.suppress(LiveCommerceError):
            await self._flush_refusals()
        await self._deadlines.aclose()
        await self._updates.aclose()

    # -- selling -------------------------------------------------------------------------------
    async def _sell(
        self, record: AuctionRecord, offer: Offer, buyer_id: str, amount: int, suffix: str
    ) -> Order:
        """The buyer's order of the one unit at `amount`, paid like a checkout's; idempotent."""
        key = f"auction:{offer.id}{suffix}"
        order_id = order_id_for(buyer_id, key)
        existing = await self._orders.get_order(order_id)
        if existing is not None:
            return (await self._checkout.pay(existing))[0]
        now = self._clock.now_ms()
        ttl = self._options.payment_seconds * 1000
        product = await self._catalog.get(offer.product_id)
        ship_to = None
        if product.requires_shipping:
            ship_to = await self._addresses.address_of(buyer_id)
        await self._stock.reserve(offer, record.variant_id, order_id, buyer_id, 1, now + ttl)
        order = place_order(
            order_id=order_id,
            buyer_id=buyer_id,
            seller_id=offer.seller_id,
            show_id=offer.show_id,
            offer_id=offer.id,
            product_id=offer.product_id,
            variant_id=record.variant_id,
            quantity=1,
            unit_price=Money(amount, record.settings.currency),
            idempotency_key=key,
            request_hash=request_fingerprint({"auction": offer.id, "amount": amount}),
            now_ms=now,
            ttl_ms=ttl,
            shipping_address=ship_to,
        )
        stored = await self._orders.add_order(order)
        if stored == order:
            await self._events.order_updated(order)
        return (await self._checkout.pay(stored))[0]

    async def second_chance(
        self, principal: Principal | None, show_id: str, offer_id: str
    ) -> Order:
        """Offer the item to the runner-up at their last bid, once the winner's order was given
        up (expired, failed or cancelled). Only the seller (or an admin) decides it."""
        show = show_ref(await self._shows.get(show_id))
        authorize(principal, Action.PREPARE_OFFERS, show)
        record = await self._bids.auction(offer_id)
        if record is None or record.show_id != show_id:
            raise NotFound("no such auction in this show")
        if not record.settled or record.order_id is None:
            raise Conflict("this auction has no winner's order to replace")
        won = await self._orders.get_order(record.order_id)
        if won is None or won.status not in RELEASED:
            raise Conflict("the winner's order is still open or paid")
        # the runner-up: the highest last bid of anyone but the winner (the earlier on a tie)
        best: dict[str, tuple[int, int]] = {}
        for row, user_id in await self._bids.rows(offer_id):
            if user_id != record.winner_id and row.amount > best.get(user_id, (0, 0))[0]:
                best[user_id] = (row.amount, -row.seq)
        if not best:
            raise Conflict("nobody else bid in this auction")
        runner_up = max(best, key=lambda u: best[u])
        amount = best[runner_up][0]
        reserve = record.settings.reserve_price
        if reserve is not None and amount < reserve:
            raise Conflict("the runner-up's last bid is below the reserve")
        offer = await self._orders.get_offer(offer_id)
        assert offer is not None
        order = await self._sell(record, offer, runner_up, amount, ":second-chance")
        await self._bids.set_second_chance(offer_id, order.id)
        return order

    async def results(self, offer_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        """How the settled auctions among `offer_ids` sold, for the replay's timeline:
        {amount, currency, winner: {name} | None, reserve_met} by offer id (other offers are
        left out). The winner is named as in `auction.closed`; their account id is not given."""
        out: dict[str, dict[str, Any]] = {}
        for offer_id in sorted(offer_ids):
            record = await self._bids.auction(offer_id)
            if record is None or not record.settled:
                continue
            winner = None
            if record.winner_id is not None:
                user = await self._events.views.user(record.winner_id)
                winner = {"name": user.name if user else ""}
            out[offer_id] = {
                "amount": record.amount,
                "currency": record.settings.currency,
                "winner": winner,
                "reserve_met": record.winner_id is not None
                or record.settings.reserve_price is None,
            }
        return out

    # -- the public log ------------------------------------------------------------------------
    async def log(self, principal: Principal | None, offer_id: str) -> dict[str, Any]:
        """The whole log with each row's hash and the head. Bidders are per-auction pseudonyms;
        the seller (and admins) also see who is behind each row and the refused bids per error
        code, a bidder sees `you` on theirs."""
        record = await self._bids.auction(offer_id)
        if record is None:
            raise NotFound("no such auction")
        if record.settled:
            owned: list[OwnedRow] = await self._bids.rows(offer_id)
        else:
            await self._stored(offer_id)  # rebuilt first if the live store lost it
            owned = await self._store.rows(offer_id)
        settings = record.settings.to_wire()
        published, head = chained(settings, [row for row, _ in owned])
        seller = principal is not None and (
            principal.role is Role.ADMIN
            or principal.user_id == (await self._shows.get(record.show_id)).seller_id
        )
        for wire, (_, user_id) in zip(published, owned, strict=True):
            if seller:
                user = await self._events.views.user(user_id)
                wire["bidder_user"] = {"id": user_id, "name": user.name if user else ""}
            elif principal is not None and principal.user_id == user_id:
                wire["you"] = True
        state = await self._store.state(offer_id)
        out: dict[str, Any] = {
            "offer_id": offer_id,
            "settings": settings,
            "bids": published,
            "head": head,
            "settled": record.settled,
            "auction": None if state is None else auction_view(record.settings, state),
        }
        if seller:  # refused bids are never in the chain; the seller sees how many there were
            # the live count goes on after the close (late bids); SQL keeps the close's count
            out["refused"] = await self._flushed_refusals(offer_id) or dict(record.refused)
        return out
