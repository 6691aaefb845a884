"""Who is watching each show, by the definitions of docs/METRICS.md: ``watching_now`` is the
people seen within the window across every node, ``peak`` the most at once and
``unique_viewers`` everyone who ever watched.

A person is seen in two ways. Held sessions (a socket that joined the show, a WebRTC viewer
whose peer connection is connected) are listed by their plane's *source* at every beat; an HLS
request is a one-off sighting kept until the next beat. Each beat sends this node's people to
the shared presence store (one sighting per person, however many requests or sessions they
made) and records them, hashed, as viewers of the show with the count as a peak candidate.

People reach the stores only as a keyed hash of show and person (HMAC with the server's
secret): no account id, guest id or browser id is kept in the clear, and the same browser
hashes differently in two shows.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from livecommerce.domain.presence import known_person
from livecommerce.errors import Unauthenticated
from livecommerce.services.accounts import AccountService
from livecommerce.services.ports import AnalyticsStore, Clock, PresenceStore

log = logging.getLogger(__name__)

#: What a plane holds right now: (show id, person key) for each live session.
Source = Callable[[], Iterable[tuple[str, str]]]

#: How long a node trusts what a media request's token resolved to (an HLS player re-sends it
#: every second or so; one account lookup per token per interval, not one per request).
TOKEN_CACHE_SECONDS = 60.0
#: Most tokens remembered; the cache starts over when full.
TOKEN_CACHE_SIZE = 10_000

#: Most one-off sightings a node keeps between two beats; beyond, sightings are dropped (the
#: count may then be low, never padded) so a flood of made-up browser ids cannot grow memory.
MAX_PENDING_SIGHTINGS = 100_000


@dataclass(frozen=True, slots=True)
class ViewerMetrics:
    """The public figures of one show (docs/METRICS.md)."""

    watching_now: int
    peak: int
    unique_viewers: int


class PresenceService:
    def __init__(
        self,
        store: PresenceStore,
        analytics: AnalyticsStore,
        accounts: AccountService,
        clock: Clock,
        secret: bytes,
        window_seconds: float,
    ) -> None:
        self._store = store
        self._accounts = accounts
        self._analytics = analytics
        self._clock = clock
        self._secret = secret
        self._window_ms = int(window_seconds * 1000)
        self._sources: list[Source] = []
        self._sightings: dict[str, set[str]] = {}
        self._pending = 0
        # hashed viewers this node already recorded, per show it saw people of at the last beat
        self._recorded: dict[str, set[str]] = {}
        # keyed hash of a token -> (trusted until, its user id or None when it is no token)
        self._tokens: dict[str, tuple[float, str | None]] = {}

    async def identify(self, token: str | None, visitor_id: str | None) -> str | None:
        """The person a media request (WHEP offer, HLS fetch) is counted as: the account its
        token or session cookie names, else its browser id, else None (the caller counts its
        own session). A bad or expired token only makes the request anonymous: media needs no
        account."""
        user_id = await self._user_of(token) if token else None
        return known_person(user_id, visitor_id)

    async def _user_of(self, token: str) -> str | None:
        key = hmac.new(self._secret, token.encode(), hashlib.sha256).hexdigest()
        now = self._clock.now()
        cached = self._tokens.get(key)
        if cached is not None and cached[0] > now:
            return cached[1]
        try:
            user_id: str | None = (await self._accounts.authenticate(token)).user_id
        except Unauthenticated:
            user_id = None
        if len(self._tokens) >= TOKEN_CACHE_SIZE:
            self._tokens.clear()
        self._tokens[key] = (now + TOKEN_CACHE_SECONDS, user_id)
        return user_id

    def add_source(self, source: Source) -> None:
        """A plane's live sessions, listed at every beat (the hub's joined sockets, WHEP)."""
        self._sources.append(source)

    async def arrived(self, show_id: str, person: str) -> None:
        """A held session just began (a socket joined): counted now, not at the next beat (or
        at it, while the presence store is unreachable: a join never fails for a count)."""
        try:
            await self._store.touch(show_id, [self.member(show_id, person)], self._clock.now_ms())
        except Exception:
            log.warning("presence store unavailable; the join is counted at the next beat")

    def seen(self, show_id: str, person: str) -> None:
        """A one-off sighting (an HLS playlist or segment fetch), counted at the next beat."""
        people = self._sightings.setdefault(show_id, set())
        if person in people or self._pending >= MAX_PENDING_SIGHTINGS:
            return
        people.add(person)
        self._pending += 1

    def member(self, show_id: str, person: str) -> str:
        """The keyed hash a person is stored as in one show."""
        digest = hmac.new(self._secret, f"{show_id}\0{person}".encode(), hashlib.sha256)
        return digest.hexdigest()[:32]

    async def beat(self) -> None:
        """Send this node's people to the shared store and record peak and unique viewers."""
        now_ms = self._clock.now_ms()
        people, self._sightings, self._pending = self._sightings, {}, 0
        for source in self._sources:
            for show_id, person in source():
                people.setdefault(show_id, set()).add(person)
        for show_id in set(self._recorded) - set(people):
            del self._recorded[show_id]
        for show_id, persons in people.items():
            members = {self.member(show_id, p) for p in persons}
            await self._store.touch(show_id, members, now_ms)
            watching = await self._store.count(show_id, now_ms - self._window_ms)
            recorded = self._recorded.setdefault(show_id, set())
            fresh = members - recorded
            await self._analytics.record_audience(show_id, fresh, watching, now_ms)
            recorded |= fresh

    async def watching_now(self, show_id: str) -> int:
        """People seen in the show within the window, on every node."""
        return await self._store.count(show_id, self._clock.now_ms() - self._window_ms)

    async def metrics(self, show_id: str) -> ViewerMetrics:
        watching = await self.watching_now(show_id)
        tally = await self._analytics.audience(show_id)
        # both are recorded at beats; a count read between two beats may be ahead of them, and
        # everyone watching now is one of the show's viewers
        return ViewerMetrics(
            watching, max(tally.peak, watching), max(tally.unique_viewers, watching)
        )
