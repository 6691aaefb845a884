"""SQL show store: shows, their hashed stream keys and their hosts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from livecommerce.adapters.sql.database import Database, Row, UniqueViolation
from livecommerce.adapters.sql.notifications import write_outbox
from livecommerce.domain.notifications import OutboxEvent
from livecommerce.domain.shows import ShowStatus
from livecommerce.services.ports import Show

_UPDATABLE = frozenset(
    {
        "title",
        "description",
        "status",
        "scheduled_at",
        "started_at",
        "ended_at",
        "paused_at",
        "live_ms",
        "live_since",
    }
)


def _show(row: Row, hosts: frozenset[str]) -> Show:
    return Show(
        id=row["id"],
        seller_id=row["seller_id"],
        title=row["title"],
        description=row["description"],
        status=ShowStatus(row["status"]),
        scheduled_at=row["scheduled_at"],
        started_at=row["started_at"],
        ended_at=row["ended_at"],
        created_at=row["created_at"],
        host_ids=hosts,
        paused_at=row["paused_at"],
        live_ms=row["live_ms"],
        live_since=row["live_since"],
    )


class SqlShowStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def add_show(self, show: Show, stream_key_hash: str) -> None:
        await self._db.execute(
            "INSERT INTO shows (id, seller_id, title, description, status, scheduled_at, "
            "started_at, ended_at, stream_key_hash, stream_key_rotated_at, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            show.id,
            show.seller_id,
            show.title,
            show.description,
            show.status.value,
            show.scheduled_at,
            show.started_at,
            show.ended_at,
            stream_key_hash,
            show.created_at,
            show.created_at,
        )

    async def _hosts(self, show_ids: Sequence[str]) -> dict[str, set[str]]:
        hosts: dict[str, set[str]] = {sid: set() for sid in show_ids}
        if not show_ids:
            return hosts
        marks = ", ".join("?" for _ in show_ids)
        rows = await self._db.fetchall(
            f"SELECT show_id, user_id FROM show_hosts WHERE show_id IN ({marks})",  # noqa: S608 why: only placeholders are interpolated
            *show_ids,
        )
        for row in rows:
            hosts[row["show_id"]].add(row["user_id"])
        return hosts

    async def get_show(self, show_id: str) -> Show | None:
        row = await self._db.fetchone("SELECT * FROM shows WHERE id = ?", show_id)
        if row is None:
            return None
        hosts = await self._hosts([show_id])
        return _show(row, frozenset(hosts[show_id]))

    async def list_shows(
        self, statuses: Sequence[ShowStatus] | None = None, seller_id: str | None = None
    ) -> list[Show]:
        where: list[str] = []
        args: list[Any] = []
        if statuses:
            where.append("status IN (" + ", ".join("?" for _ in statuses) + ")")
            args.extend(s.value for s in statuses)
        if seller_id is not None:
            where.append("seller_id = ?")
            args.append(seller_id)
        clause = (" WHERE " + " AND ".join(where)) if where else ""
        rows = await self._db.fetchall(
            f"SELECT * FROM shows{clause} ORDER BY COALESCE(scheduled_at, created_at), id",  # noqa: S608 why: clause holds only fixed text and placeholders
            *args,
        )
        hosts = await self._hosts([r["id"] for r in rows])
        return [_show(r, frozenset(hosts[r["id"]])) for r in rows]

    async def update_show(
        self,
        show_id: str,
        *,
        if_status: ShowStatus | None = None,
        events: Sequence[OutboxEvent] = (),
        **fields: Any,
    ) -> bool:
        unknown = set(fields) - _UPDATABLE
        if unknown:
            raise ValueError(f"not updatable: {sorted(unknown)}")
        if not fields:
            return False
        sets = ", ".join(f"{name} = ?" for name in fields)
        values = [v.value if isinstance(v, ShowStatus) else v for v in fields.values()]
        guard = ""
        if if_status is not None:
            guard = " AND status = ?"
            values.append(if_status.value)
        sql = f"UPDATE shows SET {sets} WHERE id = ?{guard}"  # noqa: S608 why: column names come from the allow-list above
        args = [*values[: len(fields)], show_id, *values[len(fields) :]]
        if not events:
            return await self._db.execute(sql, *args) > 0
        async with self._db.transaction() as tx:
            if await tx.execute(sql, *args) == 0:
                return False
            await write_outbox(tx, events)
        return True

    async def stream_key_hash(self, show_id: str) -> str | None:
        row = await self._db.fetchone("SELECT stream_key_hash FROM shows WHERE id = ?", show_id)
        return row["stream_key_hash"] if row else None

    async def set_stream_key_hash(self, show_id: str, key_hash: str, rotated_at: int) -> None:
        await self._db.execute(
            "UPDATE shows SET stream_key_hash = ?, stream_key_rotated_at = ? WHERE id = ?",
            key_hash,
            rotated_at,
            show_id,
        )

    async def add_host(self, show_id: str, user_id: str, granted_at: int) -> None:
        try:
            await self._db.execute(
                "INSERT INTO show_hosts (show_id, user_id, granted_at) VALUES (?, ?, ?)",
                show_id,
                user_id,
                granted_at,
            )
        except UniqueViolation:
            return  # already a host: granting twice is a no-op

    async def remove_host(self, show_id: str, user_id: str) -> None:
        await self._db.execute(
            "DELETE FROM show_hosts WHERE show_id = ? AND user_id = ?", show_id, user_id
        )
