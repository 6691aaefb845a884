"""SqlCouponStore: coupons, their redemptions, voucher drops and their claims in the SQL store.

The codes are upper-case, so the unique (seller, code) makes a code unique per seller whatever
its case. A redemption row is keyed by its order, and its `returned_at` is set by a conditional
update, so an order gives its redemption back once however many paths release it.
"""

from __future__ import annotations

import json
from typing import Any

from livecommerce.adapters.sql.database import Database, Row, UniqueViolation
from livecommerce.domain.coupons import Coupon, CouponKind
from livecommerce.services.ports import Drop

_COLUMNS = (
    "id, seller_id, code, kind, value, currency, max_redemptions, per_buyer, min_order, "
    "starts_at, ends_at, scope_show_id, scope_product_id, followers_only, disabled, drop_id, "
    "created_at"
)
_MARKS = ", ".join("?" for _ in _COLUMNS.split(","))


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


def _coupon(row: Row) -> Coupon:
    return Coupon(
        id=row["id"],
        seller_id=row["seller_id"],
        code=row["code"],
        kind=CouponKind(row["kind"]),
        value=int(row["value"]),
        currency=row["currency"],
        max_redemptions=_int(row["max_redemptions"]),
        per_buyer=_int(row["per_buyer"]),
        min_order=_int(row["min_order"]),
        starts_at_ms=_int(row["starts_at"]),
        ends_at_ms=_int(row["ends_at"]),
        scope_show_id=row["scope_show_id"],
        scope_product_id=row["scope_product_id"],
        followers_only=bool(row["followers_only"]),
        disabled=bool(row["disabled"]),
        drop_id=row["drop_id"],
        created_at_ms=int(row["created_at"]),
    )


def _args(c: Coupon) -> tuple[Any, ...]:
    return (
        c.id,
        c.seller_id,
        c.code,
        str(c.kind),
        c.value,
        c.currency,
        c.max_redemptions,
        c.per_buyer,
        c.min_order,
        c.starts_at_ms,
        c.ends_at_ms,
        c.scope_show_id,
        c.scope_product_id,
        c.followers_only,
        c.disabled,
        c.drop_id,
        c.created_at_ms,
    )


def _template_json(c: Coupon) -> str:
    return json.dumps(dict(zip([n.strip() for n in _COLUMNS.split(",")], _args(c), strict=True)))


def _template(text: str) -> Coupon:
    return _coupon(json.loads(text))


class SqlCouponStore:
    """The CouponStore port over `Database` (SQLite or PostgreSQL)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def add_coupon(self, coupon: Coupon) -> bool:
        try:
            await self._db.execute(
                f"INSERT INTO coupons ({_COLUMNS}) VALUES ({_MARKS})",  # noqa: S608 why: constants
                *_args(coupon),
            )
        except UniqueViolation:
            return False
        return True

    async def coupon(self, coupon_id: str) -> Coupon | None:
        row = await self._db.fetchone(
            f"SELECT {_COLUMNS} FROM coupons WHERE id = ?",  # noqa: S608 why: constant column list
            coupon_id,
        )
        return None if row is None else _coupon(row)

    async def coupon_by_code(self, seller_id: str, code: str) -> Coupon | None:
        row = await self._db.fetchone(
            f"SELECT {_COLUMNS} FROM coupons WHERE seller_id = ? AND code = ?",  # noqa: S608 why: constant column list
            seller_id,
            code,
        )
        return None if row is None else _coupon(row)

    async def list_coupons(self, seller_id: str) -> list[tuple[Coupon, int]]:
        columns = ", ".join(f"c.{c.strip()}" for c in _COLUMNS.split(","))
        rows = await self._db.fetchall(
            f"SELECT {columns}, (SELECT COUNT(*) FROM coupon_redemptions r "  # noqa: S608 why: constant column list
            "WHERE r.coupon_id = c.id AND r.returned_at IS NULL) AS used "
            "FROM coupons c WHERE c.seller_id = ? AND c.drop_id IS NULL "
            "ORDER BY c.created_at DESC, c.id LIMIT 1000",
            seller_id,
        )
        return [(_coupon(r), int(r["used"])) for r in rows]

    async def set_disabled(self, coupon_id: str, disabled: bool) -> None:
        await self._db.execute("UPDATE coupons SET disabled = ? WHERE id = ?", disabled, coupon_id)

    async def add_redemption(
        self, order_id: str, coupon_id: str, buyer_id: str, discount: int, currency: str, at: int
    ) -> None:
        await self._db.execute(
            "INSERT INTO coupon_redemptions (order_id, coupon_id, buyer_id, discount_minor, "
            "currency, created_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            order_id,
            coupon_id,
            buyer_id,
            discount,
            currency,
            at,
        )

    async def return_redemption(self, order_id: str, at: int) -> bool:
        changed = await self._db.execute(
            "UPDATE coupon_redemptions SET returned_at = ? "
            "WHERE order_id = ? AND returned_at IS NULL",
            at,
            order_id,
        )
        return changed == 1

    async def redemptions(self, coupon_id: str) -> tuple[dict[str, str], set[str]]:
        rows = await self._db.fetchall(
            "SELECT order_id, buyer_id, returned_at FROM coupon_redemptions WHERE coupon_id = ?",
            coupon_id,
        )
        held = {r["order_id"]: r["buyer_id"] for r in rows if r["returned_at"] is None}
        return held, {r["order_id"] for r in rows if r["returned_at"] is not None}

    async def add_drop(self, drop: Drop) -> None:
        await self._db.execute(
            "INSERT INTO drops (id, show_id, seller_id, template, claims, ends_at, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            drop.id,
            drop.show_id,
            drop.seller_id,
            _template_json(drop.template),
            drop.claims,
            drop.ends_at_ms,
            drop.created_at_ms,
        )

    async def drop(self, drop_id: str) -> Drop | None:
        row = await self._db.fetchone("SELECT * FROM drops WHERE id = ?", drop_id)
        return None if row is None else _drop(row)

    async def running_drops(self, show_id: str, now_ms: int) -> list[tuple[Drop, int]]:
        rows = await self._db.fetchall(
            "SELECT d.*, (SELECT COUNT(*) FROM drop_claims c WHERE c.drop_id = d.id) AS taken "
            "FROM drops d WHERE d.show_id = ? AND d.ended_at IS NULL AND d.ends_at > ? "
            "ORDER BY d.created_at, d.id",
            show_id,
            now_ms,
        )
        return [(_drop(row), int(row["taken"])) for row in rows]

    async def end_drop(self, drop_id: str, at: int) -> None:
        await self._db.execute(
            "UPDATE drops SET ended_at = ? WHERE id = ? AND ended_at IS NULL", at, drop_id
        )

    async def due_drops(self, now_ms: int, limit: int = 100) -> list[str]:
        found = await self._db.fetchall(
            "SELECT id FROM drops WHERE ended_at IS NULL AND ends_at <= ? ORDER BY ends_at LIMIT ?",
            now_ms,
            limit,
        )
        return [r["id"] for r in found]

    async def add_claim(self, drop_id: str, user_id: str, coupon: Coupon, at: int) -> None:
        async with self._db.transaction() as tx:
            await tx.execute(
                f"INSERT INTO coupons ({_COLUMNS}) VALUES ({_MARKS}) ON CONFLICT DO NOTHING",  # noqa: S608 why: constants
                *_args(coupon),
            )
            await tx.execute(
                "INSERT INTO drop_claims (drop_id, user_id, coupon_id, code, claimed_at) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                drop_id,
                user_id,
                coupon.id,
                coupon.code,
                at,
            )


def _drop(row: Row) -> Drop:
    return Drop(
        id=row["id"],
        show_id=row["show_id"],
        seller_id=row["seller_id"],
        template=_template(row["template"]),
        claims=int(row["claims"]),
        ends_at_ms=int(row["ends_at"]),
        created_at_ms=int(row["created_at"]),
        ended_at_ms=_int(row["ended_at"]),
    )
