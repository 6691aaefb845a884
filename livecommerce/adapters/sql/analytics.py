"""SQL behind the seller dashboard: per-show figures derived from the tables the other stores
keep, and what only analytics writes: the viewer-count samples, each show's peak and its
unique viewers (hashed, one row each: ``show_viewer_peaks`` and ``show_viewers``).

Read-only over others' tables: chat lines from ``chat_messages``, pins and offers from
``offers``, add-to-cart (reservations) and paid orders from ``orders``. A table that is missing
contributes nothing, so the dashboard works on any schema. Figures are bucketed per minute in
SQL so a long show costs one small query per series, not a scan in Python.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from typing import Any

from livecommerce.adapters.sql.database import Executor
from livecommerce.services.ports import AudienceTally, ShowFigures, TopProduct

log = logging.getLogger(__name__)

MINUTE_MS = 60_000
#: Viewer rows per INSERT (one statement per batch keeps a big audience's first beat cheap).
VIEWER_ROWS_PER_INSERT = 200


async def _rows(db: Executor, sql: str, *args: Any) -> list[dict[str, Any]]:
    """Rows, or none when the owning plane (and so its table) is not installed."""
    try:
        return await db.fetchall(sql, *args)
    except Exception as exc:
        log.debug("analytics query skipped", extra={"reason": type(exc).__name__})
        return []


def _series(rows: list[dict[str, Any]], value: str = "n") -> dict[int, int]:
    return {int(r["minute"]): int(r[value] or 0) for r in rows}


class SqlAnalyticsStore:
    def __init__(self, db: Executor) -> None:
        self._db = db

    async def show_figures(self, show_id: str, currency: str) -> ShowFigures:
        """All dashboard figures of one show."""
        db = self._db
        minute = f"(at / {MINUTE_MS}) * {MINUTE_MS}"
        chat = _series(
            await _rows(
                db,
                f"SELECT {minute} AS minute, COUNT(*) AS n FROM chat_messages"  # noqa: S608 why: constants only
                " WHERE show_id = ? AND status <> 'held' GROUP BY minute ORDER BY minute",
                show_id,
            )
        )
        viewers = _series(
            await _rows(
                db,
                f"SELECT {minute} AS minute, MAX(viewers) AS n FROM viewer_samples"  # noqa: S608 why: constants only
                " WHERE show_id = ? GROUP BY minute ORDER BY minute",
                show_id,
            )
        )
        created = f"(created_at / {MINUTE_MS}) * {MINUTE_MS}"
        paid_rows = await _rows(
            db,
            f"SELECT {created} AS minute, COUNT(*) AS n, SUM(total_minor) AS gmv FROM orders"  # noqa: S608 why: constants only
            " WHERE show_id = ? AND status IN ('paid', 'fulfilled')"
            " GROUP BY minute ORDER BY minute",
            show_id,
        )
        carts = await _rows(db, "SELECT COUNT(*) AS n FROM orders WHERE show_id = ?", show_id)
        pins = await _rows(
            db,
            "SELECT COUNT(*) AS n FROM offers WHERE show_id = ? AND pinned_at IS NOT NULL",
            show_id,
        )
        top = await _rows(
            db,
            "SELECT o.product_id AS product_id, COALESCE(MAX(p.name), o.product_id) AS name,"
            " SUM(o.quantity) AS units, SUM(o.total_minor) AS gmv FROM orders o"
            " LEFT JOIN products p ON p.id = o.product_id"
            " WHERE o.show_id = ? AND o.status IN ('paid', 'fulfilled')"
            " GROUP BY o.product_id ORDER BY gmv DESC LIMIT 5",
            show_id,
        )
        paid = _series(paid_rows)
        gmv = _series(paid_rows, "gmv")
        return ShowFigures(
            show_id=show_id,
            currency=currency,
            peak_viewers=max(viewers.values(), default=0),
            chat_lines=sum(chat.values()),
            pins=int(pins[0]["n"]) if pins else 0,
            add_to_cart=int(carts[0]["n"]) if carts else 0,
            paid_orders=sum(paid.values()),
            gmv_minor=sum(gmv.values()),
            viewers=viewers,
            chat_per_minute=chat,
            paid_per_minute=paid,
            gmv_per_minute=gmv,
            top_products=[
                TopProduct(
                    str(r["product_id"]), str(r["name"]), int(r["units"] or 0), int(r["gmv"] or 0)
                )
                for r in top
            ],
        )

    async def record_viewers(self, show_id: str, at_ms: int, viewers: int) -> None:
        """Keep one viewer-count sample (the dashboard's concurrent-viewers chart)."""
        await self._db.execute(
            "INSERT INTO viewer_samples (show_id, at, viewers) VALUES (?, ?, ?)",
            show_id,
            at_ms,
            viewers,
        )

    async def record_audience(
        self, show_id: str, viewers: Collection[str], watching: int, at_ms: int
    ) -> None:
        rows = sorted(viewers)
        for start in range(0, len(rows), VIEWER_ROWS_PER_INSERT):
            batch = rows[start : start + VIEWER_ROWS_PER_INSERT]
            values = ", ".join("(?, ?, ?)" for _ in batch)
            args = [a for viewer in batch for a in (show_id, viewer, at_ms)]
            await self._db.execute(
                "INSERT INTO show_viewers (show_id, viewer, first_seen) "  # noqa: S608 why: placeholders only
                f"VALUES {values} ON CONFLICT (show_id, viewer) DO NOTHING",
                *args,
            )
        if watching > 0:
            await self._db.execute(
                "INSERT INTO show_viewer_peaks (show_id, peak, at) VALUES (?, ?, ?) "
                "ON CONFLICT (show_id) DO UPDATE SET peak = excluded.peak, at = excluded.at "
                "WHERE show_viewer_peaks.peak < excluded.peak",
                show_id,
                watching,
                at_ms,
            )

    async def audience(self, show_id: str) -> AudienceTally:
        peak = await self._db.fetchone(
            "SELECT peak FROM show_viewer_peaks WHERE show_id = ?", show_id
        )
        unique = await self._db.fetchone(
            "SELECT COUNT(*) AS n FROM show_viewers WHERE show_id = ?", show_id
        )
        return AudienceTally(
            peak=int(peak["peak"]) if peak else 0,
            unique_viewers=int(unique["n"]) if unique else 0,
        )
