"""Share links and referrals over HTTP: a user's share link for a show, the seller's referral
share, the seller's figures per referrer, and the two hooks the pages and sign-in use: a page
opened with ``?ref=CODE`` remembers the visit (``remember_visit``) and a browser that signs in
hands its visits to the account (``claim_visits``).

The browser is known by its visitor id (``lc_vid``, `give_visitor_id`): a random id, never the
code or a time, so nothing in it can be edited to lengthen a window or name a referrer."""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from livecommerce import keys
from livecommerce.domain.access import Principal
from livecommerce.domain.referrals import REFERRAL_BPS_MAX
from livecommerce.routes.api import ApiRoutes
from livecommerce.routes.auth import give_visitor_id, require_principal, visitor_id
from livecommerce.wire import MoneyOut

api = ApiRoutes("referrals")


class ShareOut(BaseModel):
    url: str = Field(description="the show page with ?ref={code}")
    code: str = Field(description="the caller's code for this show (the same on every call)")


class ReferralIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    referral_bps: int = Field(
        ge=0,
        le=REFERRAL_BPS_MAX,
        strict=True,
        description="share of what a referred buyer paid, in basis points (0: no program)",
    )


class ReferralOut(BaseModel):
    show_id: str
    referral_bps: int


class ReferrerOut(BaseModel):
    referrer_id: str
    name: str
    code: str
    visits: int = Field(description="visits by the link, once per visitor and UTC day")
    orders: int = Field(description="paid orders attributed to the referrer")
    commission: MoneyOut = Field(description="what the referrer earned, net of refunds")


class ReferralReportOut(BaseModel):
    show_id: str
    referral_bps: int
    referrers: list[ReferrerOut]


@api.post(
    "/api/v1/shows/{show_id}/share",
    response=ShareOut,
    summary="Your share link for a show (signed-in users; the same code on every call)",
)
async def share_show(request: web.Request) -> ShareOut:
    principal = await require_principal(request)
    link = await request.app[keys.SERVICES].referrals.share(
        principal, request.match_info["show_id"]
    )
    return ShareOut(url=link.url, code=link.code)


@api.put(
    "/api/v1/shows/{show_id}/referral",
    body=ReferralIn,
    response=ReferralOut,
    summary="Set the show's referral share (its seller): 0 to 5000 basis points, 0 = none",
)
async def put_referral(request: web.Request, body: ReferralIn) -> ReferralOut:
    principal = await require_principal(request)
    show_id = request.match_info["show_id"]
    bps = await request.app[keys.SERVICES].referrals.set_program(
        principal, show_id, body.referral_bps
    )
    return ReferralOut(show_id=show_id, referral_bps=bps)


@api.get(
    "/api/v1/shows/{show_id}/referrals",
    response=ReferralReportOut,
    summary="Referred visits, paid orders and commission per referrer (the show's seller)",
)
async def get_referrals(request: web.Request) -> ReferralReportOut:
    principal = await require_principal(request)
    report = await request.app[keys.SERVICES].referrals.report(
        principal, request.match_info["show_id"]
    )
    currency = request.app[keys.SETTINGS].shop.currency
    return ReferralReportOut(
        show_id=report.show_id,
        referral_bps=report.referral_bps,
        referrers=[
            ReferrerOut(
                referrer_id=f.referrer_id,
                name=f.name,
                code=f.code,
                visits=f.visits,
                orders=f.orders,
                commission=MoneyOut(amount=f.commission, currency=currency),
            )
            for f in report.referrers
        ],
    )


async def remember_visit(
    request: web.Request, response: web.StreamResponse, principal: Principal | None
) -> None:
    """A page opened with ``?ref=``: count and remember the visit, and keep (or give) the
    browser its visitor cookie for the window. Other query parameters are left alone."""
    code = request.query.get("ref")
    if not code:
        return
    browser = give_visitor_id(request, response)
    await request.app[keys.SERVICES].referrals.visit(principal, browser, code)


async def claim_visits(request: web.Request, user_id: str) -> None:
    """The browser's share-link visits become the account's (at sign-in, sign-up, checkout)."""
    browser = visitor_id(request)
    if browser is not None:
        await request.app[keys.SERVICES].referrals.claim(browser, user_id)
