"""Coupons: a seller creates, lists and disables them; checkout asks what a code takes off an
order and redeems it; the payment paths give a redemption back when an order lets go.

Whether an order may use a code is the domain's rule (`domain/coupons.py`); how many orders
hold it is the `Redemptions` store's (atomic per coupon on one node or across nodes sharing
Redis), and SQL keeps the durable record (`coupon_redemptions`). A redemption is taken before
the order's stock is held and given back if the hold fails, so the count never exceeds
`max_redemptions`; an order that is cancelled, expires, fails or is refunded in full gives it
back once (the store's give-back and SQL's `returned_at` both answer True only the first time).

Followers-only coupons ask `is_following(user_id, seller_id)`, a predicate the composition root
injects (follows belong to the audience feature).
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace

from livecommerce.domain.access import Action, Principal, Role, authorize
from livecommerce.domain.coupons import (
    CODE_LENGTH,
    Coupon,
    CouponKind,
    check_usable,
    code_from_bytes,
    make_coupon,
    normalize_code,
)
from livecommerce.domain.money import Money
from livecommerce.domain.orders import Order
from livecommerce.errors import (
    Conflict,
    CouponAlreadyUsed,
    CouponExhausted,
    CouponInvalid,
    NotFound,
)
from livecommerce.ids import new_id
from livecommerce.services.catalog import CatalogService
from livecommerce.services.ports import Clock, CouponStore, Redeemed, Redemptions
from livecommerce.services.shows import ShowService
from livecommerce.services.singleflight import SingleFlight

#: Whether `user_id` follows `seller_id`.
FollowCheck = Callable[[str, str], Awaitable[bool]]
#: How long a node reuses a coupon it read for checkout (a disabled coupon is refused within it;
#: the counts are never cached).
COUPON_CACHE_MS = 2_000
#: Generated codes that collide with one of the seller's are drawn again, this many times.
CODE_ATTEMPTS = 5


@dataclass(frozen=True, slots=True)
class CouponSpec:
    """What a seller asks for (`code` None: one is generated)."""

    kind: CouponKind
    value: int
    code: str | None = None
    currency: str | None = None
    max_redemptions: int | None = None
    per_buyer: int | None = None
    min_order: int | None = None
    starts_at_ms: int | None = None
    ends_at_ms: int | None = None
    show_id: str | None = None
    product_id: str | None = None
    followers_only: bool = False


@dataclass(frozen=True, slots=True)
class Quote:
    """A code checked against one order: the coupon and what it takes off."""

    coupon: Coupon
    discount: Money


def new_code() -> str:
    return code_from_bytes(secrets.token_bytes(CODE_LENGTH))


class CouponService:
    def __init__(
        self,
        store: CouponStore,
        redemptions: Redemptions,
        shows: ShowService,
        catalog: CatalogService,
        clock: Clock,
        *,
        is_following: FollowCheck,
    ) -> None:
        self._store = store
        self._redemptions = redemptions
        self._shows = shows
        self._catalog = catalog
        self._clock = clock
        self._is_following = is_following
        self._cache: dict[tuple[str, str], tuple[int, Coupon | None]] = {}
        self._flights = SingleFlight()

    # -- the seller's coupons --------------------------------------------------------------------
    async def create(self, principal: Principal | None, spec: CouponSpec) -> Coupon:
        """A coupon of the caller's shop; its scope must be one of the caller's shows or
        products; a code the shop already has (in any case) is `conflict`."""
        seller = authorize(principal, Action.CREATE_PRODUCT)
        await self.check_scope(seller.user_id, spec.show_id, spec.product_id)
        return await self.add(seller.user_id, spec)

    async def add(self, seller_id: str, spec: CouponSpec) -> Coupon:
        """Write a checked coupon for `seller_id` (the caller checked who may)."""
        for _ in range(CODE_ATTEMPTS):
            coupon = self.build(seller_id, spec)
            if await self._store.add_coupon(coupon):
                return coupon
            if spec.code is not None:
                raise Conflict("your shop already has a coupon with this code")
        raise Conflict("could not find a free code; try again")

    def build(self, seller_id: str, spec: CouponSpec, *, drop_id: str | None = None) -> Coupon:
        return make_coupon(
            coupon_id=new_id("cpn"),
            seller_id=seller_id,
            code=spec.code if spec.code is not None else new_code(),
            kind=spec.kind,
            value=spec.value,
            currency=spec.currency,
            max_redemptions=spec.max_redemptions,
            per_buyer=spec.per_buyer,
            min_order=spec.min_order,
            starts_at_ms=spec.starts_at_ms,
            ends_at_ms=spec.ends_at_ms,
            scope_show_id=spec.show_id,
            scope_product_id=spec.product_id,
            followers_only=spec.followers_only,
            now_ms=self._clock.now_ms(),
            drop_id=drop_id,
        )

    async def check_scope(
        self, seller_id: str, show_id: str | None, product_id: str | None
    ) -> None:
        """A coupon's scope is one of its seller's shows or products."""
        if show_id is not None and (await self._shows.get(show_id)).seller_id != seller_id:
            raise NotFound("no such show in this shop")
        if product_id is not None and (await self._catalog.get(product_id)).seller_id != seller_id:
            raise NotFound("no such product in this shop")

    async def list(self, principal: Principal | None) -> list[tuple[Coupon, int]]:
        """The caller's coupons with their redemptions held or used (drops' coupons apart)."""
        seller = authorize(principal, Action.CREATE_PRODUCT)
        return await self._store.list_coupons(seller.user_id)

    async def set_disabled(
        self, principal: Principal | None, coupon_id: str, disabled: bool
    ) -> Coupon:
        """Disable (or enable again) one of the caller's coupons; orders that hold it keep
        their discount, new checkouts are refused with `coupon_invalid`."""
        seller = authorize(principal, Action.CREATE_PRODUCT)
        coupon = await self._store.coupon(coupon_id)
        if coupon is None or (coupon.seller_id != seller.user_id and seller.role is not Role.ADMIN):
            raise NotFound("no such coupon")
        await self._store.set_disabled(coupon_id, disabled)
        self._cache.pop((coupon.seller_id, coupon.code), None)
        return replace(coupon, disabled=disabled)

    async def used(self, coupon_id: str) -> int:
        """Redemptions held or used now (the live store's count, loaded from SQL if it lacks
        the coupon: a seed is once, so this costs one SQL read)."""
        await self._seed(coupon_id)
        return await self._redemptions.used(coupon_id)

    # -- checkout --------------------------------------------------------------------------------
    async def _coupon(self, seller_id: str, code: str) -> Coupon | None:
        now = self._clock.now_ms()
        key = (seller_id, code)
        cached = self._cache.get(key)
        if cached is not None and cached[0] > now:
            return cached[1]
        coupon = await self._flights.run(
            f"{seller_id}\x00{code}", lambda: self._store.coupon_by_code(seller_id, code)
        )
        self._cache[key] = (now + COUPON_CACHE_MS, coupon)
        return coupon

    async def quote(
        self,
        code: str,
        *,
        buyer_id: str,
        seller_id: str,
        show_id: str,
        product_id: str,
        subtotal: Money,
    ) -> Quote:
        """What `code` (already normalized) takes off this order, or the refusal saying why."""
        coupon = await self._coupon(seller_id, code)
        if coupon is None:
            raise CouponInvalid("no such coupon")
        follows = coupon.followers_only and await self._is_following(buyer_id, seller_id)
        discount = check_usable(
            coupon,
            subtotal=subtotal,
            show_id=show_id,
            product_id=product_id,
            now_ms=self._clock.now_ms(),
            follows=follows,
        )
        return Quote(coupon, discount)

    async def redeem(self, coupon: Coupon, order_id: str, buyer_id: str) -> bool:
        """Take a redemption for the order; True when this call took it (False: the order
        held it already). Refusals say whether the coupon or the buyer's share ran out."""
        outcome = await self._redemptions.redeem(
            coupon.id, order_id, buyer_id, coupon.max_redemptions, coupon.per_buyer
        )
        if outcome is Redeemed.UNSEEDED:
            await self._seed(coupon.id)
            outcome = await self._redemptions.redeem(
                coupon.id, order_id, buyer_id, coupon.max_redemptions, coupon.per_buyer
            )
        if outcome is Redeemed.EXHAUSTED:
            raise CouponExhausted("this coupon has been used up")
        if outcome is Redeemed.BUYER_LIMIT:
            raise CouponAlreadyUsed("you have already used this coupon")
        if outcome is Redeemed.RETURNED:
            raise Conflict("this checkout expired; start a new one")
        return outcome is Redeemed.TAKEN

    async def _seed(self, coupon_id: str) -> None:
        """Load the coupon's durable record into a live store that lacks it (this process
        restarted, or Redis lost its data): counting from zero would let a limited coupon be
        used again."""

        async def load() -> None:
            held, returned = await self._store.redemptions(coupon_id)
            await self._redemptions.seed(coupon_id, held, returned)

        await self._flights.run(f"seed:{coupon_id}", load)  # a stampede's first calls share one

    async def _give_back_live(self, coupon_id: str, order_id: str, *, final: bool) -> bool:
        returned = await self._redemptions.give_back(coupon_id, order_id, final=final)
        if returned is None:
            await self._seed(coupon_id)
            returned = await self._redemptions.give_back(coupon_id, order_id, final=final)
        return bool(returned)

    async def release(self, coupon_id: str, order_id: str) -> None:
        """Give back a redemption a checkout took but could not use (its stock hold failed)."""
        await self._give_back_live(coupon_id, order_id, final=False)

    async def recorded(self, order: Order) -> None:
        """Keep the durable record of a stored order's redemption."""
        if order.coupon_id is not None:
            await self._store.add_redemption(
                order.id,
                order.coupon_id,
                order.buyer_id,
                order.discount_minor,
                order.total.currency,
                order.created_at_ms,
            )

    async def give_back(self, order: Order) -> bool:
        """An order that let go (released or refunded in full) returns its redemption; True
        only the first time, however many paths call it."""
        if order.coupon_id is None:
            return False
        returned = await self._give_back_live(order.coupon_id, order.id, final=True)
        recorded = await self._store.return_redemption(order.id, self._clock.now_ms())
        return returned or recorded


def coupon_code(code: str | None) -> str | None:
    """The normalized form of a code a buyer sent, refusing nonsense as `invalid_input`."""
    return None if code is None else normalize_code(code)
