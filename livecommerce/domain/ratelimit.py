"""Rate rules as pure math (GCRA), shared by the in-process and Redis limiters.

GCRA keeps one number per key and rule (the theoretical arrival time), so a burst of ``limit``
requests is allowed at once and then one request per ``per_seconds / limit``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Rate:
    """At most ``limit`` events in any ``per_seconds`` window (with bursts up to ``limit``)."""

    limit: int
    per_seconds: float

    @property
    def interval(self) -> float:
        return self.per_seconds / self.limit


def gcra(tat: float | None, now: float, rate: Rate, cost: int = 1) -> tuple[bool, float]:
    """Decide one request: return (allowed, new theoretical arrival time).

    ``tat`` is the stored theoretical arrival time for this key (None when unseen). A refused
    request leaves the stored value unchanged, so refusals never extend a penalty.
    """
    current = max(tat if tat is not None else now, now)
    new_tat = current + rate.interval * cost
    allowed = new_tat - now <= rate.per_seconds + 1e-9
    return allowed, (new_tat if allowed else (tat if tat is not None else now))
