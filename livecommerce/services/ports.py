"""The small interfaces services need; adapters implement them and ``app.py`` picks which.

Records crossing these ports are frozen dataclasses defined here, so stores never leak rows.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from livecommerce.domain.access import Role
from livecommerce.domain.ratelimit import Rate
from livecommerce.domain.shows import ShowStatus

BusHandler = Callable[[dict[str, Any]], Awaitable[None]]


class Clock(Protocol):
    def now(self) -> float:
        """Seconds since the epoch; injected so tests and the domain never read the wall clock."""


class Bus(Protocol):
    """Fan-out of application events to every node (in-process or Redis pub/sub)."""

    async def publish(self, topic: str, payload: dict[str, Any]) -> None: ...

    def subscribe(self, topic: str, handler: BusHandler) -> None: ...


class RateLimiter(Protocol):
    async def allow(self, key: str, rates: Sequence[Rate], cost: int = 1) -> bool:
        """True if every rate admits one more event for ``key`` (and then counts it)."""


@dataclass(frozen=True, slots=True)
class User:
    id: str
    name: str
    email: str | None
    role: Role
    is_guest: bool
    created_at: int
    password_hash: str | None = None


@dataclass(frozen=True, slots=True)
class Show:
    id: str
    seller_id: str
    title: str
    description: str
    status: ShowStatus
    scheduled_at: int | None
    started_at: int | None
    ended_at: int | None
    created_at: int
    host_ids: frozenset[str] = field(default_factory=frozenset)


@dataclass(frozen=True, slots=True)
class Variant:
    id: str
    label: str
    stock: int
    price_minor: int | None


@dataclass(frozen=True, slots=True)
class Product:
    id: str
    seller_id: str
    name: str
    description: str
    price_minor: int
    currency: str
    image_url: str
    created_at: int
    variants: tuple[Variant, ...] = ()


class AccountStore(Protocol):
    async def add_user(self, user: User) -> None:
        """Insert; raises Conflict if the e-mail is taken."""

    async def user_by_id(self, user_id: str) -> User | None: ...

    async def user_by_email(self, email: str) -> User | None: ...

    async def add_token(
        self, token_hash: str, user_id: str, kind: str, created_at: int, expires_at: int
    ) -> None: ...

    async def user_by_token(self, token_hash: str, now_ms: int) -> User | None:
        """The owner of an unexpired token."""

    async def delete_token(self, token_hash: str) -> None: ...


class ShowStore(Protocol):
    async def add_show(self, show: Show, stream_key_hash: str) -> None: ...

    async def get_show(self, show_id: str) -> Show | None: ...

    async def list_shows(
        self, statuses: Sequence[ShowStatus] | None = None, seller_id: str | None = None
    ) -> list[Show]: ...

    async def update_show(self, show_id: str, **fields: Any) -> None: ...

    async def stream_key_hash(self, show_id: str) -> str | None: ...

    async def set_stream_key_hash(self, show_id: str, key_hash: str, rotated_at: int) -> None: ...

    async def add_host(self, show_id: str, user_id: str, granted_at: int) -> None: ...

    async def remove_host(self, show_id: str, user_id: str) -> None: ...


class CatalogStore(Protocol):
    async def add_product(self, product: Product) -> None: ...

    async def get_product(self, product_id: str) -> Product | None: ...

    async def list_products(self, seller_id: str | None = None) -> list[Product]: ...
