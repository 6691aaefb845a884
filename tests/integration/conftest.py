"""Integration fixtures: the real app on a loopback port and an HTTP client for it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from tests.conftest import SettingsFactory
from tests.support.app import RunningApp, running_app
from tests.support.http import Api


@pytest.fixture
async def live_app(settings_factory: SettingsFactory) -> AsyncIterator[RunningApp]:
    async with running_app(settings_factory()) as running:
        yield running


@pytest.fixture
async def api(live_app: RunningApp) -> AsyncIterator[Api]:
    # why: the default jar ignores cookies from IP-address hosts such as 127.0.0.1
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
        yield Api(session, live_app.base_url)
