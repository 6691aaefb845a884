"""Money as integer minor units plus an ISO 4217 currency: floats never touch a price."""

from __future__ import annotations

from dataclasses import dataclass

from livecommerce.domain.currencies import CURRENCIES
from livecommerce.errors import InvalidInput

#: Currencies whose minor unit is not 1/100 (Stripe's list of zero-decimal currencies, abridged).
ZERO_DECIMAL = frozenset({"JPY", "KRW", "VND", "CLP", "ISK", "UGX", "XAF", "XOF", "PYG", "RWF"})


@dataclass(frozen=True, slots=True)
class Money:
    """An amount in minor units (cents) of one currency; mixing currencies is an error."""

    minor: int
    currency: str

    def __post_init__(self) -> None:
        if not isinstance(self.minor, int) or isinstance(self.minor, bool):
            raise InvalidInput("amount must be an integer number of minor units")
        if self.currency not in CURRENCIES:  # "ZZZ" has the shape of a code and is none
            raise InvalidInput(f"currency must be an ISO 4217 code, got {self.currency!r}")

    def _same(self, other: Money) -> None:
        if other.currency != self.currency:
            raise InvalidInput(f"cannot combine {self.currency} with {other.currency}")

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.minor + other.minor, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.minor - other.minor, self.currency)

    def __mul__(self, factor: int) -> Money:
        return Money(self.minor * factor, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.minor, self.currency)

    def share_bps(self, basis_points: int) -> Money:
        """A fee of ``basis_points``/10000, rounded half up to the minor unit (never a float)."""
        return Money((self.minor * basis_points + 5000) // 10000, self.currency)

    def to_wire(self) -> dict[str, int | str]:
        return {"amount": self.minor, "currency": self.currency}

    def display(self) -> str:
        """Human text for pages, e.g. ``12.50 EUR``; zero-decimal currencies have no fraction."""
        if self.currency in ZERO_DECIMAL:
            return f"{self.minor} {self.currency}"
        sign = "-" if self.minor < 0 else ""
        whole, cents = divmod(abs(self.minor), 100)
        return f"{sign}{whole}.{cents:02d} {self.currency}"
