"""Ports to the machinery every plane shares: time, the event bus between nodes, rate limits,
the hub's per-show fan-out across nodes, who was last seen watching each show and which node is
the origin of a show's media."""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Collection, Sequence
from typing import Any, Protocol

from livecommerce.domain.ratelimit import Rate

BusHandler = Callable[[dict[str, Any]], Awaitable[None]]


class Clock(Protocol):
    def now(self) -> float:
        """Seconds since the epoch; injected so tests and the domain never read the wall clock."""

    def now_ms(self) -> int:
        """Whole milliseconds since the epoch: what stores, events and the wire carry."""


class Bus(Protocol):
    """Fan-out of application events to every node (in-process or Redis pub/sub)."""

    async def publish(self, topic: str, payload: dict[str, Any]) -> None: ...

    def subscribe(self, topic: str, handler: BusHandler) -> None: ...


class RateLimiter(Protocol):
    async def allow(self, key: str, rates: Sequence[Rate], cost: int = 1) -> bool:
        """True if every rate admits one more event for ``key`` (and then counts it)."""


class PresenceStore(Protocol):
    """Who was last seen when, per show, shared by every node (members are hashed persons)."""

    async def touch(self, show_id: str, members: Collection[str], at_ms: int) -> None:
        """These people were seen in the show at ``at_ms`` (a later sighting wins)."""

    async def count(self, show_id: str, since_ms: int) -> int:
        """How many people were seen in the show at ``since_ms`` or later."""


#: Called with (show_id, envelope) for each event another node published.
FanoutHandler = Callable[[str, dict[str, Any]], Awaitable[None]]


#: Called after a lost connection to the fan-out backend is restored (to fill gaps).
ReconnectHandler = Callable[[], Awaitable[None]]


class Fanout(Protocol):
    node_id: str

    def set_handlers(self, on_message: FanoutHandler, on_reconnect: ReconnectHandler) -> None: ...

    async def publish(self, show_id: str, envelope: dict[str, Any]) -> None:
        """Send to the other nodes serving this show (never back to this node)."""

    async def watch(self, show_id: str) -> None:
        """Start receiving this show's events (the first local viewer arrived); returns once
        subscribed, or after a short wait when the backend is away (joins never hang on it)."""

    def unwatch(self, show_id: str) -> None:
        """Stop receiving them (the last local viewer left)."""

    def running(self) -> contextlib.AbstractAsyncContextManager[None]: ...


class ShowOrigins(Protocol):
    """Which node publishes a show's media (its origin), so WHEP viewers on other nodes can be
    served from a pull of it. A record lives for a TTL and is refreshed while the origin
    publishes; nodes name themselves by the base URL the others reach them at."""

    async def claim(self, show_id: str, node_url: str, ttl_seconds: float) -> None:
        """This node is the show's origin now (a publisher landed here), replacing any other."""

    async def refresh(self, show_id: str, node_url: str, ttl_seconds: float) -> bool:
        """Extend this node's record (or write it again if it expired); False when another node
        holds it: the publisher moved there."""

    async def release(self, show_id: str, node_url: str) -> None:
        """The publisher left: forget the record, unless another node holds it by now."""

    async def origin(self, show_id: str) -> str | None:
        """The origin's base URL, or None when no node publishes the show."""
