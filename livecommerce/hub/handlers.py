"""The hub's own client events: joining a show, chat, reactions, Q&A and moderation.

Each handler is thin on purpose: a payload model, one service call, then the hub announces the
result; the moderation actions differ only in that call, so they share one body and register
from one table, ``MODERATION_EVENTS``. Authorization lives in the services (``authorize`` with
the show), so a viewer who emits ``mod.*`` gets ``forbidden`` before anything changes.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

from pydantic import Field

from livecommerce.domain.access import Action, Principal, ShowRef, authorize, badges, is_staff
from livecommerce.domain.moderation import ModAction, ReportStatus
from livecommerce.domain.ratelimit import Rate
from livecommerce.errors import RateLimited
from livecommerce.hub.events import EventContext, Handler, Payload, events
from livecommerce.services.moderation import ModerationService, Outcome
from livecommerce.wire import ShowOut

#: show.join per connection (reconnect storms and scripted re-joins read history each time).
JOIN_RATES = (Rate(10, 10.0),)

ShowId = Annotated[str, Field(min_length=1, max_length=100)]
ItemId = Annotated[str, Field(min_length=1, max_length=100)]
Reason = Annotated[str, Field(max_length=500)]


class ShowJoin(Payload):
    show_id: ShowId
    last_seq: Annotated[int, Field(ge=0)] | None = None


class ShowLeave(Payload):
    show_id: ShowId


class ChatSend(Payload):
    show_id: ShowId
    # the domain enforces 500 characters after NFC; this only stops absurd payloads early
    text: Annotated[str, Field(max_length=4000)]


class ReactionSend(Payload):
    show_id: ShowId
    kind: Annotated[str, Field(max_length=32)]
    count: int = 1


class QaAsk(Payload):
    show_id: ShowId
    text: Annotated[str, Field(max_length=4000)]


class QaUpvote(Payload):
    show_id: ShowId
    question_id: ItemId


class QaAnswer(Payload):
    show_id: ShowId
    question_id: ItemId
    text: Annotated[str, Field(max_length=4000)] | None = None
    #: Seconds into the broadcast when it was answered on air (host console's player time).
    media_ts: Annotated[float, Field(ge=0)] | None = None


class QaFeatureAnswer(Payload):
    show_id: ShowId
    answer_id: ItemId


class ModPayload(Payload):
    """A moderation event from ``MODERATION_EVENTS``: their one body reads ``show_id`` here."""

    show_id: ShowId


class ModDelete(ModPayload):
    message_id: ItemId
    reason: Reason | None = None


class ModTimeout(ModPayload):
    user_id: ItemId
    seconds: int
    reason: Reason | None = None


class ModBan(ModPayload):
    user_id: ItemId
    reason: Reason | None = None


class ModLift(ModPayload):
    user_id: ItemId
    reason: Reason | None = None


class ModSlowmode(ModPayload):
    seconds: int


class ModPolicy(Payload):
    show_id: ShowId
    banned_words: (
        Annotated[list[Annotated[str, Field(max_length=64)]], Field(max_length=500)] | None
    ) = None
    block_links: bool | None = None
    hold_for_review: bool | None = None
    followers_only: bool | None = None
    buyers_only: bool | None = None


class ModReview(ModPayload):
    message_id: ItemId


class ChatReport(Payload):
    show_id: ShowId
    message_id: ItemId
    reason: Reason | None = None


class ModResolveReport(ModPayload):
    report_id: ItemId


class ModQueue(Payload):
    show_id: ShowId


# --- show -------------------------------------------------------------------------------------


@events.on("show.join", model=ShowJoin)
async def show_join(ctx: EventContext, p: ShowJoin) -> dict[str, Any]:
    """Join the show's room; ack with the show, the last lines (or all after last_seq), the
    open questions, the chat rules and who you are in this show."""
    hub = ctx.hub
    # a join reads history from the store: cap how often one connection may do it
    if not await ctx.services.rate_limiter.allow(f"join:{ctx.sid}", JOIN_RATES):
        raise RateLimited("joining too often")
    show = await hub.show(p.show_id)
    ref = await hub.show_ref(p.show_id)
    _, messages = await hub.join(ctx.sid, ref, p.last_seq)
    services = ctx.services
    policy = await services.moderation.policy(ref.id)
    questions = await services.qa.list(ref.id, 50)
    you: dict[str, Any] | None = None
    if ctx.principal is not None:
        you = {
            "id": ctx.principal.user_id,
            "name": ctx.principal.name,
            "badges": badges(ctx.principal, ref),
            "staff": is_staff(ctx.principal, ref),
        }
    return {
        "show": ShowOut.of(show).model_dump(mode="json"),
        "messages": messages,
        "questions": [q.to_wire() for q in questions],
        "policy": {
            "slow_mode_seconds": policy.slow_mode_seconds,
            "followers_only": policy.followers_only,
            "buyers_only": policy.buyers_only,
        },
        "viewers": await hub.viewers(ref.id),
        "you": you,
        **await events.join_fields(ctx, ref.id),
    }


@events.on("show.leave", model=ShowLeave)
async def show_leave(ctx: EventContext, p: ShowLeave) -> None:
    await ctx.hub.joined(ctx.sid, p.show_id)
    await ctx.hub.leave(ctx.sid, p.show_id)


# --- chat and reactions -----------------------------------------------------------------------


@events.on("chat.send", model=ChatSend)
async def chat_send(ctx: EventContext, p: ChatSend) -> dict[str, Any]:
    """Store and deliver a line; a line held for review is acked with ``held: true``."""
    hub = ctx.hub
    show = await hub.joined(ctx.sid, p.show_id)
    message = await ctx.services.chat.send(ctx.principal, show, p.text)
    if message.status == "held":
        await hub.broadcast(show.id, "chat.held", {"message": message.to_wire()}, staff_only=True)
        return {"held": True, "message": message.to_wire()}
    await hub.deliver_chat(message)
    ctx.services.giveaways.heard(ctx.principal, show, message.text)
    return {"message": message.to_wire()}


@events.on("reaction.send", model=ReactionSend)
async def reaction_send(ctx: EventContext, p: ReactionSend) -> None:
    """Count taps; the room sees them aggregated in ``reaction.burst``."""
    show = await ctx.hub.joined(ctx.sid, p.show_id)
    await ctx.services.chat.react(ctx.principal, show, p.kind, p.count)
    ctx.hub.add_reactions(show.id, p.kind, p.count)


@events.on("chat.report", model=ChatReport)
async def chat_report(ctx: EventContext, p: ChatReport) -> dict[str, Any]:
    show = await ctx.hub.joined(ctx.sid, p.show_id)
    report = await ctx.services.moderation.report(ctx.principal, show, p.message_id, p.reason)
    await ctx.hub.broadcast(show.id, "chat.reported", {"report": report.to_wire()}, staff_only=True)
    return {"report_id": report.id}


# --- Q&A --------------------------------------------------------------------------------------


@events.on("qa.ask", model=QaAsk)
async def qa_ask(ctx: EventContext, p: QaAsk) -> dict[str, Any]:
    show = await ctx.hub.joined(ctx.sid, p.show_id)
    question = await ctx.services.qa.ask(ctx.principal, show, p.text)
    await ctx.hub.broadcast(show.id, "qa.updated", {"question": question.to_wire()})
    return {"question": question.to_wire()}


@events.on("qa.upvote", model=QaUpvote)
async def qa_upvote(ctx: EventContext, p: QaUpvote) -> dict[str, Any]:
    show = await ctx.hub.joined(ctx.sid, p.show_id)
    question = await ctx.services.qa.upvote(ctx.principal, show, p.question_id)
    await ctx.hub.broadcast(show.id, "qa.updated", {"question": question.to_wire()})
    return {"question": question.to_wire()}


@events.on("qa.answer", model=QaAnswer)
async def qa_answer(ctx: EventContext, p: QaAnswer) -> dict[str, Any]:
    show = await ctx.hub.joined(ctx.sid, p.show_id)
    question = await ctx.services.qa.answer(ctx.principal, show, p.question_id, p.text, p.media_ts)
    await ctx.hub.broadcast(show.id, "qa.updated", {"question": question.to_wire()})
    return {"question": question.to_wire()}


@events.on("qa.feature_answer", model=QaFeatureAnswer)
async def qa_feature_answer(ctx: EventContext, p: QaFeatureAnswer) -> dict[str, Any]:
    """Staff put a verified buyer's answer (ask someone who bought it) on air, like a Q&A
    answer: every viewer of the show gets ``buyer_answer.featured``."""
    show = await ctx.hub.joined(ctx.sid, p.show_id)
    question, answer = await ctx.services.buyer_questions.feature(ctx.principal, show, p.answer_id)
    featured = {
        "show_id": show.id,
        "question": {"id": question.id, "text": question.text, "product_id": question.product_id},
        "answer": answer.to_wire(),
        "badge": answer.badge(),
    }
    await ctx.hub.broadcast(show.id, "buyer_answer.featured", featured)
    return featured


# --- moderation -------------------------------------------------------------------------------


async def _announce(ctx: EventContext, show_id: str, outcome: Outcome) -> dict[str, Any]:
    """Tell the room what changed (``mod.applied``), delete lines, kick banned users."""
    hub = ctx.hub
    if outcome.deleted:
        await hub.delete_lines(show_id, list(outcome.deleted))
    if outcome.released is not None:
        await hub.deliver_chat(outcome.released)
    notice: dict[str, Any] = {"show_id": show_id, "action": str(outcome.action)}
    if outcome.entry.target_user_id:
        notice["user_id"] = outcome.entry.target_user_id
    if outcome.until_ms is not None:
        notice["until"] = outcome.until_ms
    if outcome.policy is not None:
        notice["slow_mode_seconds"] = outcome.policy.slow_mode_seconds
    public = outcome.action in (
        ModAction.TIMEOUT, ModAction.LIFT, ModAction.BAN, ModAction.SLOW_MODE
    )  # fmt: skip
    await hub.broadcast(show_id, "mod.applied", notice, staff_only=not public)
    if outcome.action is ModAction.BAN and outcome.entry.target_user_id:
        restriction = {"kind": "ban", "reason": outcome.entry.reason, "until": None,
                       "action_id": outcome.entry.id}  # fmt: skip
        await hub.kick(show_id, outcome.entry.target_user_id, "banned", restriction)
    return {"audit_id": outcome.entry.id, **notice}


S = TypeVar("S", bound=ModPayload)

#: Calls the ``ModerationService`` method an event maps to with the payload's fields.
ModCall = Callable[[ModerationService, Principal | None, ShowRef, S], Awaitable[Outcome]]


def _moderation(model: type[S], call: ModCall[S]) -> tuple[type[ModPayload], Handler[Any]]:
    """The one body of the moderation events whose ack is their announcement; typed per model,
    so a ``call`` that reads a field its payload lacks fails mypy."""

    async def handle(ctx: EventContext, p: S) -> dict[str, Any]:
        show = await ctx.hub.show_ref(p.show_id)
        outcome = await call(ctx.services.moderation, ctx.principal, show, p)
        return await _announce(ctx, show.id, outcome)

    return model, handle


#: Moderation events that differ only in the service call (authorization is the service's).
MODERATION_EVENTS = {
    "mod.delete": _moderation(
        ModDelete, lambda mod, who, show, p: mod.delete(who, show, p.message_id, p.reason)
    ),
    "mod.timeout": _moderation(
        ModTimeout,
        lambda mod, who, show, p: mod.timeout(who, show, p.user_id, p.seconds, p.reason),
    ),
    "mod.ban": _moderation(
        ModBan, lambda mod, who, show, p: mod.ban(who, show, p.user_id, p.reason)
    ),
    "mod.unban": _moderation(
        ModBan, lambda mod, who, show, p: mod.unban(who, show, p.user_id, p.reason)
    ),
    "mod.lift": _moderation(
        ModLift, lambda mod, who, show, p: mod.lift(who, show, p.user_id, p.reason)
    ),
    "mod.slowmode": _moderation(
        ModSlowmode, lambda mod, who, show, p: mod.slow_mode(who, show, p.seconds)
    ),
    "mod.approve": _moderation(
        ModReview, lambda mod, who, show, p: mod.review(who, show, p.message_id, True)
    ),
    "mod.reject": _moderation(
        ModReview, lambda mod, who, show, p: mod.review(who, show, p.message_id, False)
    ),
    "mod.resolve_report": _moderation(
        ModResolveReport, lambda mod, who, show, p: mod.resolve_report(who, show, p.report_id)
    ),
}

for _event, (_model, _handler) in MODERATION_EVENTS.items():
    events.on(_event, model=_model)(_handler)


@events.on("mod.policy", model=ModPolicy)
async def mod_policy(ctx: EventContext, p: ModPolicy) -> dict[str, Any]:
    """Filters (banned words, links, hold for review) and audience flags for the show."""
    show = await ctx.hub.show_ref(p.show_id)
    changes = p.model_dump(exclude={"show_id"}, exclude_none=True)
    outcome = await ctx.services.moderation.set_policy(ctx.principal, show, changes)
    await _announce(ctx, show.id, outcome)
    assert outcome.policy is not None
    return {"policy": outcome.policy.to_wire()}


@events.on("mod.queue", model=ModQueue)
async def mod_queue(ctx: EventContext, p: ModQueue) -> dict[str, Any]:
    """Held lines and open reports, for a host console that just connected."""
    show = await ctx.hub.show_ref(p.show_id)
    authorize(ctx.principal, Action.MODERATE, show)
    services = ctx.services
    held = await services.chat.held(show.id)
    reports = await services.moderation.reports(ctx.principal, show, ReportStatus.OPEN)
    return {
        "held": [m.to_wire() for m in held],
        "reports": [r.to_wire() for r in reports],
        "policy": (await services.moderation.policy(show.id)).to_wire(),
    }
