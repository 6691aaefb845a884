"""SqlOrderStore: orders, offers and provider-event dedup in the SQL store.

Status changes are compare-and-set (`UPDATE … WHERE id = ? AND status = ?`), and a payment's
journal entries and its `sale` inventory movement are written in the same transaction, so racing
webhook deliveries, the demo confirm and the expiry sweeper agree on one outcome and a paid order
has always left its variant's stock.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Sequence
from typing import Any, TypeVar

from livecommerce.adapters.sql.database import Database, Row, UniqueViolation
from livecommerce.adapters.sql.ledger import SqlLedger, post
from livecommerce.adapters.sql.notifications import write_outbox
from livecommerce.adapters.sql.stock import write_movements
from livecommerce.adapters.sql.webhooks import enqueue_in
from livecommerce.domain.inventory import StockMovement
from livecommerce.domain.ledger import JournalTransaction
from livecommerce.domain.money import Money
from livecommerce.domain.notifications import OutboxEvent
from livecommerce.domain.offers import Offer, OfferKind, OfferStatus
from livecommerce.domain.orders import Order, OrderStatus
from livecommerce.domain.shipping import Fulfilment, ShippingAddress
from livecommerce.domain.webhooks import WebhookEvent
from livecommerce.ids import new_id
from livecommerce.services.batching import DEFAULT_BATCH_MAX, TickBatcher
from livecommerce.services.ports import OrderFilter

T = TypeVar("T")

_ORDER_COLUMNS = (
    "id, buyer_id, seller_id, show_id, offer_id, product_id, variant_id, quantity, "
    "unit_price_minor, total_minor, currency, status, idempotency_key, request_hash, created_at, "
    "updated_at, expires_at, payment_provider, payment_ref, refunded_minor, shipping_address, "
    "carrier, tracking_number, fulfilled_at, restocked, discount_minor, coupon_id, coupon_code"
)


_MARKS = ", ".join("?" for _ in _ORDER_COLUMNS.split(","))
_UPDATE_ORDER = (
    "UPDATE orders SET status = ?, updated_at = ?, payment_provider = ?, payment_ref = ?, "
    "refunded_minor = ?, carrier = ?, tracking_number = ?, fulfilled_at = ?, restocked = ? "
    "WHERE id = ? AND status = ?"
)
_REPRICE_ORDER = "UPDATE orders SET unit_price_minor = ?, total_minor = ?, "
# Many compare-and-sets in one statement: VALUES rows (id, expected status, then the columns
# of `_changes`); a VALUES list names its columns column1, column2, … in SQLite and PostgreSQL
# alike, and the casts give PostgreSQL the parameters' types.
_CHANGE_ROW = (
    "(CAST(? AS TEXT), CAST(? AS TEXT), CAST(? AS TEXT), CAST(? AS BIGINT), CAST(? AS TEXT), "
    "CAST(? AS TEXT), CAST(? AS BIGINT), CAST(? AS TEXT), CAST(? AS TEXT), CAST(? AS BIGINT), "
    "CAST(? AS INTEGER))"
)
_UPDATE_ORDERS = (
    "UPDATE orders SET status = v.column3, updated_at = v.column4, payment_provider = v.column5, "
    "payment_ref = v.column6, refunded_minor = v.column7, carrier = v.column8, "
    "tracking_number = v.column9, fulfilled_at = v.column10, restocked = v.column11 "
    "FROM (VALUES {values}) AS v WHERE orders.id = v.column1 AND orders.status = v.column2 "
    "RETURNING orders.id"
)
_INSERT_ORDER = f"INSERT INTO orders ({_ORDER_COLUMNS}) VALUES ({_MARKS})"  # noqa: S608 why: constants


def _changes(order: Order) -> tuple[Any, ...]:
    """What a status change writes, in `_UPDATE_ORDER`'s order."""
    fulfilment = order.fulfilment
    return (
        str(order.status),
        order.updated_at_ms,
        order.payment_provider,
        order.payment_ref,
        order.refunded_minor,
        fulfilment.carrier if fulfilment else "",
        fulfilment.tracking_number if fulfilment else "",
        fulfilment.fulfilled_at_ms if fulfilment else None,
        order.restocked,
    )


def _order_args(order: Order) -> tuple[Any, ...]:
    """An order's values in `_ORDER_COLUMNS` order."""
    fulfilment = order.fulfilment
    return (
        order.id,
        order.buyer_id,
        order.seller_id,
        order.show_id,
        order.offer_id,
        order.product_id,
        order.variant_id,
        order.quantity,
        order.unit_price.minor,
        order.total.minor,
        order.total.currency,
        str(order.status),
        order.idempotency_key,
        order.request_hash,
        order.created_at_ms,
        order.updated_at_ms,
        order.expires_at_ms,
        order.payment_provider,
        order.payment_ref,
        order.refunded_minor,
        _address_json(order.shipping_address),
        fulfilment.carrier if fulfilment else "",
        fulfilment.tracking_number if fulfilment else "",
        fulfilment.fulfilled_at_ms if fulfilment else None,
        order.restocked,
        order.discount_minor,
        order.coupon_id,
        order.coupon_code,
    )


async def _outcome(call: Awaitable[T]) -> T | Exception:
    """The call's result, or the exception its caller should raise."""
    try:
        return await call
    except Exception as exc:  # handed to the caller, who raises it
        return exc


def _address_json(address: ShippingAddress | None) -> str | None:
    return None if address is None else json.dumps(address.to_wire(), sort_keys=True)


def _address(raw: str | None) -> ShippingAddress | None:
    return None if raw is None else ShippingAddress(**json.loads(raw))


def _fulfilment(row: Row) -> Fulfilment | None:
    if row["fulfilled_at"] is None:
        return None
    return Fulfilment(row["carrier"], row["tracking_number"], int(row["fulfilled_at"]))


def _like(text: str) -> str:
    """A LIKE pattern matching ``text`` anywhere, its wildcards taken literally."""
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _order(row: Row) -> Order:
    currency = str(row["currency"])
    return Order(
        id=row["id"],
        buyer_id=row["buyer_id"],
        seller_id=row["seller_id"],
        show_id=row["show_id"],
        offer_id=row["offer_id"],
        product_id=row["product_id"],
        variant_id=row["variant_id"],
        quantity=int(row["quantity"]),
        unit_price=Money(int(row["unit_price_minor"]), currency),
        total=Money(int(row["total_minor"]), currency),
        status=OrderStatus(row["status"]),
        idempotency_key=row["idempotency_key"],
        request_hash=row["request_hash"],
        created_at_ms=int(row["created_at"]),
        updated_at_ms=int(row["updated_at"]),
        expires_at_ms=int(row["expires_at"]),
        payment_provider=row["payment_provider"],
        payment_ref=row["payment_ref"],
        refunded_minor=int(row["refunded_minor"]),
        shipping_address=_address(row["shipping_address"]),
        fulfilment=_fulfilment(row),
        restocked=bool(row["restocked"]),
        discount_minor=int(row["discount_minor"]),
        coupon_id=row["coupon_id"],
        coupon_code=row["coupon_code"],
    )


def _offer(row: Row) -> Offer:
    return Offer(
        id=row["id"],
        show_id=row["show_id"],
        seller_id=row["seller_id"],
        product_id=row["product_id"],
        kind=OfferKind(row["kind"]),
        price=Money(int(row["price_minor"]), str(row["currency"])),
        cap=None if row["cap"] is None else int(row["cap"]),
        per_buyer_limit=None if row["per_buyer_limit"] is None else int(row["per_buyer_limit"]),
        starts_at_ms=None if row["starts_at"] is None else int(row["starts_at"]),
        ends_at_ms=None if row["ends_at"] is None else int(row["ends_at"]),
        status=OfferStatus(row["status"]),
        created_at_ms=int(row["created_at"]),
        pinned_at_ms=None if row["pinned_at"] is None else int(row["pinned_at"]),
        duration_ms=None if row["duration_ms"] is None else int(row["duration_ms"]),
        unpinned_at_ms=None if row["unpinned_at"] is None else int(row["unpinned_at"]),
    )


class SqlOrderStore:
    """The OrderStore port over `Database` (SQLite or PostgreSQL). The orders added in one
    event-loop tick are written by one statement (`batch_max` rows at most; 1 writes each
    alone)."""

    def __init__(self, db: Database, *, batch_max: int = DEFAULT_BATCH_MAX) -> None:
        self._db = db
        self.ledger = SqlLedger(db)
        self._adds: TickBatcher[Order, Order] = TickBatcher(self._add_batch, batch_max)
        self._saves: TickBatcher[tuple[Order, OrderStatus], bool] = TickBatcher(
            self._save_batch, batch_max
        )

    # -- orders ----------------------------------------------------------------------------------
    async def add_order(self, order: Order) -> Order:
        return await self._adds.submit(order)

    async def _add_batch(self, orders: list[Order]) -> list[Order | Exception]:
        """One multi-row `INSERT … ON CONFLICT DO NOTHING RETURNING id` for the tick's new orders
        (a single statement: all of it is written or none). An order whose id or (buyer,
        idempotency key) is taken answers the stored one, as `add_order` always did. Should the
        statement fail for any other reason, every order is tried alone, so a bad row fails
        only its own caller."""
        if len(orders) == 1:
            return [await _outcome(self._add_one(orders[0]))]
        first: dict[str, Order] = {}
        for order in orders:
            first.setdefault(order.id, order)
        rows = "(" + _MARKS + ")"
        try:
            inserted = await self._db.fetchall(
                f"INSERT INTO orders ({_ORDER_COLUMNS}) VALUES "  # noqa: S608 why: constants and placeholders
                + ", ".join(rows for _ in first)
                + " ON CONFLICT DO NOTHING RETURNING id",
                *[arg for order in first.values() for arg in _order_args(order)],
            )
        except Exception:  # each order then gets its own answer below
            return [await _outcome(self._add_one(order)) for order in orders]
        written = {row["id"] for row in inserted}
        out: list[Order | Exception] = []
        for order in orders:
            if order.id in written and first[order.id] is order:
                out.append(order)
            else:
                out.append(await _outcome(self._stored(order)))
        return out

    async def _add_one(self, order: Order) -> Order:
        try:
            await self._db.execute(_INSERT_ORDER, *_order_args(order))
        except UniqueViolation:
            return await self._stored(order)
        return order

    async def _stored(self, order: Order) -> Order:
        """The stored order that took `order`'s (buyer, idempotency key), or else its id."""
        row = await self._db.fetchone(
            f"SELECT {_ORDER_COLUMNS} FROM orders WHERE buyer_id = ? AND idempotency_key = ?",  # noqa: S608 why: constant column list
            order.buyer_id,
            order.idempotency_key,
        )
        if row is None:  # the id (not the key) collided: same order id, read it
            row = await self._db.fetchone(
                f"SELECT {_ORDER_COLUMNS} FROM orders WHERE id = ?",  # noqa: S608 why: constant column list
                order.id,
            )
        assert row is not None
        return _order(row)

    async def get_order(self, order_id: str) -> Order | None:
        row = await self._db.fetchone(
            f"SELECT {_ORDER_COLUMNS} FROM orders WHERE id = ?",  # noqa: S608 why: constant column list
            order_id,
        )
        return None if row is None else _order(row)

    async def order_by_payment(self, provider: str, ref: str) -> Order | None:
        row = await self._db.fetchone(
            f"SELECT {_ORDER_COLUMNS} FROM orders WHERE payment_ref = ? AND payment_provider = ?",  # noqa: S608 why: constant column list
            ref,
            provider,
        )
        return None if row is None else _order(row)

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
        if (
            journal is None
            and not movements
            and expected_refunded is None
            and not repriced
            and not webhook_events
            and not outbox
        ):
            return await self._saves.submit((order, expected))
        sql = _UPDATE_ORDER
        args: list[Any] = [*_changes(order), order.id, str(expected)]
        if repriced:
            sql = _REPRICE_ORDER + sql.removeprefix("UPDATE orders SET ")
            args = [order.unit_price.minor, order.total.minor, *args]
        if expected_refunded is not None:
            sql += " AND refunded_minor = ?"
            args.append(expected_refunded)
        try:
            async with self._db.transaction() as tx:
                if await tx.execute(sql, *args) != 1:
                    return False
                if journal is not None and not await post(tx, journal):
                    raise _AlreadyPosted
                if not await write_movements(tx, movements):
                    raise _AlreadyPosted
                for event in webhook_events:
                    await enqueue_in(tx, event)
                await write_outbox(tx, outbox)
        except (_AlreadyPosted, UniqueViolation):
            return False
        return True

    async def _save_batch(self, saves: list[tuple[Order, OrderStatus]]) -> list[bool | Exception]:
        """The tick's plain status changes (no journal, no movements: a checkout's move to
        `pending_payment`, an expiry) as one `UPDATE … FROM (VALUES …)`, each row still a
        compare-and-set on its expected status; `RETURNING` names the rows that changed. An
        order saved twice in one tick has its later saves run alone (one statement updates a
        row once), and should the statement fail, every save runs alone."""
        first: dict[str, tuple[Order, OrderStatus]] = {}
        for save in saves:
            first.setdefault(save[0].id, save)
        if len(first) == 1:
            return [await _outcome(self._save_one(*save)) for save in saves]
        try:
            rows = await self._db.fetchall(
                _UPDATE_ORDERS.format(values=", ".join(_CHANGE_ROW for _ in first)),
                *[arg for o, e in first.values() for arg in (o.id, str(e), *_changes(o))],
            )
        except Exception:  # each save then gets its own answer below
            return [await _outcome(self._save_one(*save)) for save in saves]
        changed = {row["id"] for row in rows}
        out: list[bool | Exception] = []
        for save in saves:
            if first[save[0].id] is save:
                out.append(save[0].id in changed)
            else:
                out.append(await _outcome(self._save_one(*save)))
        return out

    async def _save_one(self, order: Order, expected: OrderStatus) -> bool:
        try:
            changed = await self._db.execute(
                _UPDATE_ORDER, *_changes(order), order.id, str(expected)
            )
        except UniqueViolation:
            return False
        return changed == 1

    async def list_orders(self, flt: OrderFilter) -> list[Order]:
        where: list[str] = []
        args: list[Any] = []
        for column, value in (
            ("buyer_id", flt.buyer_id),
            ("seller_id", flt.seller_id),
            ("show_id", flt.show_id),
            ("offer_id", flt.offer_id),
        ):
            if value is not None:
                where.append(f"{column} = ?")
                args.append(value)
        if flt.statuses:
            where.append(f"status IN ({', '.join('?' for _ in flt.statuses)})")
            args.extend(str(s) for s in flt.statuses)
        if flt.since_ms is not None:
            where.append("created_at >= ?")
            args.append(flt.since_ms)
        if flt.until_ms is not None:
            where.append("created_at < ?")
            args.append(flt.until_ms)
        if flt.q:
            # the order id, or the buyer's name or e-mail (login or guest contact), anywhere in it
            where.append(
                "(lower(id) LIKE ? ESCAPE '\\' OR buyer_id IN (SELECT u.id FROM users u WHERE "
                "lower(u.name) LIKE ? ESCAPE '\\' OR u.email LIKE ? ESCAPE '\\' "
                "OR u.guest_email LIKE ? ESCAPE '\\'))"
            )
            args.extend([_like(flt.q)] * 4)
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        rows = await self._db.fetchall(
            f"SELECT {_ORDER_COLUMNS} FROM orders {clause} "  # noqa: S608 why: only placeholders and fixed column names are interpolated
            "ORDER BY created_at DESC, id LIMIT ?",
            *args,
            max(1, min(flt.limit, 10_000)),
        )
        return [_order(r) for r in rows]

    async def due_orders(self, now_ms: int, limit: int = 100) -> list[Order]:
        rows = await self._db.fetchall(
            f"SELECT {_ORDER_COLUMNS} FROM orders WHERE status IN (?, ?) AND expires_at <= ? "  # noqa: S608 why: constant column list
            "ORDER BY expires_at LIMIT ?",
            str(OrderStatus.RESERVED),
            str(OrderStatus.PENDING_PAYMENT),
            now_ms,
            limit,
        )
        return [_order(r) for r in rows]

    async def offer_orders(self, offer_id: str, statuses: Sequence[OrderStatus]) -> list[Order]:
        marks = ", ".join("?" for _ in statuses)
        rows = await self._db.fetchall(
            f"SELECT {_ORDER_COLUMNS} FROM orders WHERE offer_id = ? AND status IN ({marks})",  # noqa: S608 why: constant column list and placeholders
            offer_id,
            *[str(s) for s in statuses],
        )
        return [_order(r) for r in rows]

    async def paid_orders(self, offer_id: str) -> list[Order]:
        columns = ", ".join(f"o.{c.strip()}" for c in _ORDER_COLUMNS.split(","))
        rows = await self._db.fetchall(
            f"SELECT DISTINCT {columns} FROM orders o JOIN journal_transactions t "  # noqa: S608 why: constant column list
            "ON t.order_id = o.id WHERE o.offer_id = ? AND t.kind = 'payment'",
            offer_id,
        )
        return [_order(r) for r in rows]

    async def journal(self, order_id: str | None = None) -> list[JournalTransaction]:
        return await self.ledger.transactions(order_id)

    # -- provider events -------------------------------------------------------------------------
    async def seen_event(self, event_id: str) -> bool:
        row = await self._db.fetchone(
            "SELECT event_id FROM payment_events WHERE event_id = ?", event_id
        )
        return row is not None

    async def record_event(self, event_id: str, provider: str, type_: str, at_ms: int) -> None:
        try:
            await self._db.execute(
                "INSERT INTO payment_events (event_id, provider, type, received_at) "
                "VALUES (?, ?, ?, ?)",
                event_id,
                provider,
                type_,
                at_ms,
            )
        except UniqueViolation:
            return

    # -- offers ----------------------------------------------------------------------------------
    async def add_offer(self, offer: Offer) -> None:
        await self._db.execute(
            "INSERT INTO offers (id, show_id, seller_id, product_id, kind, price_minor, currency, "
            "cap, per_buyer_limit, starts_at, ends_at, duration_ms, status, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            offer.id,
            offer.show_id,
            offer.seller_id,
            offer.product_id,
            str(offer.kind),
            offer.price.minor,
            offer.price.currency,
            offer.cap,
            offer.per_buyer_limit,
            offer.starts_at_ms,
            offer.ends_at_ms,
            offer.duration_ms,
            str(offer.status),
            offer.created_at_ms,
        )

    async def get_offer(self, offer_id: str) -> Offer | None:
        row = await self._db.fetchone("SELECT * FROM offers WHERE id = ?", offer_id)
        return None if row is None else _offer(row)

    async def save_offer(self, offer: Offer, expected: OfferStatus) -> bool:
        changed = await self._db.execute(
            "UPDATE offers SET status = ?, starts_at = ?, ends_at = ?, duration_ms = ?, cap = ? "
            "WHERE id = ? AND status = ?",
            str(offer.status),
            offer.starts_at_ms,
            offer.ends_at_ms,
            offer.duration_ms,
            offer.cap,
            offer.id,
            str(expected),
        )
        return changed == 1

    async def pin_offer(self, show_id: str, offer_id: str, at_ms: int) -> None:
        async with self._db.transaction() as tx:
            await tx.execute(
                "UPDATE offers SET unpinned_at = ? WHERE show_id = ? AND id <> ? "
                "AND pinned_at IS NOT NULL AND unpinned_at IS NULL",
                at_ms,
                show_id,
                offer_id,
            )
            await tx.execute(
                "UPDATE offers SET pinned_at = ?, unpinned_at = NULL WHERE id = ?", at_ms, offer_id
            )

    async def unpin_offer(self, offer_id: str, at_ms: int) -> bool:
        changed = await self._db.execute(
            "UPDATE offers SET unpinned_at = ? "
            "WHERE id = ? AND pinned_at IS NOT NULL AND unpinned_at IS NULL",
            at_ms,
            offer_id,
        )
        return changed == 1

    async def list_offers(
        self, show_id: str | None = None, *, product_id: str | None = None
    ) -> list[Offer]:
        where: list[str] = []
        args: list[Any] = []
        for column, value in (("show_id", show_id), ("product_id", product_id)):
            if value is not None:
                where.append(f"{column} = ?")
                args.append(value)
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        rows = await self._db.fetchall(
            f"SELECT * FROM offers {clause} ORDER BY created_at, id",  # noqa: S608 why: fixed column names and placeholders
            *args,
        )
        return [_offer(r) for r in rows]

    # -- timeline --------------------------------------------------------------------------------
    async def add_timeline(
        self, show_id: str, offer_id: str, kind: str, at_ms: int, media_ts_ms: int | None
    ) -> None:
        await self._db.execute(
            "INSERT INTO offer_timeline (id, show_id, offer_id, kind, at, media_ts_ms) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            new_id("otl"),
            show_id,
            offer_id,
            kind,
            at_ms,
            media_ts_ms,
        )

    async def timeline(self, show_id: str) -> list[dict[str, object]]:
        rows = await self._db.fetchall(
            "SELECT offer_id, kind, at, media_ts_ms FROM offer_timeline WHERE show_id = ? "
            "ORDER BY at, id",
            show_id,
        )
        return [
            {
                "type": f"offer.{row['kind']}",
                "offer_id": row["offer_id"],
                "at": int(row["at"]),
                "media_ts": None if row["media_ts_ms"] is None else int(row["media_ts_ms"]) / 1000,
            }
            for row in rows
        ]


class _AlreadyPosted(Exception):
    """Internal: roll the status change back because its journal key was already posted."""
