"""How big and how long the soak tier runs. Full scale is what ../RELIABILITY.md names; a
developer (or a short `make soak` on a shared machine) shrinks it with
``LIVECOMMERCE_SOAK_SCALE`` (a factor on every client count, default 1) and
``LIVECOMMERCE_SOAK_MINUTES`` (RB-18's hold time, default 60). Each test records the size it
actually ran at as a figure, so docs/RELIABILITY.md never passes a small run off as a full one."""

from __future__ import annotations

import os


def scaled(full: int) -> int:
    """``full`` clients times ``LIVECOMMERCE_SOAK_SCALE``, at least 1."""
    factor = float(os.environ.get("LIVECOMMERCE_SOAK_SCALE", "1"))
    return max(1, round(full * factor))


def soak_minutes(full: float) -> float:
    return float(os.environ.get("LIVECOMMERCE_SOAK_MINUTES", str(full)))
