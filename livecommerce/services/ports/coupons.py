"""Ports for coupons and voucher drops: the live counters that decide a stampede
(`Redemptions`, `DropClaims`: in-process on one node, one Lua script each in Redis across
nodes) and the durable record (`CouponStore`, SQL): coupons, who redeemed which for which order,
drops and their claims.

The counters are atomic per coupon and per drop and idempotent per order and per claimer, so a
retried checkout or claim never takes a second unit and a given-back redemption is given back
once. SQL keeps what the counters decided.
"""

from __future__ import annotations

from collections.abc import Mapping, Set
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from livecommerce.domain.coupons import Coupon


class Redeemed(StrEnum):
    """What a redemption attempt did."""

    TAKEN = "taken"  # this order now holds one of the coupon's redemptions
    HELD = "held"  # this order held one already (a retry): nothing changed
    EXHAUSTED = "exhausted"  # every redemption is held or used
    BUYER_LIMIT = "buyer_limit"  # the buyer holds or used as many as one buyer may
    RETURNED = "returned"  # this order gave its redemption back: it may not take one again
    UNSEEDED = "unseeded"  # the store has not loaded this coupon since it started: seed it


class Redemptions(Protocol):
    async def redeem(
        self,
        coupon_id: str,
        order_id: str,
        buyer_id: str,
        max_redemptions: int | None,
        per_buyer: int | None,
    ) -> Redeemed:
        """Take one redemption for `order_id` if the totals allow it, atomically."""
        ...

    async def give_back(self, coupon_id: str, order_id: str, *, final: bool = True) -> bool | None:
        """Return the order's redemption; True only for the call that returned it, None when
        the store has not loaded the coupon (seed it first). `final` (the order let go) also
        bars the order from taking one again; a checkout that gives back what it could not use
        (its stock hold failed) is not final."""
        ...

    async def seed(self, coupon_id: str, held: Mapping[str, str], returned: Set[str]) -> None:
        """Load the coupon's durable record (`held`: order id → buyer id of the redemptions held
        or used; `returned`: orders that gave theirs back) into a store that has not loaded it:
        an in-process store after a restart, a Redis that lost its data. Once: a store that has
        it keeps what it has, and an order it already counts is not counted twice."""
        ...

    async def used(self, coupon_id: str) -> int:
        """Redemptions held or used now."""
        ...


class Claimed(StrEnum):
    """What a claim on a drop did."""

    TAKEN = "taken"  # the claimer got the code they offered
    HELD = "held"  # the claimer had claimed before: their first code
    EXHAUSTED = "exhausted"  # every claim is taken
    ENDED = "ended"  # the drop ended (or the store does not know it)


@dataclass(frozen=True, slots=True)
class Claim:
    outcome: Claimed
    code: str = ""
    left: int = 0


class DropClaims(Protocol):
    async def open(self, drop_id: str, claims: int, keep_seconds: int) -> None:
        """Make `claims` claims available (once; a second open changes nothing)."""
        ...

    async def claim(self, drop_id: str, user_id: str, code: str) -> Claim:
        """Give `user_id` a claim with `code`, or their earlier claim's code, atomically."""
        ...

    async def end(self, drop_id: str) -> bool:
        """Close the drop to new claims; True only for the first call (across nodes)."""
        ...


@dataclass(frozen=True, slots=True)
class Drop:
    """A voucher drop: every claimer's coupon copies `template` (single use)."""

    id: str
    show_id: str
    seller_id: str
    template: Coupon
    claims: int
    ends_at_ms: int
    created_at_ms: int
    ended_at_ms: int | None = None


class CouponStore(Protocol):
    async def add_coupon(self, coupon: Coupon) -> bool:
        """False when the seller has a coupon with this code (or the id exists)."""
        ...

    async def coupon(self, coupon_id: str) -> Coupon | None: ...

    async def coupon_by_code(self, seller_id: str, code: str) -> Coupon | None: ...

    async def list_coupons(self, seller_id: str) -> list[tuple[Coupon, int]]:
        """The seller's coupons, newest first, each with its redemptions not given back."""
        ...

    async def set_disabled(self, coupon_id: str, disabled: bool) -> None: ...

    async def add_redemption(
        self, order_id: str, coupon_id: str, buyer_id: str, discount: int, currency: str, at: int
    ) -> None:
        """Record an order's redemption (once per order)."""
        ...

    async def return_redemption(self, order_id: str, at: int) -> bool:
        """Mark the order's redemption given back; True only the first time."""
        ...

    async def redemptions(self, coupon_id: str) -> tuple[dict[str, str], set[str]]:
        """The coupon's durable record: order id → buyer id of the redemptions held or used,
        and the orders that gave theirs back."""
        ...

    async def add_drop(self, drop: Drop) -> None: ...

    async def drop(self, drop_id: str) -> Drop | None: ...

    async def end_drop(self, drop_id: str, at: int) -> None: ...

    async def due_drops(self, now_ms: int, limit: int = 100) -> list[str]:
        """Ids of drops whose time is up and that were never ended."""
        ...

    async def running_drops(self, show_id: str, now_ms: int) -> list[tuple[Drop, int]]:
        """The show's drops still open at `now_ms` (not ended, time not up), oldest first, each
        with the claims recorded so far."""
        ...

    async def add_claim(self, drop_id: str, user_id: str, coupon: Coupon, at: int) -> None:
        """Record a claim and write its coupon (once: a repeated claim writes nothing)."""
        ...
