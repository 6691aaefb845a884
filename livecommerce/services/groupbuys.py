"""Group buys (docs/SOCIAL.md): create a group offer, announce its members, close it at the
deadline.

A member joins through the ordinary checkout (its payment held, not captured: services/checkout.py)
and leaves by cancelling; `PaymentService` tells this service of both (`member_changed`), and the
show gets `group.updated` with the new count, coalesced to at most one per
`shop.group_update_interval_seconds` per group and node (the count is read when it is sent, so
the latest always goes out).

The close: every node that starts a group offer or sees a member join keeps a timer for its
deadline, and any node's `group-closer` sweeper closes due groups a dead node left behind. The
close freezes the decision once (`GroupBuyStore.freeze`: the members counted then and the final
unit price, or none: void), expires checkouts still waiting for a card, then captures every
member at the final price or voids every hold, one member at a time through `PaymentService`
(each a provider call with a key derived from the order, then a compare-and-set from
`authorized`). A close killed half-way is finished by the next sweep by the same decision:
every member ends captured once at the final price or voided, never both.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

from livecommerce.domain.access import Principal
from livecommerce.domain.groupbuy import GroupStatus, final_price, group_view, validate_tiers
from livecommerce.domain.offers import Offer, OfferKind, OfferStatus, is_closed
from livecommerce.domain.orders import HOLDING, Order, OrderStatus
from livecommerce.errors import InvalidInput, LiveCommerceError
from livecommerce.services.catalog import CatalogService
from livecommerce.services.deadlines import Deadlines
from livecommerce.services.offers import OfferService
from livecommerce.services.payments import PaymentService
from livecommerce.services.ports import Bus, Clock, GroupBuyStore, GroupRecord, OrderStore
from livecommerce.services.singleflight import SingleFlight
from livecommerce.services.throttle import Throttle

log = logging.getLogger(__name__)

#: How long a node answers a group's state from memory (the `show.join` ack of every viewer of a
#: show reads it; a stampede of joins must not cost three SQL reads each). A join sees a count at
#: most this old; `group.updated` always reads afresh.
VIEW_CACHE_SECONDS = 0.5


@dataclass(frozen=True, slots=True)
class GroupOptions:
    #: Shortest gap between two `group.updated` of one group from one node.
    update_interval: float = 0.1


class GroupBuyService:
    def __init__(
        self,
        groups: GroupBuyStore,
        orders: OrderStore,
        *,
        offers: OfferService,
        catalog: CatalogService,
        payments: PaymentService,
        bus: Bus,
        clock: Clock,
        options: GroupOptions,
    ) -> None:
        self._groups = groups
        self._orders = orders
        self._offers = offers
        self._catalog = catalog
        self._payments = payments
        self._bus = bus
        self._clock = clock
        self._options = options
        #: This node's timers for the groups' deadlines, and its sends in the background.
        self._deadlines = Deadlines(clock, self.close, "closing a group buy")
        #: Coalesced `group.updated` (the count is read when it is sent).
        self._updates: Throttle[None] = Throttle(
            options.update_interval, self._publish, what="group.updated"
        )
        self._closing: dict[str, asyncio.Lock] = {}
        self._views: dict[str, tuple[float, dict[str, object] | None]] = {}
        self._flights = SingleFlight()
        payments.watch_members(self.member_changed)

    # -- creating ------------------------------------------------------------------------------
    async def create(
        self,
        principal: Principal | None,
        show_id: str,
        *,
        product_id: str,
        tiers: Sequence[object],
        variant_id: str | None = None,
        cap: int | None = None,
        per_buyer_limit: int | None = None,
        ends_at_ms: int | None = None,
        duration_ms: int | None = None,
    ) -> Offer:
        """A draft group offer priced at its first tier; its deadline is fixed when it starts
        (`duration_ms` from the start, or `ends_at_ms`). Tiers are checked against the product's
        price before anything is written."""
        product = await self._catalog.get(product_id)
        ladder = validate_tiers(tiers, product.price_minor)
        if variant_id is not None and variant_id not in {v.id for v in product.variants}:
            raise InvalidInput("unknown variant for this product")
        offer = await self._offers.create(
            principal,
            show_id,
            product_id=product_id,
            kind=OfferKind.GROUP,
            price_minor=ladder[0].price,
            cap=cap,
            per_buyer_limit=per_buyer_limit,
            ends_at_ms=ends_at_ms,
            duration_ms=duration_ms,
        )
        await self._groups.add_group(
            GroupRecord(
                offer_id=offer.id,
                show_id=show_id,
                variant_id=variant_id,
                tiers=ladder,
                currency=product.currency,
            )
        )
        return offer

    async def started(self, offer: Offer) -> None:
        """An offer was started: when it is a group buy, time its close here and announce it."""
        if offer.kind is not OfferKind.GROUP:
            return
        self._time(offer)
        await self._updates.changed(offer.id, None)

    # -- members -------------------------------------------------------------------------------
    async def member_changed(self, order: Order) -> None:
        """A member joined or left: announce the count (coalesced) and time the close."""
        offer = await self._orders.get_offer(order.offer_id)
        if offer is None or offer.kind is not OfferKind.GROUP:
            return
        if not self._deadlines.armed(order.offer_id) and not is_closed(offer, self._clock.now_ms()):
            self._time(offer)
        await self._updates.changed(order.offer_id, None)

    async def _publish(self, offer_id: str, _: None) -> None:
        view = await self._read_view(offer_id)
        if view is not None:
            await self._bus.publish("group.updated", view)

    async def view(self, offer_id: str) -> dict[str, object] | None:
        """The group's public state (None: the offer is not a group buy), from memory for
        `VIEW_CACHE_SECONDS`; concurrent readers on a node share one read."""
        cached = self._views.get(offer_id)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        return await self._flights.run(offer_id, lambda: self._read_view(offer_id))

    async def _read_view(self, offer_id: str) -> dict[str, object] | None:
        view = await self._compose(offer_id)
        self._views[offer_id] = (time.monotonic() + VIEW_CACHE_SECONDS, view)
        return view

    async def _compose(self, offer_id: str) -> dict[str, object] | None:
        record = await self._groups.group(offer_id)
        offer = await self._orders.get_offer(offer_id)
        if record is None or offer is None:
            return None
        if record.closed_at_ms is None:
            status, buyers, final = GroupStatus.OPEN, await self._groups.buyers(offer_id), None
        else:
            status = GroupStatus.VOID if record.final_price is None else GroupStatus.CAPTURED
            buyers, final = record.buyers or 0, record.final_price
        return group_view(
            show_id=record.show_id,
            offer_id=offer_id,
            tiers=record.tiers,
            buyers=buyers,
            currency=record.currency,
            ends_at_ms=offer.ends_at_ms if offer.status is not OfferStatus.DRAFT else None,
            status=status,
            final=final,
        )

    # -- closing -------------------------------------------------------------------------------
    def _time(self, offer: Offer) -> None:
        """(Re)arm this node's timer for the group's deadline."""
        if offer.ends_at_ms is not None:
            self._deadlines.arm(offer.id, offer.ends_at_ms)

    async def close(self, offer_id: str) -> bool:
        """Close the group if its deadline passed (or its offer was ended) and settle its
        members; True when this call marked it settled. Safe on every node at once and again
        after a crash half-way (one close at a time per group on a node)."""
        lock = self._closing.setdefault(offer_id, asyncio.Lock())
        async with lock:
            return await self._close(offer_id)

    async def _close(self, offer_id: str) -> bool:
        offer = await self._orders.get_offer(offer_id)
        record = await self._groups.group(offer_id)
        now = self._clock.now_ms()
        if offer is None or record is None or not is_closed(offer, now):
            return False
        if record.closed_at_ms is None:
            buyers = await self._groups.buyers(offer_id)
            record = await self._groups.freeze(
                offer_id, buyers, final_price(record.tiers, buyers), now
            )
        # checkouts still at the card form when the window closed do not join any more
        for order in await self._orders.offer_orders(offer_id, list(HOLDING)):
            await self._payments.expire(order)
        for order in await self._orders.offer_orders(offer_id, [OrderStatus.AUTHORIZED]):
            if record.final_price is None:
                await self._payments.void(order)
            else:
                await self._payments.capture(order, record.final_price)
        left = await self._orders.offer_orders(offer_id, [*HOLDING, OrderStatus.AUTHORIZED])
        if left or not await self._groups.mark_settled(offer_id, self._clock.now_ms()):
            return False
        await self._updates.changed(offer_id, None)
        await self._updates.flush(offer_id)  # the final state goes out now, not throttled
        return True

    async def sweep(self) -> int:
        """Close the due groups any node left behind; how many this pass settled."""
        settled = 0
        for offer_id in await self._groups.due(self._clock.now_ms()):
            try:
                if await self.close(offer_id):
                    settled += 1
            except LiveCommerceError as exc:
                log.warning("a group buy could not close: %s", exc, extra={"offer": offer_id})
        return settled

    async def aclose(self) -> None:
        """Stop this node's timers (on shutdown; the sweeper of any node takes over)."""
        await self._deadlines.aclose()
        await self._updates.aclose()
