"""Q&A use cases: viewers ask and upvote (once each), the seller or a host answers.

One vote per user is a unique constraint in the store, so double-clicks and two tabs on two
nodes cannot inflate a count.
"""

from __future__ import annotations

from livecommerce.domain.access import Action, Principal, ShowRef, authorize, is_staff
from livecommerce.domain.moderation import check_standing
from livecommerce.domain.qa import Question, normalize_answer, normalize_question, order_questions
from livecommerce.domain.shows import moment_media_ts
from livecommerce.errors import InvalidInput, NotFound, RateLimited
from livecommerce.ids import new_id
from livecommerce.services.chat import ChatLimits, author_of
from livecommerce.services.ports import Clock, ModerationStore, QaStore, RateLimiter
from livecommerce.services.shows import ShowService


class QaService:
    def __init__(
        self,
        store: QaStore,
        moderation: ModerationStore,
        limiter: RateLimiter,
        clock: Clock,
        shows: ShowService,
        limits: ChatLimits | None = None,
    ) -> None:
        self._store = store
        self._shows = shows
        self._moderation = moderation
        self._limiter = limiter
        self._clock = clock
        self._limits = limits or ChatLimits()

    async def ask(self, principal: Principal | None, show: ShowRef, raw: str) -> Question:
        text = normalize_question(raw)
        who = authorize(principal, Action.CHAT, show)
        if not is_staff(who, show):
            check_standing(
                await self._moderation.standing(show.id, who.user_id), self._clock.now_ms()
            )
        if not await self._limiter.allow(f"qa:{show.id}:{who.user_id}", self._limits.qa_rates):
            raise RateLimited("you are asking too fast")
        question = Question(
            id=new_id("qst"),
            show_id=show.id,
            author=author_of(who, show),
            text=text,
            votes=0,
            at_ms=self._clock.now_ms(),
        )
        await self._store.add_question(question)
        return question

    async def upvote(
        self, principal: Principal | None, show: ShowRef, question_id: str
    ) -> Question:
        """Vote once; a repeated vote returns the question unchanged (idempotent)."""
        who = authorize(principal, Action.CHAT, show)
        question = await self._store.get_question(question_id)
        if question is None or question.show_id != show.id:
            raise NotFound("no such question in this show")
        if question.author.id == who.user_id:
            raise InvalidInput("you cannot upvote your own question")
        await self._store.upvote(question_id, who.user_id, self._clock.now_ms())
        updated = await self._store.get_question(question_id)
        assert updated is not None
        return updated

    async def answer(
        self,
        principal: Principal | None,
        show: ShowRef,
        question_id: str,
        text: str | None,
        media_ts: float | None,
    ) -> Question:
        """Mark answered (with optional text, and the media time when answered on air: the
        client's player position, else the show's on-air time, so the replay can show it)."""
        who = authorize(principal, Action.ANSWER_QUESTIONS, show)
        now = self._clock.now_ms()
        times = (await self._shows.get(show.id)).times
        media_ts = moment_media_ts(times, now, media_ts)
        question = await self._store.get_question(question_id)
        if question is None or question.show_id != show.id:
            raise NotFound("no such question in this show")
        answered = await self._store.answer(
            question_id, who.user_id, normalize_answer(text), now, media_ts
        )
        assert answered is not None
        return answered

    async def list(self, show_id: str, limit: int = 100) -> list[Question]:
        return order_questions(await self._store.questions(show_id, limit))
