"""SQL account and token store: users with argon2 hashes, tokens kept only as a keyed digest
(the account service's HMAC) beside a public session id; a guest's contact e-mail lives in
`guest_email` (not unique) until the guest upgrades and it becomes the unique login `email`.
Sellers get a storefront handle when they are written without one (see ``_free_handle``)."""

from __future__ import annotations

import dataclasses

from livecommerce.adapters.sql.database import Database, Row, UniqueViolation
from livecommerce.domain.access import Role
from livecommerce.domain.audience import handle_candidates, has_storefront
from livecommerce.errors import Conflict, HandleTaken
from livecommerce.services.batching import DEFAULT_BATCH_MAX, TickBatcher
from livecommerce.services.ports import SessionRecord, User

#: A token's last use is written when it is older than this, so reads stay reads most of the time.
LAST_SEEN_STEP_MS = 60_000


def _user(row: Row) -> User:
    return User(
        id=row["id"],
        name=row["name"],
        email=row["email"],
        role=Role(row["role"]),
        is_guest=bool(row["is_guest"]),
        created_at=row["created_at"],
        password_hash=row["password_hash"],
        guest_email=row["guest_email"],
        handle=row["handle"],
    )


#: Times a new seller's insert is retried when another took the handle it picked meanwhile.
HANDLE_RACES = 5


class SqlAccountStore:
    """Users and tokens. Reads of users by id made in one event-loop tick share one
    `SELECT … IN` (a flash sale's winners are announced with their buyers' names at once)."""

    def __init__(self, db: Database, *, batch_max: int = DEFAULT_BATCH_MAX) -> None:
        self._db = db
        self._users: TickBatcher[str, User | None] = TickBatcher(self._read_users, batch_max)

    async def add_user(self, user: User) -> None:
        generate = user.handle is None and has_storefront(user.role, user.is_guest)
        for _ in range(HANDLE_RACES):
            if generate:
                user = dataclasses.replace(user, handle=await self._free_handle(user))
            try:
                await self._insert(user)
            except UniqueViolation as exc:
                if user.email is not None and await self.user_by_email(user.email) is not None:
                    raise Conflict("an account with this e-mail already exists") from exc
                if user.handle is None or await self.user_by_handle(user.handle) is None:
                    raise
                if not generate:
                    raise HandleTaken("this handle is taken") from exc
                # another seller took the picked handle meanwhile: pick again
            else:
                return
        raise HandleTaken("no free handle was found; try again")

    async def _free_handle(self, user: User) -> str:
        """The first of the name's candidate handles nobody has, now or before (a generated
        handle never takes over a former seller's old links; one query for all of them)."""
        candidates = handle_candidates(user.name, user.id)
        marks = ", ".join("?" for _ in candidates)
        rows = await self._db.fetchall(
            f"SELECT handle FROM users WHERE handle IN ({marks}) "  # noqa: S608 why: placeholders only
            f"UNION SELECT handle FROM former_handles WHERE handle IN ({marks})",
            *candidates,
            *candidates,
        )
        taken = {row["handle"] for row in rows}
        return next((c for c in candidates if c not in taken), candidates[-1])

    async def _insert(self, user: User) -> None:
        await self._db.execute(
            "INSERT INTO users (id, name, email, password_hash, role, is_guest, created_at, "
            "guest_email, handle) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            user.id,
            user.name,
            user.email,
            user.password_hash,
            user.role.value,
            user.is_guest,
            user.created_at,
            user.guest_email,
            user.handle,
        )

    async def user_by_id(self, user_id: str) -> User | None:
        return await self._users.submit(user_id)

    async def _read_users(self, user_ids: list[str]) -> list[User | Exception | None]:
        wanted = sorted(set(user_ids))
        marks = ", ".join("?" for _ in wanted)
        rows = await self._db.fetchall(
            f"SELECT * FROM users WHERE id IN ({marks})",  # noqa: S608 why: placeholders only
            *wanted,
        )
        found = {row["id"]: _user(row) for row in rows}
        return [found.get(user_id) for user_id in user_ids]

    async def user_by_email(self, email: str) -> User | None:
        row = await self._db.fetchone("SELECT * FROM users WHERE email = ?", email)
        return _user(row) if row else None

    async def user_by_handle(self, handle: str) -> User | None:
        row = await self._db.fetchone("SELECT * FROM users WHERE handle = ?", handle)
        return _user(row) if row else None

    async def set_handle(self, user_id: str, handle: str, at_ms: int) -> None:
        try:
            async with self._db.transaction() as tx:
                row = await tx.fetchone("SELECT handle FROM users WHERE id = ?", user_id)
                await tx.execute("UPDATE users SET handle = ? WHERE id = ?", handle, user_id)
                former = row["handle"] if row else None
                if former is not None and former != handle:
                    await tx.execute(
                        "INSERT INTO former_handles (handle, user_id, retired_at) "
                        "VALUES (?, ?, ?) ON CONFLICT (handle) DO UPDATE "
                        "SET user_id = excluded.user_id, retired_at = excluded.retired_at",
                        former,
                        user_id,
                        at_ms,
                    )
        except UniqueViolation as exc:
            raise HandleTaken("this handle is taken") from exc

    async def user_by_former_handle(self, handle: str) -> User | None:
        row = await self._db.fetchone(
            "SELECT u.* FROM former_handles f JOIN users u ON u.id = f.user_id WHERE f.handle = ?",
            handle,
        )
        return _user(row) if row else None

    async def fill_handles(self) -> int:
        rows = await self._db.fetchall(
            "SELECT * FROM users WHERE handle IS NULL AND role = ? AND is_guest = 0 "
            "ORDER BY created_at, id",
            Role.SELLER.value,
        )
        for row in rows:
            user = _user(row)
            for _ in range(HANDLE_RACES):
                try:
                    await self._db.execute(
                        "UPDATE users SET handle = ? WHERE id = ? AND handle IS NULL",
                        await self._free_handle(user),
                        user.id,
                    )
                except UniqueViolation:
                    continue  # another node filled the same handle first: pick again
                break
        return len(rows)

    async def add_token(
        self,
        session_id: str,
        token_digest: str,
        user_id: str,
        kind: str,
        created_at: int,
        expires_at: int,
    ) -> None:
        await self._db.execute(
            "INSERT INTO tokens (id, token_hash, user_id, kind, created_at, expires_at, "
            "last_seen_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            session_id,
            token_digest,
            user_id,
            kind,
            created_at,
            expires_at,
            created_at,
        )

    async def user_by_token(self, token_digest: str, now_ms: int) -> User | None:
        row = await self._db.fetchone(
            "SELECT u.*, t.last_seen_at AS token_last_seen FROM tokens t "
            "JOIN users u ON u.id = t.user_id WHERE t.token_hash = ? AND t.expires_at > ?",
            token_digest,
            now_ms,
        )
        if row is None:
            return None
        seen = row["token_last_seen"]
        if seen is None or now_ms - seen >= LAST_SEEN_STEP_MS:
            await self._db.execute(
                "UPDATE tokens SET last_seen_at = ? WHERE token_hash = ?", now_ms, token_digest
            )
        return _user(row)

    async def delete_token(self, token_digest: str) -> None:
        await self._db.execute("DELETE FROM tokens WHERE token_hash = ?", token_digest)

    async def sessions_of(self, user_id: str, now_ms: int) -> list[SessionRecord]:
        rows = await self._db.fetchall(
            "SELECT id, token_hash, kind, created_at, expires_at, last_seen_at FROM tokens "
            "WHERE user_id = ? AND expires_at > ? ORDER BY created_at DESC, id",
            user_id,
            now_ms,
        )
        return [
            SessionRecord(
                id=row["id"],
                token_digest=row["token_hash"],
                kind=row["kind"],
                created_at=row["created_at"],
                expires_at=row["expires_at"],
                last_seen_at=row["last_seen_at"],
            )
            for row in rows
        ]

    async def delete_session(self, user_id: str, session_id: str) -> bool:
        deleted = await self._db.execute(
            "DELETE FROM tokens WHERE id = ? AND user_id = ?", session_id, user_id
        )
        return deleted == 1

    async def delete_sessions(self, user_id: str, keep_digest: str | None) -> int:
        if keep_digest is None:
            return await self._db.execute("DELETE FROM tokens WHERE user_id = ?", user_id)
        return await self._db.execute(
            "DELETE FROM tokens WHERE user_id = ? AND token_hash <> ?", user_id, keep_digest
        )

    async def upgrade_guest(self, user_id: str, email: str, password_hash: str) -> User | None:
        try:
            changed = await self._db.execute(
                "UPDATE users SET email = ?, password_hash = ?, is_guest = 0, guest_email = NULL "
                "WHERE id = ? AND is_guest = 1",
                email,
                password_hash,
                user_id,
            )
        except UniqueViolation as exc:
            raise Conflict("an account with this e-mail already exists; sign in to it") from exc
        return await self.user_by_id(user_id) if changed == 1 else None
