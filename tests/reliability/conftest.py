"""The reliability battery (../RELIABILITY.md): one module per RB id, PR tier by default, the N
tier marked `soak`. Figures a test measures go through `figures`, so `make soak` can publish them
in docs/RELIABILITY.md from the same run."""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from livecommerce.settings import Settings
from tests.conftest import SettingsFactory
from tests.support.fake_stripe import FakeStripe
from tests.support.shop import UNHURRIED_SHOP, production_sections, stripe_payments

RecordFigure = Callable[..., None]
#: `stripe_shop_settings(**shop)`: see the fixture.
StripeShopSettings = Callable[..., Settings]


@pytest.fixture
async def fake() -> AsyncIterator[FakeStripe]:
    """The local Stripe; it delivers webhooks only when the test says so."""
    async with FakeStripe(auto_deliver=False) as server:
        yield server


@pytest.fixture
def stripe_shop_settings(
    fake: FakeStripe, settings_factory: SettingsFactory, postgres_url: str, redis_url: str
) -> StripeShopSettings:
    """Settings for one app of the money battery: the production combination (PostgreSQL,
    Redis), the real `stripe` library at `fake`, an unhurried shop with `shop` overrides. Each
    call is another app (its own port) on the same stores."""

    def make(**shop: Any) -> Settings:
        return settings_factory(
            shop={**UNHURRIED_SHOP, **shop},
            payments=stripe_payments(fake.url, fake.api_key),
            **production_sections(postgres_url, redis_url),
        )

    return make


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
