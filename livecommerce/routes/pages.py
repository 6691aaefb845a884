"""HTML pages with jinja2: home, login and sign-up (cookie sessions, CSRF-checked forms)."""

from __future__ import annotations

import hmac
from typing import Any

from aiohttp import web

from livecommerce import keys
from livecommerce.domain.access import Principal, Role
from livecommerce.domain.shows import ShowStatus
from livecommerce.errors import LiveCommerceError
from livecommerce.ids import new_secret
from livecommerce.routes.auth import (
    SESSION_COOKIE,
    csrf_token,
    principal_of,
    set_session_cookie,
)
from livecommerce.routes.middleware import Handler

routes = web.RouteTableDef()
PRE_SESSION_COOKIE = "lc_pre"


async def render(
    request: web.Request, template: str, status: int = 200, **context: Any
) -> web.Response:
    principal: Principal | None = None
    try:
        principal = await principal_of(request)
    except LiveCommerceError:
        principal = None
    session = request.cookies.get(SESSION_COOKIE)
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


@routes.get("/")
async def home(request: web.Request) -> web.Response:
    shows = request.app[keys.SHOWS]
    live = await shows.list([ShowStatus.LIVE])
    upcoming = await shows.list([ShowStatus.SCHEDULED])
    return await render(request, "index.html", live=live, upcoming=upcoming)


@routes.get("/login")
async def login_page(request: web.Request) -> web.Response:
    return await render(request, "login.html", error=None, form_csrf=_form_csrf(request))


def _form_csrf(request: web.Request) -> str:
    """Login happens before a session exists, so its CSRF token binds to a pre-session cookie."""
    pre = request.cookies.get(PRE_SESSION_COOKIE)
    if not pre:
        pre = request.setdefault(keys.PRE_SESSION, new_secret(16))
    return csrf_token(request, pre)


async def _check_form_csrf(request: web.Request, form: Any) -> bool:
    pre = request.cookies.get(PRE_SESSION_COOKIE, "")
    sent = str(form.get("csrf_token", ""))
    return bool(pre) and hmac.compare_digest(sent, csrf_token(request, pre))


@routes.post("/login")
async def login_submit(request: web.Request) -> web.Response:
    form = await request.post()
    if not await _check_form_csrf(request, form):
        return await render(
            request,
            "login.html",
            status=403,
            error="Your form expired; try again.",
            form_csrf=_form_csrf(request),
        )
    accounts = request.app[keys.ACCOUNTS]
    try:
        if form.get("mode") == "signup":
            role = Role.SELLER if form.get("role") == "seller" else Role.VIEWER
            issued = await accounts.signup(
                str(form.get("name", "")),
                str(form.get("email", "")),
                str(form.get("password", "")),
                role,
            )
            user = issued.user
        else:
            user = await accounts.check_credentials(
                str(form.get("email", "")), str(form.get("password", ""))
            )
    except LiveCommerceError as exc:
        return await render(
            request,
            "login.html",
            status=exc.status,
            error=exc.message,
            form_csrf=_form_csrf(request),
        )
    response = web.HTTPSeeOther("/")
    set_session_cookie(request, response, await accounts.start_session(user))
    raise response


@routes.post("/logout")
async def logout(request: web.Request) -> web.Response:
    await principal_of(request)  # checks the CSRF token of the session
    session = request.cookies.get(SESSION_COOKIE)
    if session:
        await request.app[keys.ACCOUNTS].logout(session)
    response = web.HTTPSeeOther("/")
    response.del_cookie(SESSION_COOKIE, path="/")
    raise response


@web.middleware
async def pre_session(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Set the pre-session cookie a page minted while rendering its login form."""
    response = await handler(request)
    minted = request.get(keys.PRE_SESSION)
    if minted and isinstance(response, web.Response):
        response.set_cookie(PRE_SESSION_COOKIE, minted, httponly=True, samesite="Strict", path="/")
    return response
