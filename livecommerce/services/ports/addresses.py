"""The port for buyers' saved shipping addresses (one per user, the buy sheet's default).
Orders keep their own copy of the address they were bought with (see `OrderStore`)."""

from __future__ import annotations

from typing import Protocol

from livecommerce.domain.shipping import ShippingAddress


class AddressStore(Protocol):
    async def address_of(self, user_id: str) -> ShippingAddress | None:
        """The user's saved address, or None."""
        ...

    async def save_address(self, user_id: str, address: ShippingAddress, at_ms: int) -> None:
        """Save (or replace) the user's address."""
        ...

    async def add_address(self, user_id: str, address: ShippingAddress, at_ms: int) -> bool:
        """Save the address only if the user has none yet; True when this call saved it."""
        ...
