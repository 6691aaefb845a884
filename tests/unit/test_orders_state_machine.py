"""A hypothesis state machine over orders, inventory and the journal: reserve, pay, decline,
expire and refund in any order, with provider events duplicated and reordered, keeps every
invariant (no oversell of the variant or the offer's cap, conservation of units, one payment
entry per paid order)."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from livecommerce.domain import inventory as inv
from livecommerce.domain.ledger import (
    EntryKind,
    JournalTransaction,
    balances,
    payment_entry,
    refund_entry,
)
from livecommerce.domain.money import Money
from livecommerce.domain.orders import (
    HOLDING,
    SOLD,
    Order,
    OrderStatus,
    ProviderStatus,
    apply_provider_status,
    place_order,
    status_after_refund,
    transition,
)
from livecommerce.errors import LimitReached, SoldOut

ON_HAND = 9
CAP = 7
LIMIT = 3
FEE_BPS = 750


class ShopMachine(RuleBasedStateMachine):
    """Mirrors what the services do, with the domain functions as the only way to change state."""

    def __init__(self) -> None:
        super().__init__()
        self.variant = inv.VariantStock(ON_HAND)
        self.stock = inv.StockLevel(total=CAP)
        self.orders: dict[str, Order] = {}
        self.reservations: dict[str, inv.Reservation] = {}
        self.provider: dict[str, ProviderStatus] = {}
        self.journal: dict[tuple[str, str], JournalTransaction] = {}
        self.events: list[str] = []
        self.now = 0

    # -- helpers -------------------------------------------------------------------------------
    def _ids(self) -> list[str]:
        return sorted(self.orders)

    def _pick(self, i: int) -> str:
        ids = self._ids()
        return ids[i % len(ids)]

    def _save(self, new: Order) -> None:
        old = self.orders[new.id]
        self.orders[new.id] = new
        res = self.reservations[new.id]
        if new.status is OrderStatus.PAID and old.status in HOLDING:
            self.variant, stock, self.reservations[new.id] = inv.commit(
                self.variant, self.stock, res
            )
            assert stock is not None
            self.stock = stock
            key = (new.id, f"pay:{new.id}")
            self.journal.setdefault(
                key,
                payment_entry(
                    order_id=new.id,
                    seller_id="s",
                    total=new.total.minor,
                    currency="EUR",
                    fee_bps=FEE_BPS,
                    idempotency_key=key[1],
                    at_ms=self.now,
                ),
            )
        elif new.status in {OrderStatus.FAILED, OrderStatus.EXPIRED, OrderStatus.CANCELLED}:
            self.variant, stock, self.reservations[new.id] = inv.release(
                self.variant, self.stock, res
            )
            assert stock is not None
            self.stock = stock

    def _handle(self, order_id: str) -> None:
        """The webhook handler: re-read the provider, then apply its word."""
        truth = self.provider.get(order_id, ProviderStatus.OPEN)
        new = apply_provider_status(self.orders[order_id], truth, self.now)
        if new is not None:
            self._save(new)

    # -- rules ---------------------------------------------------------------------------------
    @rule(buyer=st.integers(0, 3), qty=st.integers(1, 4))
    def reserve(self, buyer: int, qty: int) -> None:
        self.now += 1
        buyer_id = f"b{buyer}"
        held = sum(
            r.quantity
            for r in self.reservations.values()
            if r.buyer_id == buyer_id and r.status is not inv.ReservationStatus.RELEASED
        )
        before = (self.variant, self.stock)
        try:
            self.variant, stock = inv.reserve(
                self.variant, self.stock, qty, buyer_units=held, per_buyer_limit=LIMIT
            )
        except (SoldOut, LimitReached):
            assert before == (self.variant, self.stock)
            return
        assert stock is not None
        self.stock = stock
        oid = f"o{len(self.orders)}"
        self.orders[oid] = place_order(
            order_id=oid,
            buyer_id=buyer_id,
            seller_id="s",
            show_id="sh",
            offer_id="of",
            product_id="p",
            variant_id=None,
            quantity=qty,
            unit_price=Money(333, "EUR"),
            idempotency_key=oid,
            request_hash="h",
            now_ms=self.now,
            ttl_ms=100,
        )
        self.reservations[oid] = inv.Reservation(
            oid, "pool", buyer_id, qty, self.now + 100, "v", "of", capped=True
        )

    @precondition(lambda self: self.orders)
    @rule(i=st.integers(0, 50))
    def create_payment(self, i: int) -> None:
        oid = self._pick(i)
        if self.orders[oid].status is OrderStatus.RESERVED:
            self._save(transition(self.orders[oid], OrderStatus.PENDING_PAYMENT, self.now))

    @precondition(lambda self: self.orders)
    @rule(i=st.integers(0, 50), succeed=st.booleans())
    def provider_settles(self, i: int, succeed: bool) -> None:
        """The buyer pays or is declined for good; the provider emits an event (maybe twice)."""
        oid = self._pick(i)
        if self.orders[oid].status is OrderStatus.RESERVED or oid in self.provider:
            return
        self.provider[oid] = ProviderStatus.SUCCEEDED if succeed else ProviderStatus.CANCELED
        self.events.append(oid)

    @precondition(lambda self: self.events)
    @rule(i=st.integers(0, 200))
    def deliver(self, i: int) -> None:
        """Any queued event, any number of times, in any order."""
        self._handle(self.events[i % len(self.events)])

    @precondition(lambda self: self.orders)
    @rule(i=st.integers(0, 50))
    def sweep(self, i: int) -> None:
        """The expiry sweeper: cancel at the provider first; a success there wins."""
        oid = self._pick(i)
        self.now += 100
        order = self.orders[oid]
        if order.status not in HOLDING or self.now < order.expires_at_ms:
            return
        if self.provider.get(oid) is ProviderStatus.SUCCEEDED:
            self._handle(oid)
            return
        self.provider[oid] = ProviderStatus.CANCELED
        self._save(transition(order, OrderStatus.EXPIRED, self.now))

    @precondition(lambda self: self.orders)
    @rule(i=st.integers(0, 50), amount=st.integers(1, 2000), replay=st.booleans())
    def refund(self, i: int, amount: int, replay: bool) -> None:
        oid = self._pick(i)
        order = self.orders[oid]
        if order.status not in SOLD or order.status is OrderStatus.REFUNDED:
            return
        amount = min(amount, order.total.minor - order.refunded_minor)
        key = (oid, f"refund:{oid}:{order.refunded_minor}")
        for _ in range(2 if replay else 1):
            if key in self.journal:
                continue
            self.journal[key] = refund_entry(
                order_id=oid,
                seller_id="s",
                total=order.total.minor,
                currency="EUR",
                fee_bps=FEE_BPS,
                refunded_before=order.refunded_minor,
                amount=amount,
                idempotency_key=key[1],
                at_ms=self.now,
            )
            done = order.refunded_minor + amount
            order = replace(
                transition(order, status_after_refund(order, done), self.now), refunded_minor=done
            )
            self.orders[oid] = order

    # -- invariants ----------------------------------------------------------------------------
    @invariant()
    def units_are_conserved(self) -> None:
        s, v = self.stock, self.variant
        assert CAP == s.sold + s.reserved + s.available
        assert s.available >= 0
        assert s.reserved >= 0
        assert s.sold <= CAP
        assert ON_HAND == v.on_hand + s.sold
        assert v.reserved == s.reserved
        assert v.available >= 0

    @invariant()
    def stock_matches_orders(self) -> None:
        held = sum(o.quantity for o in self.orders.values() if o.status in HOLDING)
        sold = sum(o.quantity for o in self.orders.values() if o.status in SOLD)
        assert (held, sold) == (self.stock.reserved, self.stock.sold)

    @invariant()
    def one_payment_entry_per_paid_order(self) -> None:
        payments = [t for t in self.journal.values() if t.kind is EntryKind.PAYMENT]
        paid_ids = {o.id for o in self.orders.values() if o.status in SOLD}
        assert len(payments) == len(paid_ids) == len({t.order_id for t in payments})
        assert paid_ids == {t.order_id for t in payments}
        ledger_units = sum(self.orders[t.order_id].quantity for t in payments)
        assert ledger_units == self.stock.sold

    @invariant()
    def journal_balances(self) -> None:
        assert 0 == sum(balances(self.journal.values()).values())
        for o in self.orders.values():
            refunded = sum(
                t.amount
                for t in self.journal.values()
                if t.order_id == o.id and t.kind is EntryKind.REFUND
            )
            assert refunded == o.refunded_minor <= o.total.minor

    @invariant()
    def per_buyer_limit_holds(self) -> None:
        for b in {o.buyer_id for o in self.orders.values()}:
            units = sum(
                o.quantity
                for o in self.orders.values()
                if o.buyer_id == b and (o.status in HOLDING or o.status in SOLD)
            )
            assert units <= LIMIT


ShopMachine.TestCase.settings = settings(max_examples=150, stateful_step_count=40, deadline=None)
TestShopMachine = ShopMachine.TestCase
TestShopMachine.__doc__ = (
    "Orders, inventory and the journal keep their invariants under any events."
)
