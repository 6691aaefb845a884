"""Account API: sign-up, login, guest tokens (a guest with an e-mail may buy), upgrading a guest
to a full account, logout, the caller's sessions (list, end one, end the others), the current
user with their saved shipping address, and the country list an address form offers."""

from __future__ import annotations

from typing import Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from livecommerce import keys
from livecommerce.domain.access import Role
from livecommerce.domain.countries import COUNTRIES
from livecommerce.errors import NotFound
from livecommerce.routes.api import ApiRoutes
from livecommerce.routes.auth import (
    bearer_token,
    limit_attempts,
    request_token,
    require_principal,
)
from livecommerce.routes.referrals import claim_visits
from livecommerce.services.accounts import SessionInfo
from livecommerce.wire import MeOut, ShippingAddressIn, ShippingAddressOut, UserOut

api = ApiRoutes("accounts")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_max_length=1000)


class SignupIn(Strict):
    name: str = Field(min_length=1, max_length=40)
    email: str = Field(min_length=3, max_length=320)
    password: str = Field(
        min_length=1,
        max_length=256,
        description="at least 10 characters, not a common password or word, without the name "
        "or e-mail (refused with 422 weak_password)",
    )
    role: Literal["viewer", "seller"] = "viewer"


class LoginIn(Strict):
    email: str = Field(min_length=3, max_length=320)
    password: str = Field(min_length=1, max_length=256)


class GuestIn(Strict):
    name: str = Field(min_length=1, max_length=40)
    email: str | None = Field(
        None,
        min_length=3,
        max_length=320,
        description="a contact e-mail: with it the guest may buy (it is not a login)",
    )


class UpgradeIn(Strict):
    password: str = Field(
        min_length=1, max_length=256, description="the sign-up rules (422 weak_password)"
    )


class UserEnvelope(BaseModel):
    user: UserOut


class AddressEnvelope(BaseModel):
    shipping_address: ShippingAddressOut


class Country(BaseModel):
    code: str
    name: str


class CountryList(BaseModel):
    countries: list[Country]


class TokenOut(BaseModel):
    token: str
    user: UserOut


class SessionOut(BaseModel):
    id: str = Field(description="the session's public id (never its token)")
    kind: Literal["session", "api", "guest"] = Field(
        description="session: a browser's sign-in cookie; api: a bearer token; guest: a guest's"
    )
    created_at: int = Field(description="epoch milliseconds")
    expires_at: int = Field(description="epoch milliseconds")
    last_seen_at: int | None = Field(description="last use, epoch ms (to the minute)")
    current: bool = Field(description="the session this request came with")

    @classmethod
    def of(cls, info: SessionInfo) -> SessionOut:
        return cls(
            id=info.id,
            kind=info.kind.value,
            created_at=info.created_at,
            expires_at=info.expires_at,
            last_seen_at=info.last_seen_at,
            current=info.current,
        )


class SessionList(BaseModel):
    sessions: list[SessionOut]


class EndSessionsQuery(BaseModel):
    include_current: bool = Field(
        False, description="end this session too (a browser's cookie is cleared)"
    )


class EndedOut(BaseModel):
    ended: int = Field(description="how many sessions ended")


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
    await claim_visits(request, issued.user.id)
    return TokenOut(token=issued.token, user=UserOut.of(issued.user))


@api.post(
    "/api/v1/auth/login",
    body=LoginIn,
    response=TokenOut,
    auth=False,
    summary="Exchange e-mail and password for an API token",
)
async def login(request: web.Request, body: LoginIn) -> TokenOut:
    await limit_attempts(request, "login", body.email)
    issued = await request.app[keys.SERVICES].accounts.login(body.email, body.password)
    await claim_visits(request, issued.user.id)
    return TokenOut(token=issued.token, user=UserOut.of(issued.user))


@api.post(
    "/api/v1/auth/guest",
    body=GuestIn,
    response=TokenOut,
    status=201,
    auth=False,
    summary="A short-lived viewer token for watching and chatting; with an e-mail, for buying",
)
async def guest(request: web.Request, body: GuestIn) -> TokenOut:
    await limit_attempts(request, "guest")
    issued = await request.app[keys.SERVICES].accounts.guest(body.name, body.email)
    await claim_visits(request, issued.user.id)
    return TokenOut(token=issued.token, user=UserOut.of(issued.user))


@api.post(
    "/api/v1/me/upgrade",
    body=UpgradeIn,
    response=UserEnvelope,
    summary="Turn this guest (with an e-mail) into a full account: same id, orders kept",
)
async def upgrade(request: web.Request, body: UpgradeIn) -> UserEnvelope:
    principal = await require_principal(request)
    await limit_attempts(request, "upgrade")
    user = await request.app[keys.SERVICES].accounts.upgrade(principal, body.password)
    return UserEnvelope(user=UserOut.of(user))


@api.post(
    "/api/v1/auth/logout",
    status=204,
    summary="End this session: the bearer token, or the session cookie, used for this call",
)
async def logout(request: web.Request) -> web.Response:
    """Whichever way the caller is signed in is what ends (a cookie session stayed valid)."""
    await require_principal(request)
    token = request_token(request)
    if token:
        await request.app[keys.SERVICES].accounts.logout(token)
    response = web.Response(status=204)
    _clear_cookie_session(request, response)
    return response


def _clear_cookie_session(request: web.Request, response: web.StreamResponse) -> None:
    """A request signed in by its cookie whose session ended gets the cookie cleared."""
    if request.cookies.get(keys.SESSION_COOKIE) is not None and bearer_token(request) is None:
        response.del_cookie(keys.SESSION_COOKIE, path="/")


@api.get(
    "/api/v1/me/sessions",
    response=SessionList,
    summary="Your sessions (browser sign-ins, API tokens, guest tokens), newest first",
)
async def list_sessions(request: web.Request) -> SessionList:
    principal = await require_principal(request)
    infos = await request.app[keys.SERVICES].accounts.sessions(
        principal, request_token(request) or ""
    )
    return SessionList(sessions=[SessionOut.of(info) for info in infos])


@api.delete(
    "/api/v1/me/sessions/{session_id}",
    status=204,
    summary="End one of your sessions (404 for an unknown id or another user's)",
)
async def end_session(request: web.Request) -> web.Response:
    principal = await require_principal(request)
    was_current = await request.app[keys.SERVICES].accounts.end_session(
        principal, request.match_info["session_id"], request_token(request) or ""
    )
    response = web.Response(status=204)
    if was_current:
        _clear_cookie_session(request, response)
    return response


@api.delete(
    "/api/v1/me/sessions",
    query=EndSessionsQuery,
    response=EndedOut,
    summary="End every other session of yours (include_current=true: this one too)",
)
async def end_sessions(request: web.Request, query: EndSessionsQuery) -> web.Response:
    principal = await require_principal(request)
    ended = await request.app[keys.SERVICES].accounts.end_sessions(
        principal, request_token(request) or "", include_current=query.include_current
    )
    response = web.json_response(EndedOut(ended=ended).model_dump(mode="json"))
    if query.include_current:
        _clear_cookie_session(request, response)
    return response


@api.get("/api/v1/me", response=MeOut, summary="The signed-in user and their saved address")
async def me(request: web.Request) -> MeOut:
    principal = await require_principal(request)
    accounts = request.app[keys.SERVICES].accounts
    user = await accounts.get_user(principal.user_id)
    assert user is not None  # a token that authenticated has a user
    address = await accounts.shipping_address(user.id)
    return MeOut(
        **UserOut.of(user).model_dump(),
        shipping_address=ShippingAddressOut.of(address) if address else None,
    )


@api.get(
    "/api/v1/me/shipping-address",
    response=AddressEnvelope,
    summary="The saved shipping address (404 when there is none)",
)
async def get_shipping_address(request: web.Request) -> AddressEnvelope:
    principal = await require_principal(request)
    address = await request.app[keys.SERVICES].accounts.shipping_address(principal.user_id)
    if address is None:
        raise NotFound("no shipping address saved")
    return AddressEnvelope(shipping_address=ShippingAddressOut.of(address))


@api.put(
    "/api/v1/me/shipping-address",
    body=ShippingAddressIn,
    response=AddressEnvelope,
    summary="Save the shipping address checkout uses when none is given (orders keep theirs)",
)
async def put_shipping_address(request: web.Request, body: ShippingAddressIn) -> AddressEnvelope:
    principal = await require_principal(request)
    address = await request.app[keys.SERVICES].accounts.save_shipping_address(
        principal, body.model_dump()
    )
    return AddressEnvelope(shipping_address=ShippingAddressOut.of(address))


@api.get(
    "/api/v1/countries",
    response=CountryList,
    auth=False,
    summary="ISO 3166-1 alpha-2 country codes an address accepts, with English names",
)
async def countries(request: web.Request) -> CountryList:
    return CountryList(
        countries=[Country(code=code, name=name) for code, name in COUNTRIES.items()]
    )
