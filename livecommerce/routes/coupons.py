"""Coupon and voucher drop API (docs/SOCIAL.md): a seller creates, lists and disables coupons;
the seller or a host fires a drop in a show. Buyers use a code by giving `coupon_code` to the
checkout (routes/shop.py and the hub's `checkout.start`); viewers claim drops over the hub
(`drop.claim`)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, model_validator

from livecommerce import keys
from livecommerce.domain.coupons import (
    MAX_AMOUNT,
    MAX_CLAIMS,
    MAX_DROP_SECONDS,
    MIN_DROP_SECONDS,
    CouponKind,
    coupon_view,
)
from livecommerce.routes.api import ApiRoutes
from livecommerce.routes.auth import require_principal
from livecommerce.services.coupons import CouponSpec
from livecommerce.wire import to_ms

api = ApiRoutes("coupons")


class ScopeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    show_id: str | None = Field(None, min_length=1, max_length=100)
    product_id: str | None = Field(None, min_length=1, max_length=100)

    @model_validator(mode="after")
    def one_of(self) -> ScopeIn:
        if self.show_id is not None and self.product_id is not None:
            raise ValueError("scope is one show or one product, not both")
        return self


class CouponFields(BaseModel):
    """What a coupon gives and when; a drop's coupons copy these."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["percent", "amount"]
    value: int = Field(
        ge=1, le=MAX_AMOUNT, strict=True, description="percent: 1-100; amount: minor units"
    )
    currency: str | None = Field(
        None,
        pattern=r"^[A-Z]{3}$",
        description="needed by an amount coupon or a minimum order (ISO 4217)",
    )
    min_order: int | None = Field(
        None, ge=0, le=MAX_AMOUNT, strict=True, description="least subtotal, minor units"
    )
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    scope: ScopeIn = Field(default_factory=ScopeIn, description="one show or one product")
    followers_only: bool = Field(False, description="only the seller's followers may use it")

    def spec(self) -> CouponSpec:
        return CouponSpec(
            kind=CouponKind(self.kind),
            value=self.value,
            currency=self.currency,
            min_order=self.min_order,
            starts_at_ms=to_ms(self.starts_at),
            ends_at_ms=to_ms(self.ends_at),
            show_id=self.scope.show_id,
            product_id=self.scope.product_id,
            followers_only=self.followers_only,
        )


class CouponIn(CouponFields):
    code: str | None = Field(
        None,
        pattern=r"^\s*[A-Za-z0-9][A-Za-z0-9-]{2,31}\s*$",
        description="3-32 letters, digits or dashes, any case (kept upper-case); empty: generated",
    )
    max_redemptions: int | None = Field(None, ge=1, le=1_000_000, strict=True)
    per_buyer: int | None = Field(None, ge=1, le=1_000_000, strict=True)


class ScopeOut(BaseModel):
    show_id: str | None
    product_id: str | None


class CouponOut(BaseModel):
    id: str
    code: str
    kind: str
    value: int
    currency: str | None
    max_redemptions: int | None
    per_buyer: int | None
    min_order: int | None
    starts_at: int | None
    ends_at: int | None
    scope: ScopeOut
    followers_only: bool
    disabled: bool
    drop_id: str | None
    created_at: int
    redemptions: int = Field(0, description="orders holding or having used it")


class CouponList(BaseModel):
    coupons: list[CouponOut]


class DisableIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    disabled: bool = Field(True, description="false enables it again")


class DropIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    coupon: CouponFields
    claims: int = Field(ge=1, le=MAX_CLAIMS, strict=True, description="how many viewers get one")
    duration_seconds: int = Field(ge=MIN_DROP_SECONDS, le=MAX_DROP_SECONDS, strict=True)


class DropOut(BaseModel):
    id: str
    show_id: str
    claims: int
    claims_left: int
    ends_at: int = Field(description="epoch milliseconds, server time")
    created_at: int


@api.post(
    "/api/v1/coupons",
    body=CouponIn,
    response=CouponOut,
    status=201,
    summary="Create a coupon of the caller's shop (a code is generated when none is given)",
)
async def create_coupon(request: web.Request, body: CouponIn) -> CouponOut:
    principal = await require_principal(request)
    spec = replace(
        body.spec(),
        code=body.code,
        max_redemptions=body.max_redemptions,
        per_buyer=body.per_buyer,
    )
    coupon = await request.app[keys.SERVICES].coupons.create(principal, spec)
    return CouponOut.model_validate(coupon_view(coupon, 0))


@api.get(
    "/api/v1/coupons",
    response=CouponList,
    summary="The caller's coupons, newest first, with their redemptions",
)
async def list_coupons(request: web.Request) -> CouponList:
    principal = await require_principal(request)
    rows = await request.app[keys.SERVICES].coupons.list(principal)
    return CouponList(coupons=[CouponOut.model_validate(coupon_view(c, n)) for c, n in rows])


@api.post(
    "/api/v1/coupons/{coupon_id}/disable",
    body=DisableIn,
    response=CouponOut,
    summary="Disable one of the caller's coupons (or enable it again): checkout refuses it",
)
async def disable_coupon(request: web.Request, body: DisableIn) -> CouponOut:
    principal = await require_principal(request)
    services = request.app[keys.SERVICES]
    coupon = await services.coupons.set_disabled(
        principal, request.match_info["coupon_id"], body.disabled
    )
    return CouponOut.model_validate(coupon_view(coupon, await services.coupons.used(coupon.id)))


@api.post(
    "/api/v1/shows/{show_id}/drops",
    body=DropIn,
    response=DropOut,
    status=201,
    summary="Fire a voucher drop in the show: the first `claims` viewers get a one-use coupon",
)
async def fire_drop(request: web.Request, body: DropIn) -> DropOut:
    principal = await require_principal(request)
    view = await request.app[keys.SERVICES].drops.fire(
        principal,
        request.match_info["show_id"],
        body.coupon.spec(),
        body.claims,
        body.duration_seconds,
    )
    return DropOut.model_validate(view)
