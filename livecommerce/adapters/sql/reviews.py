"""SQL store for reviews (SQLite or PostgreSQL): one per order by the unique ``order_id``, the
seller's one reply by a conditional update, one report per reporter by the primary key. The
author's name is the account's current one and ``refunded`` the order's status now, both
joined at read time."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from livecommerce.adapters.sql.database import PostgresDatabase, SqliteDatabase, UniqueViolation
from livecommerce.domain.reviews import Review, ReviewStatus

Row = dict[str, Any]

_SELECT = (
    "SELECT r.*, u.name AS buyer_name, o.status AS order_status, "
    "(SELECT COUNT(*) FROM review_reports p WHERE p.review_id = r.id) AS reports "
    "FROM reviews r JOIN orders o ON o.id = r.order_id LEFT JOIN users u ON u.id = r.buyer_id"
)
#: Reviews shown on the product (a reported one stays up until staff hide it).
_SHOWN = (str(ReviewStatus.PUBLISHED), str(ReviewStatus.REPORTED))


def _review(r: Row) -> Review:
    return Review(
        id=r["id"],
        order_id=r["order_id"],
        product_id=r["product_id"],
        variant_id=r["variant_id"],
        variant_label=r["variant_label"],
        seller_id=r["seller_id"],
        buyer_id=r["buyer_id"],
        buyer_name=r["buyer_name"] or "",
        rating=int(r["rating"]),
        text=r["text"],
        at_ms=int(r["at"]),
        status=ReviewStatus(r["status"]),
        reply=r["reply"],
        reply_at_ms=int(r["reply_at"]) if r["reply_at"] is not None else None,
        refunded=r["order_status"] == "refunded",
        reports=int(r["reports"]),
    )


class SqlReviewStore:
    """ReviewStore over the app's Database."""

    def __init__(self, db: SqliteDatabase | PostgresDatabase) -> None:
        self._db = db

    async def add_review(self, review: Review) -> bool:
        try:
            await self._db.execute(
                "INSERT INTO reviews (id, order_id, product_id, variant_id, variant_label, "
                "seller_id, buyer_id, rating, text, status, at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                review.id, review.order_id, review.product_id, review.variant_id,
                review.variant_label, review.seller_id, review.buyer_id, review.rating,
                review.text, str(review.status), review.at_ms,
            )  # fmt: skip
        except UniqueViolation:
            return False
        return True

    async def get_review(self, review_id: str) -> Review | None:
        row = await self._db.fetchone(_SELECT + " WHERE r.id = ?", review_id)
        return _review(row) if row else None

    async def review_of_order(self, order_id: str) -> Review | None:
        row = await self._db.fetchone(_SELECT + " WHERE r.order_id = ?", order_id)
        return _review(row) if row else None

    async def product_reviews(self, product_id: str, limit: int, offset: int) -> list[Review]:
        rows = await self._db.fetchall(
            _SELECT + " WHERE r.product_id = ? AND r.status IN (?, ?) "
            "ORDER BY r.at DESC, r.id DESC LIMIT ? OFFSET ?",
            product_id, *_SHOWN, limit, offset,
        )  # fmt: skip
        return [_review(r) for r in rows]

    async def rating_counts(self, product_ids: Sequence[str]) -> dict[str, dict[int, int]]:
        if not product_ids:
            return {}
        marks = ", ".join("?" for _ in product_ids)
        sql = (
            f"SELECT product_id, rating, COUNT(*) AS n FROM reviews WHERE product_id IN ({marks}) "  # noqa: S608 why: placeholders only
            "AND status IN (?, ?) GROUP BY product_id, rating"
        )
        rows = await self._db.fetchall(sql, *product_ids, *_SHOWN)
        out: dict[str, dict[int, int]] = {}
        for r in rows:
            out.setdefault(r["product_id"], {})[int(r["rating"])] = int(r["n"])
        return out

    async def seller_reviews(
        self, seller_id: str | None, status: ReviewStatus | None, limit: int
    ) -> list[Review]:
        where, args = [], []
        if seller_id is not None:
            where.append("r.seller_id = ?")
            args.append(seller_id)
        if status is not None:
            where.append("r.status = ?")
            args.append(str(status))
        clause = (" WHERE " + " AND ".join(where)) if where else ""
        rows = await self._db.fetchall(
            _SELECT + clause + " ORDER BY r.at DESC, r.id DESC LIMIT ?", *args, limit
        )
        return [_review(r) for r in rows]

    async def set_reply(self, review_id: str, text: str, at_ms: int) -> bool:
        changed = await self._db.execute(
            "UPDATE reviews SET reply = ?, reply_at = ? WHERE id = ? AND reply IS NULL",
            text, at_ms, review_id,
        )  # fmt: skip
        return changed > 0

    async def add_report(self, review_id: str, reporter_id: str, reason: str, at_ms: int) -> bool:
        try:
            async with self._db.transaction() as tx:
                await tx.execute(
                    "INSERT INTO review_reports (review_id, reporter_id, reason, at) "
                    "VALUES (?, ?, ?, ?)",
                    review_id, reporter_id, reason, at_ms,
                )  # fmt: skip
                await tx.execute(
                    "UPDATE reviews SET status = ? WHERE id = ? AND status = ?",
                    str(ReviewStatus.REPORTED), review_id, str(ReviewStatus.PUBLISHED),
                )  # fmt: skip
        except UniqueViolation:
            return False
        return True

    async def set_status(self, review_id: str, status: ReviewStatus) -> bool:
        changed = await self._db.execute(
            "UPDATE reviews SET status = ? WHERE id = ?", str(status), review_id
        )
        return changed > 0
