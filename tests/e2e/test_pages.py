"""The pages render for the right people, carry the security headers, and run no inline script."""

from __future__ import annotations

import aiohttp
from playwright.async_api import Browser

from tests.e2e.conftest import Demo, login, open_page


async def test_every_page_has_csp_nosniff_and_referrer_policy(demo: Demo) -> None:
    """Home, login, show, studio, console and dashboard send CSP, nosniff and Referrer-Policy."""
    seller = demo.data["seller_token"]
    paths = [
        "/",
        "/login",
        f"/shows/{demo.show_id}",
        f"/studio/{demo.show_id}",
        f"/console/{demo.show_id}",
        "/dashboard",
        "/dashboard/products",
        "/dashboard/orders",
    ]
    async with aiohttp.ClientSession() as http:
        for path in paths:
            async with http.get(
                demo.base_url + path,
                headers={"Authorization": f"Bearer {seller}", "Accept": "text/html"},
                allow_redirects=False,
            ) as resp:
                assert 200 == resp.status, path
                csp = resp.headers["Content-Security-Policy"]
                assert "script-src 'self' https://js.stripe.com;" in csp
                assert "'unsafe-inline'" not in csp
                for directive in ("object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'"):
                    assert directive in csp
                assert "nosniff" == resp.headers["X-Content-Type-Options"]
                assert resp.headers["Referrer-Policy"]
                html = await resp.text()
                assert "<script>" not in html and "onclick=" not in html


async def test_staff_pages_refuse_others(demo: Demo) -> None:
    """A viewer gets a 403 page on the studio and console; anonymous users are sent to log in."""
    viewer = demo.data["viewer_token"]
    async with aiohttp.ClientSession() as http:
        for path in (
            f"/studio/{demo.show_id}",
            f"/console/{demo.show_id}",
            "/dashboard",
            "/dashboard/products",
            "/dashboard/orders",
        ):
            async with http.get(
                demo.base_url + path, headers={"Authorization": f"Bearer {viewer}"}
            ) as resp:
                assert 403 == resp.status, path
                assert "text/html" == resp.content_type
            async with http.get(demo.base_url + path, allow_redirects=False) as resp:
                assert 303 == resp.status, path
                assert resp.headers["Location"].startswith("/login?next=")
        host = demo.data["host_token"]
        async with http.get(
            f"{demo.base_url}/console/{demo.show_id}", headers={"Authorization": f"Bearer {host}"}
        ) as resp:
            assert 200 == resp.status
        async with http.get(
            f"{demo.base_url}/studio/{demo.show_id}", headers={"Authorization": f"Bearer {host}"}
        ) as resp:
            assert 403 == resp.status
        async with http.get(f"{demo.base_url}/shows/nope") as resp:
            assert 404 == resp.status


async def test_csp_blocks_inline_script(demo: Demo, browser: Browser) -> None:
    """An inline script injected into a served page does not run: the CSP refuses it."""
    watched = await open_page(browser, f"{demo.base_url}/shows/{demo.show_id}")
    page = watched.page
    await page.wait_for_selector("body[data-ready='1']", state="attached", timeout=10000)
    await page.evaluate(
        """() => { const s = document.createElement('script');
                   s.textContent = 'window.__pwned = true';
                   document.body.append(s); }"""
    )
    assert await page.evaluate("() => window.__pwned === undefined")
    await watched.shot("csp-check")


async def test_pages_render_in_the_browser(demo: Demo, browser: Browser) -> None:
    """Home, show, studio, console and the dashboard's pages load their modules without script
    errors."""
    seller = await login(browser, demo.base_url, demo.data["seller_email"], demo.data["password"])
    home = await open_page(browser, demo.base_url + "/", context=seller)
    await home.shot("home")
    for name, path in [
        ("show", f"/shows/{demo.show_id}"),
        ("studio", f"/studio/{demo.show_id}"),
        ("console", f"/console/{demo.show_id}"),
        ("dashboard", "/dashboard"),
        ("products", "/dashboard/products"),
        ("orders", "/dashboard/orders"),
    ]:
        watched = await open_page(browser, demo.base_url + path, context=seller)
        await watched.page.wait_for_selector(
            "body[data-ready='1']", state="attached", timeout=15000
        )
        assert [] == watched.page_errors, name
        assert [] == watched.dialogs, name
        await watched.shot(f"page-{name}")
    await seller.close()


async def test_session_cookie_is_httponly_and_samesite(demo: Demo, browser: Browser) -> None:
    """The login form sets an HttpOnly, SameSite=Lax session cookie that scripts cannot read."""
    seller = await login(browser, demo.base_url, demo.data["seller_email"], demo.data["password"])
    cookie = next(c for c in await seller.cookies() if c["name"] == "lc_session")
    assert cookie["httpOnly"] is True
    assert "Lax" == cookie["sameSite"]
    assert cookie["secure"] is False  # plain http on loopback; https turns it on
    watched = await open_page(browser, f"{demo.base_url}/", context=seller)
    assert "lc_session" not in await watched.page.evaluate("() => document.cookie")
    await seller.close()


async def test_modules_and_vendor_files_are_served_as_javascript(demo: Demo) -> None:
    """Page modules and vendored libraries come with a JavaScript type and nosniff."""
    files = [
        "/static/js/show.js",
        "/static/js/common.js",
        "/static/vendor/socket.io-client-4.8.3/socket.io.esm.min.js",
        "/static/vendor/hls.js-1.6.15/hls.min.js",
    ]
    async with aiohttp.ClientSession() as http:
        for path in files:
            async with http.get(demo.base_url + path) as resp:
                assert 200 == resp.status, path
                assert resp.content_type in ("text/javascript", "application/javascript"), path
                assert "nosniff" == resp.headers["X-Content-Type-Options"]
