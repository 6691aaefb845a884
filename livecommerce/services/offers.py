"""Offers in a show: create (fixed or flash), start, pin, unpin and end; closing a show's offers
when it ends; and the offer as checkout must see it.

Only the show's staff (seller, hosts, admins) manage offers; the product must belong to the show's
seller. An offer sells from its product's variant stock, shared with every other offer of the
product; its optional `cap` limits how many units it may sell in total. Creating or starting an
offer makes sure the product's pool (with the cap) is in the inventory store; a flash sale's window
is set when it starts (its duration runs from *Start*, not from creation). Pin, unpin, start and end
are announced on the Bus (`offer.pinned`, `offer.unpinned`, `offer.updated`) for the hub to relay to
the show room, and recorded in the show's timeline at the show's on-air time, which is the replay's
playhead.

Status changes are compare-and-set on the status read, so a start racing an end (or a show's
end) can never bring an ended offer back. Checkout reads offers through `for_checkout`, a short
per-node cache that this service empties itself whenever it starts or ends an offer here; other
nodes see an end within `OFFER_CACHE_MS`.
"""

from __future__ import annotations

from collections.abc import Callable

from livecommerce.domain.access import Action, Principal, authorize
from livecommerce.domain.money import Money
from livecommerce.domain.offers import (
    Offer,
    OfferKind,
    OfferStatus,
    end_offer,
    make_offer,
    start_offer,
)
from livecommerce.domain.orders import HOLDING
from livecommerce.domain.shows import ShowStatus, moment_media_ts
from livecommerce.errors import Conflict, InvalidInput, NotFound, OfferClosed, ProductArchived
from livecommerce.ids import new_id
from livecommerce.services.catalog import CatalogService
from livecommerce.services.orders import ShopEvents
from livecommerce.services.payments import PaymentService
from livecommerce.services.ports import Clock, OrderStore, Show
from livecommerce.services.shows import ShowService, show_ref
from livecommerce.services.singleflight import SingleFlight
from livecommerce.services.stock import StockService

#: How long a live offer is served to checkout from memory: a stampede reads it per attempt.
#: Starting or ending an offer on this node empties its entry at once; other nodes see an end
#: within this time.
OFFER_CACHE_MS = 1_000


class OfferService:
    def __init__(
        self,
        store: OrderStore,
        stock: StockService,
        catalog: CatalogService,
        shows: ShowService,
        events: ShopEvents,
        clock: Clock,
        payments: PaymentService,
    ) -> None:
        self._store = store
        self._stock = stock
        self._catalog = catalog
        self._shows = shows
        self._events = events
        self._clock = clock
        self._payments = payments
        self._cache: dict[str, tuple[int, Offer]] = {}
        self._flights = SingleFlight()

    async def _staff(
        self, principal: Principal | None, show_id: str, action: Action = Action.MANAGE_OFFERS
    ) -> Show:
        show = await self._shows.get(show_id)
        authorize(principal, action, show_ref(show))
        return show

    @staticmethod
    def _refuse_ended(show: Show) -> None:
        if show.status is ShowStatus.ENDED:
            raise OfferClosed("this show has ended; its offers are closed")

    def _moment(self, show: Show, media_ts: float | None) -> tuple[int, float | None]:
        """Stamp the moment: wall time, and the show's media time (the studio player's position
        when it sends one, else the show's on-air time, pauses excluded, as the replay counts)."""
        now = self._clock.now_ms()
        return now, moment_media_ts(show.times, now, media_ts)

    async def _record(self, offer: Offer, kind: str, now: int, media_ts: float | None) -> None:
        media_ms = None if media_ts is None else round(media_ts * 1000)
        await self._store.add_timeline(offer.show_id, offer.id, kind, now, media_ms)

    async def get(self, show_id: str, offer_id: str) -> Offer:
        offer = await self._store.get_offer(offer_id)
        if offer is None or offer.show_id != show_id:
            raise NotFound("no such offer in this show")
        return offer

    async def _change(
        self, show_id: str, offer_id: str, step: Callable[[Offer], Offer]
    ) -> tuple[Offer, bool]:
        """Apply a status step as a compare-and-set, re-reading on a lost race; returns the
        offer and whether this call changed it (a repeated start or end changes nothing)."""
        for _ in range(5):
            offer = await self.get(show_id, offer_id)
            new = step(offer)
            if new == offer:
                return offer, False
            if await self._store.save_offer(new, offer.status):
                self._cache.pop(offer_id, None)
                return new, True
        raise Conflict("the offer changed too often; try again")

    async def create(
        self,
        principal: Principal | None,
        show_id: str,
        *,
        product_id: str,
        kind: OfferKind,
        price_minor: int | None = None,
        cap: int | None = None,
        per_buyer_limit: int | None = None,
        starts_at_ms: int | None = None,
        ends_at_ms: int | None = None,
        duration_ms: int | None = None,
    ) -> Offer:
        """A draft offer; price defaults to the product's (a flash sale too). Without a `cap` it
        may sell every unit its variants have. A flash sale needs a duration (or, from older
        clients, an `ends_at`). Only the seller (or an admin) prepares offers."""
        show = await self._staff(principal, show_id, Action.PREPARE_OFFERS)
        self._refuse_ended(show)
        product = await self._catalog.get(product_id)
        if product.seller_id != show.seller_id:
            raise InvalidInput("the product does not belong to this show's seller")
        if product.archived:
            raise ProductArchived("this product is archived; unarchive it to offer it")
        offer = make_offer(
            offer_id=new_id("ofr"),
            show_id=show_id,
            seller_id=show.seller_id,
            product_id=product.id,
            kind=kind,
            price=Money(
                product.price_minor if price_minor is None else price_minor, product.currency
            ),
            cap=cap,
            per_buyer_limit=per_buyer_limit,
            starts_at_ms=starts_at_ms,
            ends_at_ms=ends_at_ms,
            duration_ms=duration_ms,
            now_ms=self._clock.now_ms(),
        )
        await self._store.add_offer(offer)
        await self._stock.open_offer(offer)
        return offer

    async def start(
        self,
        principal: Principal | None,
        show_id: str,
        offer_id: str,
        media_ts: float | None = None,
        duration_ms: int | None = None,
    ) -> Offer:
        """Open the offer for checkout: its window starts now (or at an explicit start still
        ahead, counting down) and runs for its duration; `duration_ms` sets a new one. Starting
        a live offer again changes nothing. A host starts offers as prepared; a new length is
        the seller's decision."""
        show = await self._staff(
            principal,
            show_id,
            Action.MANAGE_OFFERS if duration_ms is None else Action.PREPARE_OFFERS,
        )
        self._refuse_ended(show)
        now, media_ts = self._moment(show, media_ts)
        offer, changed = await self._change(
            show_id, offer_id, lambda o: start_offer(o, now, duration_ms)
        )
        if not changed:
            return offer
        await self._stock.open_offer(offer)
        await self._record(offer, "started", now, media_ts)
        await self._events.offer_updated(offer, media_ts)
        return offer

    async def pin(
        self,
        principal: Principal | None,
        show_id: str,
        offer_id: str,
        media_ts: float | None = None,
    ) -> Offer:
        """Put the offer on screen for everyone in the show (it replaces the one there)."""
        show = await self._staff(principal, show_id)
        self._refuse_ended(show)
        now, media_ts = self._moment(show, media_ts)
        if (await self.get(show_id, offer_id)).status is OfferStatus.ENDED:
            raise OfferClosed("this offer has ended")
        await self._store.pin_offer(show_id, offer_id, now)
        offer = await self.get(show_id, offer_id)
        await self._record(offer, "pinned", now, media_ts)
        await self._events.offer_pinned(offer, media_ts)
        return offer

    async def unpin(
        self,
        principal: Principal | None,
        show_id: str,
        offer_id: str,
        media_ts: float | None = None,
    ) -> Offer:
        """Take the offer off screen (nothing is on screen until the next pin). Unpinning an
        offer that is not on screen changes nothing."""
        show = await self._staff(principal, show_id)
        now, media_ts = self._moment(show, media_ts)
        await self.get(show_id, offer_id)
        if not await self._store.unpin_offer(offer_id, now):
            return await self.get(show_id, offer_id)
        offer = await self.get(show_id, offer_id)
        await self._record(offer, "unpinned", now, media_ts)
        await self._events.offer_unpinned(offer, media_ts)
        return offer

    async def end(
        self,
        principal: Principal | None,
        show_id: str,
        offer_id: str,
        media_ts: float | None = None,
    ) -> Offer:
        """Close the offer for good: checkout refuses it with `offer_closed` at once on this
        node. Buyers already holding units keep them until their reservation deadline, so a
        buyer at the card form when the seller ends the sale can still pay."""
        show = await self._staff(principal, show_id)
        now, media_ts = self._moment(show, media_ts)
        offer, changed = await self._change(show_id, offer_id, end_offer)
        if changed:
            await self._record(offer, "ended", now, media_ts)
            await self._events.offer_updated(offer, media_ts)
        return offer

    async def close_show(self, show_id: str) -> list[Offer]:
        """The show ended: end every offer still open (recorded and announced as a seller's end
        would be) and release every unit still held in them. Held orders go the way expired
        ones go (`PaymentService.expire`: payment cancelled at the provider first, so a payment
        that already went through is kept and a later one is refused as after any expiry).

        Idempotent: a second run (after a crash half-way) ends what is left and releases what
        is still held. Returns the offers this call ended."""
        show = await self._shows.get(show_id)
        now, media_ts = self._moment(show, None)
        closed: list[Offer] = []
        for offer in await self._store.list_offers(show_id):
            ended, changed = await self._change(show_id, offer.id, end_offer)
            if changed:
                await self._record(ended, "ended", now, media_ts)
                await self._events.offer_updated(ended, media_ts)
                closed.append(ended)
            for order in await self._store.offer_orders(offer.id, list(HOLDING)):
                await self._payments.expire(order)
        return closed

    async def for_checkout(self, show_id: str, offer_id: str) -> Offer:
        """The offer as checkout must treat it, from a short cache while it is live.

        An offer of an ended show counts as ended even before `close_show` has stored that (the
        show's end and its offers' are two writes; a crash may fall between). Offers that are not
        live are never cached, so a start takes effect at once; an end on this node empties the
        entry (see `_change`).
        """
        now = self._clock.now_ms()
        cached = self._cache.get(offer_id)
        if cached is not None and cached[0] > now:
            offer = cached[1]
        else:
            offer = await self._flights.run(offer_id, lambda: self._as_sold(offer_id))
            if offer.status is OfferStatus.LIVE:
                self._cache[offer_id] = (now + OFFER_CACHE_MS, offer)
            else:
                self._cache.pop(offer_id, None)
        if offer.show_id != show_id:
            raise NotFound("no such offer in this show")
        return offer

    async def _as_sold(self, offer_id: str) -> Offer:
        offer = await self._store.get_offer(offer_id)
        if offer is None:
            raise NotFound("no such offer in this show")
        if offer.status is not OfferStatus.ENDED:
            show = await self._shows.get(offer.show_id)
            if show.status is ShowStatus.ENDED:
                return end_offer(offer)
        return offer

    async def timeline(self, show_id: str) -> list[dict[str, object]]:
        """Pins, unpins and offer starts/ends with their media timestamps (for replays)."""
        await self._shows.get(show_id)
        return await self._store.timeline(show_id)

    async def list(self, show_id: str) -> list[Offer]:
        return await self._store.list_offers(show_id)

    async def view(self, offer: Offer) -> dict[str, object]:
        """The public shape with live stock left."""
        return await self._events.offer_view(offer)
