"""Shop API for shows: offers (create, list, start, pin, unpin, end; a group buy's state) and a
REST twin of the hub's
`checkout.start` for scripts and pages without a socket. Money on the wire is
`{amount, currency}` in minor units; a checkout body carrying any price is refused."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from livecommerce import keys
from livecommerce.domain.access import Principal
from livecommerce.domain.auctions import MAX_AMOUNT, MAX_CLOCK_SECONDS
from livecommerce.domain.groupbuy import MAX_MIN_BUYERS, MAX_TIERS
from livecommerce.domain.offers import MAX_DURATION_MS, OfferKind
from livecommerce.errors import InvalidInput, NotFound
from livecommerce.routes.api import ApiRoutes
from livecommerce.routes.auth import require_principal
from livecommerce.routes.bodies import read_body
from livecommerce.routes.referrals import claim_visits
from livecommerce.wire import MoneyOut, OrderOut, ProductOut, ShippingAddressIn, to_ms

api = ApiRoutes("shop")


#: Whole seconds a sale window may last (the domain's bound, in the unit clients send).
DURATION_MAX_SECONDS = MAX_DURATION_MS // 1000
_DURATION = "how long the sale runs once started, in seconds (the window opens at start)"


class TierIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    min_buyers: int = Field(ge=1, le=MAX_MIN_BUYERS, strict=True)
    price: int = Field(ge=1, le=100_000_000, strict=True, description="minor units")


class OfferIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    product_id: str = Field(min_length=1, max_length=100)
    kind: Literal["fixed", "flash", "auction", "group"] = "fixed"
    price: int | None = Field(
        None,
        ge=0,
        le=100_000_000,
        description="minor units; empty: the product's price",
        strict=True,
    )
    cap: int | None = Field(
        None,
        ge=1,
        le=1_000_000,
        description="the most units this offer may sell in total (empty: its variants' stock)",
        strict=True,
    )
    stock: int | None = Field(
        None, ge=1, le=1_000_000, description="older name of `cap`", strict=True
    )
    per_buyer_limit: int | None = Field(None, ge=1, le=1000, strict=True)
    duration_seconds: int | None = Field(
        None,
        ge=1,
        le=DURATION_MAX_SECONDS,
        description=f"{_DURATION}; a flash sale needs it",
        strict=True,
    )
    starts_at: datetime | None = Field(
        None, description="an explicit start; the window opens at start if this has passed"
    )
    ends_at: datetime | None = Field(
        None, description="an explicit end instead of duration_seconds (older clients)"
    )
    # an auction's own fields (docs/AUCTIONS.md); `price`, `cap`, `stock`, `per_buyer_limit`,
    # `starts_at` and `ends_at` do not apply to it: it sells one unit from `starting_bid`
    variant_id: str | None = Field(
        None,
        max_length=100,
        description="auction: the variant sold (needed if several); group: the one on offer",
    )
    tiers: list[TierIn] | None = Field(
        None,
        min_length=1,
        max_length=MAX_TIERS,
        description="group buy (docs/SOCIAL.md): [{min_buyers, price}], min_buyers strictly "
        "increasing from 1 or more, prices strictly decreasing, none above the product's price",
    )
    starting_bid: int | None = Field(
        None, ge=1, le=MAX_AMOUNT, strict=True, description="auction: the first bid, minor units"
    )
    min_increment: int | None = Field(
        None,
        ge=1,
        le=MAX_AMOUNT,
        strict=True,
        description="auction: the step between bids (empty: the increment table by price)",
    )
    anti_snipe_seconds: int = Field(
        10,
        ge=0,
        le=MAX_CLOCK_SECONDS,
        strict=True,
        description="auction: the last seconds in which a bid extends the clock",
    )
    extend_seconds: int = Field(
        10,
        ge=1,
        le=MAX_CLOCK_SECONDS,
        strict=True,
        description="auction: the clock is moved to now + this after a late bid",
    )
    sudden_death: bool = Field(False, description="auction: the clock never extends")
    reserve_price: int | None = Field(
        None, ge=1, le=MAX_AMOUNT, strict=True, description="auction: no sale below it (secret)"
    )


class OfferVariantOut(BaseModel):
    id: str
    label: str
    stock_left: int = Field(description="units of this variant the offer can still sell")


class OfferOut(BaseModel):
    id: str
    show_id: str
    product_id: str
    kind: str
    status: str
    price: MoneyOut
    cap: int | None = Field(description="the most units this offer may sell (null: no cap)")
    stock: int | None = Field(description="older name of `cap`")
    stock_left: int = Field(
        description="what the offer can still sell: its cap left or its variants' available "
        "units, whichever is smaller"
    )
    variants: list[OfferVariantOut] = Field(default_factory=list)
    per_buyer_limit: int | None
    starts_at: int | None = Field(
        description="epoch milliseconds the window opens; null until the offer is started"
    )
    ends_at: int | None = Field(
        description="epoch milliseconds the window closes; null until started (or no end)"
    )
    duration_seconds: int | None = Field(None, description=_DURATION)
    countdown: int | None = Field(description="seconds until a started sale opens")
    pinned_at: int | None = Field(None, description="epoch milliseconds of the last pin")
    pinned: bool = Field(False, description="the offer currently on screen in the show")


class OfferList(BaseModel):
    offers: list[OfferOut]


class CheckoutIn(BaseModel):
    """No price, total or currency: those come from the server's offer only."""

    model_config = ConfigDict(extra="forbid")
    offer_id: str = Field(min_length=1, max_length=100)
    variant_id: str | None = Field(None, max_length=100)
    quantity: int = Field(ge=1, le=100, strict=True)
    #: the checkout service's own rule (services/checkout.py), stated where clients can read it
    idempotency_key: str = Field(pattern=r"^[A-Za-z0-9._:\-]{8,100}$")
    shipping_address: ShippingAddressIn | None = Field(
        None, description="where to ship; empty: the buyer's saved address"
    )
    coupon_code: str | None = Field(
        None, max_length=40, description="a coupon of the offer's seller (any case)"
    )


class CheckoutOut(BaseModel):
    order: OrderOut
    payment: dict[str, Any]


async def _offer_out(request: web.Request, offer: Any) -> OfferOut:
    return OfferOut.model_validate(await request.app[keys.SERVICES].offers.view(offer))


def _cap(body: OfferIn) -> int | None:
    """`cap`, or `stock` from clients that use the older name (never two different values)."""
    if body.cap is not None and body.stock is not None and body.cap != body.stock:
        raise InvalidInput("give cap or stock (its older name), not two different values")
    return body.cap if body.cap is not None else body.stock


@api.post(
    "/api/v1/shows/{show_id}/offers",
    body=OfferIn,
    response=OfferOut,
    status=201,
    summary="Create an offer in a show (seller): fixed price, flash sale, auction or group buy",
)
async def create_offer(request: web.Request, body: OfferIn) -> OfferOut:
    principal = await require_principal(request)
    if body.kind == "auction":
        return await _create_auction(request, principal, body)
    if body.kind == "group":
        return await _create_group(request, principal, body)
    if body.tiers is not None:
        raise InvalidInput("tiers are for a group buy (kind: group)")
    offer = await request.app[keys.SERVICES].offers.create(
        principal,
        request.match_info["show_id"],
        product_id=body.product_id,
        kind=OfferKind(body.kind),
        price_minor=body.price,
        cap=_cap(body),
        per_buyer_limit=body.per_buyer_limit,
        starts_at_ms=to_ms(body.starts_at),
        ends_at_ms=to_ms(body.ends_at),
        duration_ms=None if body.duration_seconds is None else body.duration_seconds * 1000,
    )
    return await _offer_out(request, offer)


async def _create_auction(request: web.Request, principal: Principal, body: OfferIn) -> OfferOut:
    """An auction offer: one unit, from `starting_bid`, for `duration_seconds` once started."""
    given = body.model_fields_set & {
        "price", "cap", "stock", "per_buyer_limit", "starts_at", "ends_at"
    }  # fmt: skip
    if given:
        raise InvalidInput(f"an auction does not take {', '.join(sorted(given))}")
    if body.starting_bid is None or body.duration_seconds is None:
        raise InvalidInput("an auction needs starting_bid and duration_seconds")
    offer = await request.app[keys.SERVICES].auctions.create(
        principal,
        request.match_info["show_id"],
        product_id=body.product_id,
        variant_id=body.variant_id,
        starting_bid=body.starting_bid,
        duration_seconds=body.duration_seconds,
        min_increment=body.min_increment,
        anti_snipe_seconds=body.anti_snipe_seconds,
        extend_seconds=body.extend_seconds,
        sudden_death=body.sudden_death,
        reserve_price=body.reserve_price,
    )
    return await _offer_out(request, offer)


async def _create_group(request: web.Request, principal: Principal, body: OfferIn) -> OfferOut:
    """A group offer: priced by its tiers, with a deadline (`duration_seconds` from its start,
    or `ends_at`)."""
    given = body.model_fields_set & {
        "price", "starts_at", "starting_bid", "min_increment", "anti_snipe_seconds",
        "extend_seconds", "sudden_death", "reserve_price",
    }  # fmt: skip
    if given:
        raise InvalidInput(f"a group buy does not take {', '.join(sorted(given))}")
    if body.tiers is None:
        raise InvalidInput("a group buy needs tiers")
    offer = await request.app[keys.SERVICES].groups.create(
        principal,
        request.match_info["show_id"],
        product_id=body.product_id,
        variant_id=body.variant_id,
        tiers=[t.model_dump() for t in body.tiers],
        cap=_cap(body),
        per_buyer_limit=body.per_buyer_limit,
        ends_at_ms=to_ms(body.ends_at),
        duration_ms=None if body.duration_seconds is None else body.duration_seconds * 1000,
    )
    return await _offer_out(request, offer)


class TierOut(BaseModel):
    min_buyers: int
    price: int = Field(description="minor units")


class GroupOut(BaseModel):
    show_id: str
    offer_id: str
    buyers: int = Field(description="distinct people holding an authorised payment")
    price_now: int = Field(description="the unit price if the group closed now (minor units)")
    next_tier: TierOut | None
    tiers: list[TierOut]
    currency: str
    ends_at: int | None = Field(description="the deadline, epoch ms (null until started)")
    status: Literal["open", "captured", "void"]
    final_price: int | None = Field(description="the unit price members paid, once captured")


@api.get(
    "/api/v1/shows/{show_id}/offers/{offer_id}/group",
    response=GroupOut,
    auth=False,
    summary="A group buy's members, price now, next tier and deadline",
)
async def group_state(request: web.Request) -> GroupOut:
    show_id, offer_id = _offer_ids(request)
    view = await request.app[keys.SERVICES].groups.view(offer_id)
    if view is None or view["show_id"] != show_id:
        raise NotFound("no such group buy in this show")
    return GroupOut.model_validate(view)


@api.get(
    "/api/v1/shows/{show_id}/offers",
    response=OfferList,
    auth=False,
    summary="A show's offers with stock left",
)
async def list_offers(request: web.Request) -> OfferList:
    shop = request.app[keys.SERVICES]
    offers = await shop.offers.list(request.match_info["show_id"])
    return OfferList(offers=[await _offer_out(request, o) for o in offers])


class OfferMoment(BaseModel):
    model_config = ConfigDict(extra="forbid")
    media_ts: float | None = Field(
        None, ge=0, description="the show's media time in seconds (default: its on-air time)"
    )


class OfferStart(OfferMoment):
    duration_seconds: int | None = Field(
        None,
        ge=1,
        le=DURATION_MAX_SECONDS,
        description="a new length for the window (replaces the prepared one or its ends_at)",
        strict=True,
    )


def _offer_ids(request: web.Request) -> tuple[str, str]:
    return request.match_info["show_id"], request.match_info["offer_id"]


@api.post(
    "/api/v1/shows/{show_id}/offers/{offer_id}/start",
    body=OfferStart,
    response=OfferOut,
    summary="Open an offer for checkout: its window opens now and runs for its duration",
)
async def start_offer(request: web.Request, body: OfferStart) -> OfferOut:
    principal = await require_principal(request)
    show_id, offer_id = _offer_ids(request)
    duration_ms = None if body.duration_seconds is None else body.duration_seconds * 1000
    services = request.app[keys.SERVICES]
    offer = await services.offers.start(principal, show_id, offer_id, body.media_ts, duration_ms)
    await services.auctions.started(offer)
    await services.groups.started(offer)
    return await _offer_out(request, offer)


def _offer_action(name: str) -> Any:
    async def handler(request: web.Request, body: OfferMoment) -> OfferOut:
        principal = await require_principal(request)
        offers = request.app[keys.SERVICES].offers
        action = getattr(offers, name)
        show_id, offer_id = _offer_ids(request)
        offer = await action(principal, show_id, offer_id, body.media_ts)
        return await _offer_out(request, offer)

    handler.__name__ = f"{name}_offer"
    return handler


for _name, _summary in (
    ("pin", "Show an offer on screen to everyone in the show (it replaces the one there)"),
    ("unpin", "Take an offer off screen"),
    ("end", "Close an offer for good: checkout refuses it with offer_closed"),
):
    api.post(
        f"/api/v1/shows/{{show_id}}/offers/{{offer_id}}/{_name}",
        body=OfferMoment,
        response=OfferOut,
        summary=_summary,
    )(_offer_action(_name))


@api.post(
    "/api/v1/shows/{show_id}/checkout",
    body=CheckoutIn,
    response=CheckoutOut,
    status=201,
    summary="Reserve and create an order with its payment (same as the hub's checkout.start)",
)
async def checkout(request: web.Request, body: CheckoutIn) -> CheckoutOut:
    principal = await require_principal(request)
    await claim_visits(request, principal.user_id)
    order, payment = await request.app[keys.SERVICES].checkout.start(
        principal,
        request.match_info["show_id"],
        body.offer_id,
        body.variant_id,
        body.quantity,
        body.idempotency_key,
        shipping_address=body.shipping_address.model_dump() if body.shipping_address else None,
        coupon=body.coupon_code,
    )
    view = await request.app[keys.SERVICES].orders.view(order)
    return CheckoutOut(order=OrderOut.model_validate(view), payment=payment.client)


# --- catalog administration (the foundation creates and lists products) ------------------------


class ProductPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(None, min_length=1, max_length=120)
    description: str | None = Field(None, max_length=4000)
    price: int | None = Field(None, gt=0, le=100_000_000, description="minor units", strict=True)
    requires_shipping: bool | None = Field(
        None, description="shipped goods need an address at checkout"
    )
    archived: bool | None = Field(None, description="archived products cannot be offered")
    option_name: str | None = Field(None, max_length=40)


class VariantPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    stock: int | None = Field(None, ge=0, le=1_000_000, strict=True)
    price: int | None = Field(None, gt=0, le=100_000_000, description="minor units", strict=True)
    label: str | None = Field(None, min_length=1, max_length=60)
    sku: str | None = Field(None, max_length=64, description="empty removes it")


@api.patch(
    "/api/v1/products/{product_id}",
    body=ProductPatch,
    response=ProductOut,
    summary="Edit a product (its seller)",
)
async def update_product(request: web.Request, body: ProductPatch) -> ProductOut:
    principal = await require_principal(request)
    product = await request.app[keys.SERVICES].catalog_admin.update(
        principal,
        request.match_info["product_id"],
        name=body.name,
        description=body.description,
        price_minor=body.price,
        requires_shipping=body.requires_shipping,
        archived=body.archived,
        option_name=body.option_name,
    )
    return ProductOut.of(product)


@api.patch(
    "/api/v1/products/{product_id}/variants/{variant_id}",
    body=VariantPatch,
    response=ProductOut,
    summary="Restock, reprice, rename or give a SKU to a variant (its seller)",
)
async def update_variant(request: web.Request, body: VariantPatch) -> ProductOut:
    principal = await require_principal(request)
    if body.label is not None or body.sku is not None:
        await request.app[keys.SERVICES].catalog_admin.edit_variant(
            principal,
            request.match_info["product_id"],
            request.match_info["variant_id"],
            label=body.label,
            sku=body.sku,
        )
    product = await request.app[keys.SERVICES].catalog_admin.update_variant(
        principal,
        request.match_info["product_id"],
        request.match_info["variant_id"],
        stock=body.stock,
        price_minor=body.price,
    )
    return ProductOut.of(product)


@api.delete(
    "/api/v1/products/{product_id}",
    status=204,
    summary="Delete a product that was never offered (its seller)",
)
async def delete_product(request: web.Request) -> web.Response:
    principal = await require_principal(request)
    await request.app[keys.SERVICES].catalog_admin.delete(
        principal, request.match_info["product_id"]
    )
    return web.Response(status=204)


@api.put(
    "/api/v1/products/{product_id}/image",
    response=ProductOut,
    summary="Upload the product image: raw bytes, Content-Type image/png, jpeg, webp or gif",
)
async def upload_image(request: web.Request) -> ProductOut:
    principal = await require_principal(request)
    limit = request.app[keys.SETTINGS].shop.image_max_bytes
    data = await read_body(request, limit, "image")
    product = await request.app[keys.SERVICES].catalog_admin.set_image(
        principal, request.match_info["product_id"], request.content_type, data
    )
    return ProductOut.of(product)


async def product_image(request: web.Request) -> web.FileResponse:
    """Uploaded product images (immutable names, so they may be cached for a long time)."""
    admin = request.app[keys.SERVICES].catalog_admin
    path = admin.path_of(request.match_info["name"])
    return web.FileResponse(
        path,
        headers={
            "Content-Type": admin.content_type_of(path.name),
            "Cache-Control": "public, max-age=31536000, immutable",
            "X-Content-Type-Options": "nosniff",
        },
    )
