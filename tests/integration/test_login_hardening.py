"""Issue 12 findings 1 and 5: the HTML forms share the API's attempt limiter (per address, and
per account for logins, so guesses from many addresses still stop), and logging out over the API
ends a cookie session too."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import aiohttp
import pytest

from tests.conftest import SettingsFactory
from tests.support.app import RunningApp, running_app
from tests.support.http import PASSWORD, Api, submit_login_form

LIMIT = 5


@pytest.fixture
async def app(settings_factory: SettingsFactory) -> AsyncIterator[RunningApp]:
    async with running_app(settings_factory(auth={"attempts_per_minute": LIMIT})) as running:
        yield running


async def _form(http: aiohttp.ClientSession, base: str, **fields: str) -> int:
    status, _ = await submit_login_form(http, base, **fields)
    return status


async def test_form_logins_share_the_limit_with_the_api(app: RunningApp) -> None:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        api = Api(http, app.base_url)
        await api.signup("Rowan")
        wrong = {"email": "rowan@test.example", "password": "not-the-password"}
        statuses = [await _form(http, app.base_url, **wrong) for _ in range(LIMIT)]
        assert statuses == [401] * LIMIT
        right = {"email": "rowan@test.example", "password": PASSWORD}
        assert await _form(http, app.base_url, **right) == 429  # limited, even when right
        status, body = await api.call("POST", "/api/v1/auth/login", json=right)
        assert (status, body["error"]["code"]) == (429, "rate_limited")


async def test_guesses_from_many_addresses_hit_the_accounts_limit(app: RunningApp) -> None:
    async with aiohttp.ClientSession() as first:
        await Api(first, app.base_url).signup("Sasha")
    wrong = {"email": "sasha@test.example", "password": "guess-guess"}
    seen = []
    for address in ("127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.4"):
        connector = aiohttp.TCPConnector(local_addr=(address, 0))
        async with aiohttp.ClientSession(connector=connector) as http:
            for _ in range(2):  # under the per-address limit everywhere
                status, _ = await Api(http, app.base_url).call(
                    "POST", "/api/v1/auth/login", json=wrong
                )
                seen.append(status)
    assert seen[:LIMIT] == [401] * LIMIT
    assert set(seen[LIMIT:]) == {429}


async def test_form_signups_are_limited_with_the_api(app: RunningApp) -> None:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        api = Api(http, app.base_url)
        for n in range(LIMIT):
            await api.signup(f"Person{n}x")
        status = await _form(
            http, app.base_url, mode="signup", name="Late", email="late@test.example",
            password="a-long-password",
        )  # fmt: skip
        assert status == 429


async def test_api_logout_ends_a_cookie_session(app: RunningApp) -> None:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        status = await _form(
            http, app.base_url, mode="signup", name="Cookie", email="cookie@test.example",
            password="a-long-password",
        )  # fmt: skip
        assert status == 303
        async with http.get(app.base_url + "/api/v1/me") as resp:
            assert resp.status == 200
        session = next(c.value for c in http.cookie_jar if c.key == "lc_session")
        async with aiohttp.ClientSession() as replay:
            status, _ = await Api(replay, app.base_url).call(
                "GET", "/api/v1/me", headers={"Cookie": f"lc_session={session}"}
            )
        assert status == 200  # the cookie alone is the session
        async with http.get(app.base_url + "/") as resp:
            page = await resp.text()
        csrf = re.search(r'data-csrf="([^"]+)"', page)
        assert csrf is not None
        headers = {"X-CSRF-Token": csrf.group(1)}
        async with http.post(app.base_url + "/api/v1/auth/logout", headers=headers) as resp:
            assert resp.status == 204, await resp.text()
        async with http.get(app.base_url + "/api/v1/me") as resp:
            assert resp.status == 401
    async with aiohttp.ClientSession() as replay:
        status, _ = await Api(replay, app.base_url).call(
            "GET", "/api/v1/me", headers={"Cookie": f"lc_session={session}"}
        )
    assert status == 401  # the old cookie is dead on the server, not just deleted
