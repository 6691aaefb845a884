"""Origin records for one node: with no other node to pull, the record only mirrors what this
node publishes, so the broadcast plane runs the same code with or without Redis."""

from __future__ import annotations

from livecommerce.services.ports import Clock


class MemoryShowOrigins:
    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._records: dict[str, tuple[str, float]] = {}  # show_id -> (node url, expires at)

    async def claim(self, show_id: str, node_url: str, ttl_seconds: float) -> None:
        self._records[show_id] = (node_url, self._clock.now() + ttl_seconds)

    async def refresh(self, show_id: str, node_url: str, ttl_seconds: float) -> bool:
        holder = await self.origin(show_id)
        if holder not in (None, node_url):
            return False
        await self.claim(show_id, node_url, ttl_seconds)
        return True

    async def release(self, show_id: str, node_url: str) -> None:
        if await self.origin(show_id) == node_url:
            del self._records[show_id]

    async def origin(self, show_id: str) -> str | None:
        record = self._records.get(show_id)
        if record is None:
            return None
        if record[1] <= self._clock.now():
            del self._records[show_id]
            return None
        return record[0]
