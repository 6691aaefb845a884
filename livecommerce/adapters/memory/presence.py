"""In-process presence for one node (the fan-out needs nothing on one node)."""

from __future__ import annotations

from livecommerce.domain.presence import NodeReport, total_viewers
from livecommerce.services.ports import Clock


class MemoryPresence:
    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._reports: dict[str, dict[str, NodeReport]] = {}

    async def report(self, show_id: str, node_id: str, count: int, ttl_seconds: float) -> None:
        per_node = self._reports.setdefault(show_id, {})
        if count <= 0:
            per_node.pop(node_id, None)
        else:
            per_node[node_id] = NodeReport(count, self._clock.now() + ttl_seconds)
        if not per_node:
            self._reports.pop(show_id, None)

    async def total(self, show_id: str) -> int:
        return total_viewers(self._reports.get(show_id, {}), self._clock.now())
