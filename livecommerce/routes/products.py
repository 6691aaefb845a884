"""Catalog API: sellers create products with variants and SKUs, add variants, upload photos
(multipart, or the older raw-bytes PUT in routes/shop.py) and move the whole catalog in and out
as CSV; anyone can browse. Sellers adjust a variant's stock and read its inventory movements (a
variant's stock is their sum). Prices are minor units here; only the CSV speaks major units."""

from __future__ import annotations

from aiohttp import BodyPartReader, web
from aiohttp.http_exceptions import BadHttpMessage
from aiohttp.multipart import BadContentDispositionHeader, BadContentDispositionParam
from pydantic import BaseModel, ConfigDict, Field

from livecommerce import keys
from livecommerce.domain.inventory import MAX_UNITS, StockMovement
from livecommerce.domain.money import Money
from livecommerce.errors import InvalidInput, PayloadTooLarge
from livecommerce.routes.api import ApiRoutes
from livecommerce.routes.auth import require_principal
from livecommerce.routes.bodies import read_body
from livecommerce.services.catalog import VariantSpec
from livecommerce.services.stock import NOTE_MAX
from livecommerce.wire import ProductOut, VariantOut

api = ApiRoutes("catalog")
#: The multipart field that carries the photo.
PHOTO_FIELD = "image"


class VariantIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    label: str = Field(min_length=1, max_length=60, description="the option's value, e.g. M")
    stock: int = Field(0, ge=0, le=1_000_000, strict=True)
    price: int | None = Field(None, gt=0, le=100_000_000, description="minor units", strict=True)
    sku: str | None = Field(None, max_length=64, description="unique among your variants")


class ProductIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=120)
    description: str = Field("", max_length=4000)
    price: int = Field(gt=0, le=100_000_000, description="minor units (cents)", strict=True)
    currency: str | None = Field(None, pattern=r"^[A-Z]{3}$")
    #: a path on this site: "//host/x.png" is another site to a browser (protocol-relative)
    image_url: str = Field("", max_length=500, pattern=r"^(/([^/\s\\][^\s\\]*)?)?$")
    option_name: str = Field("", max_length=40, description="what variants differ in: Size")
    variants: list[VariantIn] = Field(default_factory=list, max_length=50)
    requires_shipping: bool = Field(
        True, description="shipped goods need an address at checkout (false: digital, pick-up)"
    )


class ProductListQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    seller_id: str | None = Field(None, max_length=100)
    include_archived: bool = Field(False, description="archived products too (catalog pages)")


class ProductList(BaseModel):
    products: list[ProductOut]


class ImportQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    dry_run: bool = Field(False, description="check every row and report; write nothing")


class ImportErrorOut(BaseModel):
    line: int = Field(description="line in the file; the header is line 1")
    column: str | None
    message: str


class ImportCounts(BaseModel):
    create: int
    update: int


class ImportOut(BaseModel):
    dry_run: bool
    rows: int
    products: ImportCounts
    variants: ImportCounts
    errors: list[ImportErrorOut]


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
    product = await request.app[keys.SERVICES].catalog_admin.create(
        principal,
        name=body.name,
        description=body.description,
        price=Money(body.price, currency),
        image_url=body.image_url,
        requires_shipping=body.requires_shipping,
        option_name=body.option_name,
        variants=[VariantSpec(v.label, v.stock, v.price, v.sku) for v in body.variants],
    )
    return ProductOut.of(product)


@api.get(
    "/api/v1/products",
    query=ProductListQuery,
    response=ProductList,
    auth=False,
    summary="Products on sale, optionally one seller's (include_archived for the whole catalog)",
)
async def list_products(request: web.Request, query: ProductListQuery) -> ProductList:
    services = request.app[keys.SERVICES]
    products = await services.catalog.list(query.seller_id, include_archived=query.include_archived)
    ratings = await services.reviews.summaries([p.id for p in products])
    return ProductList(products=[ProductOut.of(p, ratings[p.id]) for p in products])


@api.get(
    "/api/v1/products/export.csv",
    summary="Your catalog as CSV, one row per variant (columns in docs/SHOP.md)",
)
async def export_products(request: web.Request) -> web.Response:
    principal = await require_principal(request)
    body = await request.app[keys.SERVICES].catalog_admin.export_csv(principal)
    return web.Response(
        text=body,
        content_type="text/csv",
        charset="utf-8",
        headers={"Content-Disposition": 'attachment; filename="products.csv"'},
    )


@api.post(
    "/api/v1/products/import",
    query=ImportQuery,
    response=ImportOut,
    summary="Create and update products from a CSV body (text/csv), matched by SKU; "
    "dry_run=1 reports row errors without writing; a file with errors writes nothing (422)",
)
async def import_products(request: web.Request, query: ImportQuery) -> ImportOut:
    principal = await require_principal(request)
    if request.content_type not in ("text/csv", "text/plain"):
        raise InvalidInput("send the file as the body with Content-Type: text/csv")
    raw = await read_body(request, request.app[keys.SETTINGS].server.max_body_bytes, "CSV file")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInput("the file must be UTF-8 text (save as CSV UTF-8)") from exc
    report = await request.app[keys.SERVICES].catalog_admin.import_csv(
        principal, text, request.app[keys.SETTINGS].shop.currency, dry_run=query.dry_run
    )
    return ImportOut.model_validate(report.to_wire())


@api.get(
    "/api/v1/products/{product_id}",
    response=ProductOut,
    auth=False,
    summary="One product, with its verified buyers' ratings summary",
)
async def get_product(request: web.Request) -> ProductOut:
    services = request.app[keys.SERVICES]
    product = await services.catalog.get(request.match_info["product_id"])
    return ProductOut.of(product, await services.reviews.summary(product.id))


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


@api.post(
    "/api/v1/products/{product_id}/variants",
    body=VariantIn,
    response=ProductOut,
    status=201,
    summary="Add a variant (its seller)",
)
async def add_variant(request: web.Request, body: VariantIn) -> ProductOut:
    principal = await require_principal(request)
    product = await request.app[keys.SERVICES].catalog_admin.add_variant(
        principal,
        request.match_info["product_id"],
        label=body.label,
        stock=body.stock,
        price_minor=body.price,
        sku=body.sku,
    )
    return ProductOut.of(product)


@api.post(
    "/api/v1/products/{product_id}/images",
    response=ProductOut,
    summary="Upload the product photo as multipart/form-data (field `image`: PNG, JPEG, WebP "
    "or GIF); stored re-encoded at 160, 480 and 1080 px wide without metadata",
)
async def upload_photo(request: web.Request) -> ProductOut:
    principal = await require_principal(request)
    limit = request.app[keys.SETTINGS].shop.image_max_bytes
    if not request.content_type.startswith("multipart/"):
        raise InvalidInput(f"send the photo as multipart/form-data in a field named {PHOTO_FIELD}")
    if request.content_length is not None and request.content_length > limit + 64 * 1024:
        raise PayloadTooLarge(f"images are limited to {limit} bytes")
    content_type, data = await _photo_part(request, limit)
    product = await request.app[keys.SERVICES].catalog_admin.set_image(
        principal, request.match_info["product_id"], content_type, data
    )
    return ProductOut.of(product)


#: What aiohttp's multipart reader raises for a body it cannot parse: no boundary or no opening
#: one (ValueError), broken part headers (BadHttpMessage), a ``_charset_`` part longer than a
#: charset name (RuntimeError) and, where warnings are errors, its warnings about a malformed
#: Content-Disposition (elsewhere it warns and reads the part as nameless).
_UNREADABLE = (
    ValueError,
    RuntimeError,
    BadHttpMessage,
    BadContentDispositionHeader,
    BadContentDispositionParam,
)


async def _photo_part(request: web.Request, limit: int) -> tuple[str, bytes]:
    """The photo field's declared type and bytes; a body that is not readable multipart, or has
    no such field, is invalid input (it was a 500)."""
    try:
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            if isinstance(part, BodyPartReader) and part.name == PHOTO_FIELD:
                return part.headers.get("Content-Type", ""), await _read_part(part, limit)
    except _UNREADABLE as exc:
        raise InvalidInput("the multipart/form-data body could not be read") from exc
    raise InvalidInput(f"no file in a field named {PHOTO_FIELD}")


async def _read_part(part: BodyPartReader, limit: int) -> bytes:
    """The part's bytes, stopping at the limit (the service then refuses the size)."""
    chunks: list[bytes] = []
    size = 0
    while chunk := await part.read_chunk():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"images are limited to {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)
