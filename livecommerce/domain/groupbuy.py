"""Group buys: the price falls as more people join, and every member pays the price reached.

A group offer carries price tiers `[(min_buyers, price)]`: strictly increasing `min_buyers`
(the first at least 1) and strictly decreasing prices, none above the product's price. A member
joins by checking out; their payment is *authorised* at the first tier's price (the highest) and
captured only at the deadline, at the price of the tier reached then (never more than was
authorised). If the first tier is not reached, every authorisation is voided.

**Buyers are distinct people**, not units: a member counts once however many units (up to the
offer's per-buyer limit) or orders they hold, so one shopper cannot buy the group's discount
alone. Only members with a live authorisation count (an order in `authorized`); a checkout still
at the card form, a cancelled or declined one does not.

Pure rules: no I/O, no clock; the service passes the buyers it counted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from livecommerce.errors import InvalidInput

#: Enough steps for any real price ladder; more is a typo or an abuse of the event size.
MAX_TIERS = 10
#: The largest group a tier may ask for.
MAX_MIN_BUYERS = 1_000_000


class GroupStatus(StrEnum):
    """Where a group stands, as the wire names it (`group.updated`'s `status`)."""

    OPEN = "open"  # members may join until the deadline
    CAPTURED = "captured"  # the deadline passed with a tier reached: members pay `final_price`
    VOID = "void"  # the deadline passed below the first tier: every hold released, no charge


@dataclass(frozen=True, slots=True)
class Tier:
    """At `min_buyers` distinct members or more, everyone pays `price` (minor units) a unit."""

    min_buyers: int
    price: int

    def to_wire(self) -> dict[str, int]:
        return {"min_buyers": self.min_buyers, "price": self.price}


def _whole(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(f"{name} must be a whole number (minor units for prices)")
    return value


def validate_tiers(raw: Sequence[object], list_price: int) -> tuple[Tier, ...]:
    """The tiers as given, or InvalidInput naming the rule they break. `raw` items are
    `{min_buyers, price}` mappings or `Tier`s; `list_price` is the product's own price."""
    if not isinstance(raw, Sequence) or isinstance(raw, str | bytes) or not raw:
        raise InvalidInput("a group buy needs at least one tier")
    if len(raw) > MAX_TIERS:
        raise InvalidInput(f"a group buy takes at most {MAX_TIERS} tiers")
    tiers: list[Tier] = []
    for n, item in enumerate(raw):
        if isinstance(item, Tier):
            tier = item
        elif isinstance(item, dict) and set(item) == {"min_buyers", "price"}:
            tier = Tier(
                _whole(item["min_buyers"], f"tiers[{n}].min_buyers"),
                _whole(item["price"], f"tiers[{n}].price"),
            )
        else:
            raise InvalidInput(f"tiers[{n}] must be {{min_buyers, price}}")
        if not 1 <= tier.min_buyers <= MAX_MIN_BUYERS:
            raise InvalidInput(f"tiers[{n}].min_buyers must be between 1 and {MAX_MIN_BUYERS}")
        if tier.price < 1:
            raise InvalidInput(f"tiers[{n}].price must be at least 1")
        if tier.price > list_price:
            raise InvalidInput(f"tiers[{n}].price is above the product's price")
        if tiers and tier.min_buyers <= tiers[-1].min_buyers:
            raise InvalidInput("tiers' min_buyers must strictly increase")
        if tiers and tier.price >= tiers[-1].price:
            raise InvalidInput("tiers' prices must strictly decrease")
        tiers.append(tier)
    return tuple(tiers)


def reached(tiers: Sequence[Tier], buyers: int) -> Tier | None:
    """The best tier `buyers` members reach (None: not even the first)."""
    best = None
    for tier in tiers:
        if buyers >= tier.min_buyers:
            best = tier
    return best


def price_now(tiers: Sequence[Tier], buyers: int) -> int:
    """What a unit would cost if the group closed now; the first tier's price (what every
    member is authorised for) while it is not reached."""
    tier = reached(tiers, buyers)
    return (tier or tiers[0]).price


def next_tier(tiers: Sequence[Tier], buyers: int) -> Tier | None:
    """The next tier still to reach (None: the last is reached)."""
    return next((t for t in tiers if t.min_buyers > buyers), None)


def final_price(tiers: Sequence[Tier], buyers: int) -> int | None:
    """The unit price every member pays when the group closes with `buyers` members, or None:
    the first tier was not reached and every authorisation is voided."""
    tier = reached(tiers, buyers)
    return None if tier is None else tier.price


def capture_amount(unit_price: int, quantity: int, authorised: int) -> int:
    """What to capture from one member: the final price for their units, never more than the
    authorisation (a tier price is never above the first, so this only guards a broken caller)."""
    amount = unit_price * quantity
    if amount < 1 or amount > authorised:
        raise InvalidInput("a capture must be between 1 and the authorised amount")
    return amount


def group_view(
    *,
    show_id: str,
    offer_id: str,
    tiers: Sequence[Tier],
    buyers: int,
    currency: str,
    ends_at_ms: int | None,
    status: GroupStatus,
    final: int | None = None,
) -> dict[str, object]:
    """The public shape of `group.updated`, the `show.join` ack's `group` and the REST read;
    prices are integer minor units in `currency`."""
    upcoming = next_tier(tiers, buyers) if status is GroupStatus.OPEN else None
    return {
        "show_id": show_id,
        "offer_id": offer_id,
        "buyers": buyers,
        "price_now": price_now(tiers, buyers) if final is None else final,
        "next_tier": None if upcoming is None else upcoming.to_wire(),
        "tiers": [t.to_wire() for t in tiers],
        "currency": currency,
        "ends_at": ends_at_ms,
        "status": str(status),
        "final_price": final,
    }
