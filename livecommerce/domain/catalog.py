"""Catalog rules: a seller's products and their variants (size, colour), priced in minor units.

A product's price is the default for fixed-price offers; a variant may override it. Validation
lives here so REST handlers and the demo seeder share one definition of a valid product.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from livecommerce.domain.money import Money
from livecommerce.errors import InvalidInput

_CURRENCY = re.compile(r"^[A-Z]{3}$")
#: Highest price we accept (in minor units): keeps typos from creating absurd orders.
MAX_PRICE_MINOR = 10**9


@dataclass(frozen=True, slots=True)
class Variant:
    """One buyable form of a product; `price` overrides the product's when set."""

    id: str
    name: str
    sku: str
    price: Money | None
    stock: int


@dataclass(frozen=True, slots=True)
class Product:
    """A seller's product; variants may be empty (then the product itself is the one form)."""

    id: str
    seller_id: str
    title: str
    description: str
    price: Money
    variants: tuple[Variant, ...]
    created_at_ms: int

    def variant(self, variant_id: str | None) -> Variant | None:
        """The named variant; None when the product has none and none was asked for."""
        if variant_id is None:
            if self.variants:
                raise InvalidInput("choose a variant")
            return None
        for v in self.variants:
            if v.id == variant_id:
                return v
        raise InvalidInput("unknown variant")


def check_currency(currency: str) -> str:
    """An ISO 4217 code in upper case."""
    if not _CURRENCY.match(currency):
        raise InvalidInput("currency must be a three-letter ISO 4217 code")
    return currency


def check_price(minor: int, currency: str) -> Money:
    """A non-negative whole amount within bounds."""
    if isinstance(minor, bool) or not isinstance(minor, int):
        raise InvalidInput("price must be whole minor units")
    if minor < 0 or minor > MAX_PRICE_MINOR:
        raise InvalidInput("price out of range")
    return Money(minor, check_currency(currency))


def check_stock(stock: int) -> int:
    """Stock is a non-negative whole number."""
    if isinstance(stock, bool) or not isinstance(stock, int) or stock < 0 or stock > 10**7:
        raise InvalidInput("stock out of range")
    return stock
