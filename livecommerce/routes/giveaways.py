"""Giveaway API: the seller creates a giveaway with a committed seed, the show's staff draw it
(revealing the seed), and anyone reads the verifiable record (`GET /api/v1/giveaways/{id}`,
checked by `livecommerce verify-draw URL` or the script in docs/GIVEAWAYS.md). Entries come
over the hub (`giveaway.enter`, or a chat line with the keyword)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from livecommerce import keys
from livecommerce.domain.giveaways import MAX_DURATION_SECONDS, MAX_WINNERS, EntryMode
from livecommerce.routes.api import ApiRoutes
from livecommerce.routes.auth import require_principal
from livecommerce.wire import to_ms

api = ApiRoutes("giveaways")


class PrizeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    product_id: str = Field(min_length=1, max_length=100)
    variant_id: str | None = Field(None, min_length=1, max_length=100)


class GiveawayIn(BaseModel):
    """No seed and no price: the seed is the server's secret and the prize is free."""

    model_config = ConfigDict(extra="forbid")
    prize: PrizeIn
    winners: int = Field(ge=1, le=MAX_WINNERS, strict=True)
    entry: Literal["button", "chat_keyword"]
    keyword: str | None = Field(None, min_length=1, max_length=32)
    requires_follow: bool = Field(False, strict=True)
    closes_at: datetime | None = Field(None, description="the close (or duration_seconds)")
    duration_seconds: int | None = Field(
        None, ge=1, le=MAX_DURATION_SECONDS, strict=True, description="from now to the close"
    )


class PrizeOut(BaseModel):
    product_id: str
    variant_id: str
    name: str
    image_url: str | None = None


class GiveawayOut(BaseModel):
    id: str
    show_id: str
    prize: PrizeOut
    winners_count: int
    entry: str
    keyword: str | None
    requires_follow: bool
    status: str = Field(description="open, closed or drawn")
    created_at: int
    closes_at: int = Field(description="epoch milliseconds, server time")
    commitment: str = Field(description="hex SHA-256 of the secret seed")
    entries_hash: str | None


class WinnerOut(BaseModel):
    entry_id: str
    entrant: str
    id: str = Field(description="the winner's account id")
    name: str
    order_id: str | None = Field(description="the prize order (null: the prize ran out)")


class EntryOut(BaseModel):
    id: str
    entrant: str = Field(description="hex HMAC-SHA256 of the account under a secret salt")


class GiveawayRecordOut(BaseModel):
    id: str
    show_id: str
    prize: PrizeOut
    winners_count: int
    entry: str
    keyword: str | None
    requires_follow: bool
    status: str
    created_at: int
    closes_at: int
    closed_at: int | None
    drawn_at: int | None
    commitment: str
    entries_hash: str | None = Field(description="published at the close (GIVEAWAYS.md)")
    entries_count: int
    seed: str | None = Field(description="hex, revealed by the draw (null before)")
    entries: list[EntryOut] | None = Field(description="sorted by id; null until the close")
    winners: list[WinnerOut] = Field(description="in pick order")
    algorithm: str


@api.post(
    "/api/v1/shows/{show_id}/giveaways",
    body=GiveawayIn,
    response=GiveawayOut,
    status=201,
    summary="Create a giveaway with a committed seed (the show's seller)",
)
async def create_giveaway(request: web.Request, body: GiveawayIn) -> GiveawayOut:
    principal = await require_principal(request)
    view = await request.app[keys.SERVICES].giveaways.create(
        principal,
        request.match_info["show_id"],
        product_id=body.prize.product_id,
        variant_id=body.prize.variant_id,
        winners=body.winners,
        entry=EntryMode(body.entry),
        keyword=body.keyword,
        requires_follow=body.requires_follow,
        closes_at_ms=to_ms(body.closes_at),
        duration_seconds=body.duration_seconds,
    )
    return GiveawayOut.model_validate(view)


@api.post(
    "/api/v1/shows/{show_id}/giveaways/{giveaway_id}/draw",
    response=GiveawayRecordOut,
    summary="Reveal the seed and draw the winners (the show's seller, hosts or an admin; once)",
)
async def draw_giveaway(request: web.Request) -> GiveawayRecordOut:
    principal = await require_principal(request)
    record = await request.app[keys.SERVICES].giveaways.draw(
        principal, request.match_info["show_id"], request.match_info["giveaway_id"]
    )
    return GiveawayRecordOut.model_validate(record)


@api.get(
    "/api/v1/giveaways/{giveaway_id}",
    response=GiveawayRecordOut,
    auth=False,
    summary="A giveaway's verifiable record: commitment, entries, seed and winners",
)
async def get_giveaway(request: web.Request) -> GiveawayRecordOut:
    record = await request.app[keys.SERVICES].giveaways.record(request.match_info["giveaway_id"])
    return GiveawayRecordOut.model_validate(record)
