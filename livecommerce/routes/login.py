"""Logging in, signing up and out through the HTML forms, with the pre-session cookie that
lets the login form carry a CSRF token before any session exists; and the account page, where a
signed-in user sees their sessions and signs any of them out.

The API's JSON login lives in ``routes/accounts.py``; both end in the same AccountService.
"""

from __future__ import annotations

import hmac
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from livecommerce import keys
from livecommerce.domain.access import Role
from livecommerce.errors import LiveCommerceError, NotFound
from livecommerce.ids import new_secret
from livecommerce.routes.auth import (
    bearer_token,
    cookies_secure,
    csrf_token,
    limit_attempts,
    principal_of,
    request_token,
    set_session_cookie,
)
from livecommerce.routes.middleware import Handler
from livecommerce.routes.pages import error_page, login_redirect, page_principal, render, utc_text
from livecommerce.routes.referrals import claim_visits
from livecommerce.services.accounts import SessionKind

routes = web.RouteTableDef()


PRE_SESSION_COOKIE = "lc_pre"


@routes.get("/login")
async def login_page(request: web.Request) -> web.Response:
    return await render(
        request,
        "login.html",
        error=None,
        form_csrf=_form_csrf(request),
        next=safe_next(request.query.get("next")),
    )


def safe_next(target: str | None) -> str:
    """Where to go after logging in: only a path on this site, so a crafted link cannot bounce
    a fresh session to another origin. Browsers drop tabs and newlines from URLs and read a
    backslash as a slash, so a slash, a tab and a slash is ``//evil`` (protocol-relative) to
    them: any control character, whitespace or backslash makes the target unsafe at once."""
    if not target or any(
        c.isspace() or ord(c) < 0x20 or ord(c) == 0x7F or c == "\\" for c in target
    ):
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return "/"
    return target


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
            next=safe_next(str(form.get("next", ""))),
        )
    accounts = request.app[keys.SERVICES].accounts
    try:
        if form.get("mode") == "signup":
            await limit_attempts(request, "signup")
            role = Role.SELLER if form.get("role") == "seller" else Role.VIEWER
            issued = await accounts.signup(
                str(form.get("name", "")),
                str(form.get("email", "")),
                str(form.get("password", "")),
                role,
                kind=SessionKind.SESSION,
            )
            session, user_id = issued.token, issued.user.id
        else:
            await limit_attempts(request, "login", str(form.get("email", "")))
            user = await accounts.check_credentials(
                str(form.get("email", "")), str(form.get("password", ""))
            )
            session, user_id = await accounts.start_session(user), user.id
    except LiveCommerceError as exc:
        return await render(
            request,
            "login.html",
            status=exc.status,
            error=exc.message,
            form_csrf=_form_csrf(request),
            next=safe_next(str(form.get("next", ""))),
        )
    await claim_visits(request, user_id)
    response = web.HTTPSeeOther(safe_next(str(form.get("next", ""))))
    set_session_cookie(request, response, session)
    raise response


@routes.post("/logout")
async def logout(request: web.Request) -> web.Response:
    """Ends the session cookie and a bearer token alike, whichever the request came with."""
    await principal_of(request)  # a cookie session must carry its CSRF token; a bearer needs none
    accounts = request.app[keys.SERVICES].accounts
    for token in {bearer_token(request), request.cookies.get(keys.SESSION_COOKIE)}:
        if token:
            await accounts.logout(token)
    response = web.HTTPSeeOther("/")
    response.del_cookie(keys.SESSION_COOKIE, path="/")
    raise response


@routes.get("/account")
async def account_page(request: web.Request) -> web.Response:
    """The signed-in user's sessions (browser sign-ins, API and guest tokens), this one marked,
    each with a form that signs it out (``GET/DELETE /api/v1/me/sessions`` for scripts)."""
    principal = await page_principal(request)
    if principal is None:
        raise login_redirect(request)
    sessions = await request.app[keys.SERVICES].accounts.sessions(
        principal, request_token(request) or ""
    )
    return await render(request, "account.html", sessions=sessions, when=utc_text)


@routes.post("/account/sessions/{session_id}/end")
async def account_end_session(request: web.Request) -> web.Response:
    """Sign one session out; signing out this browser's own session is a logout."""
    principal = await principal_of(request)  # a cookie session must carry its CSRF token
    if principal is None:
        raise login_redirect(request)
    try:
        was_current = await request.app[keys.SERVICES].accounts.end_session(
            principal, request.match_info["session_id"], request_token(request) or ""
        )
    except NotFound:
        return await error_page(request, 404, "No such session", "It may have ended already.")
    response = web.HTTPSeeOther("/" if was_current else "/account")
    if was_current:
        response.del_cookie(keys.SESSION_COOKIE, path="/")
    raise response


@routes.post("/account/sessions/end-others")
async def account_end_other_sessions(request: web.Request) -> web.Response:
    """Sign out everywhere but this browser."""
    principal = await principal_of(request)
    if principal is None:
        raise login_redirect(request)
    await request.app[keys.SERVICES].accounts.end_sessions(
        principal, request_token(request) or "", include_current=False
    )
    raise web.HTTPSeeOther("/account")


@web.middleware
async def pre_session(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Set the pre-session cookie a page minted while rendering its login form."""
    response = await handler(request)
    minted = request.get(keys.PRE_SESSION)
    if minted and isinstance(response, web.Response):
        response.set_cookie(
            PRE_SESSION_COOKIE,
            minted,
            httponly=True,
            samesite="Strict",
            path="/",
            secure=cookies_secure(request),
        )
    return response
