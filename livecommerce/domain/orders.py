"""The order and its state machine: the TRANSITIONS table is the only way an order's status changes.

An order is born `reserved` (stock held for it), moves to `pending_payment` once a payment exists
at the provider, and to `paid` only on the provider's word. A group buy's member goes from
`pending_payment` to `authorized` (the card held) and at the group's close to `paid` (captured at
the final price), `void` (the group missed its first tier) or `failed` (declined at capture). Every
other path ends it: `expired` (the reservation timed out), `failed` (declined or cancelled at the
provider), `cancelled` (the buyer or seller gave up before paying), `refunded` /
`partially_refunded` (money went back).
Services never assign `status` directly; they call `transition()` and persist what it returns.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from enum import StrEnum

from livecommerce.domain.money import Money
from livecommerce.domain.shipping import Fulfilment, ShippingAddress
from livecommerce.errors import InvalidInput, InvalidTransition


class OrderStatus(StrEnum):
    """Where an order stands; values are the wire names."""

    RESERVED = "reserved"  # stock is held for the buyer, no payment exists yet
    PENDING_PAYMENT = "pending_payment"  # a payment exists at the provider, awaiting the buyer
    AUTHORIZED = "authorized"  # a group buy's member: the card is held, captured at the deadline
    PAID = "paid"  # the provider confirmed the money; stock is sold
    FULFILLED = "fulfilled"  # the seller shipped or handed over the goods
    EXPIRED = "expired"  # the reservation timed out before payment; stock went back
    FAILED = "failed"  # the payment was declined or cancelled; stock went back
    CANCELLED = "cancelled"  # given up before payment; stock went back
    REFUNDED = "refunded"  # everything paid went back to the buyer
    PARTIALLY_REFUNDED = "partially_refunded"  # part of the payment went back
    VOID = "void"  # a group buy missed its first tier: the hold was released, nothing charged


TRANSITIONS: Mapping[OrderStatus, frozenset[OrderStatus]] = {
    OrderStatus.RESERVED: frozenset(
        {
            OrderStatus.PENDING_PAYMENT,
            OrderStatus.EXPIRED,
            OrderStatus.FAILED,
            OrderStatus.CANCELLED,
        }
    ),
    OrderStatus.PENDING_PAYMENT: frozenset(
        {
            OrderStatus.PAID,
            OrderStatus.AUTHORIZED,
            OrderStatus.FAILED,
            OrderStatus.EXPIRED,
            OrderStatus.CANCELLED,
        }
    ),
    # only the group buy's close (captured or voided) and its member's cancel move it on
    OrderStatus.AUTHORIZED: frozenset(
        {OrderStatus.PAID, OrderStatus.FAILED, OrderStatus.VOID, OrderStatus.CANCELLED}
    ),
    OrderStatus.PAID: frozenset(
        {OrderStatus.FULFILLED, OrderStatus.REFUNDED, OrderStatus.PARTIALLY_REFUNDED}
    ),
    OrderStatus.PARTIALLY_REFUNDED: frozenset(
        {OrderStatus.PARTIALLY_REFUNDED, OrderStatus.REFUNDED, OrderStatus.FULFILLED}
    ),
    OrderStatus.FULFILLED: frozenset({OrderStatus.REFUNDED, OrderStatus.PARTIALLY_REFUNDED}),
    OrderStatus.EXPIRED: frozenset(),
    OrderStatus.FAILED: frozenset(),
    OrderStatus.CANCELLED: frozenset(),
    OrderStatus.REFUNDED: frozenset(),
    OrderStatus.VOID: frozenset(),
}

#: Statuses in which the order's stock is held but not sold (the sweeper may release it).
HOLDING: frozenset[OrderStatus] = frozenset({OrderStatus.RESERVED, OrderStatus.PENDING_PAYMENT})
#: Statuses in which the order's stock counts as sold.
SOLD: frozenset[OrderStatus] = frozenset(
    {
        OrderStatus.PAID,
        OrderStatus.FULFILLED,
        OrderStatus.PARTIALLY_REFUNDED,
        OrderStatus.REFUNDED,
    }
)
#: Statuses that released their stock back to the pool.
RELEASED: frozenset[OrderStatus] = frozenset(
    {OrderStatus.EXPIRED, OrderStatus.FAILED, OrderStatus.CANCELLED, OrderStatus.VOID}
)
#: Statuses whose stock is held, sold to nobody yet: the holding ones and a group buy's member
#: (whose hold lasts until the group closes, so no sweeper may release it before).
UNSETTLED: frozenset[OrderStatus] = HOLDING | {OrderStatus.AUTHORIZED}

#: The largest quantity one order may carry; anything above is refused before touching stock.
MAX_QUANTITY = 100


@dataclass(frozen=True, slots=True)
class Order:
    """One buyer's purchase of one offer; `total` is always computed from the server's offer."""

    id: str
    buyer_id: str
    seller_id: str
    show_id: str
    offer_id: str
    product_id: str
    variant_id: str | None
    quantity: int
    unit_price: Money
    total: Money
    status: OrderStatus
    idempotency_key: str
    request_hash: str
    created_at_ms: int
    updated_at_ms: int
    expires_at_ms: int
    payment_provider: str = ""
    payment_ref: str = ""
    refunded_minor: int = 0
    #: Where the goods go, as it was at checkout (later edits of the buyer's address never
    #: reach it); None for goods that are not shipped.
    shipping_address: ShippingAddress | None = None
    #: Set when the order is fulfilled: carrier, tracking number and when.
    fulfilment: Fulfilment | None = None
    #: A refund asked for the order's units to go back into stock (at most once per order).
    restocked: bool = False
    #: What a coupon took off `unit_price * quantity` (`total` is after it), in the order's
    #: currency, and which coupon (its id and code as the buyer typed it, upper-cased).
    discount_minor: int = 0
    coupon_id: str | None = None
    coupon_code: str | None = None


def can_transition(current: OrderStatus, new: OrderStatus) -> bool:
    """Whether the table allows `current → new`."""
    return new in TRANSITIONS[current]


def transition(order: Order, new: OrderStatus, at_ms: int) -> Order:
    """Return the order moved to `new`, or raise InvalidTransition when the table forbids it."""
    if not can_transition(order.status, new):
        raise InvalidTransition(f"order {order.id} cannot go from {order.status} to {new}")
    return replace(order, status=new, updated_at_ms=at_ms)


def validate_quantity(quantity: object, *, limit: int = MAX_QUANTITY) -> int:
    """Refuse anything but a whole number in 1..limit (bools, floats and strings included)."""
    if isinstance(quantity, bool) or not isinstance(quantity, int):
        raise InvalidInput("quantity must be a whole number")
    if quantity < 1 or quantity > limit:
        raise InvalidInput(f"quantity must be between 1 and {limit}")
    return quantity


def request_fingerprint(fields: Mapping[str, object]) -> str:
    """A stable hash of what a checkout asked for, so a reused idempotency key with a different
    body is told apart from an honest retry (prices are never part of it: the server sets them)."""
    canonical = json.dumps(dict(fields), sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def place_order(
    *,
    order_id: str,
    buyer_id: str,
    seller_id: str,
    show_id: str,
    offer_id: str,
    product_id: str,
    variant_id: str | None,
    quantity: int,
    unit_price: Money,
    idempotency_key: str,
    request_hash: str,
    now_ms: int,
    ttl_ms: int,
    shipping_address: ShippingAddress | None = None,
    discount_minor: int = 0,
    coupon_id: str | None = None,
    coupon_code: str | None = None,
) -> Order:
    """Create a `reserved` order whose price comes from the offer and whose hold ends at now+ttl;
    a coupon's discount comes off the total, which never goes below zero."""
    validate_quantity(quantity)
    if unit_price.minor < 0:
        raise InvalidInput("price cannot be negative")
    if not 0 <= discount_minor <= unit_price.minor * quantity:
        raise InvalidInput("a discount is between zero and the order's subtotal")
    if ttl_ms <= 0:
        raise InvalidInput("reservation ttl must be positive")
    return Order(
        id=order_id,
        buyer_id=buyer_id,
        seller_id=seller_id,
        show_id=show_id,
        offer_id=offer_id,
        product_id=product_id,
        variant_id=variant_id,
        quantity=quantity,
        unit_price=unit_price,
        total=unit_price * quantity - Money(discount_minor, unit_price.currency),
        status=OrderStatus.RESERVED,
        idempotency_key=idempotency_key,
        request_hash=request_hash,
        created_at_ms=now_ms,
        updated_at_ms=now_ms,
        expires_at_ms=now_ms + ttl_ms,
        shipping_address=shipping_address,
        discount_minor=discount_minor,
        coupon_id=coupon_id,
        coupon_code=coupon_code,
    )


def is_expired(order: Order, now_ms: int) -> bool:
    """An order still holding stock whose hold has run out."""
    return order.status in HOLDING and now_ms >= order.expires_at_ms


def captured(order: Order, unit_price: Money, at_ms: int) -> Order:
    """A group member's order once captured at the group's final unit price: paid, its total
    the final price for its units (never above what was authorised)."""
    if (
        unit_price.currency != order.unit_price.currency
        or unit_price.minor > order.unit_price.minor
    ):
        raise InvalidInput("a capture is never above the authorised price")
    paid = transition(order, OrderStatus.PAID, at_ms)
    return replace(paid, unit_price=unit_price, total=unit_price * order.quantity)


def status_after_refund(order: Order, refunded_total_minor: int) -> OrderStatus:
    """The status an order reaches once `refunded_total_minor` of its total has gone back."""
    if refunded_total_minor <= 0:
        raise InvalidInput("refund must be positive")
    if refunded_total_minor > order.total.minor:
        raise InvalidInput("cannot refund more than was paid")
    if refunded_total_minor == order.total.minor:
        return OrderStatus.REFUNDED
    return OrderStatus.PARTIALLY_REFUNDED


def order_view(order: Order) -> dict[str, object]:
    """The order's own fields in their public shape (REST and `order.updated` add what the
    catalog knows: product name and image, variant label); money as {amount, currency}."""
    return {
        "id": order.id,
        "status": str(order.status),
        "offer_id": order.offer_id,
        "show_id": order.show_id,
        "product_id": order.product_id,
        "variant_id": order.variant_id,
        "quantity": order.quantity,
        "buyer": order.buyer_id,
        "unit_price": {"amount": order.unit_price.minor, "currency": order.unit_price.currency},
        "total": {"amount": order.total.minor, "currency": order.total.currency},
        "discount": {"amount": order.discount_minor, "currency": order.total.currency},
        "coupon_code": order.coupon_code,
        "refunded": {"amount": order.refunded_minor, "currency": order.total.currency},
        "created_at": order.created_at_ms,
        "expires_at": order.expires_at_ms,
        "shipping_address": order.shipping_address.to_wire() if order.shipping_address else None,
        "fulfilment": order.fulfilment.to_wire() if order.fulfilment else None,
    }


class ProviderStatus(StrEnum):
    """What the payment provider says about an order's payment (re-read, never trusted from an
    event body), reduced to what the order cares about."""

    SUCCEEDED = "succeeded"  # money captured
    AUTHORIZED = "authorized"  # money held on the card, to be captured or released by us
    CANCELED = "canceled"  # the payment can never succeed (cancelled, or declined for good)
    OPEN = "open"  # still waiting for the buyer (requires action / method, processing)


def apply_provider_status(order: Order, provider: ProviderStatus, at_ms: int) -> Order | None:
    """The order after the provider's current word, or None when nothing changes.

    Idempotent and order-insensitive: a success on a holding order pays it (via
    `pending_payment` when needed); a success on an order already past payment changes nothing;
    a cancellation only fails an order that still holds stock. The expiry sweeper cancels the
    payment at the provider before expiring, so a success never lands on a released order.
    An authorisation (a group buy's hold) makes the order `authorized`; from there only the
    group's close decides (its capture at the final price, or the void), never a provider event.
    """
    if order.status not in HOLDING:
        return None
    if provider is ProviderStatus.AUTHORIZED:
        if order.status is OrderStatus.RESERVED:
            order = transition(order, OrderStatus.PENDING_PAYMENT, at_ms)
        return transition(order, OrderStatus.AUTHORIZED, at_ms)
    if provider is ProviderStatus.SUCCEEDED:
        if order.status is OrderStatus.RESERVED:
            order = transition(order, OrderStatus.PENDING_PAYMENT, at_ms)
        return transition(order, OrderStatus.PAID, at_ms)
    if provider is ProviderStatus.CANCELED:
        return transition(order, OrderStatus.FAILED, at_ms)
    return None
