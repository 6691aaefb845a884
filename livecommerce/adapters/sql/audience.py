"""SQL follow and reminder stores: rows unique on their pair, written with ``ON CONFLICT DO
NOTHING`` (SQLite and PostgreSQL both have it), so a repeated follow or RSVP changes nothing
and its answer says whether it was new; counts are ``COUNT(*)`` over an index."""

from __future__ import annotations

from livecommerce.adapters.sql.database import Database
from livecommerce.services.ports import Followed

#: A cursor past every follow (epoch ms far beyond any clock), for the first page.
_NEVER = 2**62


def _marks(values: list[str]) -> str:
    return ", ".join("?" for _ in values)


class SqlFollowStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def follow(self, follower_id: str, seller_id: str, at_ms: int) -> bool:
        added = await self._db.execute(
            "INSERT INTO follows (follower_id, seller_id, created_at) VALUES (?, ?, ?) "
            "ON CONFLICT (follower_id, seller_id) DO NOTHING",
            follower_id,
            seller_id,
            at_ms,
        )
        return added == 1

    async def unfollow(self, follower_id: str, seller_id: str) -> bool:
        removed = await self._db.execute(
            "DELETE FROM follows WHERE follower_id = ? AND seller_id = ?", follower_id, seller_id
        )
        return removed == 1

    async def is_following(self, follower_id: str, seller_id: str) -> bool:
        row = await self._db.fetchone(
            "SELECT 1 AS yes FROM follows WHERE follower_id = ? AND seller_id = ?",
            follower_id,
            seller_id,
        )
        return row is not None

    async def follower_count(self, seller_id: str) -> int:
        row = await self._db.fetchone(
            "SELECT COUNT(*) AS n FROM follows WHERE seller_id = ?", seller_id
        )
        return int(row["n"]) if row else 0

    async def followers_page(self, seller_id: str, after: str | None, limit: int) -> list[str]:
        rows = await self._db.fetchall(
            "SELECT follower_id FROM follows WHERE seller_id = ? AND follower_id > ? "
            "ORDER BY follower_id LIMIT ?",
            seller_id,
            after or "",
            limit,
        )
        return [row["follower_id"] for row in rows]

    async def following_page(
        self, follower_id: str, before: tuple[int, str] | None, limit: int
    ) -> list[Followed]:
        at, seller_id = before if before is not None else (_NEVER, "")
        rows = await self._db.fetchall(
            "SELECT f.seller_id, f.created_at, u.name, u.handle FROM follows f "
            "JOIN users u ON u.id = f.seller_id WHERE f.follower_id = ? "
            "AND (f.created_at < ? OR (f.created_at = ? AND f.seller_id < ?)) "
            "ORDER BY f.created_at DESC, f.seller_id DESC LIMIT ?",
            follower_id,
            at,
            at,
            seller_id,
            limit,
        )
        return [
            Followed(
                seller_id=row["seller_id"],
                name=row["name"],
                handle=row["handle"],
                followed_at=row["created_at"],
            )
            for row in rows
        ]


class SqlRsvpStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def add_rsvp(self, show_id: str, user_id: str, at_ms: int) -> bool:
        added = await self._db.execute(
            "INSERT INTO rsvps (show_id, user_id, created_at) VALUES (?, ?, ?) "
            "ON CONFLICT (show_id, user_id) DO NOTHING",
            show_id,
            user_id,
            at_ms,
        )
        return added == 1

    async def remove_rsvp(self, show_id: str, user_id: str) -> bool:
        removed = await self._db.execute(
            "DELETE FROM rsvps WHERE show_id = ? AND user_id = ?", show_id, user_id
        )
        return removed == 1

    async def rsvp_counts(self, show_ids: list[str]) -> dict[str, int]:
        if not show_ids:
            return {}
        rows = await self._db.fetchall(
            f"SELECT show_id, COUNT(*) AS n FROM rsvps WHERE show_id IN ({_marks(show_ids)}) "  # noqa: S608 why: placeholders only
            "GROUP BY show_id",
            *show_ids,
        )
        return {row["show_id"]: int(row["n"]) for row in rows}

    async def rsvped(self, user_id: str, show_ids: list[str]) -> set[str]:
        if not show_ids:
            return set()
        rows = await self._db.fetchall(
            f"SELECT show_id FROM rsvps WHERE user_id = ? AND show_id IN ({_marks(show_ids)})",  # noqa: S608 why: placeholders only
            user_id,
            *show_ids,
        )
        return {row["show_id"] for row in rows}

    async def rsvp_users_page(self, show_id: str, after: str | None, limit: int) -> list[str]:
        rows = await self._db.fetchall(
            "SELECT user_id FROM rsvps WHERE show_id = ? AND user_id > ? ORDER BY user_id LIMIT ?",
            show_id,
            after or "",
            limit,
        )
        return [row["user_id"] for row in rows]
