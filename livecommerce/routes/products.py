"""Catalog API: sellers create products with variants; anyone can browse."""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from livecommerce import keys
from livecommerce.domain.money import Money
from livecommerce.routes.api import ApiRoutes
from livecommerce.routes.auth import require_principal
from livecommerce.services.catalog import VariantSpec
from livecommerce.wire import ProductOut

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
