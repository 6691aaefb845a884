"""Live voucher drops ("red packets"): the seller or a host fires a drop in a show, the first N
distinct signed-in viewers who claim it each get a single-use coupon, and the show sees how many
are left until it ends.

Who gets a claim is decided by the `DropClaims` store in one atomic step per claim (in-process
on one node, one Lua script in Redis across nodes): one claim per person (a second claim answers
the first code), never more than N. The claimer's coupon (id derived from the drop and the
claimer, so a repeated claim writes nothing new) is written to SQL with the claim.

Events on the Bus, relayed to the show's room: `drop.started {show_id, drop_id, claims_left,
ends_at}`; `drop.updated {show_id, drop_id, claims_left}` at most every `update_interval` per
drop and node (the latest count always goes out); `drop.ended {show_id, drop_id}` once across
nodes (the store's `end` answers True to one caller) when the last claim is taken or the time is
up. The time is kept by a timer on the node that fired the drop; a claim that arrives after the
end on any node ends it too.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from livecommerce.domain.access import Action, Principal, authorize
from livecommerce.domain.coupons import Coupon, check_drop, drop_coupon
from livecommerce.domain.ratelimit import Rate
from livecommerce.errors import (
    Banned,
    DropEnded,
    DropExhausted,
    NotFound,
    PermissionDenied,
    RateLimited,
    SellerCannotClaim,
)
from livecommerce.ids import new_id
from livecommerce.services.coupons import CouponService, CouponSpec, new_code
from livecommerce.services.deadlines import Deadlines
from livecommerce.services.moderation import ModerationService
from livecommerce.services.ports import (
    Bus,
    Claimed,
    Clock,
    CouponStore,
    Drop,
    DropClaims,
    RateLimiter,
)
from livecommerce.services.shows import ShowService, show_ref
from livecommerce.services.singleflight import SingleFlight
from livecommerce.services.throttle import Throttle

#: How long a node reuses a drop it read (its show, template and end never change).
DROP_CACHE_MS = 60_000
#: How long a node answers joins from its last read of a show's running drops: a join storm
#: costs one read per show and node per second, and a drop fired here is seen at once.
RUNNING_CACHE_MS = 1_000
#: How long the live claim keys outlive the drop's end (a late repeated claim still answers).
KEEP_SECONDS = 24 * 3600


@dataclass(frozen=True, slots=True)
class DropOptions:
    claim_rates: Sequence[Rate] = ()
    update_interval: float = 0.25


def drop_view(drop: Drop, claims_left: int) -> dict[str, object]:
    return {
        "id": drop.id,
        "show_id": drop.show_id,
        "claims": drop.claims,
        "claims_left": claims_left,
        "ends_at": drop.ends_at_ms,
        "created_at": drop.created_at_ms,
    }


def claimer_coupon_id(drop_id: str, user_id: str) -> str:
    """The one coupon id a claimer of a drop can have."""
    return "cpn_" + hashlib.sha256(f"{drop_id}\x00{user_id}".encode()).hexdigest()[:24]


class DropService:
    def __init__(
        self,
        store: CouponStore,
        claims: DropClaims,
        coupons: CouponService,
        shows: ShowService,
        moderation: ModerationService,
        bus: Bus,
        clock: Clock,
        *,
        limiter: RateLimiter,
        options: DropOptions,
    ) -> None:
        self._store = store
        self._claims = claims
        self._coupons = coupons
        self._shows = shows
        self._moderation = moderation
        self._bus = bus
        self._clock = clock
        self._limiter = limiter
        self._options = options
        self._drops: dict[str, tuple[int, Drop]] = {}
        #: Per show: until when (this node's clock) its running drops hold, and their claims
        #: left as recorded in SQL.
        self._running: dict[str, tuple[int, list[tuple[Drop, int]]]] = {}
        self._flights = SingleFlight()
        #: This node's timers for the drops' ends, and its sends in the background.
        self._deadlines = Deadlines(clock, self._end_due, "ending a voucher drop")
        #: Coalesced `drop.updated`; of a burst, the lowest count goes out.
        self._updates: Throttle[tuple[str, int]] = Throttle(
            options.update_interval, self._send_update, keep=min_left, what="drop.updated"
        )

    async def fire(
        self,
        principal: Principal | None,
        show_id: str,
        spec: CouponSpec,
        claims: int,
        duration_seconds: int,
    ) -> dict[str, object]:
        """Start a drop in the show (its seller, hosts or an admin): `claims` single-use coupons
        of the seller's shop, built from `spec`, for the first claimers before the time is up."""
        show = await self._shows.get(show_id)
        authorize(principal, Action.MANAGE_OFFERS, show_ref(show))
        check_drop(claims, duration_seconds)
        if spec.product_id is not None or spec.show_id is not None:
            await self._coupons.check_scope(show.seller_id, spec.show_id, spec.product_id)
        now = self._clock.now_ms()
        drop_id = new_id("drp")
        template = self._coupons.build(show.seller_id, spec, drop_id=drop_id)
        drop = Drop(
            id=drop_id,
            show_id=show_id,
            seller_id=show.seller_id,
            template=template,
            claims=claims,
            ends_at_ms=now + duration_seconds * 1000,
            created_at_ms=now,
        )
        await self._store.add_drop(drop)
        await self._claims.open(drop_id, claims, duration_seconds + KEEP_SECONDS)
        self._drops[drop_id] = (now + DROP_CACHE_MS, drop)
        self._running.pop(show_id, None)
        self._deadlines.arm(drop_id, drop.ends_at_ms)
        await self._bus.publish(
            "drop.started",
            {
                "show_id": show_id,
                "drop_id": drop_id,
                "claims_left": claims,
                "ends_at": drop.ends_at_ms,
            },
        )
        return drop_view(drop, claims)

    async def running(self, show_id: str) -> list[dict[str, object]]:
        """The show's drops a viewer can still claim, as `drop.started` shows them (for the
        `show.join` ack: a late joiner sees a running drop without waiting for a claim)."""
        now = self._clock.now_ms()
        cached = self._running.get(show_id)
        if cached is None or cached[0] <= now:
            found = await self._flights.run(
                f"running:{show_id}", lambda: self._store.running_drops(show_id, now)
            )
            if len(self._running) > 10_000:
                self._running = {k: v for k, v in self._running.items() if v[0] > now}
            cached = (now + RUNNING_CACHE_MS, [(d, d.claims - taken) for d, taken in found])
            self._running[show_id] = cached
        return [drop_view(d, left) for d, left in cached[1] if left > 0 and d.ends_at_ms > now]

    async def _drop(self, drop_id: str) -> Drop:
        now = self._clock.now_ms()
        cached = self._drops.get(drop_id)
        if cached is not None and cached[0] > now:
            return cached[1]
        drop = await self._flights.run(drop_id, lambda: self._store.drop(drop_id))
        if drop is None:
            raise NotFound("no such drop")
        self._drops[drop_id] = (now + DROP_CACHE_MS, drop)
        return drop

    async def claim(
        self, principal: Principal | None, show_id: str, drop_id: str
    ) -> dict[str, object]:
        """A signed-in viewer's claim: their coupon's code (the same on every repeat), or
        `drop_exhausted` / `drop_ended`. Guests, banned viewers and the show's staff are
        refused."""
        who = authorize(principal, Action.CHAT)
        if who.is_guest:
            raise PermissionDenied("sign in with an account to claim")
        drop = await self._drop(drop_id)
        if drop.show_id != show_id:
            raise NotFound("no such drop in this show")
        ref = await self._shows.show_ref(show_id)
        if who.user_id == ref.seller_id or who.user_id in ref.host_ids:
            raise SellerCannotClaim("the seller and the show's hosts cannot claim")
        if (await self._moderation.standing(show_id, who.user_id)).banned:
            raise Banned("you are banned from this show")
        rates = self._options.claim_rates
        if rates and not await self._limiter.allow(f"claim:{who.user_id}", rates):
            raise RateLimited("too many claims; wait a moment")
        if self._clock.now_ms() >= drop.ends_at_ms:
            await self._end(drop)
        got = await self._claims.claim(drop_id, who.user_id, new_code())
        if got.outcome is Claimed.EXHAUSTED:
            raise DropExhausted("every voucher of this drop is taken")
        if got.outcome is Claimed.ENDED:
            raise DropEnded("this drop has ended")
        coupon = drop_coupon(
            drop.template,
            coupon_id=claimer_coupon_id(drop_id, who.user_id),
            code=got.code,
            now_ms=self._clock.now_ms(),
        )
        await self._store.add_claim(drop_id, who.user_id, coupon, coupon.created_at_ms)
        if got.outcome is Claimed.TAKEN:
            await self._updates.changed(drop.id, (drop.show_id, got.left))
            if got.left == 0:
                await self._end(drop)
        return {"coupon_code": got.code, "coupon": _claimed_view(coupon), "drop_id": drop_id}

    async def _send_update(self, drop_id: str, update: tuple[str, int]) -> None:
        show_id, left = update
        await self._bus.publish(
            "drop.updated", {"show_id": show_id, "drop_id": drop_id, "claims_left": left}
        )

    async def _end_due(self, drop_id: str) -> None:
        await self._end(await self._drop(drop_id))

    async def _end(self, drop: Drop) -> None:
        """End the drop; only the first caller across nodes announces it (a node that dies
        between the two leaves it ended unannounced)."""
        self._deadlines.cancel(drop.id)
        first = await self._claims.end(drop.id)
        if first:
            await self._updates.flush(drop.id)  # the last count goes out before the end
        await self._store.end_drop(drop.id, self._clock.now_ms())
        if first:
            await self._bus.publish("drop.ended", {"show_id": drop.show_id, "drop_id": drop.id})

    async def sweep(self) -> int:
        """End the drops whose time is up that nobody ended (their node died, and nobody
        claimed since); how many."""
        due = await self._store.due_drops(self._clock.now_ms())
        for drop_id in due:
            await self._end_due(drop_id)
        return len(due)

    async def aclose(self) -> None:
        """Cancel timers and pending sends (on shutdown; any node's sweeper ends a drop)."""
        await self._deadlines.aclose()
        await self._updates.aclose()


def _claimed_view(coupon: Coupon) -> dict[str, object]:
    """What a claimer learns of their coupon: enough for the page to say what it is worth."""
    return {
        "code": coupon.code,
        "kind": str(coupon.kind),
        "value": coupon.value,
        "currency": coupon.currency,
        "min_order": coupon.min_order,
        "ends_at": coupon.ends_at_ms,
        "scope": {"show_id": coupon.scope_show_id, "product_id": coupon.scope_product_id},
    }


def min_left(old: tuple[str, int], new: tuple[str, int]) -> tuple[str, int]:
    """Of two counts of claims left, the lower: announcements can arrive out of order, and
    claims only ever go down."""
    return new if new[1] < old[1] else old
