"""Giveaways: creating one with a committed seed, entries (the hub's button and chat keywords),
the close at `closes_at`, the staff's draw that reveals the seed, the winners' prize orders and
the public record anyone can verify (docs/GIVEAWAYS.md).

The record lives in the shared SQL `GiveawayStore`, so every node sees the same giveaway. The
node that creates a giveaway keeps a timer for its close; any node's sweeper closes (and
settles) what a dead node left behind. The close and the draw are conditional updates in the
store: `giveaway.closed` and `giveaway.drawn` are announced once, by the node that won.

Prize stock is taken at the draw: creation refuses a giveaway whose variant has fewer units
available than winners, and each winner's unit is reserved (atomically, like a checkout's) when
their order is placed; a unit sold meanwhile leaves that winner without an order (logged and
shown in the record). Each winner's order is placed at price 0 and paid at once, with a
promotion journal entry for the seller at the prize's list price; entering needs a saved
shipping address when the prize ships, so every winner's order has one.
"""

from __future__ import annotations

import contextlib
import logging
import re
import secrets
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from livecommerce.domain.access import Action, Principal, ShowRef, authorize, is_staff
from livecommerce.domain.giveaways import (
    ALGORITHM,
    SEED_BYTES,
    Entry,
    EntryMode,
    GiveawayStatus,
    check_settings,
    commitment_of,
    draw,
    entrant_of,
    keyword_pattern,
)
from livecommerce.domain.inventory import sale_movement
from livecommerce.domain.ledger import promotion_entry
from livecommerce.domain.money import Money
from livecommerce.domain.notifications import giveaway_won_event
from livecommerce.domain.orders import (
    Order,
    OrderStatus,
    place_order,
    request_fingerprint,
    transition,
)
from livecommerce.domain.ratelimit import Rate
from livecommerce.errors import (
    Banned,
    CannotEnter,
    FollowRequired,
    GiveawayAlreadyDrawn,
    GiveawayClosed,
    GiveawayNotClosed,
    InvalidInput,
    LiveCommerceError,
    NotFound,
    RateLimited,
    ShippingAddressRequired,
    SoldOut,
    Unauthenticated,
)
from livecommerce.ids import new_id
from livecommerce.services.catalog import CatalogService
from livecommerce.services.checkout import PRODUCT_CACHE_MS, order_id_for
from livecommerce.services.deadlines import Deadlines
from livecommerce.services.moderation import ModerationService
from livecommerce.services.orders import ShopEvents
from livecommerce.services.payments import PaymentService
from livecommerce.services.ports import (
    AddressStore,
    Bus,
    Clock,
    GiveawayRecord,
    GiveawayStore,
    OrderStore,
    Product,
    RateLimiter,
)
from livecommerce.services.shows import ShowService, show_ref
from livecommerce.services.singleflight import SingleFlight
from livecommerce.services.stock import StockService
from livecommerce.services.throttle import Throttle

log = logging.getLogger(__name__)

#: Whether a user follows a seller: `is_following(user_id, seller_id)`.
FollowCheck = Callable[[str, str], Awaitable[bool]]
#: How long a winner's unit is held while their prize order is placed and paid (a sweep that
#: finds the draw unsettled places it again well within this).
PRIZE_HOLD_MS = 600_000
#: How long a node reuses a show's seller and hosts, a giveaway's record and a show's keyword
#: list, for entries (every entry asks).
CACHE_MS = 1_000
#: The most giveaways (and prize products) one node keeps in those caches.
CACHE_SIZE = 1_024


@dataclass(frozen=True, slots=True)
class GiveawayOptions:
    """The settings' part of the service."""

    #: Entries per person (every giveaway together), retries included.
    enter_rates: Sequence[Rate] = (Rate(5, 10.0),)
    #: Shortest gap between two `giveaway.updated` of one giveaway from one node.
    update_interval: float = 0.5


class GiveawayService:
    def __init__(
        self,
        store: GiveawayStore,
        *,
        orders: OrderStore,
        shows: ShowService,
        catalog: CatalogService,
        stock: StockService,
        payments: PaymentService,
        moderation: ModerationService,
        addresses: AddressStore,
        events: ShopEvents,
        bus: Bus,
        clock: Clock,
        limiter: RateLimiter,
        is_following: FollowCheck,
        options: GiveawayOptions,
    ) -> None:
        self._store = store
        self._orders = orders
        self._shows = shows
        self._catalog = catalog
        self._stock = stock
        self._payments = payments
        self._moderation = moderation
        self._addresses = addresses
        self._events = events
        self._bus = bus
        self._clock = clock
        self._limiter = limiter
        self._is_following = is_following
        self._options = options
        self._flights = SingleFlight()
        #: This node's timers for the closes, and work no answer waits for (a keyword's entry,
        #: a count); a failure is logged (the sweeper repairs a close).
        self._deadlines = Deadlines(clock, self.close, "giveaway background work")
        self._show_refs: dict[str, tuple[int, ShowRef]] = {}
        self._recents: dict[str, tuple[int, GiveawayRecord]] = {}
        self._shipping: dict[str, tuple[int, bool]] = {}
        #: Per show: until when (this node's clock) its keyword list holds, and the list.
        self._keywords: dict[str, tuple[int, list[tuple[str, re.Pattern[str]]]]] = {}
        #: Coalesced `giveaway.updated` (the count is read when it is sent).
        self._updates: Throttle[GiveawayRecord] = Throttle(
            options.update_interval, self._send_count, what="giveaway.updated"
        )

    # -- creating ------------------------------------------------------------------------------
    async def create(
        self,
        principal: Principal | None,
        show_id: str,
        *,
        product_id: str,
        variant_id: str | None,
        winners: int,
        entry: EntryMode,
        keyword: str | None,
        requires_follow: bool,
        closes_at_ms: int | None,
        duration_seconds: int | None,
    ) -> dict[str, Any]:
        """A giveaway open for entries from now to its close; its seed stays secret."""
        show = show_ref(await self._shows.get(show_id))
        authorize(principal, Action.PREPARE_OFFERS, show)
        now = self._clock.now_ms()
        if (closes_at_ms is None) == (duration_seconds is None):
            raise InvalidInput("give closes_at or duration_seconds (one of them)")
        closes_at = (
            closes_at_ms if closes_at_ms is not None else now + (duration_seconds or 0) * 1000
        )
        keyword = check_settings(
            winners=winners, entry=entry, keyword=keyword, duration_ms=closes_at - now
        )
        product = await self._catalog.get(product_id)
        if product.seller_id != show.seller_id or product.archived:
            raise InvalidInput("the prize must be one of the seller's products")
        variants = [v.id for v in product.variants]
        if variant_id is None and len(variants) == 1:
            variant_id = variants[0]
        if variant_id is None or variant_id not in variants:
            raise InvalidInput("choose one of the product's variants as the prize")
        available = (await self._stock.levels(product_id)).variants[variant_id].available
        if available < winners:
            raise SoldOut(f"only {available} units of the prize are available")
        seed = secrets.token_bytes(SEED_BYTES)
        record = GiveawayRecord(
            id=new_id("gvw"),
            show_id=show.id,
            seller_id=show.seller_id,
            product_id=product_id,
            variant_id=variant_id,
            winners_count=winners,
            entry=entry,
            keyword=keyword,
            requires_follow=requires_follow,
            seed=seed.hex(),
            salt=secrets.token_hex(16),
            commitment=commitment_of(seed),
            status=GiveawayStatus.OPEN,
            created_at_ms=now,
            closes_at_ms=closes_at,
        )
        await self._store.add_giveaway(record)
        self._keywords.pop(show.id, None)
        self._time(record)
        view = await self._view(record, 0)
        await self._bus.publish("giveaway.started", {"show_id": show.id, **view})
        return view

    # -- entering ------------------------------------------------------------------------------
    async def enter(
        self, principal: Principal | None, show_id: str, giveaway_id: str
    ) -> dict[str, Any]:
        """One entry per person (asking again answers the same entry)."""
        if principal is None:
            raise Unauthenticated("sign in to enter")
        if principal.is_guest:
            raise CannotEnter("guests cannot enter giveaways: sign up to enter")
        record = await self._recent(giveaway_id)
        if record.show_id != show_id:
            raise NotFound("no such giveaway in this show")
        if not await self._limiter.allow(
            f"giveaway:{principal.user_id}", self._options.enter_rates
        ):
            raise RateLimited("too many entries, try again in a moment")
        show = await self._show(show_id)
        if is_staff(principal, show):
            raise CannotEnter("the show's seller and hosts cannot enter its giveaways")
        if record.status is not GiveawayStatus.OPEN:
            mine = await self._store.entry_of(giveaway_id, principal.user_id)
            if mine is None:
                raise GiveawayClosed("this giveaway is closed")
            return self._entry(record, mine, principal.user_id)
        if (await self._moderation.standing(show_id, principal.user_id)).banned:
            raise Banned("you are banned from this show")
        if record.requires_follow and not await self._is_following(
            principal.user_id, record.seller_id
        ):
            raise FollowRequired("this giveaway is for the seller's followers")
        if await self._ships(record.product_id) and (
            await self._addresses.address_of(principal.user_id) is None
        ):
            raise ShippingAddressRequired("save a shipping address to enter: the prize ships")
        entry = Entry(new_id("ent"), entrant_of(record.salt, principal.user_id))
        mine = await self._store.enter(giveaway_id, entry, principal.user_id, self._clock.now_ms())
        if mine is None:
            raise GiveawayClosed("this giveaway is closed")
        if mine == entry.id:
            self._updates.changed_later(record.id, record)
        return self._entry(record, mine, principal.user_id)

    def _entry(self, record: GiveawayRecord, entry_id: str, user_id: str) -> dict[str, Any]:
        return {"entry": {"id": entry_id, "entrant": entrant_of(record.salt, user_id)}}

    def heard(self, principal: Principal | None, show: ShowRef, text: str) -> None:
        """A chat line went out: when it says the keyword of one of the show's open keyword
        giveaways, enter its author (in the background; refusals are silent). Costs one dict
        lookup per line, and one store read per show and second on this node."""
        if principal is None or principal.is_guest:
            return
        cached = self._keywords.get(show.id)
        if cached is not None and cached[0] > self._clock.now_ms():
            if cached[1]:
                self._match(principal, show, text, cached[1])
            return
        self._deadlines.spawn(self._hear_later(principal, show, text))

    async def _hear_later(self, principal: Principal, show: ShowRef, text: str) -> None:
        patterns = await self._flights.run(f"keywords:{show.id}", lambda: self._load(show.id))
        self._match(principal, show, text, patterns)

    async def _load(self, show_id: str) -> list[tuple[str, re.Pattern[str]]]:
        found = [(gid, keyword_pattern(kw)) for gid, kw in await self._store.keywords(show_id)]
        self._keywords[show_id] = (self._clock.now_ms() + CACHE_MS, found)
        return found

    def _match(
        self,
        principal: Principal,
        show: ShowRef,
        text: str,
        patterns: list[tuple[str, re.Pattern[str]]],
    ) -> None:
        for giveaway_id, pattern in patterns:
            if pattern.search(text):
                self._deadlines.spawn(self._enter_quietly(principal, show.id, giveaway_id))

    async def _enter_quietly(self, principal: Principal, show_id: str, giveaway_id: str) -> None:
        with contextlib.suppress(LiveCommerceError):
            await self.enter(principal, show_id, giveaway_id)

    async def _send_count(self, giveaway_id: str, record: GiveawayRecord) -> None:
        count = await self._store.count(giveaway_id)
        await self._bus.publish(
            "giveaway.updated",
            {"show_id": record.show_id, "giveaway_id": record.id, "entries": count},
        )

    # -- closing -------------------------------------------------------------------------------
    def _time(self, record: GiveawayRecord) -> None:
        self._deadlines.arm(record.id, record.closes_at_ms)

    async def close(self, giveaway_id: str) -> bool:
        """Close the giveaway if it is due: the entry list frozen, its hash stored and
        `giveaway.closed` announced. True for the one call (on any node) that closed it."""
        if not await self._store.close(giveaway_id, self._clock.now_ms()):
            return False
        record = await self._record(giveaway_id, fresh=True)
        self._keywords.pop(record.show_id, None)
        await self._bus.publish(
            "giveaway.closed",
            {
                "show_id": record.show_id,
                "giveaway_id": giveaway_id,
                "entries": await self._store.count(giveaway_id),
                "entries_hash": record.entries_hash,
            },
        )
        return True

    async def sweep(self) -> int:
        """Close due giveaways and place the prize orders of drawn ones any node left behind;
        how many this pass moved on."""
        moved = 0
        for giveaway_id in await self._store.unfinished(self._clock.now_ms()):
            record = await self._record(giveaway_id, fresh=True)
            if record.status is GiveawayStatus.OPEN:
                moved += await self.close(giveaway_id)
            elif await self._settle(record):
                moved += 1
        return moved

    async def aclose(self) -> None:
        """Stop this node's timers (on shutdown; any node's sweeper takes over)."""
        await self._deadlines.aclose()
        await self._updates.aclose()

    # -- drawing -------------------------------------------------------------------------------
    async def draw(
        self, principal: Principal | None, show_id: str, giveaway_id: str
    ) -> dict[str, Any]:
        """Reveal the seed and draw (the show's seller, its hosts or an admin), once."""
        show = show_ref(await self._shows.get(show_id))
        authorize(principal, Action.MANAGE_OFFERS, show)
        record = await self._record(giveaway_id, fresh=True)
        if record.show_id != show_id:
            raise NotFound("no such giveaway in this show")
        if record.status is GiveawayStatus.OPEN:
            await self.close(giveaway_id)  # due but not closed yet (here or by another node)
            record = await self._record(giveaway_id, fresh=True)
        if record.status is GiveawayStatus.OPEN:
            raise GiveawayNotClosed("the giveaway takes entries until it closes")
        if record.status is GiveawayStatus.DRAWN:
            raise GiveawayAlreadyDrawn("this giveaway was drawn already")
        entries = await self._store.entries(giveaway_id)
        winners = draw(
            bytes.fromhex(record.seed),
            giveaway_id,
            [entry.id for entry, _ in entries],
            record.winners_count,
        )
        users = {entry.id: user_id for entry, user_id in entries}
        now = self._clock.now_ms()
        won = giveaway_won_event(giveaway_id, show_id, [users[w] for w in winners], now)
        if not await self._store.mark_drawn(giveaway_id, winners, now, events=[won]):
            raise GiveawayAlreadyDrawn("this giveaway was drawn already")
        drawn = await self._record(giveaway_id, fresh=True)
        await self._bus.publish(
            "giveaway.drawn",
            {
                "show_id": show_id,
                "giveaway_id": giveaway_id,
                "winners": [await self._winner(users[w], w) for w in winners],
                "seed": drawn.seed,
            },
        )
        try:
            await self._settle(drawn)
        except LiveCommerceError as exc:  # drawn for good: the sweeper places the orders
            log.warning(
                "prize orders left to the sweeper: %s", exc, extra={"giveaway": giveaway_id}
            )
        return await self.record(giveaway_id)

    async def _winner(self, user_id: str, entry_id: str) -> dict[str, Any]:
        user = await self._events.views.user(user_id)
        return {"id": user_id, "name": user.name if user else "", "entry_id": entry_id}

    async def _settle(self, record: GiveawayRecord) -> bool:
        """Place every winner's prize order (idempotent), then mark the giveaway settled."""
        users = {entry.id: user_id for entry, user_id in await self._store.entries(record.id)}
        product = await self._catalog.get(record.product_id)
        for entry_id in record.winners:
            await self._prize(record, product, users[entry_id])
        return await self._store.settle(record.id)

    async def _prize(self, record: GiveawayRecord, product: Product, winner_id: str) -> None:
        """The winner's order of the prize at price 0, paid at once with the seller's promotion
        expense in the journal; the winner gets `order.updated`."""
        key = f"giveaway:{record.id}"
        order_id = order_id_for(winner_id, key)
        order = await self._orders.get_order(order_id)
        now = self._clock.now_ms()
        if order is None:
            try:
                await self._stock.reserve_prize(
                    record.product_id,
                    record.variant_id,
                    record.id,
                    order_id,
                    winner_id,
                    now + PRIZE_HOLD_MS,
                )
            except SoldOut:
                log.warning("a giveaway prize was out of stock", extra={"giveaway": record.id})
                return
            ship_to = None
            if product.requires_shipping:
                ship_to = await self._addresses.address_of(winner_id)
            order = await self._orders.add_order(
                place_order(
                    order_id=order_id,
                    buyer_id=winner_id,
                    seller_id=record.seller_id,
                    show_id=record.show_id,
                    offer_id=record.id,
                    product_id=record.product_id,
                    variant_id=record.variant_id,
                    quantity=1,
                    unit_price=Money(0, product.currency),
                    idempotency_key=key,
                    request_hash=request_fingerprint({"giveaway": record.id}),
                    now_ms=now,
                    ttl_ms=PRIZE_HOLD_MS,
                    shipping_address=ship_to,
                )
            )
        if order.status is not OrderStatus.RESERVED:
            return
        await self._give(order, product, now)

    async def _give(self, order: Order, product: Product, now: int) -> None:
        paid = transition(
            transition(order, OrderStatus.PENDING_PAYMENT, now), OrderStatus.PAID, now
        )
        paid = replace(paid, payment_provider="giveaway")
        variant = next(v for v in product.variants if v.id == order.variant_id)
        value = variant.price_minor if variant.price_minor is not None else product.price_minor
        journal = promotion_entry(
            order_id=order.id,
            seller_id=order.seller_id,
            value=value,
            currency=product.currency,
            idempotency_key=order.idempotency_key,
            at_ms=now,
        )
        movement = sale_movement(
            movement_id=new_id("mov"),
            order_id=order.id,
            product_id=order.product_id,
            variant_id=paid.variant_id or "",
            quantity=1,
            buyer_id=order.buyer_id,
            at_ms=now,
        )
        if await self._orders.save_order(paid, OrderStatus.RESERVED, journal, movements=[movement]):
            await self._payments.after_change(paid)

    # -- reading -------------------------------------------------------------------------------
    async def _record(self, giveaway_id: str, *, fresh: bool = False) -> GiveawayRecord:
        """The stored giveaway (static fields may come from a flight another caller started;
        the status is always re-read when `fresh`)."""
        if fresh:
            found = await self._store.giveaway(giveaway_id)
        else:
            found = await self._flights.run(
                f"giveaway:{giveaway_id}", lambda: self._store.giveaway(giveaway_id)
            )
        if found is None:
            raise NotFound("no such giveaway")
        return found

    async def _recent(self, giveaway_id: str) -> GiveawayRecord:
        """The giveaway as read at most `CACHE_MS` ago on this node: entries check its status
        again in the store, so a stale `open` only costs a store call."""
        now = self._clock.now_ms()
        cached = self._recents.get(giveaway_id)
        if cached is not None and cached[0] > now:
            return cached[1]
        record = await self._record(giveaway_id)
        if len(self._recents) >= CACHE_SIZE:
            self._recents.clear()
        self._recents[giveaway_id] = (now + CACHE_MS, record)
        return record

    async def _ships(self, product_id: str) -> bool:
        now = self._clock.now_ms()
        cached = self._shipping.get(product_id)
        if cached is not None and cached[0] > now:
            return cached[1]
        product = await self._flights.run(
            f"product:{product_id}", lambda: self._catalog.get(product_id)
        )
        if len(self._shipping) >= CACHE_SIZE:
            self._shipping.clear()
        self._shipping[product_id] = (now + PRODUCT_CACHE_MS, product.requires_shipping)
        return product.requires_shipping

    async def _show(self, show_id: str) -> ShowRef:
        now = self._clock.now_ms()
        cached = self._show_refs.get(show_id)
        if cached is not None and cached[0] > now:
            return cached[1]
        ref = show_ref(await self._flights.run(f"show:{show_id}", lambda: self._shows.get(show_id)))
        self._show_refs[show_id] = (now + CACHE_MS, ref)
        return ref

    async def _view(self, record: GiveawayRecord, entries: int) -> dict[str, Any]:
        """The public state (no secrets): what `giveaway.started` and the join ack carry."""
        product = await self._events.views.product(record.product_id)
        return {
            "id": record.id,
            "giveaway_id": record.id,
            "show_id": record.show_id,
            "prize": {
                "product_id": record.product_id,
                "variant_id": record.variant_id,
                "name": product.name if product else "",
                "image_url": product.image_url if product else "",
            },
            "winners": record.winners_count,
            "winners_count": record.winners_count,
            "entry": str(record.entry),
            "keyword": record.keyword,
            "requires_follow": record.requires_follow,
            "status": str(record.status),
            "created_at": record.created_at_ms,
            "closes_at": record.closes_at_ms,
            "commitment": record.commitment,
            "entries_hash": record.entries_hash,
            "entries": entries,
        }

    async def current(self, show_id: str) -> dict[str, Any] | None:
        """The show's newest giveaway's public state, with the winners once drawn (for the
        `show.join` ack)."""
        record = await self._store.latest(show_id)
        if record is None:
            return None
        view = await self._view(record, await self._store.count(record.id))
        if record.status is GiveawayStatus.DRAWN:
            full = await self.record(record.id)
            view["drawn"] = {"winners": full["winners"], "seed": full["seed"]}
        return view

    async def record(self, giveaway_id: str) -> dict[str, Any]:
        """The public, verifiable record: the seed only once drawn, the (pseudonymous) entries
        only once closed, the winners in pick order."""
        record = await self._record(giveaway_id, fresh=True)
        product = await self._events.views.product(record.product_id)
        entries = await self._store.entries(giveaway_id)
        frozen = record.status is not GiveawayStatus.OPEN
        drawn = record.status is GiveawayStatus.DRAWN
        users = {entry.id: (entry, user_id) for entry, user_id in entries}
        winners = []
        for entry_id in record.winners:
            entry, user_id = users[entry_id]
            user = await self._events.views.user(user_id)
            order = await self._orders.get_order(order_id_for(user_id, f"giveaway:{record.id}"))
            winners.append(
                {
                    "entry_id": entry_id,
                    "entrant": entry.entrant,
                    "id": user_id,
                    "name": user.name if user else "",
                    "order_id": order.id if order is not None else None,
                }
            )
        return {
            "id": record.id,
            "show_id": record.show_id,
            "prize": {
                "product_id": record.product_id,
                "variant_id": record.variant_id,
                "name": product.name if product else "",
            },
            "winners_count": record.winners_count,
            "entry": str(record.entry),
            "keyword": record.keyword,
            "requires_follow": record.requires_follow,
            "status": str(record.status),
            "created_at": record.created_at_ms,
            "closes_at": record.closes_at_ms,
            "closed_at": record.closed_at_ms,
            "drawn_at": record.drawn_at_ms,
            "commitment": record.commitment,
            "entries_hash": record.entries_hash,
            "entries_count": len(entries),
            "seed": record.seed if drawn else None,
            "entries": [entry.to_wire() for entry, _ in entries] if frozen else None,
            "winners": winners,
            "algorithm": ALGORITHM,
        }
