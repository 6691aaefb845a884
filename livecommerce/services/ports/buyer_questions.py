"""Port for "ask someone who bought it" (docs/TRUST.md): questions routed to verified buyers
under the weekly cap, their answers, and who bought a product."""

from __future__ import annotations

from typing import Protocol

from livecommerce.domain.buyer_questions import BuyerAnswer, BuyerQuestion, Purchase


class BuyerQuestionStore(Protocol):
    async def add_question(self, question: BuyerQuestion, limit: int) -> list[str]:
        """Store the question and route it, with its `buyer_question.asked` outbox event, in
        one transaction: to up to `limit` opted-in verified buyers (never the asker or the
        seller), least recently asked first, none past the weekly cap even when questions
        are routed at once on many nodes. The buyers it went to."""

    async def purchase(self, product_id: str, user_id: str) -> Purchase | None:
        """The user's first verified order of the product (paid, not refunded in full)."""

    async def add_answer(self, answer: BuyerAnswer, order_id: str) -> bool:
        """False when this buyer answered this question already."""

    async def get_question(self, question_id: str) -> BuyerQuestion | None: ...

    async def get_answer(self, answer_id: str) -> BuyerAnswer | None: ...

    async def product_questions(
        self, product_id: str, limit: int, offset: int
    ) -> tuple[list[BuyerQuestion], int]:
        """A page of the product's questions with their answers, newest first, and the total."""

    async def routed_to(self, user_id: str, limit: int) -> list[BuyerQuestion]:
        """The questions routed to the user, newest first, with their answers."""
