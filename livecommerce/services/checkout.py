"""Checkout: a buyer's tap on Buy becomes a reservation, an order and a payment — once.

The order id is derived from (buyer, idempotency key), so every retry and every racing
duplicate of one checkout targets the same reservation (the inventory store holds it once),
the same order row (unique on buyer + key) and the same payment (the provider's idempotency key
is derived from the order id). A reused key with a different request is `idempotency_conflict`.
The price is always the server's offer price; nothing a client sends about money is read.
Offers are read through `OfferService.for_checkout` (a short per-node cache that the offer
service empties when it starts or ends an offer), so a closed offer — ended, past its window, or
of an ended show — is refused with `offer_closed`.

A product that is shipped needs an address before anything is held: the one the request gives,
else the buyer's saved one, else the checkout is refused with `shipping_address_required`. The
order keeps a copy of it, so later edits of the buyer's address never change where a bought order
goes; a given address becomes the buyer's saved one when they have none yet and the checkout
succeeded (so a buyer who loses a stampede costs no write).

A `coupon_code` is part of the request's fingerprint (so the same key with another coupon is
`idempotency_conflict`) and is checked only when the checkout would hold stock (a replay gets
its order as it was, even once the coupon expired or ran out). Its redemption is taken before
the stock is held and given back when the hold fails; the order carries the discount and its
total is after it (docs/SOCIAL.md). Group buys take no coupon (`coupon_not_applicable`).

A group offer's checkout is a member joining (docs/SOCIAL.md): the order is placed at the
offer's price, which is the group's first tier (the highest), and its payment is created to be
held (authorised, not captured). Its units stay held until the group closes: the reservation
lasts until the deadline plus `GROUP_SETTLE_MS`, while the order's own payment deadline is the
usual one (a member who never confirms the card is expired as any buyer).
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import replace

from livecommerce.domain.access import Action, Principal, authorize
from livecommerce.domain.inventory import ReservationStatus
from livecommerce.domain.offers import Offer, OfferKind, check_open
from livecommerce.domain.orders import (
    UNSETTLED,
    Order,
    OrderStatus,
    place_order,
    request_fingerprint,
    transition,
    validate_quantity,
)
from livecommerce.domain.ratelimit import Rate
from livecommerce.domain.shipping import ShippingAddress, parse_address
from livecommerce.errors import (
    Conflict,
    CouponNotApplicable,
    IdempotencyConflict,
    InvalidInput,
    LiveCommerceError,
    NotFound,
    OfferNotActive,
    PaymentGatewayError,
    RateLimited,
    ShippingAddressRequired,
    Unauthenticated,
)
from livecommerce.faults import fault_point
from livecommerce.services.catalog import CatalogService
from livecommerce.services.coupons import CouponService, Quote, coupon_code
from livecommerce.services.offers import OfferService
from livecommerce.services.orders import ShopEvents
from livecommerce.services.payments import PaymentService
from livecommerce.services.ports import (
    AddressStore,
    Clock,
    GroupBuyStore,
    InventoryStore,
    OrderStore,
    PaymentInfo,
    Product,
    RateLimiter,
)
from livecommerce.services.singleflight import SingleFlight
from livecommerce.services.stock import StockService

#: How long a node keeps what checkout reads of a product (variant ids, whether it ships).
PRODUCT_CACHE_MS = 30_000
#: How long after a group's deadline its members' units stay reserved: time for the close to
#: capture or void them (the reservation sweeper never releases a member's units anyway).
GROUP_SETTLE_MS = 3_600_000
_KEY = re.compile(r"^[A-Za-z0-9._:\-]{8,100}$")


def check_idempotency_key(key: object) -> str:
    """The key a client retries with (checkout, bids): short, printable, never free text."""
    if not isinstance(key, str) or not _KEY.match(key):
        raise InvalidInput("idempotency_key must be 8-100 characters of [A-Za-z0-9._:-]")
    return key


def order_id_for(buyer_id: str, idempotency_key: str) -> str:
    """The one order id a (buyer, idempotency key) pair can ever have."""
    digest = hashlib.sha256(f"{buyer_id}\x00{idempotency_key}".encode()).hexdigest()
    return f"ord_{digest[:32]}"


class CheckoutService:
    """`start()` is what the hub's `checkout.start` handler and the REST checkout call."""

    def __init__(
        self,
        store: OrderStore,
        inventory: InventoryStore,
        payments: PaymentService,
        catalog: CatalogService,
        events: ShopEvents,
        clock: Clock,
        *,
        offers: OfferService,
        addresses: AddressStore,
        stock: StockService,
        coupons: CouponService,
        groups: GroupBuyStore,
        provider: str,
        ttl_seconds: int,
        limiter: RateLimiter | None = None,
        rates: Sequence[Rate] = (),
    ) -> None:
        self._coupons = coupons
        self._limiter = limiter
        self._rates = tuple(rates)
        self._store = store
        self._inventory = inventory
        self._payments = payments
        self._catalog = catalog
        self._events = events
        self._clock = clock
        self._provider = provider
        self._ttl_ms = ttl_seconds * 1000
        self._offers = offers
        self._addresses = addresses
        self._products: dict[str, tuple[int, Product]] = {}
        self._stock = stock
        self._flights = SingleFlight()
        self._groups = groups
        #: A group offer's variant (None: the buyer picks), which never changes once created.
        self._group_variants: dict[str, str | None] = {}

    async def _product(self, product_id: str, now_ms: int) -> Product:
        cached = self._products.get(product_id)
        if cached is not None and cached[0] > now_ms:
            return cached[1]
        product = await self._flights.run(product_id, lambda: self._catalog.get(product_id))
        self._products[product_id] = (now_ms + PRODUCT_CACHE_MS, product)
        return product

    async def _variant(self, offer: Offer, variant_id: str | None, now_ms: int) -> str | None:
        product = await self._product(offer.product_id, now_ms)
        ids = tuple(v.id for v in product.variants)
        if variant_id is None:
            if len(ids) > 1:
                raise InvalidInput("choose a variant")
            return ids[0] if ids else None
        if variant_id not in ids:
            raise InvalidInput("unknown variant for this product")
        return variant_id

    async def _group_variant(self, offer: Offer, variant_id: str | None) -> str | None:
        """The variant a group offer sells when it was created for one (another is refused)."""
        if offer.kind is not OfferKind.GROUP:
            return variant_id
        if offer.id not in self._group_variants:
            record = await self._groups.group(offer.id)
            if record is None:
                # its tiers were never written (a crash between the two writes of its creation):
                # nobody may join a group that no close would ever settle
                raise OfferNotActive("this group buy is not open")
            self._group_variants[offer.id] = record.variant_id
        fixed = self._group_variants[offer.id]
        if fixed is None:
            return variant_id
        if variant_id not in (None, fixed):
            raise InvalidInput("this group buy sells one variant only")
        return fixed

    async def _ship_to(
        self, buyer: Principal, offer: Offer, given: ShippingAddress | None, now_ms: int
    ) -> ShippingAddress | None:
        """Where the order goes (None for goods that are not shipped); decided, and refused
        when there is nowhere, before anything is reserved."""
        if not (await self._product(offer.product_id, now_ms)).requires_shipping:
            return None
        if given is not None:
            return given
        saved = await self._addresses.address_of(buyer.user_id)
        if saved is None:
            raise ShippingAddressRequired("this product is shipped: give a shipping address")
        return saved

    async def start(
        self,
        principal: Principal | None,
        show_id: str,
        offer_id: str,
        variant_id: str | None,
        quantity: object,
        idempotency_key: str,
        *,
        shipping_address: Mapping[str, object] | None = None,
        coupon: str | None = None,
    ) -> tuple[Order, PaymentInfo]:
        """Reserve, create the order and its payment; idempotent per (buyer, key)."""
        started = time.perf_counter()
        outcome = "error"
        try:
            result = await self._start(
                principal,
                show_id,
                offer_id,
                variant_id,
                quantity,
                idempotency_key,
                shipping_address,
                coupon,
            )
            order = result[0]
            if shipping_address is not None and order.shipping_address is not None:
                await self._addresses.add_address(
                    order.buyer_id, order.shipping_address, self._clock.now_ms()
                )
            outcome = "ok"
            return result
        except LiveCommerceError as exc:
            outcome = exc.code
            raise
        finally:
            self._events.metrics.checkout(outcome, time.perf_counter() - started)

    async def _start(
        self,
        principal: Principal | None,
        show_id: str,
        offer_id: str,
        variant_id: str | None,
        quantity: object,
        idempotency_key: str,
        shipping_address: Mapping[str, object] | None,
        coupon: str | None,
    ) -> tuple[Order, PaymentInfo]:
        """The checkout itself.

        The inventory is asked first (`StockService.peek`, one batched step that holds
        nothing): a replayed key finds its reservation, which doubles as the idempotency record,
        and a loser of a sold-out offer (or a buyer over the per-buyer limit) is refused there,
        costing nothing else — no SQL, no rate-limit count. Only an attempt that would hold
        then reads the buyer's saved address (the address rule must hold before anything is
        reserved), counts against the buyer's checkout rate and reserves (which checks
        everything again atomically). Only a replayed reservation reads the order.
        """
        buyer = authorize(principal, Action.CHECKOUT)
        check_idempotency_key(idempotency_key)
        qty = validate_quantity(quantity)
        given = None
        if shipping_address is not None:
            given = parse_address(shipping_address, prefix="shipping_address.")
        code = coupon_code(coupon)
        fingerprint = request_fingerprint(
            {
                "show_id": show_id,
                "offer_id": offer_id,
                "variant_id": variant_id,
                "quantity": qty,
                # only when given, so keys used before addresses existed keep their fingerprint
                **({"shipping_address": given.to_wire()} if given else {}),
                **({"coupon_code": code} if code else {}),
            }
        )
        order_id = order_id_for(buyer.user_id, idempotency_key)
        now = self._clock.now_ms()
        offer = await self._offers.for_checkout(show_id, offer_id)
        try:
            check_open(offer, now)
            variant = await self._variant(offer, await self._group_variant(offer, variant_id), now)
        except (OfferNotActive, InvalidInput):
            existing = await self._store.get_order(order_id)
            if existing is None:
                raise
            return await self._replay(existing, fingerprint, offer)
        expires = now + self._ttl_ms
        hold_until = expires
        if offer.kind is OfferKind.GROUP and offer.ends_at_ms is not None:
            hold_until = max(expires, offer.ends_at_ms + GROUP_SETTLE_MS)
        # the variant's stock (shared by every offer of it) and this offer's cap, in one step
        held = await self._stock.peek(offer, variant, order_id, buyer.user_id, qty)
        ship_to = None
        quote: Quote | None = None
        took = False  # this call took the coupon's redemption (and must give it back on failure)
        if held is None:
            ship_to = await self._ship_to(buyer, offer, given, now)
            # only attempts that would hold stock count (a known key was answered above, so an
            # honest retry is never refused)
            if (
                self._limiter is not None
                and self._rates
                and not await self._limiter.allow(f"checkout:{buyer.user_id}", self._rates)
            ):
                raise RateLimited("too many checkouts; wait a moment")
            if code is not None:
                quote = await self._quote(code, buyer.user_id, show_id, offer, qty)
                took = await self._coupons.redeem(quote.coupon, order_id, buyer.user_id)
            try:
                held = await self._stock.reserve(
                    offer, variant, order_id, buyer.user_id, qty, hold_until
                )
            except BaseException:
                if took and quote is not None:
                    await self._coupons.release(quote.coupon.id, order_id)
                raise
        if not held.created:
            existing = await self._store.get_order(order_id)
            if existing is not None:
                return await self._replay(existing, fingerprint, offer)
            if held.reservation.quantity != qty:
                raise IdempotencyConflict("this idempotency key was used for another checkout")
            if held.reservation.status is ReservationStatus.RELEASED:
                raise Conflict("this checkout expired; start a new one")
            # a racing twin holds it: same order
            expires = min(held.reservation.expires_at_ms, expires)
            if ship_to is None:
                ship_to = await self._ship_to(buyer, offer, given, now)
            if code is not None and quote is None:
                quote = await self._quote(code, buyer.user_id, show_id, offer, qty)
                took = await self._coupons.redeem(quote.coupon, order_id, buyer.user_id)
        order = place_order(
            order_id=order_id,
            buyer_id=buyer.user_id,
            seller_id=offer.seller_id,
            show_id=show_id,
            offer_id=offer.id,
            product_id=offer.product_id,
            variant_id=variant,
            quantity=qty,
            unit_price=offer.price,
            idempotency_key=idempotency_key,
            request_hash=fingerprint,
            now_ms=now,
            ttl_ms=max(1, expires - now),
            shipping_address=ship_to,
            discount_minor=quote.discount.minor if quote else 0,
            coupon_id=quote.coupon.id if quote else None,
            coupon_code=code if quote else None,
        )
        stored = await self._store.add_order(order)
        if (
            held.created
            and stored != order
            and (stored.offer_id != offer.id or stored.status not in UNSETTLED)
        ):
            # our fresh hold duplicates an order that holds nothing here (the key was used on
            # another offer, or its reservation record was lost): give the units back.
            # A twin racing on the same offer shares this very reservation, so it is kept.
            await self._inventory.release(offer.product_id, order_id)
        if took and quote is not None and stored.coupon_id != quote.coupon.id:
            await self._coupons.release(quote.coupon.id, order_id)  # the key's order has none
        if stored.request_hash != fingerprint:
            raise IdempotencyConflict("this idempotency key was used for another checkout")
        if stored == order:
            await self._coupons.recorded(order)
            await self._events.stock_changed(show_id, offer.id)
        if held.created and stored == order:
            # this call holds the reservation and wrote the order (twins only find them), so
            # nobody has moved it yet and `_pay` need not read it back. The order is announced
            # once, in the state `_pay` leaves it in (`pending_payment`, or `failed`), not also
            # as `reserved` a moment before.
            return await self._flights.run(
                f"pay:{order.id}", lambda: self._pay(order, fresh=True, offer=offer)
            )
        return await self._resume(stored, offer)

    async def _quote(self, code: str, buyer_id: str, show_id: str, offer: Offer, qty: int) -> Quote:
        if offer.kind is OfferKind.GROUP:
            # the crowd's tier sets a member's price at the close; a coupon would discount a
            # price nobody knows yet
            raise CouponNotApplicable("coupons do not apply to group buys")
        return await self._coupons.quote(
            code,
            buyer_id=buyer_id,
            seller_id=offer.seller_id,
            show_id=show_id,
            product_id=offer.product_id,
            subtotal=offer.price * qty,
        )

    async def pay(self, order: Order) -> tuple[Order, PaymentInfo]:
        """The payment step alone, for orders placed elsewhere (an auction's winner): create a
        reserved order's payment, or return the one it has."""
        return await self._resume(order)

    async def payment_of(
        self, principal: Principal | None, order_id: str
    ) -> tuple[Order, PaymentInfo]:
        """The payment of one of the caller's orders that awaits it, for a buyer who did not get
        it from `start` (an auction's winner, a page reloaded half-way): the same `client`
        object `start` answers. Others' orders are not found; a settled one is a conflict."""
        if principal is None:
            raise Unauthenticated("sign in to pay")
        order = await self._store.get_order(order_id)
        if order is None or order.buyer_id != principal.user_id:
            raise NotFound("no such order")
        if order.status not in (OrderStatus.RESERVED, OrderStatus.PENDING_PAYMENT):
            raise Conflict(f"this order is {order.status.value}, not awaiting payment")
        return await self._resume(order)

    async def _replay(
        self, existing: Order, fingerprint: str, offer: Offer
    ) -> tuple[Order, PaymentInfo]:
        """A checkout seen before: the same answer, or a conflict for a different request."""
        if existing.request_hash != fingerprint:
            raise IdempotencyConflict("this idempotency key was used for another checkout")
        return await self._resume(existing, offer if existing.offer_id == offer.id else None)

    async def _resume(self, order: Order, offer: Offer | None = None) -> tuple[Order, PaymentInfo]:
        """Bring a reserved order to `pending_payment` (creating its payment), or return the
        payment of one that already has it. Racing twins on this node share one creation; a
        later replay reads the payment the order names, so no replay ever asks the provider to
        create again (its idempotency key may have expired: Stripe forgets keys after 24 h and
        would make a second PaymentIntent that no order knows)."""
        if order.status is OrderStatus.RESERVED:
            return await self._flights.run(f"pay:{order.id}", lambda: self._pay(order, offer=offer))
        if order.status is OrderStatus.PENDING_PAYMENT:
            info = await self._payments.gateway(order.payment_provider).payment_info(order)
            return order, info
        return order, PaymentInfo(
            provider=order.payment_provider,
            ref=order.payment_ref,
            client={"provider": order.payment_provider},
        )

    async def _pay(
        self, order: Order, *, fresh: bool = False, offer: Offer | None = None
    ) -> tuple[Order, PaymentInfo]:
        """Create a reserved order's payment and move it to `pending_payment`; a twin that read
        the order before an earlier flight moved it finds it moved (one read, skipped for the
        order this checkout has just written: the compare-and-set below settles any race)."""
        if not fresh:
            current = await self._store.get_order(order.id)
            if current is not None and current.status is not OrderStatus.RESERVED:
                return await self._resume(current, offer)
        gateway = self._payments.gateway(order.payment_provider or self._provider)
        if offer is None:
            offer = await self._offers.for_checkout(order.show_id, order.offer_id)
        try:
            info = await gateway.create_payment(order, hold=offer.kind is OfferKind.GROUP)
        except PaymentGatewayError:
            failed = transition(order, OrderStatus.FAILED, self._clock.now_ms())
            if await self._store.save_order(failed, OrderStatus.RESERVED):
                await self._payments.after_change(failed)
            raise
        fault_point("checkout.after_payment_created")
        pending = replace(
            transition(order, OrderStatus.PENDING_PAYMENT, self._clock.now_ms()),
            payment_provider=info.provider,
            payment_ref=info.ref,
        )
        if await self._store.save_order(pending, OrderStatus.RESERVED):
            await self._events.order_updated(pending)
            return pending, info
        current = await self._store.get_order(order.id)
        assert current is not None
        return current, info
