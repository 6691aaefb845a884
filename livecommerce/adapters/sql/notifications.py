"""SQL notification store: the outbox (written by other stores inside their own transactions
through ``write_outbox``), notifications, per-channel deliveries, preferences and Web Push
subscriptions.

Claims are one ``UPDATE … WHERE id IN (SELECT … LIMIT n) RETURNING`` that sets a lease
(``claimed_until``) and a random claim token; on PostgreSQL the inner select takes
``FOR UPDATE SKIP LOCKED`` so concurrent workers split the rows instead of queueing on them
(SQLite has one writer, so the statement alone is atomic). Every later write of a claimed row
carries ``AND claim = ?``: a worker whose lease ran out and was taken over writes nothing.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any

from livecommerce.adapters.sql.database import Database, Executor, Row
from livecommerce.domain.notifications import (
    Channel,
    Content,
    DeliveryStatus,
    Kind,
    OutboxEvent,
    Preferences,
)
from livecommerce.ids import new_id
from livecommerce.services.ports import (
    ClaimedDelivery,
    ClaimedEvent,
    DeliveryOutcome,
    Notification,
    PushSubscription,
)

#: A cursor past every notification, for the first page.
_NEVER = 2**62


async def write_outbox(tx: Executor, events: Sequence[OutboxEvent]) -> None:
    """Add events in the caller's transaction; an event whose key is there already is skipped
    (the change that wrote it is being repeated)."""
    for event in events:
        await tx.execute(
            "INSERT INTO outbox (id, topic, dedupe_key, payload, created_at) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (dedupe_key) DO NOTHING",
            new_id("obx"),
            event.topic,
            event.key,
            json.dumps(event.payload, separators=(",", ":")),
            event.at_ms,
        )


def notification_id(event_id: str, user_id: str) -> str:
    """Derived from the pair, so writing one event's fan-out page twice adds nothing."""
    return "ntf_" + hashlib.sha256(f"{event_id}\x00{user_id}".encode()).hexdigest()[:32]


def _skip_locked(db: Executor) -> str:
    return " FOR UPDATE SKIP LOCKED" if db.dialect == "postgres" else ""


def _notification(row: Row) -> Notification:
    return Notification(
        id=row["id"],
        user_id=row["user_id"],
        kind=Kind(row["kind"]),
        title=row["title"],
        body=row["body"],
        url=row["url"],
        created_at=int(row["created_at"]),
        read_at=None if row["read_at"] is None else int(row["read_at"]),
    )


def _marks(values: list[Any]) -> str:
    return ", ".join("?" for _ in values)


class SqlNotificationStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    # -- outbox ----------------------------------------------------------------------------------
    async def add_events(self, events: list[OutboxEvent]) -> None:
        async with self._db.transaction() as tx:
            await write_outbox(tx, events)

    async def claim_events(self, now_ms: int, lease_ms: int, limit: int) -> list[ClaimedEvent]:
        claim = new_id("clm")
        rows = await self._db.fetchall(
            "UPDATE outbox SET claimed_until = ?, claim = ? WHERE id IN (SELECT id FROM outbox "  # noqa: S608 why: fixed SQL text and placeholders only
            "WHERE done_at IS NULL AND claimed_until < ? ORDER BY created_at LIMIT ?"
            f"{_skip_locked(self._db)}) RETURNING id, topic, payload, created_at, progress",
            now_ms + lease_ms,
            claim,
            now_ms,
            limit,
        )
        return [
            ClaimedEvent(
                id=row["id"],
                topic=row["topic"],
                payload=json.loads(row["payload"]),
                created_at=int(row["created_at"]),
                claim=claim,
                progress=row["progress"],
            )
            for row in sorted(rows, key=lambda r: (r["created_at"], r["id"]))
        ]

    async def expand(
        self,
        event: ClaimedEvent,
        recipients: list[tuple[str, Content, Kind]],
        progress: str,
        now_ms: int,
        lease_ms: int,
    ) -> bool:
        async with self._db.transaction() as tx:
            held = await tx.execute(
                "UPDATE outbox SET progress = ?, claimed_until = ? WHERE id = ? AND claim = ?",
                progress,
                now_ms + lease_ms,
                event.id,
                event.claim,
            )
            if held != 1:
                return False
            if not recipients:
                return True
            rows: list[Any] = []
            deliveries: list[Any] = []
            for user_id, words, kind in recipients:
                nid = notification_id(event.id, user_id)
                rows += [nid, event.id, user_id, str(kind), words.title, words.body, words.url]
                rows.append(event.created_at)
                for channel in Channel:
                    deliveries += [f"{nid}:{channel}", nid, user_id, str(kind), str(channel)]
                    deliveries.append(now_ms)
            await tx.execute(
                "INSERT INTO notifications (id, event_id, user_id, kind, title, body, url, "  # noqa: S608 why: fixed SQL text and placeholders only
                "created_at) VALUES "
                + ", ".join("(?, ?, ?, ?, ?, ?, ?, ?)" for _ in recipients)
                + " ON CONFLICT (id) DO NOTHING",
                *rows,
            )
            await tx.execute(
                "INSERT INTO notification_deliveries (id, notification_id, user_id, kind, "  # noqa: S608 why: fixed SQL text and placeholders only
                "channel, status, next_at) VALUES "
                + ", ".join("(?, ?, ?, ?, ?, 'pending', ?)" for _ in range(len(deliveries) // 6))
                + " ON CONFLICT (id) DO NOTHING",
                *deliveries,
            )
        return True

    async def finish_event(self, event: ClaimedEvent, now_ms: int) -> None:
        await self._db.execute(
            "UPDATE outbox SET done_at = ?, claimed_until = 0 WHERE id = ? AND claim = ?",
            now_ms,
            event.id,
            event.claim,
        )

    # -- deliveries ------------------------------------------------------------------------------
    async def claim_deliveries(
        self, now_ms: int, lease_ms: int, limit: int
    ) -> list[ClaimedDelivery]:
        claim = new_id("clm")
        claimed = await self._db.fetchall(
            "UPDATE notification_deliveries SET claimed_until = ?, claim = ? WHERE id IN "  # noqa: S608 why: fixed SQL text and placeholders only
            "(SELECT id FROM notification_deliveries WHERE status = 'pending' AND next_at <= ? "
            f"AND claimed_until < ? ORDER BY next_at, id LIMIT ?{_skip_locked(self._db)}) "
            "RETURNING id",
            now_ms + lease_ms,
            claim,
            now_ms,
            now_ms,
            limit,
        )
        if not claimed:
            return []
        ids = [row["id"] for row in claimed]
        rows = await self._db.fetchall(
            "SELECT d.id AS delivery_id, d.channel, d.attempts, n.id, n.user_id, n.kind, "  # noqa: S608 why: fixed SQL text and placeholders only
            "n.title, n.body, n.url, n.created_at, n.read_at, u.name, "
            "COALESCE(u.email, u.guest_email) AS email FROM notification_deliveries d "
            "JOIN notifications n ON n.id = d.notification_id JOIN users u ON u.id = n.user_id "
            f"WHERE d.id IN ({_marks(ids)}) AND d.claim = ? ORDER BY d.next_at, d.id",
            *ids,
            claim,
        )
        return [
            ClaimedDelivery(
                id=row["delivery_id"],
                notification=_notification(row),
                channel=Channel(row["channel"]),
                attempts=int(row["attempts"]),
                claim=claim,
                email=row["email"],
                name=row["name"],
            )
            for row in rows
        ]

    async def record(self, outcomes: list[DeliveryOutcome], now_ms: int) -> list[str]:
        """Outcomes that share every written value (a batch's in-app ones: sent, under one
        claim) go out as one ``UPDATE … WHERE id IN (…) AND claim = ? RETURNING id``, so a
        fan-out's batch holds the store for a few statements, not one per delivery."""
        written: list[str] = []
        groups: dict[tuple[Any, ...], list[str]] = {}
        for out in outcomes:
            key = (out.status, out.attempts, out.next_at, out.error, out.claim)
            groups.setdefault(key, []).append(out.id)
        if not groups:
            return written
        async with self._db.transaction() as tx:
            for (status, attempts, next_at, error, claim), ids in groups.items():
                sent = status is DeliveryStatus.SENT
                rows = await tx.fetchall(
                    "UPDATE notification_deliveries SET status = ?, attempts = ?, next_at = ?, "  # noqa: S608 why: placeholders only
                    "last_error = ?, sent_at = ?, claimed_until = 0, claim = NULL "
                    f"WHERE claim = ? AND id IN ({_marks(ids)}) RETURNING id",
                    str(status),
                    attempts,
                    next_at,
                    error,
                    now_ms if sent else None,
                    claim,
                    *ids,
                )
                done = [row["id"] for row in rows]
                written += done
                shown = [
                    nid
                    for nid, _, channel in (d.rpartition(":") for d in done)
                    if sent and channel == Channel.IN_APP
                ]
                if shown:
                    await tx.execute(
                        f"UPDATE notifications SET shown_at = ? WHERE id IN ({_marks(shown)})",  # noqa: S608 why: placeholders only
                        now_ms,
                        *shown,
                    )
        return written

    async def deliveries(self, notification_id: str) -> list[dict[str, Any]]:
        return await self._db.fetchall(
            "SELECT channel, status, attempts, next_at, last_error, sent_at "
            "FROM notification_deliveries WHERE notification_id = ? ORDER BY channel",
            notification_id,
        )

    # -- the inbox -------------------------------------------------------------------------------
    async def notifications(
        self, user_id: str, before: tuple[int, str] | None, limit: int
    ) -> list[Notification]:
        at, nid = before if before is not None else (_NEVER, "")
        rows = await self._db.fetchall(
            "SELECT id, user_id, kind, title, body, url, created_at, read_at FROM notifications "
            "WHERE user_id = ? AND shown_at IS NOT NULL "
            "AND (created_at < ? OR (created_at = ? AND id < ?)) "
            "ORDER BY created_at DESC, id DESC LIMIT ?",
            user_id,
            at,
            at,
            nid,
            limit,
        )
        return [_notification(row) for row in rows]

    async def unread_count(self, user_id: str) -> int:
        row = await self._db.fetchone(
            "SELECT COUNT(*) AS n FROM notifications WHERE user_id = ? "
            "AND shown_at IS NOT NULL AND read_at IS NULL",
            user_id,
        )
        return int(row["n"]) if row else 0

    async def mark_read(self, user_id: str, ids: list[str] | None, now_ms: int) -> int:
        sql = (
            "UPDATE notifications SET read_at = ? WHERE user_id = ? AND read_at IS NULL "
            "AND shown_at IS NOT NULL"
        )
        if ids is None:
            return await self._db.execute(sql, now_ms, user_id)
        if not ids:
            return 0
        return await self._db.execute(f"{sql} AND id IN ({_marks(ids)})", now_ms, user_id, *ids)

    # -- preferences -----------------------------------------------------------------------------
    async def preferences(self, user_ids: list[str]) -> dict[str, Preferences]:
        if not user_ids:
            return {}
        rows = await self._db.fetchall(
            "SELECT user_id, switched_off, quiet_start, quiet_end, timezone, "  # noqa: S608 why: fixed SQL text and placeholders only
            "answer_buyer_questions FROM notification_preferences "
            f"WHERE user_id IN ({_marks(user_ids)})",
            *user_ids,
        )
        return {
            row["user_id"]: Preferences(
                off=frozenset(json.loads(row["switched_off"])),
                quiet_start=row["quiet_start"],
                quiet_end=row["quiet_end"],
                timezone=row["timezone"],
                answer_buyer_questions=bool(row["answer_buyer_questions"]),
            )
            for row in rows
        }

    async def save_preferences(self, user_id: str, prefs: Preferences, now_ms: int) -> None:
        await self._db.execute(
            "INSERT INTO notification_preferences (user_id, switched_off, quiet_start, "
            "quiet_end, timezone, answer_buyer_questions, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (user_id) DO UPDATE SET switched_off = excluded.switched_off, "
            "quiet_start = excluded.quiet_start, quiet_end = excluded.quiet_end, "
            "timezone = excluded.timezone, "
            "answer_buyer_questions = excluded.answer_buyer_questions, "
            "updated_at = excluded.updated_at",
            user_id,
            json.dumps(sorted(prefs.off)),
            prefs.quiet_start,
            prefs.quiet_end,
            prefs.timezone,
            prefs.answer_buyer_questions,
            now_ms,
        )

    # -- push subscriptions ----------------------------------------------------------------------
    async def add_subscription(self, sub: PushSubscription, now_ms: int) -> None:
        await self._db.execute(
            "INSERT INTO push_subscriptions (id, user_id, endpoint, p256dh, auth, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (endpoint) DO UPDATE SET "
            "user_id = excluded.user_id, p256dh = excluded.p256dh, auth = excluded.auth",
            sub.id,
            sub.user_id,
            sub.endpoint,
            sub.p256dh,
            sub.auth,
            now_ms,
        )

    async def remove_subscription(self, user_id: str, endpoint: str) -> bool:
        removed = await self._db.execute(
            "DELETE FROM push_subscriptions WHERE user_id = ? AND endpoint = ?", user_id, endpoint
        )
        return removed == 1

    async def drop_endpoint(self, endpoint: str) -> None:
        await self._db.execute("DELETE FROM push_subscriptions WHERE endpoint = ?", endpoint)

    async def subscriptions(self, user_id: str) -> list[PushSubscription]:
        rows = await self._db.fetchall(
            "SELECT id, user_id, endpoint, p256dh, auth FROM push_subscriptions "
            "WHERE user_id = ? ORDER BY created_at, id",
            user_id,
        )
        return [PushSubscription(**row) for row in rows]
