"""Ask someone who bought it over HTTP (docs/TRUST.md): ask about a product (routed to verified
buyers as a notification), answer as a verified buyer, read a product's questions (public) and
the questions routed to me."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from livecommerce import keys
from livecommerce.domain.buyer_questions import MAX_ANSWER_LENGTH, MAX_QUESTION_LENGTH
from livecommerce.routes.api import ApiRoutes
from livecommerce.routes.auth import require_principal
from livecommerce.services.buyer_questions import MAX_PAGE, BuyerQuestionService

api = ApiRoutes("buyer-questions")


class QuestionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(min_length=1, max_length=MAX_QUESTION_LENGTH)


class AnswerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(min_length=1, max_length=MAX_ANSWER_LENGTH)


class PageQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    limit: int = Field(10, ge=1, le=MAX_PAGE)
    offset: int = Field(0, ge=0, le=1_000_000)


class MineQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    limit: int = Field(20, ge=1, le=MAX_PAGE)


def _service(request: web.Request) -> BuyerQuestionService:
    return request.app[keys.SERVICES].buyer_questions


@api.post(
    "/api/v1/products/{product_id}/buyer-questions",
    body=QuestionIn,
    status=201,
    summary="Ask the product's verified buyers (up to 5 who opted in get it as a notification)",
)
async def ask(request: web.Request, body: QuestionIn) -> dict[str, Any]:
    principal = await require_principal(request)
    question = await _service(request).ask(principal, request.match_info["product_id"], body.text)
    wire = question.to_wire()
    return {k: wire[k] for k in ("id", "product_id", "text", "asked_at", "routed_to")}


@api.get(
    "/api/v1/products/{product_id}/buyer-questions",
    query=PageQuery,
    auth=False,
    summary="A product's buyer questions with their answers, newest first",
)
async def product_questions(request: web.Request, query: PageQuery) -> dict[str, Any]:
    page, total = await _service(request).product_questions(
        request.match_info["product_id"], query.limit, query.offset
    )
    more = query.offset + len(page) < total
    return {
        "product_id": request.match_info["product_id"],
        "count": total,
        "questions": [q.to_wire() for q in page],
        "next_offset": query.offset + len(page) if more else None,
    }


@api.post(
    "/api/v1/products/{product_id}/buyer-questions/{question_id}/answers",
    body=AnswerIn,
    status=201,
    summary="Answer a buyer question as a verified buyer of the product (once per question)",
)
async def answer(request: web.Request, body: AnswerIn) -> dict[str, Any]:
    principal = await require_principal(request)
    reply = await _service(request).answer(
        principal, request.match_info["product_id"], request.match_info["question_id"], body.text
    )
    return reply.to_wire()


@api.get(
    "/api/v1/me/buyer-questions",
    query=MineQuery,
    summary="The buyer questions routed to me, newest first, with whether I answered",
)
async def routed_to_me(request: web.Request, query: MineQuery) -> dict[str, Any]:
    principal = await require_principal(request)
    rows = await _service(request).routed_to_me(principal, query.limit)
    return {
        "questions": [
            {**q.to_wire(), "product_name": q.product_name, "answered": answered}
            for q, answered in rows
        ]
    }
