"""The port the seller dashboard reads through: per-show figures derived from what the other
planes stored, and what only analytics keeps: the viewer-count samples, each show's peak and
its unique viewers (docs/METRICS.md)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True, slots=True)
class TopProduct:
    product_id: str
    name: str
    units: int
    gmv_minor: int


@dataclass(frozen=True, slots=True)
class ShowFigures:
    """What a seller wants to know about one show; money in minor units of ``currency``."""

    show_id: str
    currency: str
    peak_viewers: int = 0
    chat_lines: int = 0
    pins: int = 0
    add_to_cart: int = 0
    paid_orders: int = 0
    gmv_minor: int = 0
    #: Per-minute series: epoch-ms minute → value.
    viewers: dict[int, int] = field(default_factory=dict)
    chat_per_minute: dict[int, int] = field(default_factory=dict)
    paid_per_minute: dict[int, int] = field(default_factory=dict)
    gmv_per_minute: dict[int, int] = field(default_factory=dict)
    top_products: list[TopProduct] = field(default_factory=list)

    @property
    def conversion(self) -> float:
        """Paid orders per add-to-cart (0 when nobody reserved anything)."""
        return self.paid_orders / self.add_to_cart if self.add_to_cart else 0.0

    @property
    def minutes(self) -> list[int]:
        """Every minute that has any figure, in order (the CSV's rows)."""
        keys = set(self.viewers) | set(self.chat_per_minute) | set(self.paid_per_minute)
        return sorted(keys)


@dataclass(frozen=True, slots=True)
class AudienceTally:
    """A show's audience over its life: the most people watching at once and how many watched."""

    peak: int = 0
    unique_viewers: int = 0


class AnalyticsStore(Protocol):
    async def show_figures(self, show_id: str, currency: str) -> ShowFigures:
        """Every dashboard figure of one show, bucketed per minute by the store."""
        ...

    async def record_viewers(self, show_id: str, at_ms: int, viewers: int) -> None:
        """Keep one viewer-count sample."""
        ...

    async def record_audience(
        self, show_id: str, viewers: Collection[str], watching: int, at_ms: int
    ) -> None:
        """Remember these (hashed) viewers as having watched, once each, and raise the peak to
        ``watching`` if it is higher; safe to repeat and to call from every node."""
        ...

    async def audience(self, show_id: str) -> AudienceTally:
        """The show's peak and unique viewers as recorded (zeros for a show nobody watched)."""
        ...
