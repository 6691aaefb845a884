"""Viewer counts from heartbeats: each node reports how many connections it holds per show, and
the count is the sum of the reports that are still fresh.

Counting per node (not per viewer) keeps presence traffic independent of audience size; a node
that dies stops heartbeating and its viewers drop out once its report goes stale.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class NodeReport:
    """One node's count for one show, valid until ``expires_at`` (epoch seconds)."""

    count: int
    expires_at: float


def total_viewers(reports: Mapping[str, NodeReport], now: float) -> int:
    """Sum of the fresh reports; stale ones (a crashed node) are ignored."""
    return sum(r.count for r in reports.values() if r.expires_at > now and r.count > 0)


def should_push(
    last_pushed_at: float | None,
    last_count: int | None,
    count: int,
    now: float,
    min_interval: float,
) -> bool:
    """Push ``viewers.count`` when it changed, and never more often than ``min_interval``."""
    if last_count == count:
        return False
    return last_pushed_at is None or now - last_pushed_at >= min_interval
