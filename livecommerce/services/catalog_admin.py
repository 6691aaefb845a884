"""Catalog administration for sellers: edit and delete their products, adjust variants' stock
(every change an inventory movement, announced to the shows selling the product) and upload
product images.

Images are checked twice before they are stored — the declared type must be one we serve
(PNG, JPEG, WebP, GIF) and the bytes must start with that format's signature — and capped at
`shop.image_max_bytes`. Files get random names chosen here (the ``ProductImages`` port keeps
them under `<data_dir>/uploads/products/`), so a client never chooses a path. A product that
was ever offered in a show cannot be deleted (its orders and replay timeline point at it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from livecommerce.domain.access import Action, Principal, Role, authorize
from livecommerce.domain.inventory import MovementReason, StockMovement
from livecommerce.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    PayloadTooLarge,
    PermissionDenied,
    UnsupportedMedia,
)
from livecommerce.ids import new_secret
from livecommerce.services.catalog import NAME_MAX, PRICE_MAX, STOCK_MAX, CatalogService
from livecommerce.services.orders import ShopEvents
from livecommerce.services.ports import CatalogAdminStore, Product, ProductImages, Variant
from livecommerce.services.stock import StockService

#: Served image types: content type → (file extension, accepted leading bytes).
IMAGE_TYPES: dict[str, tuple[str, tuple[bytes, ...]]] = {
    "image/png": ("png", (b"\x89PNG\r\n\x1a\n",)),
    "image/jpeg": ("jpg", (b"\xff\xd8\xff",)),
    "image/gif": ("gif", (b"GIF87a", b"GIF89a")),
    "image/webp": ("webp", (b"RIFF",)),
}
UPLOAD_PREFIX = "/uploads/products/"


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
    ) -> Product:
        await self._owned(principal, product_id)
        fields: dict[str, Any] = {}
        if name is not None:
            name = name.strip()
            if not 1 <= len(name) <= NAME_MAX:
                raise InvalidInput(f"name must be 1..{NAME_MAX} characters")
            fields["name"] = name
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

    async def delete(self, principal: Principal | None, product_id: str) -> None:
        await self._owned(principal, product_id)
        if await self._admin.offers_of(product_id):
            raise Conflict("this product was offered in a show and is kept for its orders")
        await self._admin.delete_product(product_id)

    async def set_image(
        self, principal: Principal | None, product_id: str, content_type: str, data: bytes
    ) -> Product:
        """Store an uploaded image and point the product at it."""
        await self._owned(principal, product_id)
        ext = check_image(content_type, data, self._max)
        name = f"{product_id}-{new_secret(12)}.{ext}"
        await self._images.save(name, data)
        await self._admin.update_product(product_id, {"image_url": UPLOAD_PREFIX + name})
        return await self._catalog.get(product_id)

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
