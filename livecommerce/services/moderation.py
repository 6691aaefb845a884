"""Moderation use cases for a show's staff: delete, timeout (and lift), ban (and unban), slow
mode, filters, the review queue, viewer reports, who is restricted now, and the audit log that
records every one of them.

Each action authorizes first (``Action.MODERATE``), changes the shared store, writes one audit
entry with the target's name as it was then (so the log reads "Ana banned Bob" even after Bob
renames), and returns what the hub must tell the room. State lives in the store so every node
enforces a ban the moment it is written. The audit log is a hash chain per show (the store
appends; docs/TRUST.md): its export carries the seed and the head so an edited row shows.

Appeals (docs/TRUST.md): a banned or timed-out viewer appeals the action in force once; staff
lift it or uphold it. Both land in the audit log, and both are announced on the bus
(``appeal.new`` to the show's staff, ``appeal.decided`` to the viewer and the staff).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from livecommerce.domain.access import Action, Principal, ShowRef, authorize, is_staff
from livecommerce.domain.chat import ChatMessage, MessageStatus, normalize_text
from livecommerce.domain.moderation import (
    MAX_APPEAL_LENGTH,
    Appeal,
    AppealStatus,
    AuditEntry,
    ChatPolicy,
    ModAction,
    ReportStatus,
    Standing,
    audit_genesis,
    audit_seed,
    check_slow_mode_seconds,
    check_timeout_seconds,
    make_policy,
    normalize_reason,
)
from livecommerce.errors import (
    AppealDecided,
    AppealExists,
    InvalidInput,
    NotFound,
    NothingToAppeal,
    PermissionDenied,
)
from livecommerce.ids import new_id
from livecommerce.services.ports import (
    AccountStore,
    Bus,
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
        self,
        store: ModerationStore,
        chat: ChatStore,
        clock: Clock,
        accounts: AccountStore,
        bus: Bus,
    ) -> None:
        self._store = store
        self._chat = chat
        self._clock = clock
        self._accounts = accounts
        self._bus = bus

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
        return await self._store.append_audit(entry)

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

    async def audit_export(
        self, actor: Principal | None, show: ShowRef, limit: int
    ) -> dict[str, Any]:
        """The log as exported: newest first, with the chain's seed, genesis and head (the
        newest row's hash) so `livecommerce verify-audit` can recompute it (docs/TRUST.md)."""
        entries = await self.audit(actor, show, limit)
        return {
            "show_id": show.id,
            "seed": audit_seed(show.id),
            "genesis": audit_genesis(show.id),
            "head": entries[0].hash if entries else audit_genesis(show.id),
            "count": entries[0].seq if entries else 0,
            "entries": [e.to_wire() for e in entries],
        }

    # --- appeals ------------------------------------------------------------------------------

    async def appeal(self, principal: Principal | None, show: ShowRef, text: str) -> Appeal:
        """Appeal the ban or timeout in force, once per action."""
        who = authorize(principal, Action.WATCH, show)
        body = normalize_text(text, max_length=MAX_APPEAL_LENGTH)
        now = self._clock.now_ms()
        standing = await self._store.standing(show.id, who.user_id)
        timed_out = standing.muted_until_ms > now
        if not (standing.banned or timed_out) or standing.action_id is None:
            raise NothingToAppeal("you are not banned or timed out in this show")
        appeal = Appeal(
            id=new_id("apl"),
            show_id=show.id,
            user_id=who.user_id,
            user_name=who.name,
            action_id=standing.action_id,
            kind="ban" if standing.banned else "timeout",
            reason=standing.reason,
            until_ms=None if standing.banned else standing.muted_until_ms,
            text=body,
            at_ms=now,
        )
        if not await self._store.add_appeal(appeal):
            raise AppealExists("you have already appealed this " + appeal.kind)
        await self._audit(
            who, show, ModAction.APPEAL, user_id=who.user_id, target_name=who.name,
            detail={"appeal_id": appeal.id, "action_id": appeal.action_id,
                    "kind": appeal.kind, "text": body},
        )  # fmt: skip
        await self._bus.publish("appeal.new", {"show_id": show.id, "appeal": appeal.to_wire()})
        return appeal

    async def appeals(
        self, principal: Principal | None, show: ShowRef, status: AppealStatus | None
    ) -> list[Appeal]:
        """Staff see every appeal of the show; anyone else their own."""
        who = authorize(principal, Action.WATCH, show)
        mine = None if is_staff(who, show) else who.user_id
        return await self._store.appeals(show.id, status, mine)

    async def get_appeal(
        self, principal: Principal | None, show: ShowRef, appeal_id: str
    ) -> Appeal:
        who = authorize(principal, Action.WATCH, show)
        appeal = await self._store.get_appeal(appeal_id)
        if (
            appeal is None
            or appeal.show_id != show.id
            or not (is_staff(who, show) or appeal.user_id == who.user_id)
        ):
            raise NotFound("no such appeal in this show")
        return appeal

    async def decide(
        self,
        actor: Principal | None,
        show: ShowRef,
        appeal_id: str,
        outcome: AppealStatus,
        note: str | None = None,
    ) -> Appeal:
        """Lift the action appealed (unban, or end the timeout) or uphold it; once."""
        who = authorize(actor, Action.MODERATE, show)
        if outcome is AppealStatus.OPEN:
            raise InvalidInput("outcome must be lifted or upheld")
        found = await self._store.get_appeal(appeal_id)
        if found is None or found.show_id != show.id:
            raise NotFound("no such appeal in this show")
        why = normalize_reason(note)
        now = self._clock.now_ms()
        decided = await self._store.decide_appeal(
            appeal_id, outcome, why, who.user_id, who.name, now
        )
        if decided is None:
            raise AppealDecided(f"this appeal was {found.status} already")
        undone: ModAction | None = None
        if outcome is AppealStatus.LIFTED:
            standing = await self._store.standing(show.id, found.user_id)
            # only the action appealed is lifted: a newer ban or timeout stays
            if standing.action_id == found.action_id:
                if found.kind == "ban":
                    undone = (
                        ModAction.UNBAN if await self._store.unban(show.id, found.user_id) else None
                    )
                elif await self._store.unmute(show.id, found.user_id, now):
                    undone = ModAction.LIFT
        await self._audit(
            who, show, ModAction.APPEAL_DECIDED, user_id=found.user_id,
            target_name=found.user_name, reason=why,
            detail={"appeal_id": found.id, "action_id": found.action_id,
                    "kind": found.kind, "outcome": str(outcome)},
        )  # fmt: skip
        if undone is not None:  # the log says what changed, in the words a manual lift uses
            await self._audit(
                who, show, undone, user_id=found.user_id, target_name=found.user_name,
                reason=why, detail={"appeal_id": found.id, "action_id": found.action_id},
            )  # fmt: skip
        await self._bus.publish(
            "appeal.decided",
            {"show_id": show.id, "user_id": found.user_id, "appeal": decided.to_wire()},
        )
        return decided
