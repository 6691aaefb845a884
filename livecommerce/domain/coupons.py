"""Coupons and voucher drops: what a code is, whether an order may use it and what it takes off.

A coupon belongs to one seller; its code is unique per seller regardless of case (codes are kept
upper-case). A `percent` coupon takes `value`% of the order's subtotal (unit price times quantity),
rounded down to the minor unit, so a buyer never gets more than the stated percentage; an
`amount` coupon takes `value` minor units of its currency. Either way the discount is at most the
subtotal: a total is never negative (a 100 % coupon makes a free order). How many orders may use a
coupon (`max_redemptions`, `per_buyer`) is counted by the redemption store, not here: these rules
are the ones that need no count. A voucher drop hands out single-use coupons built from one
template (`drop_coupon`), one per claimer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from enum import StrEnum

from livecommerce.domain.money import Money
from livecommerce.errors import (
    CouponExpired,
    CouponFollowersOnly,
    CouponInvalid,
    CouponMinOrder,
    CouponNotApplicable,
    CouponNotStarted,
    InvalidInput,
)

#: Codes are 3–32 characters of A–Z, 0–9 and dashes once upper-cased.
CODE = re.compile(r"^[A-Z0-9][A-Z0-9-]{2,31}$")
#: Generated codes use this alphabet (no 0/O or 1/I to misread) and this many characters.
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 10
#: The largest amount or minimum order a coupon may name, in minor units.
MAX_AMOUNT = 100_000_000
#: The most claims one voucher drop may hand out, and its shortest and longest duration.
MAX_CLAIMS = 10_000
MIN_DROP_SECONDS = 5
MAX_DROP_SECONDS = 3_600


class CouponKind(StrEnum):
    """How a coupon's `value` is read."""

    PERCENT = "percent"  # value is a percentage (1–100) of the subtotal
    AMOUNT = "amount"  # value is minor units of the coupon's currency


@dataclass(frozen=True, slots=True)
class Coupon:
    """A seller's coupon. `scope_show_id` / `scope_product_id` limit it to one show or one
    product (at most one of them); `drop_id` marks a coupon handed out by a voucher drop."""

    id: str
    seller_id: str
    code: str
    kind: CouponKind
    value: int
    currency: str | None
    max_redemptions: int | None
    per_buyer: int | None
    min_order: int | None
    starts_at_ms: int | None
    ends_at_ms: int | None
    scope_show_id: str | None
    scope_product_id: str | None
    followers_only: bool
    created_at_ms: int
    disabled: bool = False
    drop_id: str | None = None


def normalize_code(code: object) -> str:
    """The stored form of a code a person typed (case and surrounding spaces do not matter)."""
    if not isinstance(code, str):
        raise InvalidInput("code must be text")
    text = code.strip().upper()
    if not CODE.match(text):
        raise InvalidInput("code must be 3-32 letters, digits or dashes")
    return text


def code_from_bytes(raw: bytes) -> str:
    """A readable code from random bytes the caller drew (the domain draws nothing itself)."""
    if len(raw) < CODE_LENGTH:
        raise InvalidInput(f"need {CODE_LENGTH} random bytes")
    return "".join(CODE_ALPHABET[b % len(CODE_ALPHABET)] for b in raw[:CODE_LENGTH])


def make_coupon(
    *,
    coupon_id: str,
    seller_id: str,
    code: str,
    kind: CouponKind,
    value: int,
    currency: str | None,
    max_redemptions: int | None = None,
    per_buyer: int | None = None,
    min_order: int | None = None,
    starts_at_ms: int | None = None,
    ends_at_ms: int | None = None,
    scope_show_id: str | None = None,
    scope_product_id: str | None = None,
    followers_only: bool = False,
    now_ms: int,
    drop_id: str | None = None,
) -> Coupon:
    """A checked coupon: an `amount` coupon needs a currency (and a `min_order` is read in the
    order's currency, so it needs one too); a window must end after it starts."""
    if kind is CouponKind.PERCENT and not 1 <= value <= 100:
        raise InvalidInput("a percent coupon's value is 1-100")
    if kind is CouponKind.AMOUNT and not 1 <= value <= MAX_AMOUNT:
        raise InvalidInput(f"an amount coupon's value is 1-{MAX_AMOUNT} minor units")
    if (kind is CouponKind.AMOUNT or min_order is not None) and currency is None:
        raise InvalidInput("an amount coupon or a minimum order needs a currency")
    if currency is not None:
        Money(0, currency)  # refuses what is not an ISO 4217 code
    for name, n in (("max_redemptions", max_redemptions), ("per_buyer", per_buyer)):
        if n is not None and not 1 <= n <= 1_000_000:
            raise InvalidInput(f"{name} must be 1-1000000")
    if min_order is not None and not 0 <= min_order <= MAX_AMOUNT:
        raise InvalidInput(f"min_order must be 0-{MAX_AMOUNT} minor units")
    if starts_at_ms is not None and ends_at_ms is not None and ends_at_ms <= starts_at_ms:
        raise InvalidInput("ends_at must be after starts_at")
    if scope_show_id is not None and scope_product_id is not None:
        raise InvalidInput("scope is one show or one product, not both")
    return Coupon(
        id=coupon_id,
        seller_id=seller_id,
        code=normalize_code(code),
        kind=kind,
        value=value,
        currency=currency,
        max_redemptions=max_redemptions,
        per_buyer=per_buyer,
        min_order=min_order,
        starts_at_ms=starts_at_ms,
        ends_at_ms=ends_at_ms,
        scope_show_id=scope_show_id,
        scope_product_id=scope_product_id,
        followers_only=followers_only,
        created_at_ms=now_ms,
        drop_id=drop_id,
    )


def discount_for(coupon: Coupon, subtotal: Money) -> Money:
    """What the coupon takes off `subtotal`: a percentage rounded down to the minor unit, or
    the amount; never more than the subtotal."""
    if coupon.kind is CouponKind.PERCENT:
        off = subtotal.minor * coupon.value // 100
    else:
        off = coupon.value
    return Money(min(off, subtotal.minor), subtotal.currency)


def check_usable(
    coupon: Coupon,
    *,
    subtotal: Money,
    show_id: str,
    product_id: str,
    now_ms: int,
    follows: bool,
) -> Money:
    """The discount the coupon gives this order, or the refusal that says why it gives none
    (checked in this order: disabled, window, scope, currency, minimum, followers)."""
    if coupon.disabled:
        raise CouponInvalid("this coupon is no longer valid")
    if coupon.starts_at_ms is not None and now_ms < coupon.starts_at_ms:
        raise CouponNotStarted("this coupon is not valid yet")
    if coupon.ends_at_ms is not None and now_ms >= coupon.ends_at_ms:
        raise CouponExpired("this coupon has expired")
    if coupon.scope_show_id is not None and coupon.scope_show_id != show_id:
        raise CouponNotApplicable("this coupon is for another show")
    if coupon.scope_product_id is not None and coupon.scope_product_id != product_id:
        raise CouponNotApplicable("this coupon is for another product")
    if coupon.currency is not None and coupon.currency != subtotal.currency:
        raise CouponNotApplicable(f"this coupon is for orders in {coupon.currency}")
    if coupon.min_order is not None and subtotal.minor < coupon.min_order:
        minimum = Money(coupon.min_order, subtotal.currency)
        raise CouponMinOrder(
            f"this coupon needs an order of at least {minimum.display()}",
            details={"min_order": minimum.to_wire()},
        )
    if coupon.followers_only and not follows:
        raise CouponFollowersOnly("this coupon is for the seller's followers")
    return discount_for(coupon, subtotal)


def drop_coupon(template: Coupon, *, coupon_id: str, code: str, now_ms: int) -> Coupon:
    """One claimer's coupon from a drop's template: single use, for that claimer only."""
    return replace(
        template,
        id=coupon_id,
        code=normalize_code(code),
        max_redemptions=1,
        per_buyer=1,
        created_at_ms=now_ms,
    )


def check_drop(claims: int, duration_seconds: int) -> None:
    """A drop hands out 1..MAX_CLAIMS coupons over MIN..MAX_DROP_SECONDS."""
    if not 1 <= claims <= MAX_CLAIMS:
        raise InvalidInput(f"claims must be 1-{MAX_CLAIMS}")
    if not MIN_DROP_SECONDS <= duration_seconds <= MAX_DROP_SECONDS:
        raise InvalidInput(f"duration_seconds must be {MIN_DROP_SECONDS}-{MAX_DROP_SECONDS}")


def coupon_view(coupon: Coupon, redemptions: int | None = None) -> dict[str, object]:
    """A coupon as its seller sees it (`redemptions`: orders holding or having used it)."""
    view: dict[str, object] = {
        "id": coupon.id,
        "code": coupon.code,
        "kind": str(coupon.kind),
        "value": coupon.value,
        "currency": coupon.currency,
        "max_redemptions": coupon.max_redemptions,
        "per_buyer": coupon.per_buyer,
        "min_order": coupon.min_order,
        "starts_at": coupon.starts_at_ms,
        "ends_at": coupon.ends_at_ms,
        "scope": {"show_id": coupon.scope_show_id, "product_id": coupon.scope_product_id},
        "followers_only": coupon.followers_only,
        "disabled": coupon.disabled,
        "drop_id": coupon.drop_id,
        "created_at": coupon.created_at_ms,
    }
    if redemptions is not None:
        view["redemptions"] = redemptions
    return view
