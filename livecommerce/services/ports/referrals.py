"""Port for share links and referrals: one code per (show, user), each visitor's last share-link
visit per show, visits counted once per visitor and day, and each show's referral share. What a
referrer earned is not stored here: it is read from the journal's `referrer_payable` lines."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class ShareCode:
    code: str
    show_id: str
    user_id: str


@dataclass(frozen=True, slots=True)
class ReferrerFigures:
    """One referrer's results on one show (commission net of refunds, minor units)."""

    referrer_id: str
    name: str
    code: str
    visits: int
    orders: int
    commission: int


class ReferralStore(Protocol):
    async def share_code(self, show_id: str, user_id: str, new_code: str, at_ms: int) -> str:
        """The user's code for the show: `new_code` stored if they had none, else theirs."""

    async def code(self, code: str) -> ShareCode | None: ...

    async def touch(self, visitor: str, code: ShareCode, at_ms: int) -> None:
        """Remember that `visitor` came to the code's show by it (the latest visit wins)."""

    async def count_visit(self, code: str, visitor: str, day: int) -> bool:
        """Count the visit; False when this visitor was counted for this code today."""

    async def claim(self, visitor: str, account: str) -> int:
        """Copy `visitor`'s touches onto `account` where they are newer; how many moved."""

    async def last_touch(self, visitor: str, show_id: str) -> tuple[ShareCode, int] | None:
        """The code the visitor last came to the show by, and when."""

    async def referral_bps(self, show_id: str) -> int: ...

    async def set_referral_bps(self, show_id: str, bps: int, at_ms: int) -> None: ...

    async def figures(self, show_id: str) -> list[ReferrerFigures]:
        """Visits, paid orders and net commission per referrer of the show."""
