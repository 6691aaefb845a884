"""axe-core (vendored from npm for the tests only) on every page, in the light and the dark
colour scheme, on a desktop (and the show page on a phone): no serious or critical violation.
The pages are the ones people reach: home, a live show, an upcoming show, an ended show's replay,
a seller's storefront, login, and the seller's studio, console and dashboard (with every
dashboard page it links to)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from playwright.async_api import Browser, Page, ViewportSize

from livecommerce import keys
from livecommerce.domain.shows import ShowStatus
from tests.e2e.conftest import Demo, open_page

AXE = Path(__file__).parent / "vendor" / "axe-core-4.14.1" / "axe.min.js"
BLOCKING = ("serious", "critical")
DESKTOP: ViewportSize = {"width": 1280, "height": 900}
PHONE: ViewportSize = {"width": 390, "height": 844}
#: Pages also checked on a phone: the show page in its three states (the phone layout is its own;
#: the other pages only reflow, and the seller's tools are desktop pages).
VIEWER_PAGES = {"show-live-signed-in", "show-upcoming", "show-replay"}

_RUN = """async () => {
  const result = await axe.run(document, { resultTypes: ["violations"] });
  return result.violations.map((v) => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.slice(0, 4).map((n) => n.target.join(" ") + " — " + n.failureSummary),
  }));
}"""


async def violations(page: Page) -> list[dict[str, Any]]:
    """axe's serious and critical violations on the page as it is now. The script goes in through
    the DevTools protocol: the page's CSP (rightly) refuses an injected <script>."""
    if not await page.evaluate("() => typeof axe === 'object'"):
        await page.evaluate(AXE.read_text() + "\n;0")
    found: list[dict[str, Any]] = await page.evaluate(_RUN)
    return [v for v in found if v["impact"] in BLOCKING]


async def _pages(demo: Demo) -> dict[str, tuple[str, bool]]:
    """name → (path, whether it needs the seller's session)."""
    services = demo.app.app[keys.SERVICES]
    seller = await services.accounts.authenticate(demo.data["seller_token"])
    tomorrow = demo.app.app[keys.CLOCK].now_ms() + 86_400_000
    upcoming, _ = await services.shows.create(
        seller, "Autumn preview", "Coats and boots.", tomorrow
    )
    ended, _ = await services.shows.create(seller, "Last week's drop", "")
    await services.shows.move(ended.id, ShowStatus.LIVE)
    await services.lifecycle.end(seller, ended.id)
    account = await services.accounts.get_user(seller.user_id)
    assert account is not None and account.handle is not None
    return {
        "home": ("/", False),
        "login": ("/login", False),
        "show-live": (f"/shows/{demo.show_id}", False),
        "show-live-signed-in": (f"/shows/{demo.show_id}", True),
        "show-upcoming": (f"/shows/{upcoming.id}", False),
        "show-replay": (f"/shows/{ended.id}", False),
        "storefront": (f"/s/{account.handle}", False),
        "studio": (f"/studio/{demo.show_id}", True),
        "console": (f"/console/{demo.show_id}", True),
        "dashboard": ("/dashboard", True),
    }


async def test_no_serious_or_critical_axe_violations(small_demo: Demo, browser: Browser) -> None:
    """Every page on a desktop (and the show page on a phone), light and dark: axe finds nothing
    serious or critical."""
    pages = await _pages(small_demo)
    found: dict[str, list[dict[str, Any]]] = {}
    for viewport_name, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        anonymous = await browser.new_context(viewport=viewport)
        seller = await browser.new_context(viewport=viewport)
        await seller.add_cookies(
            [
                {
                    "name": "lc_session",
                    "value": small_demo.data["seller_token"],
                    "url": small_demo.base_url,
                }
            ]
        )
        todo = {n: p for n, p in pages.items() if viewport_name == "desktop" or n in VIEWER_PAGES}
        done: set[str] = set()
        while todo:
            name, (path, signed_in) = todo.popitem()
            watched = await open_page(
                browser, small_demo.base_url + path, context=seller if signed_in else anonymous
            )
            page = watched.page
            if await page.locator("script[type=module]").count():
                await page.wait_for_selector(
                    "body[data-ready='1']", state="attached", timeout=15000
                )
            await page.wait_for_timeout(400)  # what the module fetched after start has landed
            if name == "dashboard":
                # Every page the dashboard links to (other dashboard pages, as they are added).
                for href in await page.eval_on_selector_all(
                    "a[href^='/dashboard']", "(links) => links.map((a) => a.getAttribute('href'))"
                ):
                    linked = urlsplit(href).path
                    if linked.endswith(".csv") or linked in done or linked == path:
                        continue
                    done.add(linked)
                    todo[f"dashboard{linked[len('/dashboard') :].replace('/', '-')}"] = (
                        linked,
                        True,
                    )
            for scheme in ("light", "dark"):
                await page.emulate_media(color_scheme=scheme)
                bad = await violations(page)
                if bad:
                    found[f"{viewport_name} {scheme} {name}"] = bad
            assert [] == watched.page_errors, name
            await page.close()
        await anonymous.close()
        await seller.close()
    assert not found, json.dumps(found, indent=1)
