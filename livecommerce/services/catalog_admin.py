"""Catalog administration for sellers: create products with SKUs, edit, archive and delete
them, add variants, adjust variants' stock (every change an inventory movement, announced to the
shows selling the product), upload product photos, and import or export the catalog as CSV.

Photos are checked twice before they are decoded — the declared type must be one we accept
(PNG, JPEG, WebP, GIF) and the bytes must start with that format's signature — and capped at
`shop.image_max_bytes`; the ``ProductImages`` port then stores them re-encoded from their pixels
at ``PHOTO_WIDTHS`` (metadata such as EXIF never survives). Files get random names chosen here
(under `<data_dir>/uploads/products/`), so a client never chooses a path. A product that was
ever offered in a show cannot be deleted (its orders and replay timeline point at it): it is
archived instead, which keeps it readable and stops new offers of it.

A SKU is unique among one seller's variants; it is the key of the CSV import
(``domain/catalog_csv.py``), which checks the whole file before writing anything. A new
variant's units and an import's stock levels are inventory movements (`initial`, `import`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from livecommerce.domain.access import Action, Principal, Role, authorize
from livecommerce.domain.catalog_csv import (
    LABEL_MAX,
    OPTION_MAX,
    ImportPlan,
    KnownProduct,
    KnownVariant,
    ProductPlan,
    RowError,
    check_sku,
    export_rows,
    plan_import,
    read_catalog_csv,
)
from livecommerce.domain.inventory import MovementReason, StockMovement
from livecommerce.domain.money import Money
from livecommerce.errors import (
    Conflict,
    InvalidCsv,
    InvalidInput,
    NotFound,
    PayloadTooLarge,
    PermissionDenied,
    UnsupportedMedia,
)
from livecommerce.ids import new_id, new_secret
from livecommerce.services.catalog import (
    PRICE_MAX,
    STOCK_MAX,
    CatalogService,
    VariantSpec,
    product_name,
)
from livecommerce.services.orders import ShopEvents
from livecommerce.services.ports import (
    CatalogAdminStore,
    ImageSize,
    Product,
    ProductImages,
    Variant,
)
from livecommerce.services.stock import StockService

#: Served image types: content type → (file extension, accepted leading bytes).
IMAGE_TYPES: dict[str, tuple[str, tuple[bytes, ...]]] = {
    "image/png": ("png", (b"\x89PNG\r\n\x1a\n",)),
    "image/jpeg": ("jpg", (b"\xff\xd8\xff",)),
    "image/gif": ("gif", (b"GIF87a", b"GIF89a")),
    "image/webp": ("webp", (b"RIFF",)),
}
UPLOAD_PREFIX = "/uploads/products/"
#: The widths a photo is stored at: list thumbnails, cards, and a full-screen phone.
PHOTO_WIDTHS = (160, 480, 1080)
#: The size ``image_url`` points at (cards and order lists); the others are in ``images``.
CARD_WIDTH = 480


def check_image(content_type: str, data: bytes, max_bytes: int) -> str:
    """The file extension for a valid image, or the error that explains why not."""
    if len(data) > max_bytes:
        raise PayloadTooLarge(f"images are limited to {max_bytes} bytes")
    kind = IMAGE_TYPES.get(content_type.split(";")[0].strip().lower())
    if kind is None:
        raise UnsupportedMedia("images must be PNG, JPEG, WebP or GIF")
    ext, signatures = kind
    if not data.startswith(signatures) or (ext == "webp" and data[8:12] != b"WEBP"):
        raise InvalidInput("the file is not the image type it claims to be")
    return ext


def _label(raw: str) -> str:
    label = raw.strip()
    if not 1 <= len(label) <= LABEL_MAX:
        raise InvalidInput(f"a variant label has 1 to {LABEL_MAX} characters")
    return label


def _option(raw: str) -> str:
    option = raw.strip()
    if len(option) > OPTION_MAX:
        raise InvalidInput(f"an option name has at most {OPTION_MAX} characters")
    return option


def card_image(images: tuple[ImageSize, ...]) -> ImageSize:
    """The size pages show by default: the widest up to ``CARD_WIDTH`` (else the smallest)."""
    fitting = [i for i in images if i.width <= CARD_WIDTH]
    return fitting[-1] if fitting else images[0]


@dataclass(frozen=True, slots=True)
class ImportReport:
    """What an import did (or, in a dry run, would do), and the row errors that stopped it."""

    dry_run: bool
    rows: int
    plan: ImportPlan
    errors: tuple[RowError, ...]

    def to_wire(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "rows": self.rows,
            **self.plan.counts(),
            "errors": [e.to_wire() for e in self.errors],
        }


class CatalogAdminService:
    def __init__(
        self,
        catalog: CatalogService,
        admin: CatalogAdminStore,
        images: ProductImages,
        max_bytes: int,
        *,
        stock: StockService,
        events: ShopEvents,
    ) -> None:
        self._catalog = catalog
        self._admin = admin
        self._images = images
        self._max = max_bytes
        self._stock = stock
        self._events = events

    async def _owned(self, principal: Principal | None, product_id: str) -> Product:
        seller = authorize(principal, Action.CREATE_PRODUCT)
        product = await self._catalog.get(product_id)
        if product.seller_id != seller.user_id and seller.role is not Role.ADMIN:
            raise PermissionDenied("not your product")
        return product

    async def update(
        self,
        principal: Principal | None,
        product_id: str,
        *,
        name: str | None = None,
        description: str | None = None,
        price_minor: int | None = None,
        requires_shipping: bool | None = None,
        archived: bool | None = None,
        option_name: str | None = None,
    ) -> Product:
        await self._owned(principal, product_id)
        fields: dict[str, Any] = {}
        if archived is not None:
            fields["archived"] = archived
        if option_name is not None:
            fields["option_name"] = _option(option_name)
        if name is not None:
            fields["name"] = product_name(name)
        if description is not None:
            fields["description"] = description
        if price_minor is not None:
            if not 0 < price_minor <= PRICE_MAX:
                raise InvalidInput("price must be positive")
            fields["price_minor"] = price_minor
        if requires_shipping is not None:
            fields["requires_shipping"] = requires_shipping
        await self._admin.update_product(product_id, fields)
        return await self._catalog.get(product_id)

    async def update_variant(
        self,
        principal: Principal | None,
        product_id: str,
        variant_id: str,
        *,
        stock: int | None = None,
        price_minor: int | None = None,
    ) -> Product:
        """Set one variant's stock or price. Stock set to N is an adjustment movement of
        N minus what buyers can get now (never a blind overwrite), so units sold or held
        meanwhile are not lost from the count."""
        seller = authorize(principal, Action.CREATE_PRODUCT)
        product = await self._owned(seller, product_id)
        variant = _variant(product, variant_id)
        if stock is not None and not 0 <= stock <= STOCK_MAX:
            raise InvalidInput(f"stock must be 0..{STOCK_MAX}")
        if price_minor is not None and not 0 < price_minor <= PRICE_MAX:
            raise InvalidInput("variant price must be positive")
        if stock is not None and stock != variant.stock:
            await self._stock.adjust(
                seller.user_id,
                product_id,
                variant_id,
                stock - variant.stock,
                note=f"stock set to {stock}",
            )
            await self._events.product_stock_changed(product_id)
        if price_minor is not None and not await self._admin.update_variant(
            product_id, variant_id, price_minor
        ):
            raise NotFound("no such variant")
        return await self._catalog.get(product_id)

    async def adjust_stock(
        self,
        principal: Principal | None,
        product_id: str,
        variant_id: str,
        delta: int,
        note: str = "",
        reason: MovementReason = MovementReason.ADJUSTMENT,
    ) -> tuple[StockMovement, Product]:
        """Record a manual stock change of one variant (its seller or an admin): the movement
        and the product afterwards. Units held by checkouts cannot be taken away."""
        seller = authorize(principal, Action.CREATE_PRODUCT)
        product = await self._owned(seller, product_id)
        movement, _level = await self._stock.adjust(
            seller.user_id,
            product_id,
            _variant(product, variant_id).id,
            delta,
            note=note,
            reason=reason,
        )
        await self._events.product_stock_changed(product_id)
        return movement, await self._catalog.get(product_id)

    async def movements(
        self, principal: Principal | None, product_id: str, variant_id: str, limit: int = 100
    ) -> list[StockMovement]:
        """A variant's inventory movements, newest first (its seller or an admin)."""
        product = await self._owned(principal, product_id)
        return await self._stock.movements(_variant(product, variant_id).id, limit)

    async def create(
        self,
        principal: Principal | None,
        *,
        name: str,
        price: Money,
        description: str = "",
        image_url: str = "",
        option_name: str = "",
        variants: list[VariantSpec] | None = None,
        requires_shipping: bool = True,
    ) -> Product:
        """A new product; its SKUs must be new among the seller's variants."""
        seller = authorize(principal, Action.CREATE_PRODUCT)
        specs = [
            VariantSpec(
                _label(v.label), v.stock, v.price_minor, check_sku(v.sku) if v.sku else None
            )
            for v in variants or []
        ]
        await self._check_new_skus(seller.user_id, [v.sku for v in specs if v.sku])
        return await self._catalog.create_product(
            seller,
            name=name,
            price=price,
            description=description,
            image_url=image_url,
            variants=specs,
            option_name=_option(option_name),
            requires_shipping=requires_shipping,
        )

    async def add_variant(
        self,
        principal: Principal | None,
        product_id: str,
        *,
        label: str,
        stock: int = 0,
        price_minor: int | None = None,
        sku: str | None = None,
    ) -> Product:
        """Another option value for a product (a new size, a new colour); its units are its
        `initial` movement."""
        seller = authorize(principal, Action.CREATE_PRODUCT)
        product = await self._owned(seller, product_id)
        if not 0 <= stock <= STOCK_MAX:
            raise InvalidInput(f"stock must be 0..{STOCK_MAX}")
        if price_minor is not None and not 0 < price_minor <= PRICE_MAX:
            raise InvalidInput("variant price must be positive")
        sku = check_sku(sku) if sku else None
        if sku:
            await self._check_new_skus(product.seller_id, [sku])
        variant = Variant(new_id("var"), _label(label), stock, price_minor, sku=sku)
        await self._add_variant(seller.user_id, product_id, variant, MovementReason.INITIAL)
        return await self._catalog.get(product_id)

    async def _add_variant(
        self, actor_id: str, product_id: str, variant: Variant, reason: MovementReason
    ) -> None:
        """Insert the variant, then its units as a movement (a crash in between leaves a
        variant with no stock, never stock without a movement)."""
        await self._admin.add_variant(product_id, variant)
        await self._move_stock(actor_id, product_id, variant.id, variant.stock, reason)

    async def _move_stock(
        self, actor_id: str, product_id: str, variant_id: str, delta: int, reason: MovementReason
    ) -> None:
        if delta:
            note = "CSV import" if reason is MovementReason.IMPORT else ""
            await self._stock.adjust(
                actor_id, product_id, variant_id, delta, note=note, reason=reason
            )
            await self._events.product_stock_changed(product_id)

    async def edit_variant(
        self,
        principal: Principal | None,
        product_id: str,
        variant_id: str,
        *,
        label: str | None = None,
        sku: str | None = None,
    ) -> Product:
        """Rename a variant or give it a SKU (an empty SKU removes it)."""
        product = await self._owned(principal, product_id)
        fields: dict[str, Any] = {}
        if label is not None:
            fields["label"] = _label(label)
            if any(v.label == fields["label"] and v.id != variant_id for v in product.variants):
                raise Conflict("this product already has a variant with this label")
        if sku is not None:
            fields["sku"] = check_sku(sku) if sku.strip() else None
            if fields["sku"]:
                await self._check_new_skus(product.seller_id, [fields["sku"]], variant_id)
        if not await self._admin.edit_variant(product_id, variant_id, fields):
            raise NotFound("no such variant")
        return await self._catalog.get(product_id)

    async def _check_new_skus(
        self, seller_id: str, skus: list[str], except_variant: str | None = None
    ) -> None:
        if len(set(skus)) != len(skus):
            raise InvalidInput("variant SKUs must be unique")
        taken = {
            v.sku
            for p in await self._catalog.list(seller_id, include_archived=True)
            for v in p.variants
            if v.sku and v.id != except_variant
        }
        clash = sorted(taken.intersection(skus))
        if clash:
            raise Conflict(f"you already have a variant with the SKU {clash[0]!r}")

    async def delete(self, principal: Principal | None, product_id: str) -> None:
        await self._owned(principal, product_id)
        if await self._admin.offers_of(product_id):
            raise Conflict("this product was offered in a show and is kept for its orders")
        await self._admin.delete_product(product_id)

    async def set_image(
        self, principal: Principal | None, product_id: str, content_type: str, data: bytes
    ) -> Product:
        """Store an uploaded photo at ``PHOTO_WIDTHS`` and point the product at it."""
        await self._owned(principal, product_id)
        kind = check_image(content_type, data, self._max)
        stored = await self._images.save_photo(
            f"{product_id}-{new_secret(12)}", kind, data, PHOTO_WIDTHS
        )
        images = tuple(ImageSize(i.width, i.height, UPLOAD_PREFIX + i.name) for i in stored)
        await self._admin.update_product(
            product_id, {"image_url": card_image(images).url, "images": images}
        )
        return await self._catalog.get(product_id)

    # --- CSV ------------------------------------------------------------------------------

    async def export_csv(self, principal: Principal | None) -> str:
        """The seller's catalog, archived products too, one row per variant."""
        seller = authorize(principal, Action.CREATE_PRODUCT)
        products = await self._catalog.list(seller.user_id, include_archived=True)
        return export_rows(
            {
                "id": p.id,
                "name": p.name,
                "description": p.description,
                "option_name": p.option_name,
                "price_minor": p.price_minor,
                "currency": p.currency,
                "requires_shipping": p.requires_shipping,
                "archived": p.archived,
                "variants": [
                    {"sku": v.sku, "label": v.label, "price_minor": v.price_minor, "stock": v.stock}
                    for v in p.variants
                ],
            }
            for p in products
        )

    async def import_csv(
        self, principal: Principal | None, text: str, currency: str, *, dry_run: bool
    ) -> ImportReport:
        """Check the whole file, then (unless ``dry_run``) create and update by SKU. A file
        with any row error writes nothing (InvalidCsv); a dry run reports them instead."""
        seller = authorize(principal, Action.CREATE_PRODUCT)
        rows, errors = read_catalog_csv(text, currency)
        mine = await self._catalog.list(seller.user_id, include_archived=True)
        known = {
            p.id: KnownProduct(p.id, p.currency, {v.label: (v.id, v.sku) for v in p.variants})
            for p in mine
        }
        skus = {v.sku: KnownVariant(p.id, v.id) for p in mine for v in p.variants if v.sku}
        plan, plan_errors = plan_import(rows, known, skus)
        report = ImportReport(
            dry_run, len(rows), plan, tuple(sorted(errors + plan_errors, key=lambda e: e.line))
        )
        if dry_run:
            return report
        if report.errors:
            raise InvalidCsv(
                f"{len(report.errors)} problem{'s' if len(report.errors) > 1 else ''} in the file; "
                "nothing was imported",
                details={"errors": [e.to_wire() for e in report.errors]},
            )
        current = {p.id: p for p in mine}
        for product in plan.products:
            await self._apply(seller, product, current)
        return report

    async def _apply(
        self, seller: Principal, plan: ProductPlan, current: dict[str, Product]
    ) -> None:
        if plan.product_id is None:
            created = await self._catalog.create_product(
                seller,
                name=plan.name,
                price=Money(plan.price_minor, plan.currency),
                description=plan.description or "",
                option_name=plan.option or "",
                requires_shipping=plan.requires_shipping is not False,
                variants=[
                    VariantSpec(v.label, v.stock or 0, v.price_minor, v.sku) for v in plan.variants
                ],
            )
            if plan.archived:
                await self._admin.update_product(created.id, {"archived": True})
            return
        fields: dict[str, Any] = {"name": plan.name, "price_minor": plan.price_minor}
        for key, value in (
            ("description", plan.description),
            ("option_name", plan.option),
            ("requires_shipping", plan.requires_shipping),
            ("archived", plan.archived),
        ):
            if value is not None:
                fields[key] = value
        await self._admin.update_product(plan.product_id, fields)
        stocks = {v.id: v.stock for v in current[plan.product_id].variants}
        for v in plan.variants:
            if v.variant_id is None:
                variant = Variant(new_id("var"), v.label, v.stock or 0, v.price_minor, sku=v.sku)
                await self._add_variant(
                    seller.user_id, plan.product_id, variant, MovementReason.IMPORT
                )
                continue
            changes: dict[str, Any] = {"label": v.label, "price_minor": v.price_minor}
            if v.sku is not None:
                changes["sku"] = v.sku
            await self._admin.edit_variant(plan.product_id, v.variant_id, changes)
            if v.stock is not None:  # a new level: the difference from what buyers can get now
                delta = v.stock - stocks.get(v.variant_id, 0)
                await self._move_stock(
                    seller.user_id, plan.product_id, v.variant_id, delta, MovementReason.IMPORT
                )

    def content_type_of(self, name: str) -> str:
        """The type a stored image is served with (by its extension, which we chose)."""
        ext = name.rsplit(".", 1)[-1]
        return next(
            (t for t, (e, _) in IMAGE_TYPES.items() if e == ext), "application/octet-stream"
        )

    def path_of(self, name: str) -> Path:
        """The stored file for a public name; NotFound for anything that is not one of ours."""
        if "/" in name or "\\" in name or name.startswith(".") or "." not in name:
            raise NotFound("no such image")
        if name.rsplit(".", 1)[1] not in {ext for ext, _ in IMAGE_TYPES.values()}:
            raise NotFound("no such image")
        path = self._images.path_of(name)
        if path is None:
            raise NotFound("no such image")
        return path


def _variant(product: Product, variant_id: str) -> Variant:
    for variant in product.variants:
        if variant.id == variant_id:
            return variant
    raise NotFound("no such variant")
