"""Stock: one inventory per variant, shared by every offer that sells it.

The durable truth is SQL: a variant's on-hand stock is the sum of its movements (`StockLedger`).
The inventory store (memory or Redis) keeps each product's *pool* — on-hand and held units per
variant, and the caps of its offers — so a checkout can hold units atomically, whichever offer
and show it comes through. This service keeps the two in step:

- A pool is loaded from SQL when the store lacks it (start-up, a Redis that lost its data, a
  product offered for the first time): on-hand from movements, caps from offers, held and sold
  units from orders. Orders are read before on-hand, so a payment landing in between counts
  twice (stock looks one sale lower until the pool is loaded again), never zero times.
- Changes run in the order that can never oversell: stock that goes up (a restock, a refund)
  is recorded in SQL first and reaches the pool after; stock that goes down is taken from the
  pool first (atomically checked against held units) and given back if SQL refuses it. A crash
  in between leaves the pool short, never long. Sales are recorded with the order's move to
  paid (`PaymentService`), then committed in the pool.

Authorization is the callers' (catalog administration, payments); nothing here checks who asks.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

from livecommerce.domain import inventory as rules
from livecommerce.domain.inventory import (
    MovementReason,
    PoolLevels,
    Reservation,
    ReservationStatus,
    StockLine,
    StockMovement,
    VariantStock,
)
from livecommerce.domain.offers import Offer, OfferStatus
from livecommerce.domain.orders import SOLD, UNSETTLED
from livecommerce.errors import InvalidInput, NotFound, SoldOut, StoreUnavailable
from livecommerce.ids import new_id
from livecommerce.services.ports import (
    CatalogStore,
    Clock,
    InventoryStore,
    OrderFilter,
    OrderStore,
    Product,
    ReserveResult,
    StockLedger,
)

log = logging.getLogger(__name__)

NOTE_MAX = 500
#: The most orders still holding stock that a start-up rebuild looks at.
REBUILD_HOLDING_MAX = 10_000


def _line(offer: Offer, variant_id: str | None) -> StockLine:
    """What a checkout through `offer` holds from (a product without variants has no stock)."""
    if variant_id is None:
        raise SoldOut("this product has no stock")
    return StockLine(
        offer.product_id, variant_id, offer.id, offer.cap is not None, offer.per_buyer_limit
    )


@dataclass(frozen=True, slots=True)
class OfferStock:
    """What an offer can still sell: in all, and per variant as `(id, label, units left)`."""

    left: int
    variants: tuple[tuple[str, str, int], ...]


class StockService:
    """Pools, reservations through offers, views of what is left, and stock movements."""

    def __init__(
        self,
        orders: OrderStore,
        ledger: StockLedger,
        catalog: CatalogStore,
        inventory: InventoryStore,
        clock: Clock,
    ) -> None:
        self._orders = orders
        self._ledger = ledger
        self._catalog = catalog
        self._inventory = inventory
        self._clock = clock
        #: The inventory store's instance when its pools were last (re)built from SQL.
        self._instance: str | None = None

    # -- pools -----------------------------------------------------------------------------------
    async def load(self, product_id: str, *, reload: bool = False) -> bool:
        """Bring the product's pool into the inventory store from SQL. A pool already there only
        gains the variants and caps it lacks (its counts are live, SQL's may be a moment
        behind), unless `reload`: then SQL's counts replace it, keeping the holds it has that
        SQL lacks (`InventoryStore.restore(keep_held=True)`). True when anything was written."""
        offers = await self._orders.list_offers(product_id=product_id)
        caps = {o.id: o.cap for o in offers if o.cap is not None}
        reservations: list[Reservation] = []
        for offer in offers:
            listed = await self._orders.offer_orders(offer.id, [*UNSETTLED, *SOLD])
            orders = {o.id: o for o in listed}
            paid = {o.id: o for o in await self._orders.paid_orders(offer.id)}
            for order in {**orders, **paid}.values():
                if order.variant_id is None:
                    log.warning(
                        "an order without a variant holds no stock", extra={"order": order.id}
                    )
                    continue
                held = order.status in UNSETTLED and order.id not in paid
                reservations.append(
                    Reservation(
                        order.id,
                        product_id,
                        order.buyer_id,
                        order.quantity,
                        order.expires_at_ms,
                        order.variant_id,
                        order.offer_id,
                        status=ReservationStatus.HELD if held else ReservationStatus.COMMITTED,
                    )
                )
        on_hand = await self._ledger.on_hand(product_id)
        state = rules.rebuild(on_hand, caps, reservations)
        return await self._inventory.restore(product_id, state, replace=reload, keep_held=reload)

    async def rebuild(self) -> int:
        """Load the pool of every product with an open offer or an order still holding stock
        that the store lacks: on start-up the in-process store is empty, and a Redis that lost
        its data lacks pools (pools it has are left as they are; one missing a variant or a cap
        gains it when a checkout or an offer needs it). Returns how many pools were loaded."""
        self._instance = await self._inventory.instance()
        loaded = 0
        for product_id in await self._live_products():
            try:
                await self._inventory.levels(product_id)
            except NotFound:
                loaded += await self.load(product_id)
        return loaded

    async def resync(self) -> int:
        """Reload every live pool from SQL if the inventory store restarted since the last look
        (the sweeper calls this). A Redis killed and restarted from its AOF has its pools, so
        `rebuild` would leave them, but they miss what happened while it was down (payments
        that could not commit their hold, expiries that could not release) and, under
        `appendfsync everysec` after a machine crash, up to a second of writes. Returns how many
        pools were reloaded; 0 while the store is still unreachable."""
        try:
            instance = await self._inventory.instance()
        except StoreUnavailable:
            return 0
        if instance == self._instance:
            return 0
        reloaded = 0
        for product_id in await self._live_products():
            reloaded += await self.load(product_id, reload=True)
        self._instance = instance  # only once every pool is reloaded: a failure retries all
        log.warning("inventory store restarted: pools reloaded", extra={"pools": reloaded})
        return reloaded

    async def _live_products(self) -> list[str]:
        """Products with an open offer or an order still holding stock."""
        offers = await self._orders.list_offers()
        products = {o.product_id for o in offers if o.status is not OfferStatus.ENDED}
        holding = await self._orders.list_orders(
            OrderFilter(statuses=tuple(UNSETTLED), limit=REBUILD_HOLDING_MAX)
        )
        products |= {o.product_id for o in holding}
        return sorted(products)

    async def open_offer(self, offer: Offer) -> PoolLevels:
        """Make sure the offer's pool, with its cap, is in the store (an offer was created or
        started, or is being shown); cheap when it is. The pool's counts afterwards."""
        try:
            levels = await self._inventory.levels(offer.product_id)
        except NotFound:
            await self.load(offer.product_id)
            return await self._inventory.levels(offer.product_id)
        if offer.cap is not None and offer.id not in levels.caps:
            # the pool was loaded before this offer existed (a reservation through it would
            # have loaded its cap), so it has sold nothing yet
            cap_only = rules.rebuild({}, {offer.id: offer.cap}, [])
            await self._inventory.restore(offer.product_id, cap_only)
            levels = await self._inventory.levels(offer.product_id)
        return levels

    async def levels(self, product_id: str) -> PoolLevels:
        """The pool's live counts, loading it first when the store lacks it."""
        try:
            return await self._inventory.levels(product_id)
        except NotFound:
            await self.load(product_id)
            return await self._inventory.levels(product_id)

    # -- checkout --------------------------------------------------------------------------------
    async def reserve(
        self,
        offer: Offer,
        variant_id: str | None,
        reservation_id: str,
        buyer_id: str,
        quantity: int,
        expires_at_ms: int,
    ) -> ReserveResult:
        """Hold units of the variant through the offer: the variant's stock (shared with every
        other offer of it) and the offer's cap are checked and taken in one atomic step."""
        line = _line(offer, variant_id)
        try:
            return await self._inventory.reserve(
                line, reservation_id, buyer_id, quantity, expires_at_ms
            )
        except NotFound:
            # the pool (or this variant or cap) is not in the store: load it from SQL, retry
            await self.load(offer.product_id)
            return await self._inventory.reserve(
                line, reservation_id, buyer_id, quantity, expires_at_ms
            )

    async def reserve_prize(
        self,
        product_id: str,
        variant_id: str,
        giveaway_id: str,
        reservation_id: str,
        winner_id: str,
        expires_at_ms: int,
    ) -> ReserveResult:
        """Hold one unit of the variant for a giveaway's winner: the variant's stock only (a
        giveaway is no offer, so it has no cap), taken atomically like a checkout's."""
        line = StockLine(product_id, variant_id, giveaway_id)
        try:
            return await self._inventory.reserve(line, reservation_id, winner_id, 1, expires_at_ms)
        except NotFound:
            await self.load(product_id)
            return await self._inventory.reserve(line, reservation_id, winner_id, 1, expires_at_ms)

    async def peek(
        self,
        offer: Offer,
        variant_id: str | None,
        reservation_id: str,
        buyer_id: str,
        quantity: int,
    ) -> ReserveResult | None:
        """What `reserve` would do now, holding nothing (`InventoryStore.peek`): the reservation
        held under this id already, a raised SoldOut / LimitReached, or None when it would
        hold."""
        line = _line(offer, variant_id)
        try:
            return await self._inventory.peek(line, reservation_id, buyer_id, quantity)
        except NotFound:
            await self.load(offer.product_id)
            return await self._inventory.peek(line, reservation_id, buyer_id, quantity)

    # -- views -----------------------------------------------------------------------------------
    async def with_availability(self, product: Product) -> Product:
        """The product with each variant's `stock` as buyers can get it now (on hand minus held)
        and `held`. A pool the store does not have holds nothing, so on hand is available."""
        try:
            levels = await self._inventory.levels(product.id)
        except NotFound:
            return product
        variants = []
        for v in product.variants:
            level = levels.variants.get(v.id)
            if level is not None:
                v = replace(v, stock=max(0, level.available), held=level.reserved)
            variants.append(v)
        return replace(product, variants=tuple(variants))

    async def offer_stock(self, offer: Offer) -> OfferStock:
        """What the offer can still sell: the smaller of its cap left and its variants' available
        units, in all and per variant."""
        product = await self._catalog.get_product(offer.product_id)
        levels = await self.open_offer(offer)
        cap = levels.caps.get(offer.id)
        per_variant: list[tuple[str, str, int]] = []
        free = 0
        for v in product.variants if product is not None else ():
            level = levels.variants.get(v.id, VariantStock(0))
            free += max(0, level.available)
            per_variant.append((v.id, v.label, rules.units_left(level, cap)))
        left = free if cap is None else min(free, max(0, cap.available))
        return OfferStock(left, tuple(per_variant))

    # -- movements -------------------------------------------------------------------------------
    async def adjust(
        self,
        actor_id: str,
        product_id: str,
        variant_id: str,
        delta: int,
        *,
        note: str = "",
        reason: MovementReason = MovementReason.ADJUSTMENT,
    ) -> tuple[StockMovement, VariantStock]:
        """Record a manual change (or an import's) of a variant's on-hand stock; the variant's
        counts afterwards. Taking away units that checkouts hold is refused (StockHeld)."""
        delta = rules.check_delta(delta)
        note = note.strip()
        if len(note) > NOTE_MAX:
            raise InvalidInput(f"note must be at most {NOTE_MAX} characters")
        movement_id = new_id("mov")
        movement = StockMovement(
            movement_id,
            product_id,
            variant_id,
            delta,
            reason,
            f"{reason}:{movement_id}",
            self._clock.now_ms(),
            actor_id=actor_id,
            note=note,
        )
        if delta > 0:
            current = (await self.levels(product_id)).variants.get(variant_id, VariantStock(0))
            if current.on_hand + delta > rules.MAX_UNITS:
                raise InvalidInput(f"a variant holds at most {rules.MAX_UNITS} units")
            await self._ledger.add_movement(movement)
            return movement, await self.put_back(product_id, variant_id, delta)
        level = await self._take(product_id, variant_id, delta)
        try:
            await self._ledger.add_movement(movement)
        except BaseException:
            await self._inventory.adjust(product_id, variant_id, -delta)
            raise
        return movement, level

    async def movements(self, variant_id: str, limit: int = 100) -> list[StockMovement]:
        """A variant's movements, newest first."""
        return await self._ledger.movements(variant_id, limit)

    async def _take(self, product_id: str, variant_id: str, delta: int) -> VariantStock:
        """Take units from the pool first (checked against held units atomically)."""
        try:
            return await self._inventory.adjust(product_id, variant_id, delta)
        except NotFound:
            await self.load(product_id)
            return await self._inventory.adjust(product_id, variant_id, delta)

    async def put_back(self, product_id: str, variant_id: str, delta: int) -> VariantStock:
        """Add units SQL already has (a positive adjustment, a refund restock) to the pool. A
        pool the store lacks is loaded from SQL instead, which already counts them."""
        try:
            return await self._inventory.adjust(product_id, variant_id, delta)
        except NotFound:
            await self.load(product_id)
            levels = await self._inventory.levels(product_id)
            return levels.variants.get(variant_id, VariantStock(0))
