"""The home page lists live, upcoming and past shows (the replays stay shoppable); the show page
hands the start time and the payment provider to its script; every page links its icons and
manifest."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import aiohttp

from livecommerce import keys
from livecommerce.domain.access import Role
from livecommerce.domain.shows import ShowStatus
from livecommerce.routes.pages import length_text, utc_text
from livecommerce.services.accounts import principal_of
from tests.conftest import SettingsFactory
from tests.support.app import running_app

START = int(datetime(2031, 12, 5, 18, 0, tzinfo=UTC).timestamp() * 1000)


def test_times_read_like_people_write_them() -> None:
    """UTC moments and on-air lengths come out short and unambiguous."""
    assert "Fri 5 Dec 2031, 18:00 UTC" == utc_text(START)
    assert "" == utc_text(None)
    assert "42 s" == length_text(42_000)
    assert "12 min" == length_text(12 * 60_000 + 10_000)
    assert "1 h 05 min" == length_text(65 * 60_000)


async def test_home_lists_replays_of_shows_that_went_on_air(
    settings_factory: SettingsFactory,
) -> None:
    """An ended show that was on air is listed under Replays; one that never went live is not; an
    upcoming show carries its start as a machine-readable time with UTC text."""
    async with running_app(settings_factory()) as running, aiohttp.ClientSession() as http:
        services = running.app[keys.SERVICES]
        user = await services.accounts.create_user(
            "Sam Seller", "sam@example.com", "correct horse battery", Role.SELLER
        )
        seller = principal_of(user)
        aired, _ = await services.shows.create(seller, "Winter coats", "")
        await services.shows.move(aired.id, ShowStatus.LIVE)
        await services.lifecycle.end(seller, aired.id)
        never, _ = await services.shows.create(seller, "Cancelled drop", "")
        await services.lifecycle.end(seller, never.id)
        upcoming, _ = await services.shows.create(seller, "Spring preview", "", START)

        async with http.get(f"{running.base_url}/") as resp:
            assert 200 == resp.status
            html = await resp.text()
        replays = html[html.index('id="replays-h"') :]
        assert f'href="/shows/{aired.id}"' in replays
        assert "Cancelled drop" not in html
        assert (
            f'<time datetime="2031-12-05T18:00:00+00:00" data-local="when">{utc_text(START)}'
            in html
        )
        assert f'href="/shows/{upcoming.id}"' in html[: html.index('id="replays-h"')]

        async with http.get(f"{running.base_url}/shows/{upcoming.id}") as resp:
            page = await resp.text()
        assert f'data-scheduled-at="{START}"' in page
        assert 'data-payments="demo"' in page
        assert re.search(r'<link rel="manifest" href="/static/manifest\.webmanifest\?v=', page)
        assert re.search(r'<link rel="icon" href="/static/icons/favicon\.svg\?v=', page)
        assert 'class="skip-link" href="#shop"' in page
        async with http.get(f"{running.base_url}/static/manifest.webmanifest") as resp:
            assert 200 == resp.status
            manifest = await resp.json(content_type=None)
        assert "LiveCommerce" == manifest["name"]
        for icon in manifest["icons"]:
            async with http.get(running.base_url + icon["src"]) as resp:
                assert 200 == resp.status, icon["src"]
        async with http.get(f"{running.base_url}/favicon.ico") as resp:  # asked without links
            assert (200, "image/vnd.microsoft.icon") == (resp.status, resp.content_type)
