"""Account API: sign-up, login, guest tokens, logout and the current user."""

from __future__ import annotations

from typing import Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from livecommerce import keys
from livecommerce.domain.access import Role
from livecommerce.domain.ratelimit import Rate
from livecommerce.errors import RateLimited
from livecommerce.routes.api import ApiRoutes
from livecommerce.routes.auth import bearer_token, require_principal
from livecommerce.wire import UserOut

api = ApiRoutes("accounts")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_max_length=1000)


class SignupIn(Strict):
    name: str = Field(min_length=1, max_length=40)
    email: str = Field(min_length=3, max_length=320)
    password: str = Field(min_length=8, max_length=256)
    role: Literal["viewer", "seller"] = "viewer"


class LoginIn(Strict):
    email: str = Field(min_length=3, max_length=320)
    password: str = Field(min_length=1, max_length=256)


class GuestIn(Strict):
    name: str = Field(min_length=1, max_length=40)


class TokenOut(BaseModel):
    token: str
    user: UserOut


async def limit_attempts(request: web.Request, what: str) -> None:
    """Slow down credential stuffing and guest-account floods per client address."""
    settings = request.app[keys.SETTINGS]
    rate = Rate(settings.auth.attempts_per_minute, 60)
    address = request.remote or "unknown"
    if not await request.app[keys.SERVICES].rate_limiter.allow(f"auth:{what}:{address}", [rate]):
        raise RateLimited("too many attempts; wait a minute")


@api.post(
    "/api/v1/auth/signup",
    body=SignupIn,
    response=TokenOut,
    status=201,
    auth=False,
    summary="Create an account and get an API token",
)
async def signup(request: web.Request, body: SignupIn) -> TokenOut:
    await limit_attempts(request, "signup")
    issued = await request.app[keys.SERVICES].accounts.signup(
        body.name, body.email, body.password, Role(body.role)
    )
    return TokenOut(token=issued.token, user=UserOut.of(issued.user))


@api.post(
    "/api/v1/auth/login",
    body=LoginIn,
    response=TokenOut,
    auth=False,
    summary="Exchange e-mail and password for an API token",
)
async def login(request: web.Request, body: LoginIn) -> TokenOut:
    await limit_attempts(request, "login")
    issued = await request.app[keys.SERVICES].accounts.login(body.email, body.password)
    return TokenOut(token=issued.token, user=UserOut.of(issued.user))


@api.post(
    "/api/v1/auth/guest",
    body=GuestIn,
    response=TokenOut,
    status=201,
    auth=False,
    summary="A short-lived viewer token for watching and chatting without an account",
)
async def guest(request: web.Request, body: GuestIn) -> TokenOut:
    await limit_attempts(request, "guest")
    issued = await request.app[keys.SERVICES].accounts.guest(body.name)
    return TokenOut(token=issued.token, user=UserOut.of(issued.user))


@api.post("/api/v1/auth/logout", status=204, summary="Revoke the bearer token used for this call")
async def logout(request: web.Request) -> web.Response:
    await require_principal(request)
    token = bearer_token(request)
    if token:
        await request.app[keys.SERVICES].accounts.logout(token)
    return web.Response(status=204)


@api.get("/api/v1/me", response=UserOut, summary="The signed-in user")
async def me(request: web.Request) -> UserOut:
    principal = await require_principal(request)
    user = await request.app[keys.SERVICES].accounts.get_user(principal.user_id)
    assert user is not None  # a token that authenticated has a user
    return UserOut.of(user)
