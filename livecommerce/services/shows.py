"""Show use cases: create and edit shows, stream keys, hosts, and lifecycle steps.

Lifecycle changes and key rotations are published on the bus so the broadcast plane and the
hub on every node react (end a publisher whose key was rotated, announce ``show.state``).
"""

from __future__ import annotations

import hmac
from typing import Any

from livecommerce.domain.access import Action, Principal, ShowRef, authorize
from livecommerce.domain.accounts import normalize_email
from livecommerce.domain.notifications import show_live_event
from livecommerce.domain.shows import ShowStatus, transition
from livecommerce.errors import Conflict, InvalidInput, NotFound, Unauthenticated
from livecommerce.ids import hash_secret, new_id, new_secret
from livecommerce.services.ports import AccountStore, Bus, Clock, Show, ShowStore

STREAM_KEY_PREFIX = "sk_"
TITLE_MAX = 120
DESCRIPTION_MAX = 2000


def _check_text(title: str | None, description: str | None) -> None:
    if title is not None and not (1 <= len(title.strip()) <= TITLE_MAX):
        raise InvalidInput(f"title must be 1..{TITLE_MAX} characters")
    if description is not None and len(description) > DESCRIPTION_MAX:
        raise InvalidInput(f"description must be at most {DESCRIPTION_MAX} characters")


def show_ref(show: Show) -> ShowRef:
    return ShowRef(id=show.id, seller_id=show.seller_id, host_ids=show.host_ids)


class ShowService:
    def __init__(self, store: ShowStore, accounts: AccountStore, clock: Clock, bus: Bus) -> None:
        self._store = store
        self._accounts = accounts
        self._clock = clock
        self._bus = bus

    async def create(
        self,
        principal: Principal | None,
        title: str,
        description: str = "",
        scheduled_at: int | None = None,
    ) -> tuple[Show, str]:
        """A new scheduled show and its stream key (shown once; only its hash is kept)."""
        seller = authorize(principal, Action.CREATE_SHOW)
        _check_text(title, description)
        now = self._clock.now_ms()
        show = Show(
            id=new_id("shw"),
            seller_id=seller.user_id,
            title=title.strip(),
            description=description,
            status=ShowStatus.SCHEDULED,
            scheduled_at=scheduled_at,
            started_at=None,
            ended_at=None,
            created_at=now,
        )
        key = STREAM_KEY_PREFIX + new_secret(24)
        await self._store.add_show(show, hash_secret(key))
        return show, key

    async def get(self, show_id: str) -> Show:
        show = await self._store.get_show(show_id)
        if show is None:
            raise NotFound("no such show")
        return show

    async def show_ref(self, show_id: str) -> ShowRef:
        return show_ref(await self.get(show_id))

    async def list(
        self, statuses: list[ShowStatus] | None = None, seller_id: str | None = None
    ) -> list[Show]:
        return await self._store.list_shows(statuses, seller_id)

    async def update(
        self,
        principal: Principal | None,
        show_id: str,
        *,
        title: str | None = None,
        description: str | None = None,
        scheduled_at: int | None = None,
    ) -> Show:
        show = await self.get(show_id)
        authorize(principal, Action.MANAGE_SHOW, show_ref(show))
        _check_text(title, description)
        fields: dict[str, Any] = {}
        if title is not None:
            fields["title"] = title.strip()
        if description is not None:
            fields["description"] = description
        if scheduled_at is not None:
            fields["scheduled_at"] = scheduled_at
        await self._store.update_show(show_id, **fields)
        return await self.get(show_id)

    async def rotate_stream_key(self, principal: Principal | None, show_id: str) -> str:
        """Replace the key; the old one stops working at once and live sessions using it end."""
        show = await self.get(show_id)
        authorize(principal, Action.MANAGE_SHOW, show_ref(show))
        key = STREAM_KEY_PREFIX + new_secret(24)
        await self._store.set_stream_key_hash(show_id, hash_secret(key), self._clock.now_ms())
        await self._bus.publish("show.key_rotated", {"show_id": show_id})
        return key

    async def verify_stream_key(self, show_id: str, key: str) -> Show:
        show = await self._store.get_show(show_id)
        if show is None:
            raise NotFound("no such show")
        stored = await self._store.stream_key_hash(show_id)
        if not stored or not hmac.compare_digest(stored, hash_secret(key)):
            raise Unauthenticated("wrong stream key")
        return show

    async def move(
        self, show_id: str, wanted: ShowStatus, at_ms: int | None = None
    ) -> tuple[Show, bool]:
        """One lifecycle step at ``at_ms`` (default now), announced as ``show.state``.

        Returns the show and whether it changed. The write is a compare-and-set on the status
        read, retried on a lost race, so two nodes (a pausing publisher, an ending seller) never
        undo each other; InvalidTransition when the step is not allowed (ended is final).
        """
        for _ in range(5):
            show = await self.get(show_id)
            now = self._clock.now_ms() if at_ms is None else at_ms
            times = transition(show.times, wanted, now)
            if times == show.times:
                return show, False
            # the first go-live is news for followers and RSVPs; a resume is not
            first_live = show.started_at is None and times.started_at is not None
            changed = await self._store.update_show(
                show_id,
                if_status=show.status,
                events=[show_live_event(show.id, show.seller_id, show.title, now)]
                if first_live
                else [],
                status=times.status,
                started_at=times.started_at,
                ended_at=times.ended_at,
                paused_at=times.paused_at,
                live_ms=times.live_ms,
                live_since=times.live_since,
            )
            if changed:
                updated = await self.get(show_id)
                if show.status is not updated.status:
                    await self._bus.publish(
                        "show.state",
                        {
                            "show_id": show_id,
                            "state": updated.status.value,
                            "status": updated.status.value,  # the field's first name
                            "at": now,
                        },
                    )
                return updated, True
        raise Conflict("the show changed too often; try again")

    async def grant_host(self, principal: Principal | None, show_id: str, user_id: str) -> Show:
        show = await self.get(show_id)
        authorize(principal, Action.MANAGE_SHOW, show_ref(show))
        user = await self._accounts.user_by_id(user_id)
        if user is None or user.is_guest:
            raise NotFound("no such account")
        await self._store.add_host(show_id, user_id, self._clock.now_ms())
        return await self.get(show_id)

    async def grant_host_by_email(
        self, principal: Principal | None, show_id: str, email: str
    ) -> Show:
        """Make the account with this e-mail a host. An unknown address, a malformed one and a
        guest's all get the same NotFound, so the answer tells a seller no more than needed."""
        show = await self.get(show_id)
        authorize(principal, Action.MANAGE_SHOW, show_ref(show))
        try:
            user = await self._accounts.user_by_email(normalize_email(email))
        except InvalidInput:
            user = None
        if user is None or user.is_guest:
            raise NotFound("no account with this e-mail can be made a host")
        await self._store.add_host(show_id, user.id, self._clock.now_ms())
        return await self.get(show_id)

    async def revoke_host(self, principal: Principal | None, show_id: str, user_id: str) -> Show:
        show = await self.get(show_id)
        authorize(principal, Action.MANAGE_SHOW, show_ref(show))
        await self._store.remove_host(show_id, user_id)
        return await self.get(show_id)
