"""The seller dashboard: figures from real orders and viewer samples, CSV export, and the
CSRF-protected create-show form."""

from __future__ import annotations

import csv
import io
import json
import re

import aiohttp

from livecommerce import keys
from livecommerce.bootstrap.adapters import ADAPTERS
from tests.conftest import SettingsFactory
from tests.support.app import running_app


async def test_dashboard_shows_gmv_orders_and_csv(settings_factory: SettingsFactory) -> None:
    """A paid demo order and a viewer sample show up in the dashboard figures and its CSV."""
    settings = settings_factory(demo={"enabled": True})
    async with running_app(settings) as running, aiohttp.ClientSession() as http:
        demo = json.loads((settings.server.data_dir / "demo.json").read_text())
        base, show_id = running.base_url, demo["show_id"]
        seller = {"Authorization": f"Bearer {demo['seller_token']}"}
        viewer = {"Authorization": f"Bearer {demo['viewer_token']}"}
        product = demo["product_ids"][3]  # the lamp: one default variant
        async with http.post(
            f"{base}/api/v1/shows/{show_id}/offers",
            json={"product_id": product, "kind": "fixed", "price": 4000, "stock": 5},
            headers=seller,
        ) as resp:
            assert 201 == resp.status, await resp.text()
            offer_id = (await resp.json())["id"]
        async with http.post(
            f"{base}/api/v1/shows/{show_id}/offers/{offer_id}/start", headers=seller
        ) as resp:
            assert 200 == resp.status, await resp.text()
        async with http.post(
            f"{base}/api/v1/shows/{show_id}/checkout",
            json={"offer_id": offer_id, "quantity": 2, "idempotency_key": "dash-test-0001"},
            headers=viewer,
        ) as resp:
            assert 201 == resp.status, await resp.text()
            confirm_url = (await resp.json())["payment"]["confirm_url"]
        async with http.post(
            confirm_url, json={"card": "4242424242424242"}, headers=viewer
        ) as resp:
            assert 200 == resp.status, await resp.text()
        await running.app[keys.SERVICES].analytics.sample_viewers()

        async with http.get(f"{base}/dashboard?show={show_id}", headers=seller) as resp:
            assert 200 == resp.status
            html = await resp.text()
        assert "80.00 USD" in html  # GMV: 2 × 40.00
        assert 'aria-label="Paid orders per minute, peak 1"' in html
        assert "Desk lamp" in html  # top products

        async with http.get(f"{base}/dashboard/shows/{show_id}.csv", headers=seller) as resp:
            assert 200 == resp.status
            assert "text/csv" == resp.content_type
            rows = list(csv.DictReader(io.StringIO(await resp.text())))
        assert 8000 == sum(int(r["gmv_minor_USD"]) for r in rows)
        assert 1 == sum(int(r["paid_orders"]) for r in rows)
        samples = await running.app[ADAPTERS].db.fetchall(
            "SELECT viewers FROM viewer_samples WHERE show_id = ?", show_id
        )
        assert 1 == len(samples)

        async with http.get(f"{base}/dashboard/shows/{show_id}.csv", headers=viewer) as resp:
            assert 403 == resp.status


async def test_create_show_form_needs_the_csrf_token(settings_factory: SettingsFactory) -> None:
    """The dashboard's create form works with the session's CSRF token and is refused without;
    a time outside the years 1 to 9999 in UTC is refused."""
    settings = settings_factory(demo={"enabled": True})
    async with running_app(settings) as running:
        demo = json.loads((settings.server.data_dir / "demo.json").read_text())
        base = running.base_url
        jar = aiohttp.CookieJar(unsafe=True)
        async with aiohttp.ClientSession(cookie_jar=jar) as http:
            async with http.get(f"{base}/login") as resp:
                token = re.search(r'name="csrf_token" value="([^"]+)"', await resp.text())
                assert token
            async with http.post(
                f"{base}/login",
                data={
                    "csrf_token": token[1],
                    "mode": "login",
                    "next": "/dashboard",
                    "email": demo["seller_email"],
                    "password": demo["password"],
                },
                allow_redirects=False,
            ) as resp:
                assert 303 == resp.status
                assert "/dashboard" == resp.headers["Location"]
            async with http.get(f"{base}/dashboard") as resp:
                page = await resp.text()
            csrf = re.search(r'name="csrf_token" value="([^"]+)"', page)
            assert csrf
            async with http.post(
                f"{base}/dashboard/shows", data={"title": "Sneaker night"}, allow_redirects=False
            ) as resp:
                assert 403 == resp.status
            async with http.post(
                f"{base}/dashboard/shows",
                data={
                    "csrf_token": csrf[1],
                    "title": "Sneaker night",
                    "scheduled_at": "2026-12-01T19:30",
                },
                allow_redirects=False,
            ) as resp:
                assert 303 == resp.status
                assert resp.headers["Location"].startswith("/studio/shw_")
            async with http.get(f"{base}/dashboard") as resp:
                assert "Sneaker night" in await resp.text()
            # a time whose UTC instant is in year 0 was stored, and every page listing the
            # show (the public home page too) failed with a 500 afterwards (RB-23)
            async with http.post(
                f"{base}/dashboard/shows",
                data={
                    "csrf_token": csrf[1],
                    "title": "Dawn of time",
                    "scheduled_at": "0001-01-01T00:00+14:00",
                },
                allow_redirects=False,
            ) as resp:
                assert 422 == resp.status
            async with http.get(f"{base}/") as resp:
                assert (200, False) == (resp.status, "Dawn of time" in await resp.text())


async def test_login_next_only_goes_to_this_site(settings_factory: SettingsFactory) -> None:
    """A crafted ?next= pointing elsewhere is replaced by "/" in the login form."""
    settings = settings_factory()
    async with running_app(settings) as running, aiohttp.ClientSession() as http:
        for bad in ("//evil.example/", "https://evil.example/", "/\\evil.example"):
            async with http.get(f"{running.base_url}/login", params={"next": bad}) as resp:
                assert 'name="next" value="/"' in await resp.text()
