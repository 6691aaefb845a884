"""Ports for the live room's durable state: chat history with its per-show ``seq``, moderation
(policy, standings, reports, the audit log) and Q&A, plus who counts as a follower or buyer."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from livecommerce.domain.chat import ChatAuthor, ChatMessage, MessageStatus
from livecommerce.domain.moderation import (
    Appeal,
    AppealStatus,
    AuditEntry,
    ChatPolicy,
    ReportStatus,
    Standing,
)
from livecommerce.domain.qa import Question


class ChatStore(Protocol):
    """Durable chat history with a per-show ``seq`` that never repeats, even across nodes."""

    async def append(
        self, show_id: str, author: ChatAuthor, text: str, at_ms: int, status: MessageStatus
    ) -> ChatMessage:
        """Store a line with the next ``seq`` of its show (atomically) and return it."""

    async def recent(self, show_id: str, limit: int) -> list[ChatMessage]:
        """The last ``limit`` visible lines, oldest first."""

    async def after(self, show_id: str, seq: int, limit: int) -> list[ChatMessage]:
        """Visible lines with ``seq`` greater than the given one, oldest first."""

    async def get(self, message_id: str) -> ChatMessage | None: ...

    async def set_status(self, message_id: str, status: MessageStatus) -> ChatMessage | None:
        """Change a line's status; returns the updated line (None if unknown)."""

    async def release(self, message_id: str, at_ms: int) -> ChatMessage | None:
        """Make a held line visible with a fresh ``seq`` (so replay-after-seq still sees it)."""

    async def hide_user(self, show_id: str, user_id: str) -> list[ChatMessage]:
        """Hide every visible line of a user in a show; returns the lines that changed."""

    async def last_message_ms(self, show_id: str, user_id: str) -> int:
        """When the user's latest accepted line was sent (0 if never), for slow mode."""

    async def held(self, show_id: str, limit: int) -> list[ChatMessage]:
        """Lines waiting for review, oldest first."""


class Audience(Protocol):
    """Who follows or bought from a seller; the data arrives with later issues."""

    async def is_follower(self, seller_id: str, user_id: str) -> bool: ...

    async def is_buyer(self, seller_id: str, user_id: str) -> bool: ...


@dataclass(frozen=True, slots=True)
class Report:
    """A viewer's report of a chat line, queued for the show's hosts."""

    id: str
    show_id: str
    message_id: str
    reporter_id: str
    reason: str
    at_ms: int
    status: ReportStatus = ReportStatus.OPEN
    message: ChatMessage | None = None

    def to_wire(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "show_id": self.show_id,
            "message_id": self.message_id,
            "reporter_id": self.reporter_id,
            "reason": self.reason,
            "status": str(self.status),
            "at": self.at_ms,
            "message": self.message.to_wire() if self.message else None,
        }


@dataclass(frozen=True, slots=True)
class Restriction:
    """Someone who may not chat in a show now: banned (``kind`` "ban"), or timed out until
    ``until_ms`` (``kind`` "timeout"). Names are the accounts' current ones."""

    kind: str
    user_id: str
    user_name: str
    reason: str = ""
    at_ms: int | None = None
    until_ms: int | None = None
    by_id: str | None = None
    by_name: str = ""

    def to_wire(self) -> dict[str, Any]:
        out: dict[str, Any] = {"user": {"id": self.user_id, "name": self.user_name}}
        if self.kind == "ban":
            by = {"id": self.by_id, "name": self.by_name} if self.by_id else None
            out.update(reason=self.reason, at=self.at_ms, by=by)
        else:
            out["until"] = self.until_ms
        return out


class ModerationStore(Protocol):
    async def policy(self, show_id: str) -> ChatPolicy: ...

    async def set_policy(self, show_id: str, policy: ChatPolicy, at_ms: int) -> None: ...

    async def standing(self, show_id: str, user_id: str) -> Standing:
        """Ban and timeout of one user in one show (``last_message_ms`` left at 0), with the
        audit entry and reason of the one in force."""

    async def ban(self, show_id: str, user_id: str, by: str, reason: str, at_ms: int) -> None: ...

    async def unban(self, show_id: str, user_id: str) -> bool: ...

    async def mute(self, show_id: str, user_id: str, until_ms: int) -> None: ...

    async def unmute(self, show_id: str, user_id: str, now_ms: int) -> bool:
        """End a running timeout; False when the user is not timed out now."""

    async def restrictions(self, show_id: str, now_ms: int) -> list[Restriction]:
        """Bans (newest first), then running timeouts (soonest end first)."""

    async def add_report(self, report: Report) -> bool:
        """False when this reporter already reported this line (one report per person)."""

    async def reports(self, show_id: str, status: ReportStatus | None) -> list[Report]: ...

    async def resolve_report(self, report_id: str) -> Report | None: ...

    async def append_audit(self, entry: AuditEntry) -> AuditEntry:
        """Append as the show's next row of its hash chain (``seq``, ``prev_hash``, ``hash``
        set), atomically across nodes: the chain never forks."""

    async def audit(self, show_id: str, limit: int) -> list[AuditEntry]:
        """Newest first (highest ``seq`` first)."""

    async def add_appeal(self, appeal: Appeal) -> bool:
        """False when this action has been appealed already (one appeal per action)."""

    async def get_appeal(self, appeal_id: str) -> Appeal | None: ...

    async def appeals(
        self, show_id: str, status: AppealStatus | None, user_id: str | None
    ) -> list[Appeal]:
        """Oldest first; only ``user_id``'s when given."""

    async def decide_appeal(
        self, appeal_id: str, status: AppealStatus, note: str, by: str, by_name: str, at_ms: int
    ) -> Appeal | None:
        """Record the decision iff the appeal is still open; None when it was not."""


class QaStore(Protocol):
    async def add_question(self, question: Question) -> None: ...

    async def get_question(self, question_id: str) -> Question | None: ...

    async def upvote(self, question_id: str, user_id: str, at_ms: int) -> bool:
        """Count one vote; False (and nothing changes) when this user already voted."""

    async def answer(
        self, question_id: str, by: str, text: str, at_ms: int, media_ts: float | None
    ) -> Question | None: ...

    async def questions(self, show_id: str, limit: int) -> list[Question]: ...
