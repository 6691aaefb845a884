"""Payments: the settlement use cases built on the `PaymentGateway` port (services/ports/shop.py).

Settlement always asks the provider (re-reads the payment) and then applies the domain rule
`apply_provider_status`, so a webhook delivered five times, out of order, or racing the demo
confirm and the expiry sweeper produces one outcome: the order's status is a compare-and-set,
the payment's journal entries (unique on (order, `payment:<provider>:<ref>`)) and its `sale`
inventory movement (unique on `sale:<order>`) are written in the same transaction as the move to
paid, and inventory commit/release happen once per reservation. A referred payment books the
referrer's commission in that same journal transaction; its refunds reverse it in proportion,
read back from the payment's lines. The sweeper cancels at the provider *before* expiring, so a
payment that already succeeded wins over the deadline. A refund with `restock` puts the order's
units back on its variant, once per order. An order that lets go (expired, failed, cancelled,
or refunded in full) gives its coupon's redemption back, once (`CouponService.give_back`).

A group buy's member (`authorized`: the card held) moves only by the group's close, through
`capture` (at the final price: order total, journal entry and sale at that price, in one
compare-and-set from `authorized`) or `void` (released at the provider, no journal entry), or by
the member's own `cancel` before the deadline. Provider events never move an authorised order,
so a `payment_intent.succeeded` that follows our own capture cannot post at the held price.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from typing import Any

from livecommerce.domain.access import Action, Principal, Role, authorize
from livecommerce.domain.groupbuy import capture_amount
from livecommerce.domain.inventory import StockMovement, restock_movement, sale_movement
from livecommerce.domain.ledger import JournalTransaction, payment_entry, referral_of, refund_entry
from livecommerce.domain.money import Money
from livecommerce.domain.notifications import OutboxEvent, order_event
from livecommerce.domain.offers import is_closed
from livecommerce.domain.orders import (
    HOLDING,
    RELEASED,
    SOLD,
    UNSETTLED,
    Order,
    OrderStatus,
    ProviderStatus,
    apply_provider_status,
    captured,
    status_after_refund,
    transition,
)
from livecommerce.errors import (
    Conflict,
    InvalidInput,
    InvalidSignature,
    NotFound,
    PaymentDeclined,
    PaymentGatewayError,
    PermissionDenied,
    Unauthenticated,
)
from livecommerce.faults import fault_point
from livecommerce.ids import new_id
from livecommerce.services.coupons import CouponService
from livecommerce.services.orders import ShopEvents
from livecommerce.services.ports import (
    Clock,
    InventoryStore,
    OrderStore,
    PaymentGateway,
    RefundResult,
    SignedWebhooks,
)
from livecommerce.services.referrals import ReferralService
from livecommerce.services.stock import StockService
from livecommerce.services.webhooks import WebhookService

log = logging.getLogger(__name__)

#: Stripe events after which the order's refunds are re-read.
REFUND_EVENTS = frozenset(
    {"charge.refunded", "charge.refund.updated", "refund.created", "refund.updated"}
)

#: How far back the reconcile looks for undelivered events (Stripe itself retries for 3 days).
RECONCILE_WINDOW_MS = 24 * 3600 * 1000


class PaymentService:
    """Moves orders on the provider's word; the only writer of payment journal entries."""

    def __init__(
        self,
        store: OrderStore,
        inventory: InventoryStore,
        gateways: Mapping[str, PaymentGateway],
        events: ShopEvents,
        clock: Clock,
        *,
        stock: StockService,
        coupons: CouponService,
        referrals: ReferralService,
        webhooks: WebhookService,
        fee_bps: int,
    ) -> None:
        self._webhooks = webhooks
        self._coupons = coupons
        self._referrals = referrals
        self._store = store
        self._inventory = inventory
        self._stock = stock
        self._gateways = gateways
        self._events = events
        self._clock = clock
        self._fee_bps = fee_bps
        self._member_watch: Callable[[Order], Awaitable[None]] | None = None

    def watch_members(self, watch: Callable[[Order], Awaitable[None]]) -> None:
        """Call `watch` with the order whenever a group buy gains or loses a member (an order
        becomes `authorized`, or an authorised one is cancelled): the group's service
        announces the new count."""
        self._member_watch = watch

    async def _member_changed(self, order: Order) -> None:
        if self._member_watch is not None:
            await self._member_watch(order)

    def gateway(self, name: str) -> PaymentGateway:
        try:
            return self._gateways[name]
        except KeyError:
            raise NotFound(f"payment provider {name!r} is not enabled") from None

    async def _order(self, order_id: str) -> Order:
        order = await self._store.get_order(order_id)
        if order is None:
            raise NotFound("no such order")
        return order

    # -- settlement ------------------------------------------------------------------------------
    async def apply(self, order: Order, provider: ProviderStatus) -> Order:
        """Apply the provider's current word to `order` (retrying if another writer won)."""
        for _ in range(5):
            now = self._clock.now_ms()
            new = apply_provider_status(order, provider, now)
            if new is None:
                return order
            journal = None
            movements: list[StockMovement] = []
            if new.status is OrderStatus.PAID:
                journal, movements = await self._sale(new)
            events = []
            if journal is not None:
                events.append(self._webhooks.order_event("order.paid", new, "paid"))
                fault_point("payment.before_ledger_commit")
            if await self._store.save_order(
                new,
                order.status,
                journal,
                movements=movements,
                webhook_events=events,
                outbox=self._paid_notice(new),
            ):
                await self.after_change(new)
                if journal is not None:
                    fault_point("payment.after_ledger_commit")
                if new.status is OrderStatus.AUTHORIZED:
                    await self._member_changed(new)
                return new
            order = await self._order(order.id)
        return order

    def _paid_notice(self, new: Order) -> list[OutboxEvent]:
        """The buyer's `order.paid` notification, written with a move to paid."""
        if new.status is not OrderStatus.PAID:
            return []
        return [
            order_event("order.paid", new.id, new.buyer_id, new.total.display(), new.updated_at_ms)
        ]

    async def _sale(self, paid: Order) -> tuple[JournalTransaction, list[StockMovement]]:
        """What a move to `paid` writes with the order: its payment's journal entry at the
        order's total (keyed by the provider's payment, with a referrer's commission) and its
        units' `sale` movement."""
        movements = []
        if paid.variant_id is not None:
            movements.append(
                sale_movement(
                    movement_id=new_id("mov"),
                    order_id=paid.id,
                    product_id=paid.product_id,
                    variant_id=paid.variant_id,
                    quantity=paid.quantity,
                    buyer_id=paid.buyer_id,
                    at_ms=paid.updated_at_ms,
                )
            )
        journal = payment_entry(
            order_id=paid.id,
            seller_id=paid.seller_id,
            total=paid.total.minor,
            currency=paid.total.currency,
            fee_bps=self._fee_bps,
            idempotency_key=f"payment:{paid.payment_provider}:{paid.payment_ref}",
            at_ms=paid.updated_at_ms,
            discount=paid.discount_minor,
            referral=await self._referrals.referral_for(paid, paid.updated_at_ms, self._fee_bps),
        )
        return journal, movements

    async def after_change(self, order: Order) -> None:
        """Settle the reservation to match the order, then tell the buyer and the show."""
        pool = order.product_id
        if order.status is OrderStatus.PAID:
            await self._inventory.commit(pool, order.id)
        elif order.status in RELEASED:
            await self._inventory.release(pool, order.id)
            await self._coupons.give_back(order)
        await self._events.order_updated(order)
        if order.status is OrderStatus.PAID or order.status in RELEASED:
            await self._events.stock_changed(order.show_id, order.offer_id)

    async def sync(self, order_id: str) -> Order:
        """Re-read the order's payment and apply it (webhooks and confirm pages call this)."""
        order = await self._order(order_id)
        if order.status not in HOLDING or not order.payment_ref:
            return order
        status = await self.gateway(order.payment_provider).payment_status(order)
        return await self.apply(order, status)

    async def confirm_demo(self, principal: Principal | None, order_id: str, card: str) -> Order:
        """The demo provider's confirm step, for the order's buyer only."""
        buyer = authorize(principal, Action.CHECKOUT)
        order = await self._order(order_id)
        if order.buyer_id != buyer.user_id:
            raise NotFound("no such order")
        if order.payment_provider != "demo":
            raise Conflict("this order is not paid through the demo provider")
        demo: Any = self.gateway("demo")
        status: ProviderStatus = await demo.confirm(order, card)
        settled = await self.apply(order, status)
        if status is ProviderStatus.CANCELED and settled.status is OrderStatus.FAILED:
            raise PaymentDeclined("the card was declined (demo); nothing was charged")
        return settled

    async def receive_stripe_webhook(self, body: bytes, signature: str | None) -> None:
        """A webhook delivery as it arrived: verified on its raw bytes by the provider's own
        check (a forgery is counted and refused with nothing changed), then handled."""
        gateway = self.gateway("stripe")
        if not isinstance(gateway, SignedWebhooks):
            raise NotFound("stripe is not enabled")
        try:
            event = gateway.verify_event(body, signature)
        except InvalidSignature:
            self._events.metrics.webhook("invalid")
            raise
        await self.handle_stripe_event(event)

    async def handle_stripe_event(self, event: Mapping[str, Any]) -> None:
        """A verified Stripe event: dedupe by id, then re-read the PaymentIntent and apply it.

        The event is recorded as seen only after it was applied, so a crash in between (the
        `payment.*_ledger_commit` fault points in `apply`) leaves it unseen: Stripe's
        redelivery or the reconcile applies it again, and settlement is idempotent."""
        event_id = str(event.get("id", ""))
        if not event_id or await self._store.seen_event(event_id):
            self._events.metrics.webhook("duplicate")
            return
        type_ = str(event.get("type", ""))
        obj = event.get("data", {}).get("object", {})
        pi_id = ""
        if type_.startswith("payment_intent."):
            pi_id = str(obj.get("id", ""))
        elif type_.startswith(("charge.", "refund.", "checkout.session.")):
            # a Checkout Session carries its PaymentIntent like a charge or a refund does
            pi_id = str(obj.get("payment_intent") or "")
        if pi_id:
            order = await self._store.order_by_payment("stripe", pi_id)
            if order is not None:
                order = await self.sync(order.id)
                if type_ in REFUND_EVENTS:
                    await self.sync_refunds(order.id)
        await self._store.record_event(event_id, "stripe", type_, self._clock.now_ms())
        self._events.metrics.webhook("handled")

    async def reconcile(self) -> int:
        """Apply the events the provider could not deliver (Stripe's `delivery_success=false`
        from the last `RECONCILE_WINDOW_MS`), oldest first, through the webhook's own path;
        returns how many were new here. This is how a payment whose webhook never arrived (the
        node died before answering, the endpoint was down past Stripe's retries) still settles
        within a sweeper interval or two. Safe on every node at once: events dedupe by id and
        settlement is a compare-and-set."""
        gateway = self._gateways.get("stripe")
        if not isinstance(gateway, SignedWebhooks):
            return 0
        applied = 0
        since = self._clock.now_ms() - RECONCILE_WINDOW_MS
        try:
            events = await gateway.undelivered_events(since)
        except PaymentGatewayError:
            log.warning("could not list the provider's undelivered events")
            return 0
        for event in reversed(events):
            if await self._store.seen_event(str(event.get("id", ""))):
                continue
            try:
                await self.handle_stripe_event(event)
            except PaymentGatewayError:
                log.warning("could not reconcile an event", extra={"event": event.get("id")})
                continue
            applied += 1
        return applied

    async def cancel(self, principal: Principal | None, order_id: str) -> Order:
        """Give up an unpaid order (its buyer, its seller or an admin): the payment is cancelled
        at the provider first, so a payment that already went through wins and is kept."""
        if principal is None:
            raise Unauthenticated("sign in to cancel an order")
        order = await self._order(order_id)
        allowed = principal.user_id in (order.buyer_id, order.seller_id)
        if not allowed and principal.role is not Role.ADMIN:
            raise NotFound("no such order")
        if order.status is OrderStatus.AUTHORIZED:
            offer = await self._store.get_offer(order.offer_id)
            if offer is None or is_closed(offer, self._clock.now_ms()):
                raise Conflict("the group buy has closed; its members are being settled")
        elif order.status not in HOLDING:
            raise Conflict(f"a {order.status} order cannot be cancelled")
        provider = ProviderStatus.CANCELED
        if order.payment_ref:
            provider = await self.gateway(order.payment_provider).cancel_payment(order)
        if provider is ProviderStatus.SUCCEEDED:
            paid = await self.apply(order, provider)
            raise Conflict(f"the order was already paid ({paid.status})")
        cancelled = transition(order, OrderStatus.CANCELLED, self._clock.now_ms())
        if await self._store.save_order(cancelled, order.status):
            await self.after_change(cancelled)
            if order.status is OrderStatus.AUTHORIZED:
                await self._member_changed(cancelled)
            return cancelled
        return await self.cancel(principal, order_id)  # it moved meanwhile: decide again

    async def sync_refunds(self, order_id: str) -> Order:
        """Record every refund the provider has for this order's payment that the journal does
        not (refunds made in the provider's dashboard, or ours if we crashed after asking)."""
        order = await self._order(order_id)
        if order.status not in SOLD:
            return order
        for result in await self.gateway(order.payment_provider).refunds(order):
            order = await self._record_refund(order, result)
        return order

    # -- expiry ----------------------------------------------------------------------------------
    async def expire(self, order: Order) -> bool:
        """Give up an unpaid order's hold (its deadline passed, or its show ended): the payment is
        cancelled at the provider first, so one that already went through wins and the order
        becomes paid; otherwise the order becomes `expired` and its units go back. A payment that
        arrives afterwards finds the provider's payment cancelled and the order settled.

        True when this call released the units. False when the order was paid or settled by
        someone else, or the provider could not be reached: then it keeps holding (never release
        what might be paid) and the sweeper tries again after its deadline.
        """
        for _ in range(5):
            if order.status not in HOLDING:
                return False
            provider = ProviderStatus.CANCELED
            if order.payment_ref:
                try:
                    provider = await self.gateway(order.payment_provider).cancel_payment(order)
                except (PaymentGatewayError, NotFound):
                    log.warning("could not cancel an unpaid payment", extra={"order": order.id})
                    return False
            if provider is ProviderStatus.SUCCEEDED:
                await self.apply(order, provider)
                return False
            expired = transition(order, OrderStatus.EXPIRED, self._clock.now_ms())
            if await self._store.save_order(expired, order.status):
                await self.after_change(expired)
                return True
            order = await self._order(order.id)  # it moved meanwhile (got its payment): again
        return False

    async def sweep(self, limit: int = 200) -> int:
        """Expire orders past their deadline and settle stray reservations; returns how many
        reservations were released. Safe to run on every node at once."""
        now = self._clock.now_ms()
        released = 0
        for order in await self._store.due_orders(now, limit):
            if await self.expire(order):
                released += 1
        for pool, reservation_id in await self._inventory.due(now, limit):
            current = await self._store.get_order(reservation_id)
            if current is not None and current.status in UNSETTLED:
                continue  # handled above on the next pass (a group member: at the group's close)
            if current is not None and current.status in SOLD:
                await self._inventory.commit(pool, reservation_id)
            elif await self._inventory.release(pool, reservation_id):
                released += 1
        return released

    # -- group buys: capture or void at the close ------------------------------------------------
    async def capture(self, order: Order, unit_price: int) -> Order:
        """Charge a group member the final `unit_price` a unit: captured at the provider (once:
        its key is derived from the order), then paid at that price with its journal entry and
        sale in one compare-and-set from `authorized`. A decline fails the order and its units
        go back. Safe to repeat after a crash anywhere: the provider reports the capture it
        made, and the compare-and-set and the journal's key let one save through."""
        if order.status is not OrderStatus.AUTHORIZED:
            return order
        amount = capture_amount(unit_price, order.quantity, order.total.minor)
        provider = await self.gateway(order.payment_provider).capture_payment(order, amount)
        fault_point("group.after_capture")
        now = self._clock.now_ms()
        if provider is ProviderStatus.CANCELED:
            failed = transition(order, OrderStatus.FAILED, now)
            if await self._store.save_order(failed, OrderStatus.AUTHORIZED):
                await self.after_change(failed)
                return failed
            return await self._order(order.id)
        if provider is not ProviderStatus.SUCCEEDED:
            log.warning("a capture left the payment open", extra={"order": order.id})
            return order
        paid = captured(order, Money(unit_price, order.unit_price.currency), now)
        journal, movements = await self._sale(paid)
        paid_event = self._webhooks.order_event("order.paid", paid, "paid")
        if await self._store.save_order(
            paid,
            OrderStatus.AUTHORIZED,
            journal,
            movements=movements,
            repriced=True,
            webhook_events=[paid_event],
            outbox=self._paid_notice(paid),
        ):
            await self.after_change(paid)
            return paid
        return await self._order(order.id)

    async def void(self, order: Order) -> Order:
        """Release a group member's hold (the group missed its first tier): cancelled at the
        provider, the order `void` with its units back and no journal entry."""
        if order.status is not OrderStatus.AUTHORIZED:
            return order
        provider = await self.gateway(order.payment_provider).cancel_payment(order)
        if provider is ProviderStatus.SUCCEEDED:
            # a capture can only come from a close that decided to capture; never both
            log.error("a voided member's payment was captured", extra={"order": order.id})
            return order
        voided = transition(order, OrderStatus.VOID, self._clock.now_ms())
        if await self._store.save_order(voided, OrderStatus.AUTHORIZED):
            await self.after_change(voided)
            return voided
        return await self._order(order.id)

    # -- refunds ---------------------------------------------------------------------------------
    async def refund(
        self,
        principal: Principal | None,
        order_id: str,
        amount: int | None,
        key: str | None,
        *,
        restock: bool = False,
    ) -> Order:
        """Refund all or part of a paid order (its seller or an admin); reversing entries are
        keyed by the provider's refund id, and the provider call by `key` (or a derived one).
        `restock` puts the order's units back on its variant (a `refund_restock` movement, once
        per order: a replayed or second restocking refund puts nothing back again)."""
        actor = authorize(principal, Action.VIEW_SHOP_ORDERS)
        order = await self._order(order_id)
        if actor.role is not Role.ADMIN and order.seller_id != actor.user_id:
            raise PermissionDenied("not your shop's order")
        if order.status not in SOLD or order.status is OrderStatus.REFUNDED:
            raise Conflict(f"a {order.status} order cannot be refunded")
        left = order.total.minor - order.refunded_minor
        amount = left if amount is None else amount
        if isinstance(amount, bool) or amount < 1 or amount > left:
            raise InvalidInput(f"refund must be between 1 and {left}")
        provider_key = key or f"lc-refund-{order.id}-{order.refunded_minor}-{amount}"
        result = await self.gateway(order.payment_provider).refund(order, amount, provider_key)
        restock_by = actor.user_id if restock else None
        refunded = await self._record_refund(order, result, restock_by=restock_by)
        if restock_by is not None and not refunded.restocked:
            # the provider's webhook recorded this refund first, without a restock
            refunded = await self._restock(refunded, restock_by)
        return refunded

    async def _record_refund(
        self, order: Order, result: RefundResult, *, restock_by: str | None = None
    ) -> Order:
        """Post the reversing entries for one provider refund, once (keyed by its id). With
        `restock_by` (who asked), the order's units go back on its variant in the same
        transaction, unless an earlier refund put them back."""
        key = f"refund:{order.payment_provider}:{result.id}"
        for _ in range(5):
            posted = await self._store.journal(order.id)
            if any(t.idempotency_key == key for t in posted):
                return order  # already recorded (a replay, or the webhook got here first)
            done = order.refunded_minor + result.amount
            new = replace(
                transition(order, status_after_refund(order, done), self._clock.now_ms()),
                refunded_minor=done,
                restocked=order.restocked or restock_by is not None,
            )
            movements = (
                self._restock_movement(order, restock_by)
                if restock_by is not None and not order.restocked
                else []
            )
            journal = refund_entry(
                order_id=order.id,
                seller_id=order.seller_id,
                total=order.total.minor,
                currency=order.total.currency,
                fee_bps=self._fee_bps,
                refunded_before=order.refunded_minor,
                amount=result.amount,
                idempotency_key=key,
                at_ms=new.updated_at_ms,
                discount=order.discount_minor,
                referral=referral_of(posted),
            )
            refunded = self._webhooks.order_event("order.refunded", new, key)
            if await self._store.save_order(
                new,
                order.status,
                journal,
                order.refunded_minor,
                movements=movements,
                webhook_events=[refunded],
            ):
                if new.status is OrderStatus.REFUNDED:
                    await self._coupons.give_back(new)
                await self._events.order_updated(new)
                await self._back_in_stock(new, movements)
                return new
            order = await self._order(order.id)
        raise Conflict("the order changed while refunding; try again")

    async def _restock(self, order: Order, actor_id: str) -> Order:
        """Put a refunded order's units back on its variant (once: the order's `restocked`
        flag and the movement are written in one compare-and-set)."""
        for _ in range(5):
            if order.restocked:
                return order
            new = replace(order, restocked=True, updated_at_ms=self._clock.now_ms())
            movements = self._restock_movement(order, actor_id)
            if await self._store.save_order(
                new, order.status, None, order.refunded_minor, movements=movements
            ):
                await self._events.order_updated(new)
                await self._back_in_stock(new, movements)
                return new
            order = await self._order(order.id)
        raise Conflict("the order changed while restocking; try again")

    def _restock_movement(self, order: Order, actor_id: str) -> list[StockMovement]:
        if order.variant_id is None:
            return []
        return [
            restock_movement(
                movement_id=new_id("mov"),
                order_id=order.id,
                product_id=order.product_id,
                variant_id=order.variant_id,
                quantity=order.quantity,
                actor_id=actor_id,
                at_ms=self._clock.now_ms(),
            )
        ]

    async def _back_in_stock(self, order: Order, movements: list[StockMovement]) -> None:
        """Units SQL has put back reach the inventory pool, and the product's live offers."""
        for movement in movements:
            await self._stock.put_back(movement.product_id, movement.variant_id, movement.delta)
        if movements:
            await self._events.product_stock_changed(order.product_id)
