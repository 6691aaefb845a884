"""HTML pages with jinja2: home, the viewer page, the seller storefront, the seller studio, the
host console and the seller dashboard (shows, products, orders; cookie sessions, CSRF-checked
forms).

Pages carry no inline script (the CSP forbids it): each template hands its configuration to its
ES module through ``data-*`` attributes on ``<body>``, and the module talks to the public
interface (REST, WHIP/WHEP, HLS, Socket.IO) like any third-party client would. Access to the
staff pages is decided by :func:`authorize` / :func:`is_staff`, never by comparing roles here.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import logging
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from aiohttp import web
from markupsafe import Markup

from livecommerce import keys
from livecommerce.domain.access import Action, Principal, Role, authorize, is_staff
from livecommerce.domain.money import Money
from livecommerce.domain.shows import OPEN, ShowStatus
from livecommerce.errors import LiveCommerceError, NotFound, PermissionDenied
from livecommerce.routes.auth import (
    csrf_token,
    give_visitor_id,
    principal_of,
)
from livecommerce.routes.charts import series_chart
from livecommerce.routes.referrals import remember_visit
from livecommerce.services.ports import OrderFilter, Show, User
from livecommerce.services.shows import show_ref
from livecommerce.wire import to_ms

log = logging.getLogger(__name__)
routes = web.RouteTableDef()
#: The browser id (``lc_vid``) lasts a year: it names a browser for counting, nothing more.


async def render(
    request: web.Request, template: str, status: int = 200, **context: Any
) -> web.Response:
    principal: Principal | None = None
    try:
        principal = await principal_of(request)
    except LiveCommerceError:
        principal = None
    session = request.cookies.get(keys.SESSION_COOKIE)
    env = request.app[keys.TEMPLATES]
    html = await env.get_template(template).render_async(
        user=principal,
        csrf=csrf_token(request, session) if session else "",
        settings=request.app[keys.SETTINGS],
        **context,
    )
    return web.Response(
        text=html, content_type="text/html", status=status, headers={"Cache-Control": "no-store"}
    )


#: Replays listed on the home page, newest first (older ones keep their links).
HOME_REPLAYS = 24


def utc_text(ms: int | None) -> str:
    """A moment for people, in UTC: the text a page shows until its script turns it into the
    viewer's local time (the server does not know the viewer's time zone)."""
    if ms is None:
        return ""
    when = datetime.fromtimestamp(ms / 1000, tz=UTC)
    return f"{when:%a} {when.day} {when:%b %Y, %H:%M} UTC"


def length_text(ms: int) -> str:
    """How long a show was on air, rounded to what a listing needs."""
    if ms < 60_000:
        return f"{round(ms / 1000)} s"
    hours, minutes = divmod(round(ms / 60_000), 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min"


def replays_of(shows: list[Show]) -> list[Show]:
    """Ended shows that went on air (the recording is their replay), newest first."""
    aired = [s for s in shows if s.status is ShowStatus.ENDED and s.started_at is not None]
    aired.sort(key=lambda s: s.ended_at or s.started_at or 0, reverse=True)
    return aired


async def sellers_of(request: web.Request, shows: list[Show]) -> dict[str, User]:
    """The sellers of these shows, for their names and storefront links (one batched read)."""
    accounts = request.app[keys.SERVICES].accounts
    ids = sorted({s.seller_id for s in shows})
    users = await asyncio.gather(*(accounts.get_user(i) for i in ids))
    return {user.id: user for user in users if user is not None}


@routes.get("/")
async def home(request: web.Request) -> web.Response:
    """Live, upcoming and past shows: the replays stay shoppable, so they are listed too."""
    shows = request.app[keys.SERVICES].shows
    live = await shows.list(sorted(OPEN))  # a paused show is still on: its seller returns
    upcoming = await shows.list([ShowStatus.SCHEDULED])
    upcoming.sort(key=lambda s: s.scheduled_at or s.created_at)
    replays: list[Show] = []
    if request.app[keys.SETTINGS].broadcast.hls_enabled:  # replays are the HLS recording
        replays = replays_of(await shows.list([ShowStatus.ENDED]))[:HOME_REPLAYS]
    return await render(
        request,
        "index.html",
        live=live,
        upcoming=upcoming,
        replays=replays,
        sellers=await sellers_of(request, [*live, *upcoming, *replays]),
        when=utc_text,
        length=length_text,
        data={"page": "home"},
    )


async def page_principal(request: web.Request) -> Principal | None:
    """The signed-in user for a page; a stale or bad cookie is just anonymous on a GET."""
    try:
        return await principal_of(request)
    except LiveCommerceError:
        return None


async def error_page(request: web.Request, status: int, title: str, message: str) -> web.Response:
    """A human error page (the JSON error shape is for API clients)."""
    return await render(request, "error.html", status=status, title=title, message=message)


def login_redirect(request: web.Request) -> web.HTTPSeeOther:
    return web.HTTPSeeOther(f"/login?next={request.path_qs}")


def media_urls(show_id: str) -> dict[str, str]:
    """The public media endpoints of a show (DESIGN.md "Media"), as page configuration."""
    return {
        "whep-url": f"/whep/{show_id}",
        "whip-url": f"/whip/{show_id}",
        "hls-url": f"/hls/{show_id}/index.m3u8",
        "replay-url": f"/replays/{show_id}/index.m3u8",
    }


def ice_servers(request: web.Request) -> str:
    """The STUN/TURN list pages pass to RTCPeerConnection; ``[]`` by default, so a browser never
    falls back to a public STUN server (DESIGN.md "Tests never leave the machine")."""
    servers = request.app[keys.SETTINGS].broadcast.ice.servers
    out: list[dict[str, Any]] = []
    for server in servers:
        entry: dict[str, Any] = {"urls": list(server.urls)}
        if server.username:
            entry["username"] = server.username
            entry["credential"] = server.credential.get_secret_value()
        out.append(entry)
    return json.dumps(out)


def user_data(principal: Principal | None) -> dict[str, str]:
    if principal is None:
        return {"user-id": "", "user-name": "", "user-role": "", "user-guest": ""}
    return {
        "user-id": principal.user_id,
        "user-name": principal.name,
        "user-role": str(principal.role),
        "user-guest": "1" if principal.is_guest else "",
    }


async def _show(request: web.Request) -> Show:
    return await request.app[keys.SERVICES].shows.get(request.match_info["show_id"])


@routes.get("/shows/{show_id}")
async def show_page(request: web.Request) -> web.Response:
    """Watch, chat, ask and buy; anyone may open it. Chatting needs an account or a guest name,
    buying an account or a guest's name and e-mail. The same page plays an ended show's replay
    and counts down to a scheduled one (``scheduled-at``: epoch ms, shown in local time)."""
    try:
        show = await _show(request)
    except NotFound:
        return await error_page(request, 404, "Show not found", "There is no such show.")
    principal = await page_principal(request)
    staff = is_staff(principal, show_ref(show))
    settings = request.app[keys.SETTINGS]
    data = {
        "page": "show",
        "show-id": show.id,
        "show-status": str(show.status),
        "ice-servers": ice_servers(request),
        "currency": settings.shop.currency,
        "payments": settings.payments.provider,
        "scheduled-at": "" if show.scheduled_at is None else str(show.scheduled_at),
        **media_urls(show.id),
        **user_data(principal),
    }
    seller = await request.app[keys.SERVICES].accounts.get_user(show.seller_id)
    rsvp = await request.app[keys.SERVICES].rsvps.state(principal, show.id)
    response = await render(
        request,
        "show.html",
        show=show,
        staff=staff,
        data=data,
        when=utc_text,
        seller=seller,
        rsvp=rsvp,
        member=principal is not None and not principal.is_guest,
        login_url="/login?" + urlencode({"next": f"/shows/{show.id}"}),
    )
    give_visitor_id(request, response)
    await remember_visit(request, response, principal)
    return response


@routes.get("/orders")
async def my_orders_page(request: web.Request) -> web.Response:
    """*My orders*: the buyer's orders (what the order notifications link to) and the buyer
    questions routed to them, each with an answer form (``js/orders.js``) until answered."""
    principal = await page_principal(request)
    if principal is None or principal.is_guest:
        raise login_redirect(request)
    services = request.app[keys.SERVICES]
    orders = await services.orders.list_orders(principal, scope="buyer", flt=OrderFilter(limit=50))
    return await render(
        request,
        "orders.html",
        orders=await services.orders.views(orders),
        asks=await services.buyer_questions.routed_to_me(principal, 50),
        data={"page": "orders", **user_data(principal)},
        when=utc_text,
    )


async def _staff_page(
    request: web.Request, action: Action, template: str, page: str
) -> web.Response:
    """A page for the show's staff: login first, then ``authorize`` decides (403 page if not)."""
    try:
        show = await _show(request)
    except NotFound:
        return await error_page(request, 404, "Show not found", "There is no such show.")
    principal = await page_principal(request)
    if principal is None or principal.is_guest:
        raise login_redirect(request)
    try:
        authorize(principal, action, show_ref(show))
    except PermissionDenied:
        return await error_page(
            request, 403, "Not your show", "Only the staff of this show can open this page."
        )
    settings = request.app[keys.SETTINGS]
    data = {
        "page": page,
        "show-id": show.id,
        "show-status": str(show.status),
        "ice-servers": ice_servers(request),
        "currency": settings.shop.currency,
        "base-url": settings.base_url,
        **media_urls(show.id),
        **user_data(principal),
    }
    return await render(request, template, show=show, staff=True, data=data)


@routes.get("/studio/{show_id}")
async def studio_page(request: web.Request) -> web.Response:
    """The seller's control room: camera, go live over WHIP, offers, questions, orders."""
    return await _staff_page(request, Action.PUBLISH, "studio.html", "studio")


@routes.get("/console/{show_id}")
async def console_page(request: web.Request) -> web.Response:
    """The host's moderation desk: chat actions, queues, Q&A and the audit log."""
    return await _staff_page(request, Action.MODERATE, "console.html", "console")


def _seller(principal: Principal | None) -> Principal:
    return authorize(principal, Action.CREATE_SHOW)


async def _dashboard_context(request: web.Request, principal: Principal) -> dict[str, Any]:
    settings = request.app[keys.SETTINGS]
    seller_id = None if principal.role is Role.ADMIN else principal.user_id
    shows = await request.app[keys.SERVICES].shows.list(None, seller_id)
    shows.sort(key=lambda s: s.scheduled_at or s.created_at, reverse=True)
    selected = next((s for s in shows if s.id == request.query.get("show")), None)
    if selected is None and shows:
        selected = next((s for s in shows if s.status in OPEN), shows[0])
    currency = settings.shop.currency
    analytics = request.app[keys.SERVICES].analytics
    figures = await analytics.show_figures(selected.id) if selected else None

    def fmt(minor: int) -> str:
        return Money(minor, currency).display()

    def amount(minor: int) -> str:
        """An axis label: the amount without the currency, which the chart title names."""
        return fmt(minor).rsplit(" ", 1)[0]

    charts: dict[str, Markup] = {}
    if figures is not None:
        charts = {
            "viewers": series_chart("Concurrent viewers", figures.viewers),
            "chat": series_chart("Chat lines per minute", figures.chat_per_minute, kind="bar"),
            "paid": series_chart("Paid orders per minute", figures.paid_per_minute, kind="bar"),
            "gmv": series_chart(
                f"GMV per minute ({currency})", figures.gmv_per_minute, kind="bar", label=amount
            ),
        }
    hosts: list[tuple[str, str]] = []
    referrals = None
    if selected is not None:
        referrals = await request.app[keys.SERVICES].referrals.report(principal, selected.id)
        accounts = request.app[keys.SERVICES].accounts
        for host_id in sorted(selected.host_ids):
            host = await accounts.get_user(host_id)
            hosts.append((host_id, host.name if host else host_id))
    return {
        "shows": shows,
        "selected": selected,
        "figures": figures,
        "charts": charts,
        "money": fmt,
        "hosts": hosts,
        "referrals": referrals,
    }


def _dashboard_data(page: str, principal: Principal, currency: str) -> dict[str, str]:
    return {"page": page, "currency": currency, **user_data(principal)}


async def _seller_page(request: web.Request) -> Principal | web.Response:
    """The signed-in seller for a dashboard page, or the page that says why not."""
    principal = await page_principal(request)
    if principal is None or principal.is_guest:
        raise login_redirect(request)
    try:
        return _seller(principal)
    except PermissionDenied:
        return await error_page(request, 403, "Sellers only", "The dashboard is for sellers.")


@routes.get("/dashboard")
async def dashboard_page(request: web.Request) -> web.Response:
    """A seller's shows (with create, in the browser's local time) and the figures of one of
    them as SVG charts."""
    principal = await _seller_page(request)
    if isinstance(principal, web.Response):
        return principal
    context = await _dashboard_context(request, principal)
    currency = request.app[keys.SETTINGS].shop.currency
    return await render(
        request,
        "dashboard.html",
        error=None,
        data=_dashboard_data("dashboard", principal, currency),
        **context,
    )


@routes.get("/dashboard/products")
async def dashboard_products(request: web.Request) -> web.Response:
    """The seller's catalog: list, create, edit, archive, photos, variants, CSV in and out.
    The page is a client of the REST API (``js/dashboard-products.js``)."""
    principal = await _seller_page(request)
    if isinstance(principal, web.Response):
        return principal
    settings = request.app[keys.SETTINGS]
    data = {
        **_dashboard_data("products", principal, settings.shop.currency),
        "image-max-bytes": str(settings.shop.image_max_bytes),
    }
    return await render(request, "dashboard_products.html", data=data)


@routes.get("/dashboard/orders")
async def dashboard_orders(request: web.Request) -> web.Response:
    """The seller's order book: filters, fulfil with tracking, refunds, CSV
    (``js/dashboard-orders.js``)."""
    principal = await _seller_page(request)
    if isinstance(principal, web.Response):
        return principal
    seller_id = None if principal.role is Role.ADMIN else principal.user_id
    shows = await request.app[keys.SERVICES].shows.list(None, seller_id)
    shows.sort(key=lambda s: s.scheduled_at or s.created_at, reverse=True)
    currency = request.app[keys.SETTINGS].shop.currency
    return await render(
        request,
        "dashboard_orders.html",
        shows=shows,
        data=_dashboard_data("orders", principal, currency),
    )


@routes.post("/dashboard/shows")
async def dashboard_create_show(request: web.Request) -> web.Response:
    """The create-show form (session cookie + CSRF token checked by ``principal_of``)."""
    try:
        principal = await principal_of(request)
    except PermissionDenied:
        return await error_page(request, 403, "Form expired", "Reload the page and try again.")
    if principal is None:
        raise login_redirect(request)
    form = await request.post()
    scheduled_at: int | None = None
    raw_when = str(form.get("scheduled_at", "")).strip()
    try:
        if raw_when:
            scheduled_at = to_ms(datetime.fromisoformat(raw_when))
        show, _key = await request.app[keys.SERVICES].shows.create(
            principal,
            str(form.get("title", "")),
            str(form.get("description", "")),
            scheduled_at,
        )
    except (ValueError, LiveCommerceError) as exc:
        message = exc.message if isinstance(exc, LiveCommerceError) else "bad date and time"
        status = exc.status if isinstance(exc, LiveCommerceError) else 422
        seller = _seller(principal)
        context = await _dashboard_context(request, seller)
        return await render(
            request,
            "dashboard.html",
            status=status,
            error=message,
            data=_dashboard_data("dashboard", seller, request.app[keys.SETTINGS].shop.currency),
            **context,
        )
    raise web.HTTPSeeOther(f"/studio/{show.id}")


@routes.get("/dashboard/shows/{show_id}.csv")
async def dashboard_csv(request: web.Request) -> web.Response:
    """Per-minute figures of one show as CSV (the seller's own shows only)."""
    principal = await page_principal(request)
    show = await _show(request)
    authorize(principal, Action.MANAGE_SHOW, show_ref(show))
    figures = await request.app[keys.SERVICES].analytics.show_figures(show.id)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        ["minute_utc", "viewers", "chat_lines", "paid_orders", f"gmv_minor_{figures.currency}"]
    )
    for minute in figures.minutes:
        writer.writerow(
            [
                datetime.fromtimestamp(minute / 1000, tz=UTC).isoformat(),
                figures.viewers.get(minute, 0),
                figures.chat_per_minute.get(minute, 0),
                figures.paid_per_minute.get(minute, 0),
                figures.gmv_per_minute.get(minute, 0),
            ]
        )
    return web.Response(
        text=out.getvalue(),
        content_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="show-{show.id}.csv"'},
    )


#: Products a storefront lists (the seller's catalog page has them all).
STOREFRONT_PRODUCTS = 48
#: Past shows a storefront lists, newest first.
STOREFRONT_PAST = 24


@routes.get("/s/{handle}")
async def storefront_page(request: web.Request) -> web.Response:
    """A seller's storefront: follow them, their show on air, upcoming shows to be reminded of
    (with counts), past shows and replays, and products. The address is the seller's handle in
    any case; other spellings redirect to the lower-case one."""
    services = request.app[keys.SERVICES]
    principal = await page_principal(request)
    raw = request.match_info["handle"]
    try:
        seller = await services.follows.seller_by_handle(raw, principal)
    except NotFound:
        return await error_page(
            request, 404, "Storefront not found", "There is no seller with this address."
        )
    if seller.user.handle != raw:
        raise web.HTTPMovedPermanently(f"/s/{seller.user.handle}")
    shows = await services.shows.list(None, seller.user.id)
    live = [s for s in shows if s.status in OPEN]
    upcoming = sorted(
        (s for s in shows if s.status is ShowStatus.SCHEDULED),
        key=lambda s: s.scheduled_at or s.created_at,
    )
    past = sorted(
        (s for s in shows if s.status is ShowStatus.ENDED),
        key=lambda s: s.ended_at or s.created_at,
        reverse=True,
    )[:STOREFRONT_PAST]
    remindable = [s.id for s in (*live, *upcoming)]
    products = (await services.catalog.list(seller.user.id))[:STOREFRONT_PRODUCTS]
    member = principal is not None and not principal.is_guest
    response = await render(
        request,
        "storefront.html",
        seller=seller,
        live=live,
        upcoming=upcoming,
        past=past,
        replays=request.app[keys.SETTINGS].broadcast.hls_enabled,
        rsvps=await services.rsvps.counts(remindable),
        rsvped=await services.rsvps.rsvped(principal, remindable),
        products=products,
        money=lambda minor, currency: Money(minor, currency).display(),
        own=principal is not None and principal.user_id == seller.user.id,
        member=member,
        login_url="/login?" + urlencode({"next": f"/s/{seller.user.handle}"}),
        when=utc_text,
        length=length_text,
        data={"page": "storefront", "seller-id": seller.user.id, **user_data(principal)},
    )
    await remember_visit(request, response, principal)
    return response
