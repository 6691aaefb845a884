"""DemoPaymentGateway: the default provider — no keys, no money, Stripe's test card numbers.

A demo payment is a row in `demo_payments` (so any node can confirm it). Payments created
in one event-loop tick are written by one statement (a flash sale's winners). Confirming with
4242 4242 4242 4242 succeeds; 4000 0000 0000 0002 is declined for good (the demo has no retry
flow, so a decline fails the order and releases its stock). Every change is a conditional UPDATE,
which makes confirm and the sweeper's cancel race-safe: only one of them can leave `open`.

A held payment (a group buy's, Stripe's `capture_method=manual`) is `requires_capture` after a
paying card, until captured (once: the capture is conditional on `requires_capture`, and a
repeated capture reads what the first did) or cancelled. 4000 0000 0000 0341 authorises but is
declined at capture (Stripe's "attaches but fails to charge" card); paid at once, it declines.
"""

from __future__ import annotations

import hashlib

from livecommerce.adapters.sql.database import Database, UniqueViolation
from livecommerce.domain.orders import Order, ProviderStatus
from livecommerce.errors import IdempotencyConflict, InvalidInput, NotFound
from livecommerce.services.batching import DEFAULT_BATCH_MAX, TickBatcher
from livecommerce.services.ports import PaymentInfo, RefundResult

PAYING_CARDS = frozenset({"4242424242424242"})
DECLINED_CARDS = frozenset({"4000000000000002"})
#: Authorises a held payment, then is declined at capture.
CAPTURE_DECLINED_CARDS = frozenset({"4000000000000341"})
NOTICE = "demo — no money moves"

_STATUS = {
    "open": ProviderStatus.OPEN,
    "succeeded": ProviderStatus.SUCCEEDED,
    "canceled": ProviderStatus.CANCELED,
    "requires_capture": ProviderStatus.AUTHORIZED,
}


class DemoPaymentGateway:
    """The PaymentGateway port for demos and tests of the whole flow without Stripe."""

    name = "demo"

    def __init__(self, db: Database, base_url: str, *, batch_max: int = DEFAULT_BATCH_MAX) -> None:
        self._db = db
        self._base_url = base_url.rstrip("/")
        self._creates: TickBatcher[tuple[Order, bool], None] = TickBatcher(self._create, batch_max)

    def _ref(self, order: Order) -> str:
        return f"demo_{order.id}"

    def confirm_path(self, order_id: str) -> str:
        """Where the buyer's page posts the card number."""
        return f"/api/v1/payments/demo/{order_id}/confirm"

    async def create_payment(self, order: Order, *, hold: bool = False) -> PaymentInfo:
        await self._creates.submit((order, hold))
        return await self.payment_info(order)

    async def _create(self, orders: list[tuple[Order, bool]]) -> list[Exception | None]:
        """The tick's new payments in one `INSERT … ON CONFLICT DO NOTHING` (a payment that
        exists was made by an earlier attempt for the same order: the same payment). Should
        that fail, each is tried alone, so a bad row fails only its own caller."""
        try:
            await self._insert(orders)
        except Exception:
            if len(orders) == 1:
                raise
            outcomes: list[Exception | None] = []
            for order in orders:
                try:
                    await self._insert([order])
                except Exception as exc:  # handed to its caller, who raises it
                    outcomes.append(exc)
                else:
                    outcomes.append(None)
            return outcomes
        return [None] * len(orders)

    async def _insert(self, orders: list[tuple[Order, bool]]) -> None:
        rows = {
            self._ref(o): (
                self._ref(o),
                o.id,
                o.total.minor,
                o.total.currency,
                o.created_at_ms,
                "manual" if hold else "automatic",
            )
            for o, hold in orders
        }
        values = ", ".join("(?, ?, ?, ?, 'open', ?, ?)" for _ in rows)
        await self._db.execute(
            "INSERT INTO demo_payments "  # noqa: S608 why: placeholders only
            "(id, order_id, amount, currency, status, created_at, capture_method) "
            f"VALUES {values} ON CONFLICT DO NOTHING",
            *[arg for row in rows.values() for arg in row],
        )

    async def payment_info(self, order: Order) -> PaymentInfo:
        return PaymentInfo(
            provider=self.name,
            ref=self._ref(order),
            client={
                "provider": self.name,
                "confirm_url": self._base_url + self.confirm_path(order.id),
                "notice": NOTICE,
                "test_cards": {"pays": "4242424242424242", "declined": "4000000000000002"},
            },
        )

    async def _status(self, ref: str) -> ProviderStatus:
        row = await self._db.fetchone("SELECT status FROM demo_payments WHERE id = ?", ref)
        if row is None:
            raise NotFound("no such demo payment")
        return _STATUS[str(row["status"])]

    async def payment_status(self, order: Order) -> ProviderStatus:
        return await self._status(self._ref(order))

    async def confirm(self, order: Order, card: str) -> ProviderStatus:
        """Pay (or decline) an open demo payment with a test card number."""
        number = "".join(card.split())
        paying = number in PAYING_CARDS or number in CAPTURE_DECLINED_CARDS
        if not paying and number not in DECLINED_CARDS:
            raise InvalidInput("demo mode takes Stripe's test cards: 4242 4242 4242 4242 pays")
        fails_capture = number in CAPTURE_DECLINED_CARDS
        await self._db.execute(
            "UPDATE demo_payments SET capture_declines = ?, status = CASE "
            "WHEN ? = 0 THEN 'canceled' "
            "WHEN capture_method = 'manual' THEN 'requires_capture' "
            "WHEN ? = 1 THEN 'canceled' ELSE 'succeeded' END "
            "WHERE id = ? AND status = 'open'",
            int(fails_capture),
            int(paying),
            int(fails_capture),
            self._ref(order),
        )
        return await self._status(self._ref(order))

    async def capture_payment(self, order: Order, amount: int) -> ProviderStatus:
        """Capture a held payment once; a capture already made (by an attempt that crashed
        before its caller saw it) is read back, never made again."""
        await self._db.execute(
            "UPDATE demo_payments SET "
            "status = CASE WHEN capture_declines = 1 THEN 'canceled' ELSE 'succeeded' END, "
            "amount_captured = CASE WHEN capture_declines = 1 THEN NULL ELSE CAST(? AS BIGINT) END "
            "WHERE id = ? AND status = 'requires_capture' AND amount >= ?",
            amount,
            self._ref(order),
            amount,
        )
        return await self._status(self._ref(order))

    async def cancel_payment(self, order: Order) -> ProviderStatus:
        await self._db.execute(
            "UPDATE demo_payments SET status = 'canceled' "
            "WHERE id = ? AND status IN ('open', 'requires_capture')",
            self._ref(order),
        )
        try:
            return await self._status(self._ref(order))
        except NotFound:
            return ProviderStatus.CANCELED  # never created: nothing can be paid

    async def refund(self, order: Order, amount: int, idempotency_key: str) -> RefundResult:
        """Like Stripe: a key names one refund. The same key again returns that refund and
        refunds nothing more; the same key with another amount is an IdempotencyConflict (it
        once refunded 600 for a ledger that said 100)."""
        refund_id = "demo_re_" + hashlib.sha256(idempotency_key.encode()).hexdigest()[:24]
        payment = self._ref(order)
        try:
            async with self._db.transaction() as tx:
                await tx.execute(
                    "INSERT INTO demo_refunds (id, payment_id, amount) VALUES (?, ?, ?)",
                    refund_id,
                    payment,
                    amount,
                )
                await tx.execute(
                    "UPDATE demo_payments SET refunded = refunded + ? "
                    "WHERE id = ? AND status = 'succeeded'",
                    amount,
                    payment,
                )
        except UniqueViolation:
            row = await self._db.fetchone(
                "SELECT payment_id, amount FROM demo_refunds WHERE id = ?", refund_id
            )
            if row is None or row["payment_id"] != payment or row["amount"] != amount:
                raise IdempotencyConflict(
                    "this idempotency key was used for a different refund"
                ) from None
        return RefundResult(id=refund_id, amount=amount)

    async def refunds(self, order: Order) -> list[RefundResult]:
        """Demo refunds only happen through our API, which records them as it makes them."""
        return []
