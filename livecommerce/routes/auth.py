"""Who is calling: bearer tokens for the API and scripts, a session cookie for pages.

Cookie-authenticated writes must carry the CSRF token (a form field or ``X-CSRF-Token``); bearer
requests need none because a browser never attaches them by itself.
"""

from __future__ import annotations

import hashlib
import hmac

from aiohttp import web

from livecommerce import keys
from livecommerce.domain.access import Principal
from livecommerce.domain.presence import valid_visitor_id
from livecommerce.domain.ratelimit import Rate
from livecommerce.errors import PermissionDenied, RateLimited, Unauthenticated
from livecommerce.ids import new_secret

_SAFE = frozenset({"GET", "HEAD", "OPTIONS"})


def bearer_token(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return None


def request_token(request: web.Request) -> str | None:
    """The token this request is signed in with, chosen as ``principal_of`` chooses: the bearer
    token when one is sent, else the session cookie."""
    return bearer_token(request) or request.cookies.get(keys.SESSION_COOKIE)


def csrf_token(request: web.Request, session: str) -> str:
    """An HMAC of the session token: valid only with that cookie, never stored."""
    return hmac.new(request.app[keys.SECRET_KEY], session.encode(), hashlib.sha256).hexdigest()


async def principal_of(request: web.Request) -> Principal | None:
    """The caller, or None when anonymous; a present but bad bearer token is an error."""
    if keys.PRINCIPAL in request:
        return request[keys.PRINCIPAL]
    accounts = request.app[keys.SERVICES].accounts
    principal: Principal | None = None
    token = bearer_token(request)
    if token is not None:
        principal = await accounts.authenticate(token)
    elif (session := request.cookies.get(keys.SESSION_COOKIE)) is not None:
        try:
            principal = await accounts.authenticate(session)
        except Unauthenticated:
            principal = None
        if principal is not None and request.method not in _SAFE:
            sent = request.headers.get("X-CSRF-Token", "")
            if not sent and request.content_type == "application/x-www-form-urlencoded":
                sent = str((await request.post()).get("csrf_token", ""))
            if not hmac.compare_digest(sent, csrf_token(request, session)):
                raise PermissionDenied("missing or wrong CSRF token")
    request[keys.PRINCIPAL] = principal
    return principal


async def require_principal(request: web.Request) -> Principal:
    principal = await principal_of(request)
    if principal is None:
        raise Unauthenticated("this needs a bearer token or a signed-in session")
    return principal


def cookies_secure(request: web.Request) -> bool:
    """Whether our cookies carry ``Secure``: as configured, else whenever the site is HTTPS."""
    settings = request.app[keys.SETTINGS]
    secure = settings.server.cookie_secure
    if secure is None:
        secure = settings.base_url.startswith("https://") or request.secure
    return secure


def set_session_cookie(request: web.Request, response: web.StreamResponse, token: str) -> None:
    settings = request.app[keys.SETTINGS]
    secure = cookies_secure(request)
    response.set_cookie(
        keys.SESSION_COOKIE,
        token,
        httponly=True,
        samesite="Lax",
        secure=secure,
        path="/",
        max_age=settings.auth.session_ttl_days * 86400,
    )


async def limit_attempts(request: web.Request, what: str, account: str | None = None) -> None:
    """The one attempt limiter of every sign-up, login, guest and upgrade, API and HTML forms
    alike (the forms had none: 30 wrong form posts after the API's 429 all went through).

    Per client address, and for logins also per account (the e-mail, normalised), so guesses
    spread over many addresses still hit the account's limit.
    """
    rate = Rate(request.app[keys.SETTINGS].auth.attempts_per_minute, 60)
    limiter = request.app[keys.SERVICES].rate_limiter
    address = request.remote or "unknown"
    buckets = [f"auth:{what}:addr:{address}"]
    if account is not None:
        buckets.append(f"auth:{what}:account:{account.strip().casefold()}")
    for bucket in buckets:
        if not await limiter.allow(bucket, [rate]):
            raise RateLimited("too many attempts; wait a minute")


#: How long a browser keeps its visitor id (`keys.VISITOR_COOKIE`).
VISITOR_COOKIE_SECONDS = 365 * 86400


def visitor_id(request: web.Request) -> str | None:
    """The browser's visitor id, when it sent a well-formed one."""
    cookie = request.cookies.get(keys.VISITOR_COOKIE)
    return cookie if valid_visitor_id(cookie) else None


def give_visitor_id(request: web.Request, response: web.StreamResponse) -> str:
    """The browser's visitor id, handed out (HttpOnly, SameSite=Lax, a year) when it has none.
    One random id per browser serves both the honest viewer count (its socket, WebRTC and HLS
    requests carry it, docs/METRICS.md) and share-link attribution (docs/AUDIENCE.md); it holds
    no time and no code, so editing it cannot lengthen a window or name a referrer."""
    known = visitor_id(request)
    if known is not None:
        return known
    fresh = new_secret(16)
    response.set_cookie(
        keys.VISITOR_COOKIE,
        fresh,
        max_age=VISITOR_COOKIE_SECONDS,
        path="/",
        httponly=True,
        samesite="Lax",
        secure=cookies_secure(request),
    )
    return fresh
