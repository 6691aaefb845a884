"""Double-entry journal for the money path: every money movement is one balanced transaction.

A payment of T with platform fee F posts: debit `provider_clearing` T (the provider holds the
buyer's money for us), credit `seller_payable` T-F (owed to the seller), credit `platform_fees` F.
A refund of R posts the mirror image, reversing the fee proportionally (cumulative rounding, so
refunding everything in any number of parts reverses exactly F).

A coupon's discount D is the seller's promotion: the sale is booked at its list price T+D, the
seller is owed T+D-F and bears D as `promotion_expense` (debit D, party the seller), so what the
seller nets is still T-F. The platform fee F is taken on T, what the buyer paid (the platform
never charges a fee on money it did not receive). A refund reverses the promotion in proportion
to the money refunded, with the same cumulative rounding as the fee. Lines are signed: debit > 0,
credit < 0; every transaction sums to zero. Transactions are append-only and unique on
`(order_id, idempotency_key)` (for provider events the key is the event or refund id), so a
replay is a no-op by construction. Paid and refunded amounts are derived from the journal.

A referral commission C (the show's `referral_bps` of T, what the buyer paid: a coupon's
discount is the seller's, so the referrer is paid on the money that came in) is paid by the
seller: debit `seller_payable` C (party the seller), credit `referrer_payable` C (party the
referrer), in the payment's own transaction. A refund reverses it in proportion to the money
refunded, with the same cumulative rounding as the promotion, read back from the payment's lines.

A giveaway prize (an order at price 0) posts the seller's promotion expense at the prize's
list price V: debit `promotion_expense` V, credit `goods_given_away` V, both the seller's. No
money moves, so neither the provider's clearing account nor the platform's fees are touched.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from livecommerce.errors import InvalidInput

BPS = 10_000


class Account(StrEnum):
    """Ledger accounts; `party` on a line says whose (a seller id, or the platform)."""

    PROVIDER_CLEARING = "provider_clearing"  # money held at the payment provider for us
    SELLER_PAYABLE = "seller_payable"  # what the platform owes a seller
    PLATFORM_FEES = "platform_fees"  # the platform's revenue
    #: what a seller's promotions cost them: coupon discounts, giveaways at list price
    PROMOTION_EXPENSE = "promotion_expense"
    GOODS_GIVEN_AWAY = "goods_given_away"  # the list value of the goods a seller gave away
    REFERRER_PAYABLE = "referrer_payable"  # commissions owed to the people who referred buyers


class EntryKind(StrEnum):
    """What a journal transaction records."""

    PAYMENT = "payment"  # the buyer paid an order
    REFUND = "refund"  # money went back to the buyer
    PROMOTION = "promotion"  # a seller gave the goods away (a giveaway prize); no money moved


@dataclass(frozen=True, slots=True)
class Referral:
    """A referrer's commission on one order, in minor units of the order's currency."""

    referrer_id: str
    commission: int


@dataclass(frozen=True, slots=True)
class JournalLine:
    """One signed posting: debit > 0, credit < 0, in minor units of the transaction currency."""

    account: Account
    party: str
    amount: int


@dataclass(frozen=True, slots=True)
class JournalTransaction:
    """A balanced set of lines for one order, identified by `(order_id, idempotency_key)`."""

    order_id: str
    idempotency_key: str
    kind: EntryKind
    currency: str
    amount: int
    lines: tuple[JournalLine, ...]
    at_ms: int

    def __post_init__(self) -> None:
        if sum(line.amount for line in self.lines) != 0:
            raise ValueError("journal transaction does not balance")


PLATFORM = "platform"


def platform_fee(total: int, fee_bps: int) -> int:
    """The platform's cut of `total`, rounded down to a whole minor unit."""
    if not 0 <= fee_bps <= BPS:
        raise InvalidInput("platform fee must be between 0 and 10000 basis points")
    return total * fee_bps // BPS


def payment_entry(
    *,
    order_id: str,
    seller_id: str,
    total: int,
    currency: str,
    fee_bps: int,
    idempotency_key: str,
    at_ms: int,
    discount: int = 0,
    referral: Referral | None = None,
) -> JournalTransaction:
    """The journal transaction for a buyer's payment of `total` (after a `discount`), with the
    seller paying a `referral`'s commission when there is one."""
    if total < 0:
        raise InvalidInput("payment cannot be negative")
    if discount < 0:
        raise InvalidInput("discount cannot be negative")
    fee = platform_fee(total, fee_bps)
    promotion = (JournalLine(Account.PROMOTION_EXPENSE, seller_id, discount),) if discount else ()
    if referral is not None and not 0 <= referral.commission <= total - fee:
        raise InvalidInput("a commission cannot exceed what the seller is paid")
    commission = _referral_lines(seller_id, referral, referral.commission if referral else 0)
    return JournalTransaction(
        order_id=order_id,
        idempotency_key=idempotency_key,
        kind=EntryKind.PAYMENT,
        currency=currency,
        amount=total,
        lines=(
            JournalLine(Account.PROVIDER_CLEARING, PLATFORM, total),
            *promotion,
            JournalLine(Account.SELLER_PAYABLE, seller_id, -(total + discount - fee)),
            JournalLine(Account.PLATFORM_FEES, PLATFORM, -fee),
            *commission,
        ),
        at_ms=at_ms,
    )


def _referral_lines(
    seller_id: str, referral: Referral | None, amount: int
) -> tuple[JournalLine, ...]:
    """The seller paying `amount` of a referral's commission (negative: getting it back)."""
    if referral is None or amount == 0:
        return ()
    return (
        JournalLine(Account.SELLER_PAYABLE, seller_id, amount),
        JournalLine(Account.REFERRER_PAYABLE, referral.referrer_id, -amount),
    )


def referral_of(transactions: Iterable[JournalTransaction]) -> Referral | None:
    """The commission an order's payment booked (None: no referral), read from its lines."""
    for txn in transactions:
        if txn.kind is EntryKind.PAYMENT:
            for line in txn.lines:
                if line.account is Account.REFERRER_PAYABLE:
                    return Referral(line.party, -line.amount)
    return None


def refunded_share(part: int, total: int, refunded: int) -> int:
    """The part of `part` (a discount, a commission) that `refunded` of the paid `total` takes
    back (all of it once everything is refunded; rounded down before that)."""
    if total <= 0:
        return part
    return part * refunded // total


def refund_entry(
    *,
    order_id: str,
    seller_id: str,
    total: int,
    currency: str,
    fee_bps: int,
    refunded_before: int,
    amount: int,
    idempotency_key: str,
    at_ms: int,
    discount: int = 0,
    referral: Referral | None = None,
) -> JournalTransaction:
    """The reversing transaction for refunding `amount` after `refunded_before` went back
    (and the matching part of the order's `discount` and of its `referral`'s commission)."""
    if amount <= 0:
        raise InvalidInput("refund must be positive")
    if refunded_before < 0 or refunded_before + amount > total:
        raise InvalidInput("cannot refund more than was paid")
    fee_back = platform_fee(refunded_before + amount, fee_bps) - platform_fee(
        refunded_before, fee_bps
    )
    promo_back = refunded_share(discount, total, refunded_before + amount) - refunded_share(
        discount, total, refunded_before
    )
    promotion = (
        (JournalLine(Account.PROMOTION_EXPENSE, seller_id, -promo_back),) if promo_back else ()
    )
    commission = referral.commission if referral is not None else 0
    commission_back = refunded_share(commission, total, refunded_before + amount) - refunded_share(
        commission, total, refunded_before
    )
    return JournalTransaction(
        order_id=order_id,
        idempotency_key=idempotency_key,
        kind=EntryKind.REFUND,
        currency=currency,
        amount=amount,
        lines=(
            JournalLine(Account.PROVIDER_CLEARING, PLATFORM, -amount),
            *promotion,
            JournalLine(Account.SELLER_PAYABLE, seller_id, amount + promo_back - fee_back),
            JournalLine(Account.PLATFORM_FEES, PLATFORM, fee_back),
            *_referral_lines(seller_id, referral, -commission_back),
        ),
        at_ms=at_ms,
    )


def promotion_entry(
    *,
    order_id: str,
    seller_id: str,
    value: int,
    currency: str,
    idempotency_key: str,
    at_ms: int,
) -> JournalTransaction:
    """The seller's promotion expense for a prize order: its list value `value`, not money."""
    if value < 0:
        raise InvalidInput("a prize's value cannot be negative")
    return JournalTransaction(
        order_id=order_id,
        idempotency_key=idempotency_key,
        kind=EntryKind.PROMOTION,
        currency=currency,
        amount=value,
        lines=(
            JournalLine(Account.PROMOTION_EXPENSE, seller_id, value),
            JournalLine(Account.GOODS_GIVEN_AWAY, seller_id, -value),
        ),
        at_ms=at_ms,
    )


def balances(transactions: Iterable[JournalTransaction]) -> dict[tuple[Account, str, str], int]:
    """Balance per (account, party, currency), derived by summing lines (never stored)."""
    out: dict[tuple[Account, str, str], int] = defaultdict(int)
    for txn in transactions:
        for line in txn.lines:
            out[(line.account, line.party, txn.currency)] += line.amount
    return dict(out)


def paid_amount(transactions: Iterable[JournalTransaction]) -> int:
    """Total the buyer paid on these transactions."""
    return sum(t.amount for t in transactions if t.kind is EntryKind.PAYMENT)


def refunded_amount(transactions: Iterable[JournalTransaction]) -> int:
    """Total that went back to the buyer on these transactions."""
    return sum(t.amount for t in transactions if t.kind is EntryKind.REFUND)
