"""Account API: sign-up, login, guest tokens (a guest with an e-mail may buy), upgrading a guest
to a full account, logout, the current user with their saved shipping address, and the country
list an address form offers."""

from __future__ import annotations

from typing import Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from livecommerce import keys
from livecommerce.domain.access import Role
from livecommerce.domain.countries import COUNTRIES
from livecommerce.errors import NotFound
from livecommerce.routes.api import ApiRoutes
from livecommerce.routes.auth import bearer_token, limit_attempts, require_principal
from livecommerce.wire import MeOut, ShippingAddressIn, ShippingAddressOut, UserOut

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
    email: str | None = Field(
        None,
        min_length=3,
        max_length=320,
        description="a contact e-mail: with it the guest may buy (it is not a login)",
    )


class UpgradeIn(Strict):
    password: str = Field(min_length=8, max_length=256)


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
    await limit_attempts(request, "login", body.email)
    issued = await request.app[keys.SERVICES].accounts.login(body.email, body.password)
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
    token = bearer_token(request) or request.cookies.get(keys.SESSION_COOKIE)
    if token:
        await request.app[keys.SERVICES].accounts.logout(token)
    response = web.Response(status=204)
    if request.cookies.get(keys.SESSION_COOKIE) is not None and bearer_token(request) is None:
        response.del_cookie(keys.SESSION_COOKIE, path="/")
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
