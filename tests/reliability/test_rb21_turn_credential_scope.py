"""RB-21 turn_credential_scope (N tier): not applicable while the server mints no TURN
credentials. ICE servers are only static settings (``broadcast.ice.servers``: URLs with an
optional fixed username and credential, handed to publishers and players as configured); there is
no API that issues time-limited, per-session TURN credentials, so there is nothing whose expiry,
peer restrictions, quota or authentication RB-21 could test. This test is the tripwire: the day
the API gains a TURN route it fails, and RB-21 has to be written against Debian coturn."""

from __future__ import annotations

import re

import aiohttp
import pytest

from tests.conftest import SettingsFactory
from tests.reliability.conftest import RecordFigure
from tests.support.app import running_app

pytestmark = pytest.mark.soak

RB = "RB-21"


async def test_no_turn_credential_api_exists_yet(
    settings_factory: SettingsFactory, figures: RecordFigure
) -> None:
    """No route of the API document mints TURN credentials (else RB-21 must be implemented)."""
    async with (
        running_app(settings_factory()) as app,
        aiohttp.ClientSession() as http,
        http.get(f"{app.base_url}/api/v1/openapi.json") as resp,
    ):
        paths = list((await resp.json())["paths"])
    turn = [path for path in paths if re.search(r"turn|\bice\b", path, re.IGNORECASE)]
    figures(rb=RB, name="API routes that mint TURN credentials", value=len(turn), unit="routes",
            limit="0 while RB-21 is not applicable")  # fmt: skip
    figures(rb=RB, name="applicable", value="no", limit="until the server mints TURN credentials")
    assert [] == turn
