"""Wire models of the records clients see, shared by the REST routes and the Socket.IO hub so
a show, a product, an order or an address has one shape everywhere (show timestamps are ISO 8601
in UTC on the wire; order timestamps are epoch milliseconds, as they always were)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.config import JsonDict

from livecommerce.domain.countries import COUNTRIES
from livecommerce.domain.shipping import ADDRESS_FIELDS, ShippingAddress
from livecommerce.errors import InvalidInput
from livecommerce.services.ports import Product, Show, User


def iso(ms: int | None) -> datetime | None:
    return datetime.fromtimestamp(ms / 1000, tz=UTC) if ms is not None else None


#: The instants ``iso`` can turn back into a datetime (years 1 to 9999 in UTC).
_MS_RANGE = (
    int(datetime.min.replace(tzinfo=UTC).timestamp() * 1000),
    int(datetime.max.replace(tzinfo=UTC).timestamp() * 1000),
)


def to_ms(value: datetime | None) -> int | None:
    """Epoch milliseconds. ``0001-01-01T00:00+14:00`` is a valid datetime whose UTC instant lies
    in year 0: stored, it made every later read of the record fail, so times outside the years
    1 to 9999 in UTC are refused as input."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    try:
        ms = int(value.timestamp() * 1000)
    except (OverflowError, ValueError):
        ms = _MS_RANGE[1] + 1
    if not _MS_RANGE[0] <= ms <= _MS_RANGE[1]:
        raise InvalidInput("dates must fall between the years 1 and 9999 in UTC")
    return ms


class UserOut(BaseModel):
    """The caller's own account (token responses and `/me`; never someone else's)."""

    id: str
    name: str
    role: str
    is_guest: bool
    email: str | None = Field(
        None, description="the login e-mail, or a guest's contact e-mail (null: none given)"
    )
    handle: str | None = Field(
        None, description="the storefront address /s/{handle} (sellers always have one)"
    )

    @classmethod
    def of(cls, user: User) -> UserOut:
        return cls(
            id=user.id,
            name=user.name,
            role=user.role.value,
            is_guest=user.is_guest,
            email=user.contact_email,
            handle=user.handle,
        )


def _address_field(field: str, **schema: Any) -> JsonDict:
    """What the domain accepts in an address field, for the API document (the model itself
    stays loose so the domain can name every bad field at once)."""
    required, longest = ADDRESS_FIELDS[field]
    return {"maxLength": longest, **({"minLength": 1} if required else {}), **schema}


class ShippingAddressIn(BaseModel):
    """An address as a client sends it; the domain (`domain/shipping.py`) checks the content
    and answers `invalid_input` naming each bad field."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)
    name: str = Field(
        max_length=1000, description="the recipient", json_schema_extra=_address_field("name")
    )
    line1: str = Field(max_length=1000, json_schema_extra=_address_field("line1"))
    line2: str | None = Field(None, max_length=1000, json_schema_extra=_address_field("line2"))
    city: str = Field(max_length=1000, json_schema_extra=_address_field("city"))
    region: str | None = Field(
        None,
        max_length=1000,
        description="state, province or county",
        json_schema_extra=_address_field("region"),
    )
    postal_code: str = Field(
        max_length=1000,
        json_schema_extra=_address_field(
            "postal_code", pattern=r"^[A-Za-z0-9](?:[A-Za-z0-9 -]*[A-Za-z0-9])?$"
        ),
    )
    country: str = Field(
        max_length=1000,
        description="ISO 3166-1 alpha-2 code, like US or DE",
        json_schema_extra=_address_field("country", enum=sorted(COUNTRIES)),
    )


class ShippingAddressOut(BaseModel):
    name: str
    line1: str
    line2: str | None
    city: str
    region: str | None
    postal_code: str
    country: str

    @classmethod
    def of(cls, address: ShippingAddress) -> ShippingAddressOut:
        return cls.model_validate(address.to_wire())


class MeOut(UserOut):
    shipping_address: ShippingAddressOut | None = Field(
        None, description="the saved address checkout uses when none is given"
    )


class ShowOut(BaseModel):
    id: str
    seller_id: str
    title: str
    description: str
    status: str
    scheduled_at: datetime | None
    started_at: datetime | None
    ended_at: datetime | None
    created_at: datetime | None
    host_ids: list[str]
    #: When the current pause began (publisher gone; the show resumes if it returns in time).
    paused_at: datetime | None = None

    @classmethod
    def of(cls, show: Show) -> ShowOut:
        return cls(
            id=show.id,
            seller_id=show.seller_id,
            title=show.title,
            description=show.description,
            status=show.status.value,
            scheduled_at=iso(show.scheduled_at),
            started_at=iso(show.started_at),
            ended_at=iso(show.ended_at),
            created_at=iso(show.created_at),
            host_ids=sorted(show.host_ids),
            paused_at=iso(show.paused_at),
        )


class MoneyOut(BaseModel):
    """Money on the wire: integer minor units and an ISO 4217 currency."""

    amount: int
    currency: str


class ProductRef(BaseModel):
    id: str
    name: str
    image_url: str


class VariantRef(BaseModel):
    id: str
    label: str


class FulfilmentOut(BaseModel):
    carrier: str | None
    tracking_number: str | None
    fulfilled_at: int = Field(description="epoch milliseconds")


class OrderOut(BaseModel):
    """An order on the wire (REST; `order.updated` and the checkout ack carry the same)."""

    id: str
    status: str
    offer_id: str
    show_id: str
    product_id: str
    variant_id: str | None
    quantity: int
    buyer: str = Field(description="the buyer's user id")
    buyer_name: str
    unit_price: MoneyOut
    total: MoneyOut = Field(description="unit_price times quantity, less the discount")
    discount: MoneyOut = Field(description="what a coupon took off (zero without one)")
    coupon_code: str | None = Field(None, description="the coupon used, upper-cased")
    refunded: MoneyOut
    created_at: int = Field(description="epoch milliseconds")
    expires_at: int = Field(description="epoch milliseconds")
    product: ProductRef
    variant: VariantRef | None
    shipping_address: ShippingAddressOut | None = Field(
        description="where it goes, as it was at checkout (null: not shipped)"
    )
    fulfilment: FulfilmentOut | None = Field(description="null until the seller fulfils it")


class VariantOut(BaseModel):
    id: str
    label: str
    stock: int
    price: MoneyOut
    sku: str | None = None


class ImageOut(BaseModel):
    """One stored size of the product photo (for ``srcset``)."""

    width: int
    height: int
    url: str


class ReviewSummaryOut(BaseModel):
    """Verified buyers' ratings of a product (hidden reviews not counted; docs/TRUST.md)."""

    average: float | None = Field(description="to two decimals; null without reviews")
    count: int
    distribution: dict[str, int] = Field(description='reviews per star, "1" to "5"')


class ProductOut(BaseModel):
    id: str
    seller_id: str
    name: str
    description: str
    price: MoneyOut
    image_url: str
    variants: list[VariantOut]
    #: Shipped goods need an address at checkout (`shipping_address_required` without one).
    requires_shipping: bool = True
    #: Archived products keep their orders but cannot be offered.
    archived: bool = False
    #: What the variants differ in ("Size"); a variant's label is its value.
    option_name: str = ""
    images: list[ImageOut] = []
    #: The ratings summary (GET answers; null where a write answers with the product).
    reviews: ReviewSummaryOut | None = None

    @classmethod
    def of(cls, product: Product, reviews: dict[str, Any] | None = None) -> ProductOut:
        return cls(
            reviews=ReviewSummaryOut.model_validate(reviews) if reviews is not None else None,
            id=product.id,
            seller_id=product.seller_id,
            name=product.name,
            description=product.description,
            price=MoneyOut(amount=product.price_minor, currency=product.currency),
            image_url=product.image_url,
            archived=product.archived,
            option_name=product.option_name,
            images=[ImageOut(width=i.width, height=i.height, url=i.url) for i in product.images],
            variants=[
                VariantOut(
                    id=v.id,
                    label=v.label,
                    stock=v.stock,
                    price=MoneyOut(
                        amount=v.price_minor if v.price_minor is not None else product.price_minor,
                        currency=product.currency,
                    ),
                    sku=v.sku,
                )
                for v in product.variants
            ],
            requires_shipping=product.requires_shipping,
        )
