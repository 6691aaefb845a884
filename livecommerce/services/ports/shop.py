"""Ports for the money path: inventory reservations and movements, the durable order store with
its journal, payment providers, and the shop's metrics.

Inventory implementations (memory: atomic on one event loop; Redis: one Lua script per
operation) follow the rules in `domain/inventory.py`, held to them by
tests/contract/test_inventory_contract.py. A *pool* is one product's stock, named by the product
id: its variants' on-hand and held units and its offers' caps, so a reservation checks the
variant and the offer's cap in one atomic step. A reservation's id is the order's id, so an order
can never hold two reservations. Every order status change is a compare-and-set.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from livecommerce.domain.inventory import (
    PoolLevels,
    PoolState,
    Reservation,
    StockLevel,
    StockLine,
    StockMovement,
    VariantStock,
)
from livecommerce.domain.ledger import JournalTransaction
from livecommerce.domain.notifications import OutboxEvent
from livecommerce.domain.offers import Offer, OfferStatus
from livecommerce.domain.orders import Order, OrderStatus, ProviderStatus
from livecommerce.domain.webhooks import WebhookEvent


@dataclass(frozen=True, slots=True)
class ReserveResult:
    """What a reservation attempt did: the reservation (new, or the existing one for a replayed
    id) and the variant's and the offer cap's counts right after it."""

    reservation: Reservation
    variant: VariantStock
    cap: StockLevel | None
    created: bool


class InventoryStore(Protocol):
    """Pools (one per product) and the reservations against them."""

    async def restore(
        self, pool: str, state: PoolState, *, replace: bool = False, keep_held: bool = False
    ) -> bool:
        """Load a pool from what the durable store knows (`domain.inventory.rebuild`). When the
        pool is there already and `replace` is False, only the variants and caps it lacks are
        added (nothing it counts is overwritten, so a node starting beside live ones never
        undoes their holds). With `replace` and `keep_held`, held reservations the pool has and
        `state` lacks stay held (a checkout whose order is not written yet, or one the durable
        store already released: the sweeper releases it at its deadline), so a reload while
        nodes sell can leave the pool short, never long. True when anything was written."""
        ...

    async def instance(self) -> str:
        """Changes whenever the store restarted (and may have lost recent writes, or kept stale
        holds): the cue to reload every pool from the durable store."""
        ...

    async def reserve(
        self,
        line: StockLine,
        reservation_id: str,
        buyer_id: str,
        quantity: int,
        expires_at_ms: int,
    ) -> ReserveResult:
        """Hold units of the line's variant (and of its offer's cap) atomically, or raise SoldOut
        / LimitReached / NotFound (pool, variant or cap not loaded) with nothing held. A second
        call with the same reservation id returns the first reservation unchanged."""
        ...

    async def peek(
        self, line: StockLine, reservation_id: str, buyer_id: str, quantity: int
    ) -> ReserveResult | None:
        """What `reserve` would answer now, holding nothing: the reservation already held
        under this id (`created` False), or SoldOut / LimitReached / NotFound as `reserve`
        would raise them, or None when `reserve` would hold. Checkout asks this first, so a
        replayed checkout and a loser of a sold-out offer cost one batched step and nothing
        else; the answer may be stale by the time `reserve` runs, which checks everything
        again."""
        ...

    async def commit(self, pool: str, reservation_id: str) -> bool:
        """Sell a held reservation's units (on-hand and cap); True only for the one call that
        did it."""
        ...

    async def release(self, pool: str, reservation_id: str) -> bool:
        """Return a held reservation's units; True only for the one call that did it."""
        ...

    async def adjust(self, pool: str, variant_id: str, delta: int) -> VariantStock:
        """Add `delta` on-hand units to a variant atomically; StockHeld (nothing changed) when
        that would leave fewer units than are held, NotFound when the variant is not loaded."""
        ...

    async def levels(self, pool: str) -> PoolLevels:
        """The pool's counts (NotFound for a pool that is not loaded)."""
        ...

    async def reservation(self, pool: str, reservation_id: str) -> Reservation | None:
        """One reservation, or None."""
        ...

    async def due(self, now_ms: int, limit: int = 100) -> list[tuple[str, str]]:
        """(pool, reservation id) of held reservations whose deadline has passed, earliest
        deadline first, at most `limit`."""
        ...


class StockLedger(Protocol):
    """Inventory movements in the durable store. A variant's on-hand stock is the sum of its
    movements, kept beside the variant (its `stock` column) in the same transaction as each
    movement, so the two never disagree."""

    async def add_movement(self, movement: StockMovement) -> bool:
        """Write the movement and move the variant's on-hand by its delta, in one transaction;
        False (nothing written) when a movement with its key exists. NotFound for an unknown
        variant."""
        ...

    async def movements(self, variant_id: str, limit: int = 100) -> list[StockMovement]:
        """A variant's movements, newest first."""
        ...

    async def on_hand(self, product_id: str) -> dict[str, int]:
        """On-hand units per variant of a product."""
        ...


@dataclass(frozen=True, slots=True)
class OrderFilter:
    """Which orders a list returns; None means any."""

    buyer_id: str | None = None
    seller_id: str | None = None
    show_id: str | None = None
    offer_id: str | None = None
    statuses: tuple[OrderStatus, ...] = ()
    since_ms: int | None = None
    until_ms: int | None = None
    #: Text found in the order id or the buyer's name or e-mail (case-insensitive).
    q: str | None = None
    limit: int = 100


class OrderStore(Protocol):
    async def add_order(self, order: Order) -> Order:
        """Insert; when (buyer, idempotency key) exists, return the stored order instead."""
        ...

    async def get_order(self, order_id: str) -> Order | None: ...

    async def order_by_payment(self, provider: str, ref: str) -> Order | None: ...

    async def save_order(
        self,
        order: Order,
        expected: OrderStatus,
        journal: JournalTransaction | None = None,
        expected_refunded: int | None = None,
        movements: Sequence[StockMovement] = (),
        *,
        repriced: bool = False,
        webhook_events: Sequence[WebhookEvent] = (),
        outbox: Sequence[OutboxEvent] = (),
    ) -> bool:
        """Write `order` iff the stored status is still `expected` (and refunded amount still
        `expected_refunded` when given), plus `journal`, the inventory `movements` (a sale's),
        the sellers' outgoing `webhook_events` (with their deliveries) and the notification
        `outbox` events (`order.paid`, `order.fulfilled`) in the same transaction; False when
        someone else moved it first or the journal or movement key was already written.
        `repriced` also writes its unit price and total (a group member captured at the final
        price)."""
        ...

    async def list_orders(self, flt: OrderFilter) -> list[Order]: ...

    async def due_orders(self, now_ms: int, limit: int = 100) -> list[Order]:
        """Orders still holding stock whose deadline passed."""
        ...

    async def offer_orders(self, offer_id: str, statuses: Sequence[OrderStatus]) -> list[Order]:
        """An offer's orders in these statuses (for rebuilding inventory)."""
        ...

    async def paid_orders(self, offer_id: str) -> list[Order]:
        """The offer's orders that have a payment in the journal (whatever their status says)."""
        ...

    async def journal(self, order_id: str | None = None) -> list[JournalTransaction]:
        """Journal transactions (of one order, or all), oldest first."""
        ...

    async def seen_event(self, event_id: str) -> bool: ...

    async def record_event(self, event_id: str, provider: str, type_: str, at_ms: int) -> None:
        """Remember a handled provider event (a second record is ignored)."""
        ...

    async def add_offer(self, offer: Offer) -> None: ...

    async def get_offer(self, offer_id: str) -> Offer | None: ...

    async def save_offer(self, offer: Offer, expected: OfferStatus) -> bool:
        """Write the offer's status, window and cap iff its stored status is still `expected`
        (so a start racing an end can never bring an ended offer back); False otherwise. Pins
        are not written here (see `pin_offer`)."""
        ...

    async def pin_offer(self, show_id: str, offer_id: str, at_ms: int) -> None:
        """Put the offer on screen at `at_ms`, taking down whichever offer of the show was on
        screen before (one transaction)."""
        ...

    async def unpin_offer(self, offer_id: str, at_ms: int) -> bool:
        """Take the offer off screen; False when it was not on screen."""
        ...

    async def list_offers(
        self, show_id: str | None = None, *, product_id: str | None = None
    ) -> list[Offer]:
        """Offers, oldest first: all, a show's, or a product's (in every show)."""
        ...

    async def add_timeline(
        self, show_id: str, offer_id: str, kind: str, at_ms: int, media_ts_ms: int | None
    ) -> None:
        """Append an offer moment (pinned, unpinned, started, ended) to the show's timeline."""
        ...

    async def timeline(self, show_id: str) -> list[dict[str, object]]:
        """The show's offer moments, oldest first."""
        ...


class ShopMetrics(Protocol):
    """What the shop counts (Prometheus in production, nothing in unit tests)."""

    def checkout(self, outcome: str, seconds: float) -> None: ...

    def order_status(self, status: str) -> None: ...

    def webhook(self, result: str) -> None: ...


@dataclass(frozen=True, slots=True)
class PaymentInfo:
    """A payment at the provider: its reference and what the buyer's browser needs to pay."""

    provider: str
    ref: str
    client: dict[str, Any]


@dataclass(frozen=True, slots=True)
class RefundResult:
    """A refund the provider accepted."""

    id: str
    amount: int


@runtime_checkable
class SignedWebhooks(Protocol):
    """A provider that pushes signed events (Stripe): only it may answer the webhook route."""

    def verify_event(self, payload: bytes, signature: str | None) -> dict[str, Any]:
        """The event, if `payload` is byte-for-byte what the provider signed (else
        InvalidSignature)."""
        ...

    async def undelivered_events(self, since_ms: int) -> list[dict[str, Any]]:
        """Events created since `since_ms` that the provider has not yet delivered with a 2xx
        (pending or failed), read from its API: the reconcile's way to find payments whose
        webhook never arrived (a crash, an outage, a lost response)."""
        ...


class PaymentGateway(Protocol):
    """A payment provider; every call is idempotent per order (or per refund key)."""

    name: str

    async def create_payment(self, order: Order, *, hold: bool = False) -> PaymentInfo:
        """Create (or, for a retry, return) the order's payment; with `hold` it is only
        authorised when the buyer confirms (a group buy's member), for `capture_payment`."""
        ...

    async def payment_info(self, order: Order) -> PaymentInfo:
        """The payment the order already has (its `payment_ref`), read and never created: a
        provider's idempotency keys expire (Stripe's after 24 h), an order's payment does not."""
        ...

    async def payment_status(self, order: Order) -> ProviderStatus:
        """Re-read the order's payment at the provider."""
        ...

    async def cancel_payment(self, order: Order) -> ProviderStatus:
        """Cancel if still open or authorised (releasing a hold); return the status afterwards
        (SUCCEEDED if it was paid)."""
        ...

    async def capture_payment(self, order: Order, amount: int) -> ProviderStatus:
        """Capture `amount` (at most the authorised amount) of a held payment, once per order
        however often it is called; SUCCEEDED when captured (now or before), CANCELED when the
        provider declined it (or it was released)."""
        ...

    async def refund(self, order: Order, amount: int, idempotency_key: str) -> RefundResult: ...

    async def refunds(self, order: Order) -> list[RefundResult]:
        """Every succeeded refund of the order's payment at the provider (however it was made)."""
        ...
