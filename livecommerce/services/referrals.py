"""Share links and referrals: any signed-in user gets one stable share link per show; a visit
by it is counted (once per visitor and day) and remembered as the visitor's last touch on the
show, on the account when signed in and under the browser's visitor cookie otherwise (claimed by
the account at sign-in or checkout); a payment within the window pays the referrer the show's
`referral_bps` of what the buyer paid, booked by `PaymentService` in the payment's own journal
transaction (see domain/ledger.py and domain/referrals.py for the rules).

Visitors are keys: ``u:<user id>`` for an account, ``v:<cookie>`` for a browser, so a cookie
can never be mistaken for an account (and a forged cookie names nobody's touches: it is a
128-bit random value the server handed out).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from livecommerce.domain.access import Action, Principal, authorize
from livecommerce.domain.ledger import Referral
from livecommerce.domain.orders import Order
from livecommerce.domain.referrals import (
    check_referral_bps,
    in_window,
    may_be_paid,
    referral_commission,
    visit_day,
)
from livecommerce.services.ports import Clock, ReferralStore, ReferrerFigures
from livecommerce.services.shows import ShowService, show_ref

#: Share codes: 12 characters of a 32-letter alphabet (60 bits; codes are public, not secrets).
_CODE_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
CODE_LENGTH = 12


def account_visitor(user_id: str) -> str:
    return f"u:{user_id}"


def browser_visitor(cookie: str) -> str:
    return f"v:{cookie}"


@dataclass(frozen=True, slots=True)
class ShareLink:
    url: str
    code: str


@dataclass(frozen=True, slots=True)
class ReferralReport:
    """A show's referral program and what each referrer brought."""

    show_id: str
    referral_bps: int
    referrers: list[ReferrerFigures]


class ReferralService:
    def __init__(
        self, store: ReferralStore, shows: ShowService, clock: Clock, *, base_url: str
    ) -> None:
        self._store = store
        self._shows = shows
        self._clock = clock
        self._base_url = base_url.rstrip("/")

    async def share(self, principal: Principal | None, show_id: str) -> ShareLink:
        """The caller's share link for the show (the same code every time)."""
        caller = authorize(principal, Action.CHAT)
        show = await self._shows.get(show_id)
        fresh = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(CODE_LENGTH))
        code = await self._store.share_code(show.id, caller.user_id, fresh, self._clock.now_ms())
        return ShareLink(f"{self._base_url}/shows/{show.id}?ref={code}", code)

    async def visit(self, principal: Principal | None, browser: str, code: str) -> bool:
        """A page opened with ``?ref=code``: counted and remembered; False for an unknown code
        or the referrer's own visit (which neither counts nor replaces anyone's touch)."""
        if len(code) != CODE_LENGTH or not set(code) <= set(_CODE_ALPHABET):
            return False
        share = await self._store.code(code)
        if share is None or (principal is not None and principal.user_id == share.user_id):
            return False
        now = self._clock.now_ms()
        visitor = browser_visitor(browser)
        if principal is not None:
            visitor = account_visitor(principal.user_id)
            await self._store.touch(visitor, share, now)
        await self._store.touch(browser_visitor(browser), share, now)
        await self._store.count_visit(share.code, visitor, visit_day(now))
        return True

    async def claim(self, browser: str, user_id: str) -> None:
        """The browser's share-link visits become the account's (newer touches win)."""
        await self._store.claim(browser_visitor(browser), account_visitor(user_id))

    async def referral_for(self, order: Order, paid_at_ms: int, fee_bps: int) -> Referral | None:
        """Who is paid for this order's payment and how much (None: nobody)."""
        bps = await self._store.referral_bps(order.show_id)
        if bps == 0:
            return None
        touch = await self._store.last_touch(account_visitor(order.buyer_id), order.show_id)
        if touch is None or not in_window(touch[1], paid_at_ms):
            return None
        referrer = touch[0].user_id
        show = await self._shows.get(order.show_id)
        if not may_be_paid(referrer, order.buyer_id, show.seller_id, show.host_ids):
            return None
        commission = referral_commission(order.total.minor, bps, fee_bps)
        return Referral(referrer, commission) if commission > 0 else None

    async def set_program(self, principal: Principal | None, show_id: str, bps: int) -> int:
        """The show's referral share (its seller or an admin); 0 ends the program."""
        show = await self._shows.get(show_id)
        authorize(principal, Action.MANAGE_SHOW, show_ref(show))
        await self._store.set_referral_bps(show.id, check_referral_bps(bps), self._clock.now_ms())
        return bps

    async def report(self, principal: Principal | None, show_id: str) -> ReferralReport:
        """Visits, orders and commission per referrer (the show's seller or an admin)."""
        show = await self._shows.get(show_id)
        authorize(principal, Action.MANAGE_SHOW, show_ref(show))
        return ReferralReport(
            show.id, await self._store.referral_bps(show.id), await self._store.figures(show.id)
        )
