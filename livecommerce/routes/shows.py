"""Show API: create, list, read (with the reminder count and who is watching) and edit shows;
rotate stream keys; grant hosts; the public viewer figures (docs/METRICS.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, model_validator

from livecommerce import keys
from livecommerce.domain.shows import ShowStatus
from livecommerce.routes.api import ApiRoutes
from livecommerce.routes.auth import principal_of, require_principal
from livecommerce.wire import ShowOut, to_ms

api = ApiRoutes("shows")
#: Where the app serves docs/METRICS.md, the published definitions of the viewer figures.
METRICS_DEFINITIONS = "/docs/metrics"
#: Answered questions read into a timeline (a show rarely has more; the oldest drop first).
TIMELINE_QUESTIONS = 1000


class ShowIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str = Field(min_length=1, max_length=120)
    description: str = Field("", max_length=2000)
    scheduled_at: datetime | None = None


class ShowPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str | None = Field(None, min_length=1, max_length=120)
    description: str | None = Field(None, max_length=2000)
    scheduled_at: datetime | None = None


class ShowCreated(ShowOut):
    stream_key: str


class StreamKeyOut(BaseModel):
    stream_key: str
    whip_url: str


class HostIn(BaseModel):
    """Exactly one of ``user_id`` and ``email``."""

    model_config = ConfigDict(extra="forbid")
    user_id: str | None = Field(None, min_length=1, max_length=100)
    email: str | None = Field(None, min_length=3, max_length=254)

    @model_validator(mode="after")
    def _one(self) -> HostIn:
        if (self.user_id is None) == (self.email is None):
            raise ValueError("give either user_id or email")
        return self


class ShowListQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: Literal["scheduled", "live", "paused", "ended"] | None = None
    seller_id: str | None = Field(None, max_length=100)


class ShowList(BaseModel):
    shows: list[ShowOut]


class ShowDetail(ShowOut):
    """One show as ``GET /api/v1/shows/{id}`` answers it: with its reminders (RSVPs)."""

    rsvps: int = Field(description="how many asked to be reminded of this show")
    rsvped: bool = Field(description="whether the caller is among them (false when signed out)")
    watching_now: int = Field(description="people watching now (docs/METRICS.md)")


class ShowMetrics(BaseModel):
    """A show's public viewer figures, as docs/METRICS.md defines and measures them."""

    watching_now: int = Field(description="people seen (media or socket) in the last window")
    peak: int = Field(description="the most people watching at once")
    unique_viewers: int = Field(description="people who ever watched the show")
    definitions_url: str = Field(description="where the definitions are published")


@api.post(
    "/api/v1/shows",
    body=ShowIn,
    response=ShowCreated,
    status=201,
    summary="Create a show (sellers); the stream key is returned only here and on rotation",
)
async def create_show(request: web.Request, body: ShowIn) -> ShowCreated:
    principal = await require_principal(request)
    show, key = await request.app[keys.SERVICES].shows.create(
        principal, body.title, body.description, to_ms(body.scheduled_at)
    )
    return ShowCreated(**ShowOut.of(show).model_dump(), stream_key=key)


@api.get(
    "/api/v1/shows",
    query=ShowListQuery,
    response=ShowList,
    auth=False,
    summary="Shows, optionally filtered by status or seller",
)
async def list_shows(request: web.Request, query: ShowListQuery) -> ShowList:
    statuses = [ShowStatus(query.status)] if query.status else None
    shows = await request.app[keys.SERVICES].shows.list(statuses, query.seller_id)
    return ShowList(shows=[ShowOut.of(s) for s in shows])


@api.get(
    "/api/v1/shows/{show_id}",
    response=ShowDetail,
    auth=False,
    summary="One show, with its reminder count and how many are watching",
)
async def get_show(request: web.Request) -> ShowDetail:
    principal = await principal_of(request)  # a bad token is still an error on public reads
    services = request.app[keys.SERVICES]
    show = await services.shows.get(request.match_info["show_id"])
    rsvp = await services.rsvps.state(principal, show.id)
    return ShowDetail(
        **ShowOut.of(show).model_dump(),
        rsvps=rsvp.rsvps,
        rsvped=rsvp.rsvped,
        watching_now=await services.analytics.viewers(show.id),
    )


@api.get(
    "/api/v1/shows/{show_id}/metrics",
    response=ShowMetrics,
    auth=False,
    summary="Who is watching, the peak and the unique viewers, as docs/METRICS.md defines them",
)
async def show_metrics(request: web.Request) -> ShowMetrics:
    services = request.app[keys.SERVICES]
    show = await services.shows.get(request.match_info["show_id"])
    figures = await services.presence.metrics(show.id)
    return ShowMetrics(
        watching_now=figures.watching_now,
        peak=figures.peak,
        unique_viewers=figures.unique_viewers,
        definitions_url=request.app[keys.SETTINGS].base_url + METRICS_DEFINITIONS,
    )


@api.patch(
    "/api/v1/shows/{show_id}",
    body=ShowPatch,
    response=ShowOut,
    summary="Edit a show's title, description or schedule (its seller)",
)
async def update_show(request: web.Request, body: ShowPatch) -> ShowOut:
    principal = await require_principal(request)
    show = await request.app[keys.SERVICES].shows.update(
        principal,
        request.match_info["show_id"],
        title=body.title,
        description=body.description,
        scheduled_at=to_ms(body.scheduled_at),
    )
    return ShowOut.of(show)


@api.post(
    "/api/v1/shows/{show_id}/end",
    response=ShowOut,
    summary="End the show for good (seller or admin): offers close, the replay is finished",
)
async def end_show(request: web.Request) -> ShowOut:
    principal = await require_principal(request)
    show = await request.app[keys.SERVICES].lifecycle.end(principal, request.match_info["show_id"])
    return ShowOut.of(show)


@api.post(
    "/api/v1/shows/{show_id}/stream-key",
    response=StreamKeyOut,
    summary="Rotate the stream key; a live session using the old key ends",
)
async def rotate_stream_key(request: web.Request) -> StreamKeyOut:
    principal = await require_principal(request)
    show_id = request.match_info["show_id"]
    key = await request.app[keys.SERVICES].shows.rotate_stream_key(principal, show_id)
    base = request.app[keys.SETTINGS].base_url
    return StreamKeyOut(stream_key=key, whip_url=f"{base}/whip/{show_id}")


@api.post(
    "/api/v1/shows/{show_id}/hosts",
    body=HostIn,
    response=ShowOut,
    summary="Make an account a host (moderator) of the show, by user_id or by e-mail",
)
async def grant_host(request: web.Request, body: HostIn) -> ShowOut:
    principal = await require_principal(request)
    shows = request.app[keys.SERVICES].shows
    show_id = request.match_info["show_id"]
    if body.email is not None:
        show = await shows.grant_host_by_email(principal, show_id, body.email)
    else:
        show = await shows.grant_host(principal, show_id, str(body.user_id))
    return ShowOut.of(show)


@api.delete(
    "/api/v1/shows/{show_id}/hosts/{user_id}", response=ShowOut, summary="Take host rights away"
)
async def revoke_host(request: web.Request) -> ShowOut:
    principal = await require_principal(request)
    show = await request.app[keys.SERVICES].shows.revoke_host(
        principal, request.match_info["show_id"], request.match_info["user_id"]
    )
    return ShowOut.of(show)


class TimelineWinner(BaseModel):
    name: str


class TimelineAuction(BaseModel):
    """How an auction offer sold (on its `offer.ended` moment): see docs/AUCTIONS.md."""

    amount: int | None = Field(description="the winning bid in minor units; null: no sale")
    currency: str
    winner: TimelineWinner | None
    reserve_met: bool


class TimelineEvent(BaseModel):
    """One shoppable moment of a show: an offer started, pinned, unpinned or ended, or a question
    answered."""

    type: str = Field(
        description="offer.started, offer.pinned, offer.unpinned, offer.ended or question.answered"
    )
    at: int = Field(description="epoch milliseconds")
    media_ts: float | None = Field(description="seconds into the broadcast (the replay's clock)")
    offer_id: str | None = None
    question_id: str | None = None
    question: str | None = None
    answer: str | None = None
    auction: TimelineAuction | None = Field(
        None, description="on the offer.ended of a settled auction: its winning bid"
    )


class Timeline(BaseModel):
    events: list[TimelineEvent]


@api.get(
    "/api/v1/shows/{show_id}/timeline",
    response=Timeline,
    auth=False,
    summary="Offer moments and answered questions with media timestamps (shoppable replays)",
)
async def timeline(request: web.Request) -> Timeline:
    show = await request.app[keys.SERVICES].shows.get(request.match_info["show_id"])
    moments = await request.app[keys.SERVICES].offers.timeline(show.id)
    ended = {str(e["offer_id"]) for e in moments if e["type"] == "offer.ended"}
    sold = await request.app[keys.SERVICES].auctions.results(ended)
    events = [
        TimelineEvent.model_validate(
            {**e, "auction": sold.get(str(e["offer_id"]))} if e["type"] == "offer.ended" else e
        )
        for e in moments
    ]
    questions = await request.app[keys.SERVICES].qa.list(show.id, TIMELINE_QUESTIONS)
    events += [
        TimelineEvent(
            type="question.answered",
            at=q.answered_at_ms or q.at_ms,
            media_ts=q.on_air_media_ts,
            question_id=q.id,
            question=q.text,
            answer=q.answer,
        )
        for q in questions
        if q.answered
    ]
    events.sort(key=lambda e: e.at)  # stable: same-millisecond offer moments keep their order
    return Timeline(events=events)
