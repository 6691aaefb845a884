"""Offers in a show: create (fixed or flash), start, pin and end; the stock pool follows.

Only the show's staff (seller, hosts, admins) manage offers; the product must belong to the
show's seller. Creating an offer sizes its inventory pool; pin and start are announced on the
Bus as `offer.pinned` / `offer.updated` for the hub to relay to the show room.
"""

from __future__ import annotations

from dataclasses import replace

from livecommerce.domain.access import Action, Principal, ShowRef, authorize
from livecommerce.domain.money import Money
from livecommerce.domain.offers import (
    Offer,
    OfferKind,
    OfferStatus,
    end_offer,
    make_offer,
    start_offer,
)
from livecommerce.errors import InvalidInput, NotFound
from livecommerce.ids import new_id
from livecommerce.services.catalog import CatalogService
from livecommerce.services.orders import ShopEvents
from livecommerce.services.ports import Clock, InventoryStore, OrderStore
from livecommerce.services.shows import ShowService, show_ref


class OfferService:
    def __init__(
        self,
        store: OrderStore,
        inventory: InventoryStore,
        catalog: CatalogService,
        shows: ShowService,
        events: ShopEvents,
        clock: Clock,
    ) -> None:
        self._store = store
        self._inventory = inventory
        self._catalog = catalog
        self._shows = shows
        self._events = events
        self._clock = clock

    async def _staff(self, principal: Principal | None, show_id: str) -> ShowRef:
        show = await self._shows.show_ref(show_id)
        authorize(principal, Action.MANAGE_OFFERS, show)
        return show

    async def _moment(
        self, principal: Principal | None, show_id: str, media_ts: float | None
    ) -> tuple[int, float | None]:
        """Authorize staff and stamp the moment: wall time, and the show's media time (the
        studio's player position when it sends one, else seconds since the show went live)."""
        show = await self._shows.get(show_id)
        authorize(principal, Action.MANAGE_OFFERS, show_ref(show))
        now = self._clock.now_ms()
        if media_ts is not None and media_ts < 0:
            raise InvalidInput("media_ts must not be negative")
        if media_ts is None and show.started_at is not None:
            media_ts = max(0, now - show.started_at) / 1000
        return now, media_ts

    async def _record(self, offer: Offer, kind: str, now: int, media_ts: float | None) -> None:
        media_ms = None if media_ts is None else round(media_ts * 1000)
        await self._store.add_timeline(offer.show_id, offer.id, kind, now, media_ms)

    async def get(self, show_id: str, offer_id: str) -> Offer:
        offer = await self._store.get_offer(offer_id)
        if offer is None or offer.show_id != show_id:
            raise NotFound("no such offer in this show")
        return offer

    async def create(
        self,
        principal: Principal | None,
        show_id: str,
        *,
        product_id: str,
        kind: OfferKind,
        price_minor: int | None = None,
        stock: int | None = None,
        per_buyer_limit: int | None = None,
        starts_at_ms: int | None = None,
        ends_at_ms: int | None = None,
    ) -> Offer:
        """A draft offer; price defaults to the product's, stock to the product's total."""
        show = await self._staff(principal, show_id)
        product = await self._catalog.get(product_id)
        if product.seller_id != show.seller_id:
            raise InvalidInput("the product does not belong to this show's seller")
        if kind is OfferKind.FLASH and price_minor is None:
            raise InvalidInput("a flash sale needs a sale price")
        units = stock if stock is not None else sum(v.stock for v in product.variants)
        offer = make_offer(
            offer_id=new_id("ofr"),
            show_id=show_id,
            seller_id=show.seller_id,
            product_id=product.id,
            kind=kind,
            price=Money(
                product.price_minor if price_minor is None else price_minor, product.currency
            ),
            stock=units,
            per_buyer_limit=per_buyer_limit,
            starts_at_ms=starts_at_ms,
            ends_at_ms=ends_at_ms,
            now_ms=self._clock.now_ms(),
        )
        await self._store.add_offer(offer)
        await self._inventory.ensure_pool(offer.pool, offer.stock)
        return offer

    async def start(
        self,
        principal: Principal | None,
        show_id: str,
        offer_id: str,
        media_ts: float | None = None,
    ) -> Offer:
        """Open the offer for checkout (a flash sale counts down to its start)."""
        now, media_ts = await self._moment(principal, show_id, media_ts)
        offer = start_offer(await self.get(show_id, offer_id), now)
        await self._store.save_offer(offer)
        await self._inventory.ensure_pool(offer.pool, offer.stock)
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
        """Put the offer on screen for everyone in the show."""
        now, media_ts = await self._moment(principal, show_id, media_ts)
        offer = replace(await self.get(show_id, offer_id), pinned_at_ms=now)
        await self._store.save_offer(offer, pinned_at_ms=now)
        await self._record(offer, "pinned", now, media_ts)
        await self._events.offer_pinned(offer, media_ts)
        return offer

    async def end(
        self,
        principal: Principal | None,
        show_id: str,
        offer_id: str,
        media_ts: float | None = None,
    ) -> Offer:
        now, media_ts = await self._moment(principal, show_id, media_ts)
        offer = end_offer(await self.get(show_id, offer_id))
        await self._store.save_offer(offer)
        await self._record(offer, "ended", now, media_ts)
        await self._events.offer_updated(offer, media_ts)
        return offer

    async def close_show(self, show_id: str) -> list[Offer]:
        """The show ended: end every offer still open, as its seller would (announced)."""
        now = self._clock.now_ms()
        closed: list[Offer] = []
        for offer in await self._store.list_offers(show_id):
            if offer.status is OfferStatus.ENDED:
                continue
            ended = end_offer(offer)
            await self._store.save_offer(ended)
            await self._record(ended, "ended", now, None)
            await self._events.offer_updated(ended)
            closed.append(ended)
        return closed

    async def timeline(self, show_id: str) -> list[dict[str, object]]:
        """Pins and offer starts/ends with their media timestamps (for replays)."""
        await self._shows.get(show_id)
        return await self._store.timeline(show_id)

    async def list(self, show_id: str) -> list[Offer]:
        return await self._store.list_offers(show_id)

    async def view(self, offer: Offer) -> dict[str, object]:
        """The public shape with live stock left."""
        return await self._events.offer_view(offer)
