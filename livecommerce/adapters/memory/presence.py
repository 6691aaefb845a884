"""In-process presence for one node: each show's people and when each was last seen."""

from __future__ import annotations

from collections.abc import Collection


class MemoryPresence:
    def __init__(self) -> None:
        self._seen: dict[str, dict[str, int]] = {}

    async def touch(self, show_id: str, members: Collection[str], at_ms: int) -> None:
        seen = self._seen.setdefault(show_id, {})
        for member in members:
            seen[member] = max(at_ms, seen.get(member, 0))

    async def count(self, show_id: str, since_ms: int) -> int:
        seen = self._seen.get(show_id)
        if not seen:
            return 0
        # forget who left the window, so memory follows the audience, not the show's history
        for member in [m for m, at in seen.items() if at < since_ms]:
            del seen[member]
        if not seen:
            del self._seen[show_id]
        return len(seen)
