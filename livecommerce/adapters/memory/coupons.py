"""MemoryRedemptions and MemoryDropClaims: the live coupon and drop counters of one node, atomic
because no method awaits between its read and its write on the node's one event loop."""

from __future__ import annotations

from collections.abc import Mapping, Set

from livecommerce.services.ports import Claim, Claimed, Redeemed


class MemoryRedemptions:
    def __init__(self) -> None:
        #: per coupon: order id → buyer id of the redemptions held or used
        self._orders: dict[str, dict[str, str]] = {}
        self._returned: dict[str, set[str]] = {}
        #: coupons loaded from their durable record since this process started
        self._seeded: set[str] = set()

    async def redeem(
        self,
        coupon_id: str,
        order_id: str,
        buyer_id: str,
        max_redemptions: int | None,
        per_buyer: int | None,
    ) -> Redeemed:
        if coupon_id not in self._seeded:
            return Redeemed.UNSEEDED
        orders = self._orders.setdefault(coupon_id, {})
        if order_id in orders:
            return Redeemed.HELD
        if order_id in self._returned.get(coupon_id, ()):
            return Redeemed.RETURNED
        if max_redemptions is not None and len(orders) >= max_redemptions:
            return Redeemed.EXHAUSTED
        if per_buyer is not None and sum(b == buyer_id for b in orders.values()) >= per_buyer:
            return Redeemed.BUYER_LIMIT
        orders[order_id] = buyer_id
        return Redeemed.TAKEN

    async def give_back(self, coupon_id: str, order_id: str, *, final: bool = True) -> bool | None:
        if coupon_id not in self._seeded:
            return None
        if final:
            self._returned.setdefault(coupon_id, set()).add(order_id)
        return self._orders.get(coupon_id, {}).pop(order_id, None) is not None

    async def used(self, coupon_id: str) -> int:
        return len(self._orders.get(coupon_id, ()))

    async def seed(self, coupon_id: str, held: Mapping[str, str], returned: Set[str]) -> None:
        if coupon_id in self._seeded:
            return
        self._seeded.add(coupon_id)
        self._orders.setdefault(coupon_id, {}).update(held)
        self._returned.setdefault(coupon_id, set()).update(returned)


class MemoryDropClaims:
    def __init__(self) -> None:
        self._left: dict[str, int] = {}
        self._codes: dict[str, dict[str, str]] = {}
        self._ended: set[str] = set()

    async def open(self, drop_id: str, claims: int, keep_seconds: int) -> None:
        self._left.setdefault(drop_id, claims)

    async def claim(self, drop_id: str, user_id: str, code: str) -> Claim:
        codes = self._codes.setdefault(drop_id, {})
        left = self._left.get(drop_id)
        if user_id in codes:
            return Claim(Claimed.HELD, codes[user_id], left or 0)
        if left is None or drop_id in self._ended:
            return Claim(Claimed.ENDED)
        if left <= 0:
            return Claim(Claimed.EXHAUSTED)
        codes[user_id] = code
        self._left[drop_id] = left - 1
        return Claim(Claimed.TAKEN, code, left - 1)

    async def end(self, drop_id: str) -> bool:
        if drop_id in self._ended:
            return False
        self._ended.add(drop_id)
        return True
