"""Viewer counts across nodes: each node reports its own connection count per show with a TTL,
and reads the sum. Per-node reports keep presence traffic flat however large the audience.
"""

from __future__ import annotations

from typing import Protocol


class PresenceStore(Protocol):
    async def report(self, show_id: str, node_id: str, count: int, ttl_seconds: float) -> None:
        """This node holds ``count`` connections in the show; forget it after the TTL."""

    async def total(self, show_id: str) -> int:
        """Sum of the fresh reports of every node."""
