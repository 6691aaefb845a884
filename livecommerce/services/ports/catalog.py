"""Ports for accounts, shows and the catalog, with the records that cross them (frozen
dataclasses, so stores never leak rows)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from livecommerce.domain.access import Role
from livecommerce.domain.notifications import OutboxEvent
from livecommerce.domain.shows import ShowStatus, ShowTimes


@dataclass(frozen=True, slots=True)
class User:
    id: str
    name: str
    email: str | None
    role: Role
    is_guest: bool
    created_at: int
    password_hash: str | None = None
    #: A guest's contact e-mail (not a login, not unique); None for full accounts.
    guest_email: str | None = None
    #: The storefront address ``/s/{handle}`` (lower-case, unique); sellers always have one.
    handle: str | None = None

    @property
    def contact_email(self) -> str | None:
        """Where the shop can reach this user: the login e-mail, or a guest's contact one."""
        return self.email or self.guest_email


@dataclass(frozen=True, slots=True)
class SessionRecord:
    """One sign-in of a user (a page session, an API token or a guest token) as stored: the
    token itself never is, only its keyed digest, which stays inside the account service."""

    id: str
    token_digest: str
    kind: str
    created_at: int
    expires_at: int
    last_seen_at: int | None


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
    paused_at: int | None = None
    live_ms: int = 0
    live_since: int | None = None

    @property
    def times(self) -> ShowTimes:
        """The lifecycle fields, for the domain's transition and clock rules."""
        return ShowTimes(
            self.status,
            self.started_at,
            self.ended_at,
            self.paused_at,
            self.live_ms,
            self.live_since,
        )


@dataclass(frozen=True, slots=True)
class Variant:
    """A sellable version of a product. From a store, `stock` is on hand (the sum of its
    inventory movements); the catalog service hands out `stock` as what buyers can get now
    (on hand minus `held` by unpaid checkouts)."""

    id: str
    label: str
    stock: int
    price_minor: int | None
    held: int = 0
    #: The seller's stock-keeping unit (unique among the seller's variants; CSV import key).
    sku: str | None = None


@dataclass(frozen=True, slots=True)
class ImageSize:
    """One stored size of a product photo, as pages use it in ``srcset``."""

    width: int
    height: int
    url: str


@dataclass(frozen=True, slots=True)
class StoredImage:
    """A file the ``ProductImages`` port wrote (its public name and its pixel size)."""

    name: str
    width: int
    height: int


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
    #: Shipped goods need an address at checkout; digital goods and pick-ups do not.
    requires_shipping: bool = True
    #: Kept for its orders and replays, never offered again (until unarchived).
    archived: bool = False
    #: What the variants differ in ("Size"); each variant's label is its value ("M").
    option_name: str = ""
    #: The photo's stored sizes, smallest first; ``image_url`` is one of them (or older).
    images: tuple[ImageSize, ...] = ()


class AccountStore(Protocol):
    async def add_user(self, user: User) -> None:
        """Insert; raises Conflict if the e-mail is taken. A seller without a handle gets the
        first free one of ``domain.audience.handle_candidates``."""

    async def user_by_id(self, user_id: str) -> User | None: ...

    async def user_by_email(self, email: str) -> User | None: ...

    async def user_by_handle(self, handle: str) -> User | None:
        """The account with this (normalized, lower-case) handle."""

    async def set_handle(self, user_id: str, handle: str, at_ms: int) -> None:
        """Change the user's handle; HandleTaken when another account has it. The handle it
        replaces is kept as a former handle of the user."""

    async def user_by_former_handle(self, handle: str) -> User | None:
        """The account that last retired this handle (None if none did)."""

    async def fill_handles(self) -> int:
        """Give every seller without a handle one (accounts made before handles existed);
        how many were filled."""

    async def add_token(
        self,
        session_id: str,
        token_digest: str,
        user_id: str,
        kind: str,
        created_at: int,
        expires_at: int,
    ) -> None: ...

    async def user_by_token(self, token_digest: str, now_ms: int) -> User | None:
        """The owner of an unexpired token; notes the token's use (at most once a minute)."""

    async def delete_token(self, token_digest: str) -> None: ...

    async def sessions_of(self, user_id: str, now_ms: int) -> list[SessionRecord]:
        """The user's unexpired tokens, newest first."""

    async def delete_session(self, user_id: str, session_id: str) -> bool:
        """End one of this user's sessions; False when the id is unknown or another user's."""

    async def delete_sessions(self, user_id: str, keep_digest: str | None) -> int:
        """End every session of the user but the one with ``keep_digest``; how many ended."""

    async def upgrade_guest(self, user_id: str, email: str, password_hash: str) -> User | None:
        """Make a guest a full account with this login e-mail and password (same id); None when
        the user is no longer a guest. Raises Conflict if the e-mail is another account's."""


class ShowStore(Protocol):
    async def add_show(self, show: Show, stream_key_hash: str) -> None: ...

    async def get_show(self, show_id: str) -> Show | None: ...

    async def list_shows(
        self, statuses: Sequence[ShowStatus] | None = None, seller_id: str | None = None
    ) -> list[Show]: ...

    async def update_show(
        self,
        show_id: str,
        *,
        if_status: ShowStatus | None = None,
        events: Sequence[OutboxEvent] = (),
        **fields: Any,
    ) -> bool:
        """Set fields; with ``if_status`` only while the show still has that status (a
        compare-and-set, so two nodes moving the lifecycle at once cannot undo each other).
        ``events`` go to the outbox in the same transaction, only when the row changed.
        True when a row changed."""
        ...

    async def stream_key_hash(self, show_id: str) -> str | None: ...

    async def set_stream_key_hash(self, show_id: str, key_hash: str, rotated_at: int) -> None: ...

    async def add_host(self, show_id: str, user_id: str, granted_at: int) -> None: ...

    async def remove_host(self, show_id: str, user_id: str) -> None: ...


class CatalogStore(Protocol):
    async def add_product(self, product: Product) -> None:
        """Insert the product and its variants, each variant's stock as its `initial`
        inventory movement (one transaction: on-hand stock is the sum of movements)."""
        ...

    async def get_product(self, product_id: str) -> Product | None: ...

    async def list_products(self, seller_id: str | None = None) -> list[Product]: ...


class CatalogAdminStore(Protocol):
    """The writes a seller's catalog needs after creation: edit, reprice, rename, delete, archive
    and add variants (stock changes are inventory movements: `StockLedger`)."""

    async def update_product(self, product_id: str, fields: dict[str, Any]) -> None:
        """Set the given columns (names are fixed by the service)."""

    async def update_variant(self, product_id: str, variant_id: str, price_minor: int) -> bool:
        """Set the variant's own price; False when the product has no such variant."""

    async def edit_variant(self, product_id: str, variant_id: str, fields: dict[str, Any]) -> bool:
        """Set a variant's ``label``, ``sku`` and/or own ``price_minor`` (None: the product's);
        False when the product has no such variant. Conflict when the SKU is taken in it."""

    async def add_variant(self, product_id: str, variant: Variant) -> None:
        """Append a variant with no stock (its units come as a movement); raises Conflict when
        its label or SKU is taken in this product."""

    async def offers_of(self, product_id: str) -> int:
        """How many offers ever sold this product (such a product is never deleted)."""

    async def delete_product(self, product_id: str) -> None: ...


class ProductImages(Protocol):
    """Where uploaded product photos live; names are chosen by the service, never a client."""

    async def save_photo(
        self, stem: str, kind: str, data: bytes, widths: tuple[int, ...]
    ) -> tuple[StoredImage, ...]:
        """Decode a checked upload (``kind``: png, jpg, webp or gif) and store it re-encoded
        from its pixels at these widths (never wider than the original), each atomically, as
        ``<stem>-<width>.<ext>``; InvalidInput when the bytes are not a readable picture."""

    def path_of(self, name: str) -> Path | None:
        """The stored file for a name, or None when there is none."""
