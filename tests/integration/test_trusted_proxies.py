"""Behind a trusted proxy the client is the address it forwards: per-address limits count the
client, not the proxy; from anyone else the header is ignored."""

from __future__ import annotations

import aiohttp
import pytest

from livecommerce.settings import ConfigError
from tests.conftest import SettingsFactory
from tests.support.app import running_app


async def _guests(base_url: str, forwarded: list[str]) -> list[int]:
    statuses = []
    async with aiohttp.ClientSession() as http:
        for address in forwarded:
            async with http.post(
                f"{base_url}/api/v1/auth/guest",
                json={"name": "Gus"},
                headers={"X-Forwarded-For": address},
            ) as resp:
                statuses.append(resp.status)
    return statuses


async def test_a_trusted_proxy_forwards_the_client_address(
    settings_factory: SettingsFactory,
) -> None:
    """With 127.0.0.1 trusted, two clients behind it each get their own sign-in budget; a hop
    the client wrote itself (left of the client's real address) changes nothing."""
    settings = settings_factory(
        server={"trusted_proxies": ["127.0.0.1/32"]}, auth={"attempts_per_minute": 2}
    )
    async with running_app(settings) as running:
        forged = "198.51.100.1, 203.0.113.7"
        statuses = await _guests(
            running.base_url, ["203.0.113.7", forged, "203.0.113.7", "203.0.113.8"]
        )
    assert [201, 201, 429, 201] == statuses


async def test_without_trust_the_header_is_ignored(settings_factory: SettingsFactory) -> None:
    """By default X-Forwarded-For is anyone's word: every request counts for the peer."""
    settings = settings_factory(auth={"attempts_per_minute": 2})
    async with running_app(settings) as running:
        statuses = await _guests(running.base_url, ["203.0.113.7", "203.0.113.8", "203.0.113.9"])
    assert [201, 201, 429] == statuses


def test_a_bad_proxy_entry_stops_start_up(settings_factory: SettingsFactory) -> None:
    """A typo in trusted_proxies is a configuration error naming the entry."""
    with pytest.raises(ConfigError, match="not-an-ip"):
        settings_factory(server={"trusted_proxies": ["not-an-ip"]})
