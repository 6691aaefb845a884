"""Moderation use cases for a show's staff: delete, timeout (and lift), ban (and unban), slow
mode, filters, the review queue, viewer reports, who is restricted now, and the audit log that
records every one of them.

Each action authorizes first (``Action.MODERATE``), changes the shared store, writes one audit
entry with the target's name as it was then (so the log reads "Ana banned Bob" even after Bob
renames), and returns what the hub must tell the room. State lives in the store so every node
enforces a ban the moment it is written.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from livecommerce.domain.access import Action, Principal, ShowRef, authorize, is_staff
from livecommerce.domain.chat import ChatMessage, MessageStatus
from livecommerce.domain.moderation import (
    AuditEntry,
    ChatPolicy,
    ModAction,
    ReportStatus,
    Standing,
    check_slow_mode_seconds,
    check_timeout_seconds,
    make_policy,
    normalize_reason,
)
from livecommerce.errors import InvalidInput, NotFound, PermissionDenied
from livecommerce.ids import new_id
from livecommerce.services.ports import (
    AccountStore,
    ChatStore,
    Clock,
    ModerationStore,
    Report,
    Restriction,
)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a moderation action changed, for the hub to announce."""

    action: ModAction
    entry: AuditEntry
    deleted: tuple[ChatMessage, ...] = ()
    released: ChatMessage | None = None
    policy: ChatPolicy | None = None
    until_ms: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class ModerationService:
    def __init__(
        self, store: ModerationStore, chat: ChatStore, clock: Clock, accounts: AccountStore
    ) -> None:
        self._store = store
        self._chat = chat
        self._clock = clock
        self._accounts = accounts

    async def _audit(
        self,
        actor: Principal,
        show: ShowRef,
        action: ModAction,
        *,
        user_id: str | None = None,
        message_id: str | None = None,
        reason: str = "",
        detail: dict[str, Any] | None = None,
        target_name: str | None = None,
    ) -> AuditEntry:
        if target_name is None and user_id is not None:
            user = await self._accounts.user_by_id(user_id)
            target_name = user.name if user else ""
        entry = AuditEntry(
            id=new_id("aud"),
            show_id=show.id,
            actor_id=actor.user_id,
            actor_name=actor.name,
            action=action,
            at_ms=self._clock.now_ms(),
            target_user_id=user_id,
            target_message_id=message_id,
            reason=reason,
            detail=detail or {},
            target_name=target_name or "",
        )
        await self._store.append_audit(entry)
        return entry

    async def _check_target(self, actor: Principal, show: ShowRef, user_id: str) -> None:
        """Staff cannot be timed out or banned from their own show (nor can you target yourself),
        and only an existing account can be: a ban of a made-up id would be an audit row about
        nobody."""
        if user_id == actor.user_id:
            raise InvalidInput("you cannot moderate yourself")
        if user_id == show.seller_id or user_id in show.host_ids:
            raise PermissionDenied("staff of this show cannot be moderated here")
        if await self._accounts.user_by_id(user_id) is None:
            raise NotFound("no such user")

    async def delete(
        self, actor: Principal | None, show: ShowRef, message_id: str, reason: str | None = None
    ) -> Outcome:
        who = authorize(actor, Action.MODERATE, show)
        message = await self._chat.get(message_id)
        if message is None or message.show_id != show.id:
            raise NotFound("no such message in this show")
        updated = await self._chat.set_status(message_id, MessageStatus.DELETED)
        entry = await self._audit(
            who,
            show,
            ModAction.DELETE,
            user_id=message.author.id,
            target_name=message.author.name,
            message_id=message_id,
            reason=normalize_reason(reason),
            detail={"text": message.text, "seq": message.seq},
        )
        deleted = (updated,) if updated and message.status is MessageStatus.VISIBLE else ()
        return Outcome(ModAction.DELETE, entry, deleted=deleted)

    async def timeout(
        self,
        actor: Principal | None,
        show: ShowRef,
        user_id: str,
        seconds: int,
        reason: str | None = None,
    ) -> Outcome:
        who = authorize(actor, Action.MODERATE, show)
        check_timeout_seconds(seconds)
        await self._check_target(who, show, user_id)
        until = self._clock.now_ms() + seconds * 1000
        await self._store.mute(show.id, user_id, until)
        entry = await self._audit(
            who,
            show,
            ModAction.TIMEOUT,
            user_id=user_id,
            reason=normalize_reason(reason),
            detail={"seconds": seconds},
        )
        return Outcome(ModAction.TIMEOUT, entry, until_ms=until)

    async def ban(
        self, actor: Principal | None, show: ShowRef, user_id: str, reason: str | None = None
    ) -> Outcome:
        who = authorize(actor, Action.MODERATE, show)
        await self._check_target(who, show, user_id)
        why = normalize_reason(reason)
        await self._store.ban(show.id, user_id, who.user_id, why, self._clock.now_ms())
        hidden = await self._chat.hide_user(show.id, user_id)
        entry = await self._audit(
            who,
            show,
            ModAction.BAN,
            user_id=user_id,
            reason=why,
            detail={"hidden_messages": len(hidden)},
        )
        return Outcome(ModAction.BAN, entry, deleted=tuple(hidden))

    async def unban(
        self, actor: Principal | None, show: ShowRef, user_id: str, reason: str | None = None
    ) -> Outcome:
        who = authorize(actor, Action.MODERATE, show)
        if not await self._store.unban(show.id, user_id):
            raise NotFound("this user is not banned from this show")
        entry = await self._audit(
            who, show, ModAction.UNBAN, user_id=user_id, reason=normalize_reason(reason)
        )
        return Outcome(ModAction.UNBAN, entry)

    async def lift(
        self, actor: Principal | None, show: ShowRef, user_id: str, reason: str | None = None
    ) -> Outcome:
        """End a running timeout early (the user may chat again at once)."""
        who = authorize(actor, Action.MODERATE, show)
        if not await self._store.unmute(show.id, user_id, self._clock.now_ms()):
            raise NotFound("this user is not timed out in this show")
        entry = await self._audit(
            who, show, ModAction.LIFT, user_id=user_id, reason=normalize_reason(reason)
        )
        return Outcome(ModAction.LIFT, entry)

    async def restrictions(self, actor: Principal | None, show: ShowRef) -> list[Restriction]:
        """Who is banned and who is timed out now, for the host console's lists."""
        authorize(actor, Action.MODERATE, show)
        return await self._store.restrictions(show.id, self._clock.now_ms())

    async def slow_mode(
        self, actor: Principal | None, show: ShowRef, seconds: int, reason: str | None = None
    ) -> Outcome:
        who = authorize(actor, Action.MODERATE, show)
        check_slow_mode_seconds(seconds)
        policy = replace(await self._store.policy(show.id), slow_mode_seconds=seconds)
        await self._store.set_policy(show.id, policy, self._clock.now_ms())
        entry = await self._audit(
            who,
            show,
            ModAction.SLOW_MODE,
            reason=normalize_reason(reason),
            detail={"seconds": seconds},
        )
        return Outcome(ModAction.SLOW_MODE, entry, policy=policy)

    async def set_policy(
        self, actor: Principal | None, show: ShowRef, changes: dict[str, Any]
    ) -> Outcome:
        """Change filters and audience flags; unspecified fields keep their value."""
        who = authorize(actor, Action.MODERATE, show)
        current = (await self._store.policy(show.id)).to_wire()
        current.update({k: v for k, v in changes.items() if v is not None})
        policy = make_policy(
            slow_mode_seconds=int(current["slow_mode_seconds"]),
            banned_words=list(current["banned_words"]),
            block_links=bool(current["block_links"]),
            hold_for_review=bool(current["hold_for_review"]),
            followers_only=bool(current["followers_only"]),
            buyers_only=bool(current["buyers_only"]),
        )
        await self._store.set_policy(show.id, policy, self._clock.now_ms())
        entry = await self._audit(who, show, ModAction.POLICY, detail=policy.to_wire())
        return Outcome(ModAction.POLICY, entry, policy=policy)

    async def policy(self, show_id: str) -> ChatPolicy:
        return await self._store.policy(show_id)

    async def standing(self, show_id: str, user_id: str) -> Standing:
        return await self._store.standing(show_id, user_id)

    async def review(
        self, actor: Principal | None, show: ShowRef, message_id: str, approve: bool
    ) -> Outcome:
        """Release a held line to the room, or refuse it for good."""
        who = authorize(actor, Action.MODERATE, show)
        message = await self._chat.get(message_id)
        if (
            message is None
            or message.show_id != show.id
            or message.status is not MessageStatus.HELD
        ):
            raise NotFound("no such held message in this show")
        action = ModAction.APPROVE if approve else ModAction.REJECT
        released = None
        if approve:
            released = await self._chat.release(message_id, self._clock.now_ms())
        else:
            await self._chat.set_status(message_id, MessageStatus.REJECTED)
        entry = await self._audit(
            who, show, action, user_id=message.author.id, message_id=message_id,
            detail={"text": message.text}, target_name=message.author.name,
        )  # fmt: skip
        return Outcome(action, entry, released=released)

    async def report(
        self, reporter: Principal | None, show: ShowRef, message_id: str, reason: str | None
    ) -> Report:
        """A viewer flags a line for the hosts; reporting twice is a no-op."""
        who = authorize(reporter, Action.CHAT, show)
        message = await self._chat.get(message_id)
        if message is None or message.show_id != show.id:
            raise NotFound("no such message in this show")
        report = Report(
            id=new_id("rep"),
            show_id=show.id,
            message_id=message_id,
            reporter_id=who.user_id,
            reason=normalize_reason(reason),
            at_ms=self._clock.now_ms(),
            message=message,
        )
        await self._store.add_report(report)
        return report

    async def resolve_report(
        self, actor: Principal | None, show: ShowRef, report_id: str
    ) -> Outcome:
        who = authorize(actor, Action.MODERATE, show)
        report = await self._store.resolve_report(report_id)
        if report is None or report.show_id != show.id:
            raise NotFound("no such report in this show")
        entry = await self._audit(
            who, show, ModAction.RESOLVE_REPORT, message_id=report.message_id,
            detail={"report_id": report_id},
        )  # fmt: skip
        return Outcome(ModAction.RESOLVE_REPORT, entry)

    async def reports(
        self, actor: Principal | None, show: ShowRef, status: ReportStatus | None
    ) -> list[Report]:
        authorize(actor, Action.MODERATE, show)
        return await self._store.reports(show.id, status)

    async def audit(self, actor: Principal | None, show: ShowRef, limit: int) -> list[AuditEntry]:
        """The audit log, newest first; staff of the show (and admins) may read it."""
        who = authorize(actor, Action.MODERATE, show)
        if not is_staff(who, show):  # pragma: no cover - authorize already refused
            raise PermissionDenied("not staff of this show")
        return await self._store.audit(show.id, limit)
