"""Security headers and cookies by default (issue 12 finding 8): per-caller API answers are
never stored by a shared cache, HSTS is an explicit option for HTTPS sites, and the login form's
pre-session cookie is ``Secure`` whenever the site is HTTPS."""

from __future__ import annotations

import aiohttp

from tests.conftest import SettingsFactory
from tests.support.app import running_app
from tests.support.http import Api


async def test_api_answers_are_no_store_and_hsts_is_off_by_default(
    settings_factory: SettingsFactory,
) -> None:
    async with running_app(settings_factory()) as app, aiohttp.ClientSession() as http:
        api = Api(http, app.base_url)
        token, _ = await api.signup("Quinn")
        for path in ("/api/v1/me", "/api/v1/orders"):
            async with http.get(
                app.base_url + path, headers={"Authorization": f"Bearer {token}"}
            ) as resp:
                assert resp.status == 200, path
                assert resp.headers["Cache-Control"] == "no-store", path
                assert "Strict-Transport-Security" not in resp.headers
        async with http.get(app.base_url + "/login") as resp:
            assert "Strict-Transport-Security" not in resp.headers
            csp = resp.headers["Content-Security-Policy"]
        # sockets only to this site: not "ws: wss:" (any host)
        connect = next(d for d in csp.split(";") if d.strip().startswith("connect-src")).split()
        assert f"ws://{app.base_url.removeprefix('http://')}" in connect
        assert "ws:" not in connect and "wss:" not in connect


async def test_an_https_site_sends_hsts_and_secure_pre_session_cookies(
    settings_factory: SettingsFactory,
) -> None:
    settings = settings_factory(
        server={"public_url": "https://shop.example", "hsts_seconds": 31_536_000}
    )
    async with running_app(settings) as app, aiohttp.ClientSession() as http:
        async with http.get(app.base_url + "/login") as resp:
            assert resp.status == 200
            assert (
                resp.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
            )
            cookies = resp.headers.getall("Set-Cookie")
        pre = [c for c in cookies if c.startswith("lc_pre=")]
        assert pre, cookies
        assert "Secure" in pre[0]
