"""Integration fixtures: the real app on a loopback port and an HTTP client for it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from tests.conftest import SettingsFactory
from tests.support.app import RunningApp, running_app
from tests.support.http import Api
from tests.support.shop import ShopEnv, shop_env


@pytest.fixture
async def live_app(settings_factory: SettingsFactory) -> AsyncIterator[RunningApp]:
    async with running_app(settings_factory()) as running:
        yield running


@pytest.fixture
async def api(live_app: RunningApp) -> AsyncIterator[Api]:
    # why: the default jar ignores cookies from IP-address hosts such as 127.0.0.1
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
        yield Api(session, live_app.base_url)


@pytest.fixture
async def env(settings_factory: SettingsFactory) -> AsyncIterator[ShopEnv]:
    """The real app with its services and stores at hand, default settings (a module that needs
    other settings defines its own `env`)."""
    async with shop_env(settings_factory()) as running:
        yield running


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    """A plain client session (no cookie jar for IP hosts; `api` has one)."""
    async with aiohttp.ClientSession() as session:
        yield session
