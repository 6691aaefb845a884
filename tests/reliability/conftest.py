"""The reliability battery (../RELIABILITY.md): one module per RB id, PR tier by default, the N
tier marked `soak`. Figures a test measures go through `figures`, so `make soak` can publish them
in docs/RELIABILITY.md from the same run."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

RecordFigure = Callable[..., None]


@pytest.fixture
def figures(request: pytest.FixtureRequest) -> RecordFigure:
    """`figures(rb="RB-01", name="units oversold", value=0, unit="units", limit="0")`: appended
    to the file `LIVECOMMERCE_FIGURES` names (set by scripts/soak), ignored when it is unset so a
    test runs the same under plain pytest."""
    target = os.environ.get("LIVECOMMERCE_FIGURES")

    def record(
        *, rb: str, name: str, value: float | int | str, unit: str = "", limit: str = ""
    ) -> None:
        if not target:
            return
        row = {
            "rb": rb,
            "name": name,
            "value": value,
            "unit": unit,
            "limit": limit,
            "test": request.node.nodeid,
        }
        with Path(target).open("a", encoding="utf-8") as out:
            out.write(json.dumps(row) + "\n")

    return record
