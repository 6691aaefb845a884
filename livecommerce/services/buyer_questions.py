"""Ask someone who bought it (docs/TRUST.md): a signed-in shopper asks about a product and the
question goes, as a ``buyer_question`` notification, to up to five opted-in verified buyers;
verified buyers answer with their purchase's badge; the product's questions are public; a
show's staff put an answer on air.

Who is a verified buyer and what they bought come from the ledger's own orders and journal, as
for reviews; the texts go through the review filters (which are chat's).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from livecommerce.domain.access import Action, Principal, ShowRef, authorize
from livecommerce.domain.buyer_questions import (
    ASK_RATE,
    MAX_ANSWER_LENGTH,
    MAX_QUESTION_LENGTH,
    ROUTE_MAX,
    BuyerAnswer,
    BuyerQuestion,
)
from livecommerce.domain.reviews import clean_text
from livecommerce.errors import (
    AlreadyAnswered,
    NotAVerifiedBuyer,
    NotFound,
    PermissionDenied,
    QuestionRejected,
    RateLimited,
)
from livecommerce.ids import new_id
from livecommerce.services.orders import variant_label
from livecommerce.services.ports import BuyerQuestionStore, CatalogStore, Clock, RateLimiter

#: The most questions one page returns.
MAX_PAGE = 50


class BuyerQuestionService:
    def __init__(
        self,
        store: BuyerQuestionStore,
        catalog: CatalogStore,
        limiter: RateLimiter,
        clock: Clock,
        banned_words: Sequence[str] = (),
        wake: Callable[[], None] = lambda: None,
    ) -> None:
        self._store = store
        self._catalog = catalog
        self._limiter = limiter
        self._clock = clock
        self._banned_words = tuple(banned_words)
        #: Tells this node's notification worker there is an outbox event to fan out now.
        self._wake = wake

    async def ask(self, principal: Principal | None, product_id: str, text: str) -> BuyerQuestion:
        """Store and route a question; `routed_to` says how many buyers it went to (0 is a
        fine answer: it is still shown on the product for buyers to find)."""
        who = authorize(principal, Action.FOLLOW)
        product = await self._catalog.get_product(product_id)
        if product is None:
            raise NotFound("no such product")
        body = clean_text(
            text, self._banned_words, max_length=MAX_QUESTION_LENGTH, rejected=QuestionRejected
        )
        if not await self._limiter.allow(f"buyer_question:{who.user_id}", [ASK_RATE]):
            raise RateLimited("you are asking too many questions; try again later")
        question = BuyerQuestion(
            id=new_id("bqn"),
            product_id=product.id,
            product_name=product.name,
            seller_id=product.seller_id,
            asker_id=who.user_id,
            asker_name=who.name,
            text=body,
            asked_at_ms=self._clock.now_ms(),
            routed_to=0,
        )
        chosen = await self._store.add_question(question, ROUTE_MAX)
        if chosen:
            self._wake()
        stored = await self._store.get_question(question.id)
        return stored or question

    async def answer(
        self, principal: Principal | None, product_id: str, question_id: str, text: str
    ) -> BuyerAnswer:
        """A verified buyer's answer (the question's routed buyers and any other verified
        buyer of the product; never the asker), once per question."""
        who = authorize(principal, Action.FOLLOW)
        question = await self._question(product_id, question_id)
        if who.user_id in (question.asker_id, question.seller_id):
            raise NotAVerifiedBuyer("the asker and the seller do not answer as buyers")
        purchase = await self._store.purchase(question.product_id, who.user_id)
        if purchase is None:
            raise NotAVerifiedBuyer("only someone who bought this product answers")
        body = clean_text(
            text, self._banned_words, max_length=MAX_ANSWER_LENGTH, rejected=QuestionRejected
        )
        product = await self._catalog.get_product(question.product_id)
        answer = BuyerAnswer(
            id=new_id("bqa"),
            question_id=question.id,
            product_id=question.product_id,
            buyer_id=who.user_id,
            buyer_name=who.name,
            variant_label=variant_label(product, purchase.variant_id),
            bought_at_ms=purchase.paid_at_ms,
            text=body,
            at_ms=self._clock.now_ms(),
        )
        if not await self._store.add_answer(answer, purchase.order_id):
            raise AlreadyAnswered("you have answered this question already")
        return await self._store.get_answer(answer.id) or answer

    async def _question(self, product_id: str, question_id: str) -> BuyerQuestion:
        question = await self._store.get_question(question_id)
        if question is None or question.product_id != product_id:
            raise NotFound("no such question about this product")
        return question

    async def product_questions(
        self, product_id: str, limit: int, offset: int
    ) -> tuple[list[BuyerQuestion], int]:
        """A page of the product's questions (newest first, answers included) and the total."""
        if await self._catalog.get_product(product_id) is None:
            raise NotFound("no such product")
        return await self._store.product_questions(product_id, min(limit, MAX_PAGE), offset)

    async def routed_to_me(
        self, principal: Principal | None, limit: int
    ) -> list[tuple[BuyerQuestion, bool]]:
        """The questions routed to the caller, each with whether they answered it."""
        who = authorize(principal, Action.FOLLOW)
        questions = await self._store.routed_to(who.user_id, min(limit, MAX_PAGE))
        return [(q, any(a.buyer_id == who.user_id for a in q.answers)) for q in questions]

    async def feature(
        self, principal: Principal | None, show: ShowRef, answer_id: str
    ) -> tuple[BuyerQuestion, BuyerAnswer]:
        """A show's staff put an answer about one of the show's seller's products on air."""
        authorize(principal, Action.ANSWER_QUESTIONS, show)
        answer = await self._store.get_answer(answer_id)
        question = await self._store.get_question(answer.question_id) if answer else None
        if answer is None or question is None:
            raise NotFound("no such answer")
        if question.seller_id != show.seller_id:
            raise PermissionDenied("this answer is about another seller's product")
        return question, answer
