"""Rate rules as pure math (a sliding window), shared by the in-process and Redis limiters.

A rule "``limit`` per ``per_seconds``" means exactly that: at most ``limit`` accepted events in
any window of ``per_seconds``, bursts included. Each key keeps the stamps of its newest
``limit`` accepted events; a request passes when its ``cost`` still fits among the stamps inside
the window that ends now. (The GCRA used before kept one number per key but let a window hold
up to ``2 * limit - 1`` events: a chat flood got 5 lines through in 2 s under "3 per 2 s" and
about 40 in 30 s under "20 per 30 s".)
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Rate:
    """At most ``limit`` events in any ``per_seconds`` window (with bursts up to ``limit``)."""

    limit: int
    per_seconds: float


def window_allows(newest_first: Iterable[float], now: float, rate: Rate, cost: int = 1) -> bool:
    """Whether ``cost`` more events fit ``rate`` at ``now``, given the key's accepted events'
    stamps, newest first (only the first ``limit`` are read). A refused request is not
    recorded, so refusals never extend a penalty."""
    if cost > rate.limit:
        return False
    recent = itertools.islice(newest_first, rate.limit)
    inside = sum(1 for stamp in recent if now - stamp < rate.per_seconds)
    return inside + cost <= rate.limit
