"""In-process adapters for one node: the wall clock, the event bus and the rate limiter."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from livecommerce.services.ports import BusHandler

log = logging.getLogger(__name__)


async def deliver(handlers: Sequence[BusHandler], topic: str, payload: dict[str, Any]) -> None:
    """Run every handler; one failing subscriber must not starve the others."""
    for handler in handlers:
        try:
            await handler(payload)
        except Exception:
            log.exception("bus handler failed", extra={"topic": topic})


class MemoryBus:
    """Delivers to subscribers of this process only; right for a single node."""

    def __init__(self) -> None:
        self._handlers: defaultdict[str, list[BusHandler]] = defaultdict(list)

    def subscribe(self, topic: str, handler: BusHandler) -> None:
        self._handlers[topic].append(handler)

    async def publish(self, topic: str, payload: dict[str, Any]) -> None:
        await deliver(list(self._handlers.get(topic, ())), topic, payload)
