"""Chat use cases: send a line (every rule applied in one place), read history and replay.

The service decides; the hub only parses, calls and emits. Everything a second node must also
enforce (bans, timeouts, slow mode, ``seq``, history) is read from the shared store on each
call, so there is no per-node copy to go stale; rate limits go through the app's RateLimiter
(Redis-backed when configured).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from livecommerce.domain.access import Action, Principal, ShowRef, authorize, badges, is_staff
from livecommerce.domain.chat import (
    ChatAuthor,
    ChatMessage,
    MessageStatus,
    check_reaction,
    normalize_text,
)
from livecommerce.domain.moderation import (
    Verdict,
    check_audience,
    check_slow_mode,
    check_standing,
    refusal_text,
    screen_text,
)
from livecommerce.domain.names import check_display_name
from livecommerce.domain.ratelimit import Rate
from livecommerce.errors import MessageRejected, RateLimited
from livecommerce.services.ports import Audience, ChatStore, Clock, ModerationStore, RateLimiter


class NobodyAudience:
    """Until follows and orders are wired in: nobody qualifies, so the flags restrict to staff."""

    async def is_follower(self, seller_id: str, user_id: str) -> bool:
        return False

    async def is_buyer(self, seller_id: str, user_id: str) -> bool:
        return False


@dataclass(frozen=True, slots=True)
class ChatLimits:
    """Abuse limits for one user in one show (from the ``hub`` settings)."""

    chat_rates: tuple[Rate, ...] = (Rate(3, 2.0), Rate(20, 30.0))
    reaction_rates: tuple[Rate, ...] = (Rate(30, 2.0),)
    qa_rates: tuple[Rate, ...] = (Rate(3, 10.0), Rate(10, 300.0))
    reserved_names: tuple[str, ...] = ()


def author_of(principal: Principal, show: ShowRef) -> ChatAuthor:
    """Name and badges as the room will see them; badges come from the server only."""
    return ChatAuthor(principal.user_id, principal.name, tuple(badges(principal, show)))


class ChatService:
    def __init__(
        self,
        chat: ChatStore,
        moderation: ModerationStore,
        limiter: RateLimiter,
        clock: Clock,
        limits: ChatLimits | None = None,
        audience: Audience | None = None,
    ) -> None:
        self._chat = chat
        self._moderation = moderation
        self._limiter = limiter
        self._clock = clock
        self._limits = limits or ChatLimits()
        self._audience = audience or NobodyAudience()

    async def check_can_chat(self, principal: Principal | None, show: ShowRef) -> Principal:
        """Every rule about the *author* (not the text): auth, name, ban, timeout, audience."""
        who = authorize(principal, Action.CHAT, show)
        if is_staff(who, show):
            return who
        check_display_name(who.name, self._limits.reserved_names)
        check_standing(await self._moderation.standing(show.id, who.user_id), self._clock.now_ms())
        policy = await self._moderation.policy(show.id)
        if policy.followers_only or policy.buyers_only:
            check_audience(
                policy,
                is_follower=await self._audience.is_follower(show.seller_id, who.user_id),
                is_buyer=await self._audience.is_buyer(show.seller_id, who.user_id),
            )
        return who

    async def send(self, principal: Principal | None, show: ShowRef, raw: str) -> ChatMessage:
        """Validate, enforce and store one line; a held line comes back with status ``held``.

        Order matters: cheap text checks first, then standing, then slow mode (which does not
        spend the rate budget), then the rate limiter, then the content filters.
        """
        text = normalize_text(raw)
        who = await self.check_can_chat(principal, show)
        now = self._clock.now_ms()
        staff = is_staff(who, show)
        status = MessageStatus.VISIBLE
        if not staff:
            policy = await self._moderation.policy(show.id)
            if policy.slow_mode_seconds:
                last = await self._chat.last_message_ms(show.id, who.user_id)
                check_slow_mode(policy, last, now)
        if not await self._limiter.allow(f"chat:{show.id}:{who.user_id}", self._limits.chat_rates):
            raise RateLimited("you are sending messages too fast")
        if not staff:
            screening = screen_text(text, policy)
            if screening.verdict is Verdict.REJECT:
                raise MessageRejected(
                    refusal_text(screening.reason), details={"reason": screening.reason}
                )
            if screening.verdict is Verdict.HOLD:
                status = MessageStatus.HELD
        return await self._chat.append(show.id, author_of(who, show), text, now, status)

    async def react(
        self, principal: Principal | None, show: ShowRef, kind: str, count: int
    ) -> None:
        """Check one reaction send; the hub aggregates accepted taps into bursts."""
        check_reaction(kind, count)
        who = authorize(principal, Action.CHAT, show)
        if not is_staff(who, show):
            check_standing(
                await self._moderation.standing(show.id, who.user_id), self._clock.now_ms()
            )
        if not await self._limiter.allow(
            f"react:{show.id}:{who.user_id}", self._limits.reaction_rates, cost=1
        ):
            raise RateLimited("too many reactions")

    async def history(
        self, show_id: str, *, last_seq: int | None, recent: int, replay_limit: int
    ) -> list[ChatMessage]:
        """What a joining client gets: everything after ``last_seq``, or the last lines."""
        if last_seq is None:
            return await self._chat.recent(show_id, recent)
        return await self._chat.after(show_id, max(0, last_seq), replay_limit)

    async def held(self, show_id: str, limit: int = 200) -> Sequence[ChatMessage]:
        return await self._chat.held(show_id, limit)
