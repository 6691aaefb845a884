"""Wire models of the records clients see, shared by the REST routes and the Socket.IO hub so
a show or a product has one shape everywhere (timestamps are ISO 8601 in UTC on the wire)."""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import BaseModel

from livecommerce.services.ports import Product, Show, User


def iso(ms: int | None) -> datetime | None:
    return datetime.fromtimestamp(ms / 1000, tz=UTC) if ms is not None else None


def to_ms(value: datetime | None) -> int | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return int(value.timestamp() * 1000)


class UserOut(BaseModel):
    id: str
    name: str
    role: str
    is_guest: bool

    @classmethod
    def of(cls, user: User) -> UserOut:
        return cls(id=user.id, name=user.name, role=user.role.value, is_guest=user.is_guest)


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


class VariantOut(BaseModel):
    id: str
    label: str
    stock: int
    price: MoneyOut


class ProductOut(BaseModel):
    id: str
    seller_id: str
    name: str
    description: str
    price: MoneyOut
    image_url: str
    variants: list[VariantOut]

    @classmethod
    def of(cls, product: Product) -> ProductOut:
        return cls(
            id=product.id,
            seller_id=product.seller_id,
            name=product.name,
            description=product.description,
            price=MoneyOut(amount=product.price_minor, currency=product.currency),
            image_url=product.image_url,
            variants=[
                VariantOut(
                    id=v.id,
                    label=v.label,
                    stock=v.stock,
                    price=MoneyOut(
                        amount=v.price_minor if v.price_minor is not None else product.price_minor,
                        currency=product.currency,
                    ),
                )
                for v in product.variants
            ],
        )
