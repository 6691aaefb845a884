"""How one node's show-room events reach the viewers connected to other nodes.

The hub delivers every event to its own clients first and then publishes it here; other nodes
deliver what they receive to *their* clients only. Channels are per show and a node subscribes
only while it has viewers of that show, so it never parses traffic of shows it does not serve
(python-socketio's Redis manager uses one channel that every node decodes). Local delivery not
depending on Redis is what keeps chat working on each node while Redis restarts.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from livecommerce.services.ports import FanoutHandler, ReconnectHandler


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
