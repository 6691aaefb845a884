"""Catalog API: sellers create products with variants; anyone can browse. Sellers adjust a
variant's stock and read its inventory movements (a variant's stock is their sum)."""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from livecommerce import keys
from livecommerce.domain.inventory import MAX_UNITS, StockMovement
from livecommerce.domain.money import Money
from livecommerce.routes.api import ApiRoutes
from livecommerce.routes.auth import require_principal
from livecommerce.services.catalog import VariantSpec
from livecommerce.services.stock import NOTE_MAX
from livecommerce.wire import ProductOut, VariantOut

api = ApiRoutes("catalog")


class VariantIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    label: str = Field(min_length=1, max_length=60)
    stock: int = Field(ge=0, le=1_000_000)
    price: int | None = Field(None, gt=0, le=100_000_000)


class ProductIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=120)
    description: str = Field("", max_length=4000)
    price: int = Field(gt=0, le=100_000_000, description="minor units (cents)")
    currency: str | None = Field(None, pattern=r"^[A-Z]{3}$")
    image_url: str = Field("", max_length=500, pattern=r"^(/[^\s]*)?$")
    variants: list[VariantIn] = Field(default_factory=list, max_length=50)
    requires_shipping: bool = Field(
        True, description="shipped goods need an address at checkout (false: digital, pick-up)"
    )


class ProductListQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    seller_id: str | None = Field(None, max_length=100)


class ProductList(BaseModel):
    products: list[ProductOut]


@api.post(
    "/api/v1/products",
    body=ProductIn,
    response=ProductOut,
    status=201,
    summary="Create a product (sellers); price in minor units of the currency",
)
async def create_product(request: web.Request, body: ProductIn) -> ProductOut:
    principal = await require_principal(request)
    currency = body.currency or request.app[keys.SETTINGS].shop.currency
    product = await request.app[keys.SERVICES].catalog.create_product(
        principal,
        name=body.name,
        description=body.description,
        price=Money(body.price, currency),
        image_url=body.image_url,
        variants=[VariantSpec(v.label, v.stock, v.price) for v in body.variants],
        requires_shipping=body.requires_shipping,
    )
    return ProductOut.of(product)


@api.get(
    "/api/v1/products",
    query=ProductListQuery,
    response=ProductList,
    auth=False,
    summary="Products, optionally one seller's",
)
async def list_products(request: web.Request, query: ProductListQuery) -> ProductList:
    products = await request.app[keys.SERVICES].catalog.list(query.seller_id)
    return ProductList(products=[ProductOut.of(p) for p in products])


@api.get("/api/v1/products/{product_id}", response=ProductOut, auth=False, summary="One product")
async def get_product(request: web.Request) -> ProductOut:
    return ProductOut.of(
        await request.app[keys.SERVICES].catalog.get(request.match_info["product_id"])
    )


# --- stock: adjustments and the movements a variant's stock is the sum of ----------------------


class StockAdjustIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    delta: int = Field(
        ge=-MAX_UNITS,
        le=MAX_UNITS,
        strict=True,
        description="units to add (negative: remove); units held by checkouts cannot be removed",
    )
    note: str = Field("", max_length=NOTE_MAX, description="why, for the movement log")


class MovementOut(BaseModel):
    id: str
    delta: int
    reason: str = Field(description="initial | adjustment | sale | refund_restock | import")
    order_id: str | None
    actor_id: str | None
    note: str
    at: int = Field(description="epoch milliseconds")

    @classmethod
    def of(cls, m: StockMovement) -> MovementOut:
        return cls(
            id=m.id,
            delta=m.delta,
            reason=str(m.reason),
            order_id=m.order_id,
            actor_id=m.actor_id,
            note=m.note,
            at=m.at_ms,
        )


class StockAdjusted(BaseModel):
    movement: MovementOut
    variant: VariantOut


class MovementsQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    limit: int = Field(100, ge=1, le=1000)


class MovementList(BaseModel):
    movements: list[MovementOut]


def _variant_ids(request: web.Request) -> tuple[str, str]:
    return request.match_info["product_id"], request.match_info["variant_id"]


@api.post(
    "/api/v1/products/{product_id}/variants/{variant_id}/stock",
    body=StockAdjustIn,
    response=StockAdjusted,
    status=201,
    summary="Add or remove units of a variant (its seller): recorded as an adjustment movement",
)
async def adjust_stock(request: web.Request, body: StockAdjustIn) -> StockAdjusted:
    principal = await require_principal(request)
    product_id, variant_id = _variant_ids(request)
    movement, product = await request.app[keys.SERVICES].catalog_admin.adjust_stock(
        principal, product_id, variant_id, body.delta, body.note
    )
    variant = next(v for v in ProductOut.of(product).variants if v.id == variant_id)
    return StockAdjusted(movement=MovementOut.of(movement), variant=variant)


@api.get(
    "/api/v1/products/{product_id}/variants/{variant_id}/movements",
    query=MovementsQuery,
    response=MovementList,
    summary="A variant's inventory movements, newest first (its seller)",
)
async def list_movements(request: web.Request, query: MovementsQuery) -> MovementList:
    principal = await require_principal(request)
    product_id, variant_id = _variant_ids(request)
    movements = await request.app[keys.SERVICES].catalog_admin.movements(
        principal, product_id, variant_id, query.limit
    )
    return MovementList(movements=[MovementOut.of(m) for m in movements])
