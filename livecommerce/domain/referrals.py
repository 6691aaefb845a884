"""Referral rules: what a show's program may pay, how long a visit by a share link counts, who
can never be paid for an order, and the commission itself.

Attribution is last touch: the most recent share-link visit to the show in the
`ATTRIBUTION_WINDOW_MS` before the payment is the one paid (a newer friend's link replaces an
older one; a visit by your own link never replaces anyone's). The commission is a share of what
the buyer paid (after a coupon's discount: the discount is the seller's promotion, the referrer
is paid on the money that came in), rounded down, and never more than the seller is owed after
the platform fee.
"""

from __future__ import annotations

from collections.abc import Iterable

from livecommerce.domain.ledger import BPS, platform_fee
from livecommerce.errors import InvalidInput

#: The most a seller may give referrers: half of what the buyer paid.
REFERRAL_BPS_MAX = 5000
#: How long a share-link visit is remembered (cookie and account) and can be paid for.
ATTRIBUTION_WINDOW_MS = 7 * 24 * 3600 * 1000
#: Visits count once per visitor, link and UTC day.
DAY_MS = 24 * 3600 * 1000


def check_referral_bps(bps: int) -> int:
    """A show's referral share in basis points: 0 (no program) to `REFERRAL_BPS_MAX`."""
    if isinstance(bps, bool) or not 0 <= bps <= REFERRAL_BPS_MAX:
        raise InvalidInput(f"referral_bps must be between 0 and {REFERRAL_BPS_MAX}")
    return bps


def may_be_paid(referrer_id: str, buyer_id: str, seller_id: str, host_ids: Iterable[str]) -> bool:
    """Nobody is paid for their own purchase, nor for selling: not the buyer, the show's seller
    or one of its hosts."""
    return referrer_id != buyer_id and referrer_id != seller_id and referrer_id not in host_ids


def referral_commission(total: int, referral_bps: int, fee_bps: int) -> int:
    """The referrer's share of `total` (what the buyer paid), rounded down, capped at what the
    seller is owed after the platform's fee."""
    return min(total * referral_bps // BPS, total - platform_fee(total, fee_bps))


def in_window(touched_at_ms: int, paid_at_ms: int) -> bool:
    """Whether a visit at `touched_at_ms` still counts for a payment at `paid_at_ms`."""
    return paid_at_ms - ATTRIBUTION_WINDOW_MS <= touched_at_ms <= paid_at_ms


def visit_day(at_ms: int) -> int:
    """The UTC day number a visit is counted under."""
    return at_ms // DAY_MS
