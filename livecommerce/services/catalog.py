"""Catalog use cases: sellers add products with variants; everyone can browse.

A new variant's stock is recorded (by the store) as its `initial` inventory movement, in the same
transaction as the product. Products are handed out with each variant's `stock` as buyers can get
it now (on hand minus what unpaid checkouts hold, from `StockService`)."""

from __future__ import annotations

from dataclasses import dataclass

from livecommerce.domain.access import Action, Principal, authorize
from livecommerce.domain.chat import normalize_text
from livecommerce.domain.money import Money
from livecommerce.errors import (
    InvalidInput,
    NotFound,
    TextEmpty,
    TextInvalidCharacters,
    TextTooLong,
)
from livecommerce.ids import new_id
from livecommerce.services.ports import CatalogStore, Clock, Product, Variant
from livecommerce.services.stock import StockService

NAME_MAX = 120


def product_name(raw: str) -> str:
    """A product's name as stored: NFC, trimmed, 1..NAME_MAX characters and no control or bidi
    characters (a NUL in a name reached CSV exports, e-mails and logs)."""
    try:
        return normalize_text(raw, max_length=NAME_MAX)
    except TextInvalidCharacters as exc:
        raise InvalidInput("the name contains a control character") from exc
    except (TextEmpty, TextTooLong) as exc:
        raise InvalidInput(f"name must be 1..{NAME_MAX} characters") from exc


PRICE_MAX = 100_000_000  # one million in a 2-decimal currency: a sane cap for live shopping
STOCK_MAX = 1_000_000


@dataclass(frozen=True, slots=True)
class VariantSpec:
    label: str
    stock: int
    price_minor: int | None = None
    sku: str | None = None


class CatalogService:
    def __init__(self, store: CatalogStore, clock: Clock, stock: StockService) -> None:
        self._store = store
        self._clock = clock
        self._stock = stock

    async def create_product(
        self,
        principal: Principal | None,
        *,
        name: str,
        price: Money,
        description: str = "",
        image_url: str = "",
        variants: list[VariantSpec] | None = None,
        requires_shipping: bool = True,
        option_name: str = "",
    ) -> Product:
        seller = authorize(principal, Action.CREATE_PRODUCT)
        name = product_name(name)
        if not 0 < price.minor <= PRICE_MAX:
            raise InvalidInput("price must be positive")
        specs = variants or [VariantSpec("default", 0)]
        labels = [s.label.strip() for s in specs]
        if len(set(labels)) != len(labels) or not all(labels):
            raise InvalidInput("variant labels must be unique and non-empty")
        skus = [s.sku for s in specs if s.sku is not None]
        if len(set(skus)) != len(skus):
            raise InvalidInput("variant SKUs must be unique")
        for spec in specs:
            if not 0 <= spec.stock <= STOCK_MAX:
                raise InvalidInput(f"stock must be 0..{STOCK_MAX}")
            if spec.price_minor is not None and not 0 < spec.price_minor <= PRICE_MAX:
                raise InvalidInput("variant price must be positive")
        product = Product(
            id=new_id("prd"),
            seller_id=seller.user_id,
            name=name,
            description=description,
            price_minor=price.minor,
            currency=price.currency,
            image_url=image_url,
            created_at=self._clock.now_ms(),
            variants=tuple(
                Variant(new_id("var"), s.label.strip(), s.stock, s.price_minor, sku=s.sku)
                for s in specs
            ),
            requires_shipping=requires_shipping,
            option_name=option_name.strip(),
        )
        await self._store.add_product(product)
        return product

    async def get(self, product_id: str) -> Product:
        product = await self._store.get_product(product_id)
        if product is None:
            raise NotFound("no such product")
        return await self._stock.with_availability(product)

    async def list(
        self, seller_id: str | None = None, *, include_archived: bool = False
    ) -> list[Product]:
        """Products on sale; archived ones only when asked (the seller's catalog page)."""
        products = await self._store.list_products(seller_id)
        return [
            await self._stock.with_availability(p)
            for p in products
            if include_archived or not p.archived
        ]
