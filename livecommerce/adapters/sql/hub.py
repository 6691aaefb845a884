"""SQL store for the live hub (SQLite or PostgreSQL): chat history with per-show ``seq``,
moderation state, reports, the audit log and Q&A.

``seq`` comes from a counter row updated with ``UPDATE ... RETURNING`` inside the insert's
transaction: on PostgreSQL the row lock serialises nodes, on SQLite ``BEGIN IMMEDIATE`` does, so
two nodes never hand out the same number and a Redis restart cannot reset it.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import replace
from typing import Any

from livecommerce.adapters.sql.database import (
    Executor,
    PostgresDatabase,
    SqliteDatabase,
    UniqueViolation,
)
from livecommerce.domain.chat import ChatAuthor, ChatMessage, MessageStatus
from livecommerce.domain.moderation import (
    Appeal,
    AppealStatus,
    AuditEntry,
    ChatPolicy,
    ModAction,
    ReportStatus,
    Standing,
    audit_genesis,
    chain_entry,
)
from livecommerce.domain.qa import Question
from livecommerce.ids import new_id
from livecommerce.services.ports import Report, Restriction

Row = dict[str, Any]


def _badges(value: str) -> tuple[str, ...]:
    return tuple(b for b in value.split(",") if b)


def _message(row: Row) -> ChatMessage:
    return ChatMessage(
        id=row["id"],
        show_id=row["show_id"],
        seq=int(row["seq"]),
        author=ChatAuthor(row["user_id"], row["user_name"], _badges(row["badges"])),
        text=row["text"],
        at_ms=int(row["at"]),
        status=MessageStatus(row["status"]),
    )


def _question(row: Row) -> Question:
    media = row["media_ts_ms"]
    return Question(
        id=row["id"],
        show_id=row["show_id"],
        author=ChatAuthor(row["user_id"], row["user_name"], _badges(row["badges"])),
        text=row["text"],
        votes=int(row["votes"]),
        at_ms=int(row["at"]),
        answered=bool(row["answered"]),
        answer=row["answer"],
        answered_by=row["answered_by"],
        answered_at_ms=int(row["answered_at"]) if row["answered_at"] is not None else None,
        on_air_media_ts=int(media) / 1000 if media is not None else None,
    )


async def _next_seq(tx: Executor, show_id: str) -> int:
    row = await tx.fetchone(
        "UPDATE chat_seq SET seq = seq + 1 WHERE show_id = ? RETURNING seq", show_id
    )
    if row is not None:
        return int(row["seq"])
    await tx.execute("INSERT INTO chat_seq (show_id, seq) VALUES (?, 1)", show_id)
    return 1


def _audit_entry(r: Row) -> AuditEntry:
    return AuditEntry(
        id=r["id"],
        show_id=r["show_id"],
        actor_id=r["actor_id"],
        actor_name=r["actor_name"],
        action=ModAction(r["action"]),
        at_ms=int(r["at"]),
        target_user_id=r["target_user_id"],
        target_message_id=r["target_message_id"],
        reason=r["reason"],
        detail=json.loads(r["detail"]),
        target_name=r["target_name"],
        seq=int(r["seq"] or 0),
        prev_hash=r["prev_hash"] or "",
        hash=r["hash"] or "",
    )


def _appeal(r: Row) -> Appeal:
    return Appeal(
        id=r["id"],
        show_id=r["show_id"],
        user_id=r["user_id"],
        user_name=r["user_name"],
        action_id=r["action_id"],
        kind=r["kind"],
        reason=r["reason"],
        until_ms=int(r["until_at"]) if r["until_at"] is not None else None,
        text=r["text"],
        at_ms=int(r["at"]),
        status=AppealStatus(r["status"]),
        note=r["note"],
        decided_by=r["decided_by"],
        decided_by_name=r["decided_by_name"],
        decided_at_ms=int(r["decided_at"]) if r["decided_at"] is not None else None,
    )


async def _chain_tip(tx: Executor, show_id: str) -> tuple[int, str]:
    """The seq and hash of a show's last audit row (0 and the genesis when none), with the
    show's head row locked until the transaction ends. Rows written before the chain existed
    (no seq) are chained first, in their order."""
    head = await tx.fetchone(
        "UPDATE moderation_audit_heads SET seq = seq WHERE show_id = ? RETURNING seq, hash",
        show_id,
    )
    if head is not None:
        return int(head["seq"]), str(head["hash"])
    seq, prev = 0, audit_genesis(show_id)
    legacy = await tx.fetchall(
        "SELECT * FROM moderation_audit WHERE show_id = ? AND seq IS NULL ORDER BY at, id",
        show_id,
    )
    for row in legacy:
        placed = chain_entry(_audit_entry(row), seq + 1, prev)
        await tx.execute(
            "UPDATE moderation_audit SET seq = ?, prev_hash = ?, hash = ? WHERE id = ?",
            placed.seq, placed.prev_hash, placed.hash, placed.id,
        )  # fmt: skip
        seq, prev = placed.seq, placed.hash
    # two nodes starting a show's chain at once: one inserts, the other retries and locks it
    await tx.execute(
        "INSERT INTO moderation_audit_heads (show_id, seq, hash) VALUES (?, ?, ?)",
        show_id, seq, prev,
    )  # fmt: skip
    return seq, prev


class SqlHubStore:
    """ChatStore, ModerationStore and QaStore over the app's Database."""

    def __init__(self, db: SqliteDatabase | PostgresDatabase) -> None:
        self._db = db

    # --- chat -------------------------------------------------------------------------------

    async def append(
        self, show_id: str, author: ChatAuthor, text: str, at_ms: int, status: MessageStatus
    ) -> ChatMessage:
        message_id = new_id("msg")
        for _attempt in range(5):
            try:
                async with self._db.transaction() as tx:
                    seq = await _next_seq(tx, show_id)
                    await tx.execute(
                        "INSERT INTO chat_messages (id, show_id, seq, user_id, user_name, badges, "
                        "text, status, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        message_id, show_id, seq, author.id, author.name,
                        ",".join(author.badges), text, str(status), at_ms,
                    )  # fmt: skip
                return ChatMessage(message_id, show_id, seq, author, text, at_ms, status)
            except UniqueViolation:
                # two nodes created the counter row at once; the loser retries with UPDATE
                continue
        raise RuntimeError("could not allocate a chat seq")

    async def recent(self, show_id: str, limit: int) -> list[ChatMessage]:
        rows = await self._db.fetchall(
            "SELECT * FROM chat_messages WHERE show_id = ? AND status = ? "
            "ORDER BY seq DESC LIMIT ?",
            show_id, str(MessageStatus.VISIBLE), limit,
        )  # fmt: skip
        return [_message(r) for r in reversed(rows)]

    async def after(self, show_id: str, seq: int, limit: int) -> list[ChatMessage]:
        rows = await self._db.fetchall(
            "SELECT * FROM chat_messages "
            "WHERE show_id = ? AND status = ? AND seq > ? ORDER BY seq LIMIT ?",
            show_id, str(MessageStatus.VISIBLE), seq, limit,
        )  # fmt: skip
        return [_message(r) for r in rows]

    async def get(self, message_id: str) -> ChatMessage | None:
        row = await self._db.fetchone("SELECT * FROM chat_messages WHERE id = ?", message_id)
        return _message(row) if row else None

    async def set_status(self, message_id: str, status: MessageStatus) -> ChatMessage | None:
        await self._db.execute(
            "UPDATE chat_messages SET status = ? WHERE id = ?", str(status), message_id
        )
        return await self.get(message_id)

    async def release(self, message_id: str, at_ms: int) -> ChatMessage | None:
        async with self._db.transaction() as tx:
            row = await tx.fetchone(
                "SELECT show_id FROM chat_messages WHERE id = ? AND status = ?",
                message_id, str(MessageStatus.HELD),
            )  # fmt: skip
            if row is None:
                return None
            seq = await _next_seq(tx, row["show_id"])
            await tx.execute(
                "UPDATE chat_messages SET status = ?, seq = ? WHERE id = ?",
                str(MessageStatus.VISIBLE), seq, message_id,
            )  # fmt: skip
        return await self.get(message_id)

    async def hide_user(self, show_id: str, user_id: str) -> list[ChatMessage]:
        async with self._db.transaction() as tx:
            rows = await tx.fetchall(
                "SELECT * FROM chat_messages "
                "WHERE show_id = ? AND user_id = ? AND status IN (?, ?) ORDER BY seq",
                show_id, user_id, str(MessageStatus.VISIBLE), str(MessageStatus.HELD),
            )  # fmt: skip
            await tx.execute(
                "UPDATE chat_messages SET status = ? "
                "WHERE show_id = ? AND user_id = ? AND status IN (?, ?)",
                str(MessageStatus.HIDDEN), show_id, user_id,
                str(MessageStatus.VISIBLE), str(MessageStatus.HELD),
            )  # fmt: skip
        return [
            _message({**r, "status": str(MessageStatus.HIDDEN)})
            for r in rows
            if r["status"] == str(MessageStatus.VISIBLE)
        ]

    async def last_message_ms(self, show_id: str, user_id: str) -> int:
        row = await self._db.fetchone(
            "SELECT MAX(at) AS at FROM chat_messages WHERE show_id = ? AND user_id = ?",
            show_id, user_id,
        )  # fmt: skip
        return int(row["at"]) if row and row["at"] is not None else 0

    async def held(self, show_id: str, limit: int) -> list[ChatMessage]:
        rows = await self._db.fetchall(
            "SELECT * FROM chat_messages WHERE show_id = ? AND status = ? "
            "ORDER BY seq LIMIT ?",
            show_id, str(MessageStatus.HELD), limit,
        )  # fmt: skip
        return [_message(r) for r in rows]

    # --- moderation -------------------------------------------------------------------------

    async def policy(self, show_id: str) -> ChatPolicy:
        row = await self._db.fetchone("SELECT policy FROM chat_policies WHERE show_id = ?", show_id)
        if row is None:
            return ChatPolicy()
        data = json.loads(row["policy"])
        data["banned_words"] = tuple(data.get("banned_words", ()))
        return ChatPolicy(**data)

    async def set_policy(self, show_id: str, policy: ChatPolicy, at_ms: int) -> None:
        payload = json.dumps(policy.to_wire())
        # one upsert: two hosts saving at once cannot both miss the row and collide on insert
        await self._db.execute(
            "INSERT INTO chat_policies (show_id, policy, updated_at) VALUES (?, ?, ?) "
            "ON CONFLICT (show_id) DO UPDATE SET policy = excluded.policy, "
            "updated_at = excluded.updated_at",
            show_id, payload, at_ms,
        )  # fmt: skip

    async def standing(self, show_id: str, user_id: str) -> Standing:
        ban = await self._db.fetchone(
            "SELECT 1 AS b FROM chat_bans WHERE show_id = ? AND user_id = ?", show_id, user_id
        )
        mute = await self._db.fetchone(
            "SELECT until FROM chat_timeouts WHERE show_id = ? AND user_id = ?", show_id, user_id
        )
        standing = Standing(
            banned=ban is not None, muted_until_ms=int(mute["until"]) if mute else 0
        )
        if ban is None and mute is None:
            return standing
        # why: only a restricted user pays for the lookup of why (their refusal carries it)
        action = await self._db.fetchone(
            "SELECT id, reason FROM moderation_audit WHERE show_id = ? AND target_user_id = ? "
            "AND action = ? ORDER BY COALESCE(seq, 0) DESC, at DESC LIMIT 1",
            show_id, user_id, str(ModAction.BAN if ban is not None else ModAction.TIMEOUT),
        )  # fmt: skip
        if action is None:
            return standing
        return replace(standing, action_id=action["id"], reason=action["reason"])

    async def ban(self, show_id: str, user_id: str, by: str, reason: str, at_ms: int) -> None:
        # already banned: nothing changes, the audit entry still records the repeat
        with contextlib.suppress(UniqueViolation):
            await self._db.execute(
                "INSERT INTO chat_bans (show_id, user_id, banned_by, reason, at) "
                "VALUES (?, ?, ?, ?, ?)",
                show_id, user_id, by, reason, at_ms,
            )  # fmt: skip

    async def unban(self, show_id: str, user_id: str) -> bool:
        removed = await self._db.execute(
            "DELETE FROM chat_bans WHERE show_id = ? AND user_id = ?", show_id, user_id
        )
        return removed > 0

    async def mute(self, show_id: str, user_id: str, until_ms: int) -> None:
        await self._db.execute(
            "INSERT INTO chat_timeouts (show_id, user_id, until) VALUES (?, ?, ?) "
            "ON CONFLICT (show_id, user_id) DO UPDATE SET until = excluded.until",
            show_id, user_id, until_ms,
        )  # fmt: skip

    async def unmute(self, show_id: str, user_id: str, now_ms: int) -> bool:
        removed = await self._db.execute(
            "DELETE FROM chat_timeouts WHERE show_id = ? AND user_id = ? AND until > ?",
            show_id, user_id, now_ms,
        )  # fmt: skip
        return removed > 0

    async def restrictions(self, show_id: str, now_ms: int) -> list[Restriction]:
        bans = await self._db.fetchall(
            "SELECT b.user_id, b.reason, b.at, b.banned_by, u.name AS user_name, "
            "a.name AS by_name FROM chat_bans b "
            "LEFT JOIN users u ON u.id = b.user_id LEFT JOIN users a ON a.id = b.banned_by "
            "WHERE b.show_id = ? ORDER BY b.at DESC",
            show_id,
        )
        timeouts = await self._db.fetchall(
            "SELECT t.user_id, t.until, u.name AS user_name FROM chat_timeouts t "
            "LEFT JOIN users u ON u.id = t.user_id "
            "WHERE t.show_id = ? AND t.until > ? ORDER BY t.until",
            show_id, now_ms,
        )  # fmt: skip
        return [
            Restriction(
                kind="ban",
                user_id=r["user_id"],
                user_name=r["user_name"] or "",
                reason=r["reason"],
                at_ms=int(r["at"]),
                by_id=r["banned_by"],
                by_name=r["by_name"] or "",
            )
            for r in bans
        ] + [
            Restriction(
                kind="timeout",
                user_id=r["user_id"],
                user_name=r["user_name"] or "",
                until_ms=int(r["until"]),
            )
            for r in timeouts
        ]

    async def add_report(self, report: Report) -> bool:
        try:
            await self._db.execute(
                "INSERT INTO chat_reports (id, show_id, message_id, reporter_id, reason, status, "
                "at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                report.id, report.show_id, report.message_id, report.reporter_id, report.reason,
                str(report.status), report.at_ms,
            )  # fmt: skip
        except UniqueViolation:
            return False
        return True

    async def _report(self, row: Row) -> Report:
        return Report(
            id=row["id"],
            show_id=row["show_id"],
            message_id=row["message_id"],
            reporter_id=row["reporter_id"],
            reason=row["reason"],
            at_ms=int(row["at"]),
            status=ReportStatus(row["status"]),
            message=await self.get(row["message_id"]),
        )

    async def reports(self, show_id: str, status: ReportStatus | None) -> list[Report]:
        if status is None:
            rows = await self._db.fetchall(
                "SELECT * FROM chat_reports WHERE show_id = ? ORDER BY at", show_id
            )
        else:
            rows = await self._db.fetchall(
                "SELECT * FROM chat_reports WHERE show_id = ? AND status = ? ORDER BY at",
                show_id, str(status),
            )  # fmt: skip
        return [await self._report(r) for r in rows]

    async def resolve_report(self, report_id: str) -> Report | None:
        await self._db.execute(
            "UPDATE chat_reports SET status = ? WHERE id = ?", str(ReportStatus.RESOLVED), report_id
        )
        row = await self._db.fetchone("SELECT * FROM chat_reports WHERE id = ?", report_id)
        return await self._report(row) if row else None

    async def append_audit(self, entry: AuditEntry) -> AuditEntry:
        """Append as the show's next row of the chain, under the lock on the show's head row
        (nodes take turns). Only the very first append of a show can race on creating that
        row; the loser goes round again and then waits on the lock."""
        for _attempt in range(5):
            try:
                async with self._db.transaction() as tx:
                    seq, prev = await _chain_tip(tx, entry.show_id)
                    placed = chain_entry(entry, seq + 1, prev)
                    await tx.execute(
                        "INSERT INTO moderation_audit (id, show_id, actor_id, actor_name, action, "
                        "target_user_id, target_message_id, reason, detail, at, target_name, "
                        "seq, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        placed.id, placed.show_id, placed.actor_id, placed.actor_name,
                        str(placed.action), placed.target_user_id, placed.target_message_id,
                        placed.reason, json.dumps(placed.detail), placed.at_ms,
                        placed.target_name, placed.seq, placed.prev_hash, placed.hash,
                    )  # fmt: skip
                    await tx.execute(
                        "UPDATE moderation_audit_heads SET seq = ?, hash = ? WHERE show_id = ?",
                        placed.seq, placed.hash, placed.show_id,
                    )  # fmt: skip
                return placed
            except UniqueViolation:
                continue
        raise RuntimeError("could not append to the audit chain")

    async def audit(self, show_id: str, limit: int) -> list[AuditEntry]:
        newest = await self._db.fetchone(
            "SELECT seq FROM moderation_audit WHERE show_id = ? ORDER BY at DESC, id DESC LIMIT 1",
            show_id,
        )
        if newest is not None and newest["seq"] is None:
            # a log written before the chain existed: chain it now, once, in its order
            with contextlib.suppress(UniqueViolation):
                async with self._db.transaction() as tx:
                    await _chain_tip(tx, show_id)
        rows = await self._db.fetchall(
            "SELECT * FROM moderation_audit WHERE show_id = ? "
            "ORDER BY COALESCE(seq, 0) DESC, at DESC, id DESC LIMIT ?",
            show_id, limit,
        )  # fmt: skip
        return [_audit_entry(r) for r in rows]

    # --- appeals ----------------------------------------------------------------------------

    async def add_appeal(self, appeal: Appeal) -> bool:
        try:
            await self._db.execute(
                "INSERT INTO moderation_appeals (id, show_id, user_id, user_name, action_id, kind, "
                "reason, until_at, text, status, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                appeal.id, appeal.show_id, appeal.user_id, appeal.user_name, appeal.action_id,
                appeal.kind, appeal.reason, appeal.until_ms, appeal.text, str(appeal.status),
                appeal.at_ms,
            )  # fmt: skip
        except UniqueViolation:
            return False
        return True

    async def get_appeal(self, appeal_id: str) -> Appeal | None:
        row = await self._db.fetchone("SELECT * FROM moderation_appeals WHERE id = ?", appeal_id)
        return _appeal(row) if row else None

    async def appeals(
        self, show_id: str, status: AppealStatus | None, user_id: str | None
    ) -> list[Appeal]:
        sql = "SELECT * FROM moderation_appeals WHERE show_id = ?"
        args: list[Any] = [show_id]
        if status is not None:
            sql += " AND status = ?"
            args.append(str(status))
        if user_id is not None:
            sql += " AND user_id = ?"
            args.append(user_id)
        rows = await self._db.fetchall(sql + " ORDER BY at, id", *args)
        return [_appeal(r) for r in rows]

    async def decide_appeal(
        self, appeal_id: str, status: AppealStatus, note: str, by: str, by_name: str, at_ms: int
    ) -> Appeal | None:
        changed = await self._db.execute(
            "UPDATE moderation_appeals SET status = ?, note = ?, decided_by = ?, "
            "decided_by_name = ?, decided_at = ? WHERE id = ? AND status = ?",
            str(status), note, by, by_name, at_ms, appeal_id, str(AppealStatus.OPEN),
        )  # fmt: skip
        return await self.get_appeal(appeal_id) if changed else None

    # --- Q&A --------------------------------------------------------------------------------

    async def add_question(self, question: Question) -> None:
        await self._db.execute(
            "INSERT INTO qa_questions (id, show_id, user_id, user_name, badges, text, votes, at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            question.id, question.show_id, question.author.id, question.author.name,
            ",".join(question.author.badges), question.text, question.votes, question.at_ms,
        )  # fmt: skip

    async def get_question(self, question_id: str) -> Question | None:
        row = await self._db.fetchone("SELECT * FROM qa_questions WHERE id = ?", question_id)
        return _question(row) if row else None

    async def upvote(self, question_id: str, user_id: str, at_ms: int) -> bool:
        try:
            async with self._db.transaction() as tx:
                await tx.execute(
                    "INSERT INTO qa_votes (question_id, user_id, at) VALUES (?, ?, ?)",
                    question_id, user_id, at_ms,
                )  # fmt: skip
                await tx.execute(
                    "UPDATE qa_questions SET votes = votes + 1 WHERE id = ?", question_id
                )
        except UniqueViolation:
            return False
        return True

    async def answer(
        self, question_id: str, by: str, text: str, at_ms: int, media_ts: float | None
    ) -> Question | None:
        await self._db.execute(
            "UPDATE qa_questions SET answered = 1, answer = ?, answered_by = ?, answered_at = ?, "
            "media_ts_ms = ? WHERE id = ?",
            text, by, at_ms, round(media_ts * 1000) if media_ts is not None else None,
            question_id,
        )  # fmt: skip
        return await self.get_question(question_id)

    async def questions(self, show_id: str, limit: int) -> list[Question]:
        rows = await self._db.fetchall(
            "SELECT * FROM qa_questions WHERE show_id = ? ORDER BY answered, votes DESC, at "
            "LIMIT ?",
            show_id, limit,
        )  # fmt: skip
        return [_question(r) for r in rows]
