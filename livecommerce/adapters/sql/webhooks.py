"""SqlWebhookStore: sellers' webhook endpoints, the events, their deliveries and the attempt log
in the SQL store (SQLite and PostgreSQL).

An event is enqueued with its deliveries in one transaction, and `enqueue_in` does it inside a
caller's transaction (the order store's, so `order.*` events commit or roll back with the order
change). Claiming is a compare-and-set on an expired lease, per delivery, so nodes racing for
the same due delivery get it once; recording an attempt checks the lease is still this node's.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from livecommerce.adapters.sql.database import Database, Executor, Row, UniqueViolation
from livecommerce.domain.webhooks import DeliveryStatus, WebhookEvent
from livecommerce.ids import new_id, new_secret
from livecommerce.services.ports import (
    Attempt,
    Delivery,
    Endpoint,
    LeasedDelivery,
    SendResult,
)

_PENDING = str(DeliveryStatus.PENDING)


def envelope(event: WebhookEvent) -> str:
    """The body every delivery of the event sends: ``{id, type, created, data}``."""
    return json.dumps(
        {
            "id": event.id,
            "type": event.type,
            "created": event.created_ms // 1000,
            "data": event.data,
        },
        separators=(",", ":"),
        sort_keys=True,
    )


async def enqueue_in(tx: Executor, event: WebhookEvent) -> bool:
    """Store `event` and its deliveries inside the caller's transaction; False (nothing
    written) when no endpoint wants it, or its key was enqueued before. An event nobody
    subscribed to is not kept: the payment path then costs one indexed read."""
    targets = await tx.fetchall(
        "SELECT e.id FROM webhook_endpoints e JOIN webhook_subscriptions s "
        "ON s.endpoint_id = e.id WHERE e.seller_id = ? AND s.type = ? AND e.deleted_at IS NULL",
        event.seller_id,
        event.type,
    )
    if not targets:
        return False
    seen = await tx.fetchone("SELECT id FROM webhook_events WHERE event_key = ?", event.key)
    if seen is not None:
        return False
    await tx.execute(
        "INSERT INTO webhook_events (id, seller_id, type, created_at, body, event_key) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        event.id,
        event.seller_id,
        event.type,
        event.created_ms,
        envelope(event),
        event.key,
    )
    for target in targets:
        await tx.execute(
            "INSERT INTO webhook_deliveries (id, endpoint_id, event_id, status, attempts, "
            "next_attempt_at, give_up_at, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, 0, ?, ?, ?, ?)",
            new_id("whd"),
            target["id"],
            event.id,
            _PENDING,
            event.created_ms,
            event.give_up_ms,
            event.created_ms,
            event.created_ms,
        )
    return True


def _endpoint(row: Row, types: list[str]) -> Endpoint:
    return Endpoint(
        row["id"], row["seller_id"], row["url"], tuple(sorted(types)), row["created_at"]
    )


def _delivery(row: Row, log: tuple[Attempt, ...] = ()) -> Delivery:
    return Delivery(
        id=row["id"],
        endpoint_id=row["endpoint_id"],
        event_id=row["event_id"],
        event_type=row["type"],
        status=DeliveryStatus(row["status"]),
        attempts=int(row["attempts"]),
        next_attempt_ms=int(row["next_attempt_at"]),
        give_up_ms=int(row["give_up_at"]),
        last_status=row["last_status"],
        last_error=row["last_error"],
        created_ms=int(row["created_at"]),
        log=log,
    )


_SELECT_DELIVERY = (
    "SELECT d.id, d.endpoint_id, d.event_id, v.type, d.status, d.attempts, d.next_attempt_at, "
    "d.give_up_at, d.last_status, d.last_error, d.created_at FROM webhook_deliveries d "
    "JOIN webhook_events v ON v.id = d.event_id "
)


class SqlWebhookStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def add_endpoint(self, endpoint: Endpoint, secret: str, max_endpoints: int) -> bool:
        async with self._db.transaction() as tx:
            row = await tx.fetchone(
                "SELECT COUNT(*) AS n FROM webhook_endpoints "
                "WHERE seller_id = ? AND deleted_at IS NULL",
                endpoint.seller_id,
            )
            if row is not None and int(row["n"]) >= max_endpoints:
                return False
            await tx.execute(
                "INSERT INTO webhook_endpoints (id, seller_id, url, secret, created_at) "
                "VALUES (?, ?, ?, ?, ?)",
                endpoint.id,
                endpoint.seller_id,
                endpoint.url,
                secret,
                endpoint.created_ms,
            )
            for type_ in endpoint.events:
                await tx.execute(
                    "INSERT INTO webhook_subscriptions (endpoint_id, type) VALUES (?, ?)",
                    endpoint.id,
                    type_,
                )
        return True

    async def _types(self, endpoint_ids: list[str]) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {i: [] for i in endpoint_ids}
        if not endpoint_ids:
            return out
        marks = ", ".join("?" for _ in endpoint_ids)
        rows = await self._db.fetchall(
            f"SELECT endpoint_id, type FROM webhook_subscriptions WHERE endpoint_id IN ({marks})",  # noqa: S608 why: placeholders only
            *endpoint_ids,
        )
        for row in rows:
            out[row["endpoint_id"]].append(row["type"])
        return out

    async def endpoints(self, seller_id: str) -> list[Endpoint]:
        rows = await self._db.fetchall(
            "SELECT id, seller_id, url, created_at FROM webhook_endpoints "
            "WHERE seller_id = ? AND deleted_at IS NULL ORDER BY created_at, id",
            seller_id,
        )
        types = await self._types([row["id"] for row in rows])
        return [_endpoint(row, types[row["id"]]) for row in rows]

    async def endpoint(self, endpoint_id: str) -> Endpoint | None:
        row = await self._db.fetchone(
            "SELECT id, seller_id, url, created_at FROM webhook_endpoints "
            "WHERE id = ? AND deleted_at IS NULL",
            endpoint_id,
        )
        if row is None:
            return None
        return _endpoint(row, (await self._types([endpoint_id]))[endpoint_id])

    async def delete_endpoint(self, endpoint_id: str, at_ms: int) -> bool:
        changed = await self._db.execute(
            "UPDATE webhook_endpoints SET deleted_at = ? WHERE id = ? AND deleted_at IS NULL",
            at_ms,
            endpoint_id,
        )
        return changed == 1

    async def enqueue(self, event: WebhookEvent) -> bool:
        try:
            async with self._db.transaction() as tx:
                return await enqueue_in(tx, event)
        except UniqueViolation:  # another node enqueued the same key at the same moment
            return False

    async def claim(self, now_ms: int, lease_ms: int, limit: int) -> list[LeasedDelivery]:
        due = await self._db.fetchall(
            "SELECT d.id, d.attempts, d.give_up_at, e.url, e.secret, v.body "
            "FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id "
            "JOIN webhook_events v ON v.id = d.event_id "
            "WHERE d.status = ? AND d.next_attempt_at <= ? AND d.lease_until < ? "
            "AND e.deleted_at IS NULL ORDER BY d.next_attempt_at LIMIT ?",
            _PENDING,
            now_ms,
            now_ms,
            limit,
        )
        out: list[LeasedDelivery] = []
        for row in due:
            lease = new_secret(12)
            taken = await self._db.execute(
                "UPDATE webhook_deliveries SET lease = ?, lease_until = ?, attempts = ?, "
                "updated_at = ? WHERE id = ? AND status = ? AND attempts = ? AND lease_until < ?",
                lease,
                now_ms + lease_ms,
                int(row["attempts"]) + 1,
                now_ms,
                row["id"],
                _PENDING,
                row["attempts"],
                now_ms,
            )
            if taken == 1:
                out.append(
                    LeasedDelivery(
                        delivery_id=row["id"],
                        lease=lease,
                        attempt=int(row["attempts"]) + 1,
                        url=row["url"],
                        secret=row["secret"],
                        body=str(row["body"]).encode(),
                        give_up_ms=int(row["give_up_at"]),
                    )
                )
        return out

    async def record(
        self,
        claimed: LeasedDelivery,
        result: SendResult,
        status: DeliveryStatus,
        next_ms: int,
        at_ms: int,
    ) -> bool:
        async with self._db.transaction() as tx:
            changed = await tx.execute(
                "UPDATE webhook_deliveries SET status = ?, next_attempt_at = ?, lease = NULL, "
                "lease_until = 0, last_status = ?, last_error = ?, updated_at = ? "
                "WHERE id = ? AND lease = ?",
                str(status),
                next_ms,
                result.status_code,
                result.error,
                at_ms,
                claimed.delivery_id,
                claimed.lease,
            )
            if changed != 1:
                return False
            await tx.execute(
                "INSERT INTO webhook_attempts (delivery_id, attempt, at, status_code, error, "
                "duration_ms, response_excerpt) VALUES (?, ?, ?, ?, ?, ?, ?)",
                claimed.delivery_id,
                claimed.attempt,
                at_ms,
                result.status_code,
                result.error,
                result.duration_ms,
                result.response_excerpt,
            )
        return True

    async def deliveries(self, endpoint_id: str, limit: int) -> Sequence[Delivery]:
        rows = await self._db.fetchall(
            _SELECT_DELIVERY + "WHERE d.endpoint_id = ? ORDER BY d.created_at DESC, d.id LIMIT ?",
            endpoint_id,
            limit,
        )
        logs: dict[str, list[Attempt]] = {row["id"]: [] for row in rows}
        if rows:
            marks = ", ".join("?" for _ in rows)
            sql = (
                "SELECT delivery_id, attempt, at, status_code, error, duration_ms, "
                "response_excerpt FROM webhook_attempts WHERE delivery_id IN "
            )
            attempts = await self._db.fetchall(
                sql + f"({marks}) ORDER BY attempt",
                *[row["id"] for row in rows],
            )
            for a in attempts:
                logs[a["delivery_id"]].append(_attempt(a))
        return [_delivery(row, tuple(logs[row["id"]])) for row in rows]

    async def redeliver(
        self, endpoint_id: str, delivery_id: str, now_ms: int, give_up_ms: int
    ) -> Delivery | None:
        await self._db.execute(
            "UPDATE webhook_deliveries SET status = ?, next_attempt_at = ?, give_up_at = ?, "
            "updated_at = ? WHERE id = ? AND endpoint_id = ? AND lease_until < ?",
            _PENDING,
            now_ms,
            give_up_ms,
            now_ms,
            delivery_id,
            endpoint_id,
            now_ms,
        )
        row = await self._db.fetchone(
            _SELECT_DELIVERY + "WHERE d.id = ? AND d.endpoint_id = ?", delivery_id, endpoint_id
        )
        return None if row is None else _delivery(row)


def _attempt(row: dict[str, Any]) -> Attempt:
    return Attempt(
        number=int(row["attempt"]),
        at_ms=int(row["at"]),
        status_code=row["status_code"],
        error=row["error"],
        duration_ms=int(row["duration_ms"]),
        response_excerpt=row["response_excerpt"] or "",
    )
