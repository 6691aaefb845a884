"""How one node's show-room events reach the viewers connected to other nodes.

The hub delivers every event to its own clients first and then publishes it here; other nodes
deliver what they receive to *their* clients only. Channels are per show and a node subscribes
only while it has viewers of that show, so it never parses traffic of shows it does not serve
(python-socketio's Redis manager uses one channel that every node decodes). Local delivery not
depending on Redis is what keeps chat working on each node while Redis restarts.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Protocol

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


class LocalFanout:
    """One node: there is nobody else to tell."""

    def __init__(self, node_id: str) -> None:
        self.node_id = node_id

    def set_handlers(self, on_message: FanoutHandler, on_reconnect: ReconnectHandler) -> None:
        return None

    async def publish(self, show_id: str, envelope: dict[str, Any]) -> None:
        return None

    async def watch(self, show_id: str) -> None:
        return None

    def unwatch(self, show_id: str) -> None:
        return None

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        yield
