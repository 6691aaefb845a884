"""Following sellers: follow and unfollow (accounts only, never yourself, idempotent), follower
counts, what a user follows (with the seller's show on air now), and the two reads other
features build on: ``is_following`` (one primary-key lookup; followers-only coupons, giveaways
and chat ask it) and ``followers`` (the ids in pages, for a go-live fan-out).

Counts are ``COUNT(*)`` over the follow rows, so concurrent follows and unfollows can never
leave them wrong; a follow is a row unique on (follower, seller), so repeating one is a no-op.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

from livecommerce.domain.access import Action, Principal, authorize
from livecommerce.domain.audience import check_follow, has_storefront, normalize_handle
from livecommerce.domain.shows import OPEN
from livecommerce.errors import InvalidInput, NotFound
from livecommerce.services.ports import AccountStore, Clock, Followed, FollowStore, Show, User
from livecommerce.services.shows import ShowService

#: Followers handed out per page by ``followers`` (one indexed range read each).
FOLLOWERS_PAGE = 1000


@dataclass(frozen=True, slots=True)
class Seller:
    """A seller as the audience sees them: public fields, follower count, the show on air now
    (if any) and whether the asking user follows them."""

    user: User
    followers: int
    following: bool
    live_show: Show | None


@dataclass(frozen=True, slots=True)
class FollowResult:
    """The caller's relation to a seller after a follow or unfollow."""

    following: bool
    followers: int
    #: The call changed something (a new follow: 201; a repeat: 200).
    changed: bool


@dataclass(frozen=True, slots=True)
class FollowingPage:
    sellers: list[tuple[Followed, Show | None]]
    #: Pass back as ``cursor`` for the next page; None on the last one.
    next_cursor: str | None


def _cursor(item: Followed) -> str:
    return f"{item.followed_at}.{item.seller_id}"


def _parse_cursor(cursor: str | None) -> tuple[int, str] | None:
    if cursor is None:
        return None
    at, _, seller_id = cursor.partition(".")
    if not at.isdigit() or not seller_id or len(cursor) > 200:
        raise InvalidInput("cursor: not a cursor this API handed out")
    return int(at), seller_id


class FollowService:
    def __init__(
        self, store: FollowStore, accounts: AccountStore, shows: ShowService, clock: Clock
    ) -> None:
        self._store = store
        self._accounts = accounts
        self._shows = shows
        self._clock = clock

    async def _seller_user(self, seller_id: str) -> User:
        user = await self._accounts.user_by_id(seller_id)
        if user is None or not has_storefront(user.role, user.is_guest):
            raise NotFound("no such seller")
        return user

    async def _live_show(self, seller_id: str) -> Show | None:
        on_air = await self._shows.list(sorted(OPEN), seller_id)
        return on_air[0] if on_air else None

    async def seller(self, seller_id: str, viewer: Principal | None = None) -> Seller:
        """A seller's public profile; NotFound unless the account is a seller."""
        return await self._profile(await self._seller_user(seller_id), viewer)

    async def seller_by_handle(self, handle: str, viewer: Principal | None = None) -> Seller:
        """The seller a storefront address names, in any case, or named before they changed
        their handle (a handle someone holds now wins); NotFound for a malformed one."""
        try:
            wanted = normalize_handle(handle)
        except InvalidInput:
            raise NotFound("no such seller") from None
        user = await self._accounts.user_by_handle(wanted)
        if user is None:
            user = await self._accounts.user_by_former_handle(wanted)
        if user is None or not has_storefront(user.role, user.is_guest):
            raise NotFound("no such seller")
        return await self._profile(user, viewer)

    async def _profile(self, user: User, viewer: Principal | None) -> Seller:
        following = viewer is not None and await self.is_following(viewer.user_id, user.id)
        return Seller(
            user=user,
            followers=await self._store.follower_count(user.id),
            following=following,
            live_show=await self._live_show(user.id),
        )

    async def follow(self, principal: Principal | None, seller_id: str) -> FollowResult:
        caller = authorize(principal, Action.FOLLOW)
        check_follow(caller.user_id, seller_id)
        await self._seller_user(seller_id)
        added = await self._store.follow(caller.user_id, seller_id, self._clock.now_ms())
        return FollowResult(True, await self._store.follower_count(seller_id), added)

    async def unfollow(self, principal: Principal | None, seller_id: str) -> FollowResult:
        caller = authorize(principal, Action.FOLLOW)
        await self._seller_user(seller_id)
        removed = await self._store.unfollow(caller.user_id, seller_id)
        return FollowResult(False, await self._store.follower_count(seller_id), removed)

    async def is_following(self, user_id: str, seller_id: str) -> bool:
        """Whether ``user_id`` follows ``seller_id``: one primary-key lookup."""
        return await self._store.is_following(user_id, seller_id)

    async def follower_count(self, seller_id: str) -> int:
        return await self._store.follower_count(seller_id)

    async def followers(
        self, seller_id: str, page_size: int = FOLLOWERS_PAGE, after: str | None = None
    ) -> AsyncIterator[list[str]]:
        """Every follower id of the seller (those after ``after``: a resumed walk), in pages of
        ``page_size`` (keyset paging, so a follow or unfollow during the walk neither repeats
        nor skips anyone else)."""
        while True:
            page = await self._store.followers_page(seller_id, after, page_size)
            if page:
                yield page
            if len(page) < page_size:
                return
            after = page[-1]

    async def following(
        self, principal: Principal | None, cursor: str | None, limit: int
    ) -> FollowingPage:
        """The sellers the caller follows, newest first, each with the show on air now."""
        caller = authorize(principal, Action.FOLLOW)
        rows = await self._store.following_page(caller.user_id, _parse_cursor(cursor), limit + 1)
        page = rows[:limit]
        on_air: dict[str, Show] = {}
        if page:
            for show in await self._shows.list(sorted(OPEN)):
                on_air.setdefault(show.seller_id, show)
        return FollowingPage(
            sellers=[(item, on_air.get(item.seller_id)) for item in page],
            next_cursor=_cursor(page[-1]) if len(rows) > limit else None,
        )
