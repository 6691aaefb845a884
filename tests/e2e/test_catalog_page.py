"""The catalog page beyond creating a product: a CSV file is checked before it is imported, a
product is edited (price typed in currency units, stock, a new variant) and archived."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
from playwright.async_api import Browser, FilePayload

from livecommerce import keys
from livecommerce.domain.access import Role
from tests.conftest import SettingsFactory
from tests.e2e.conftest import login, open_page
from tests.e2e.test_accessibility import violations
from tests.support.app import running_app

pytestmark = pytest.mark.timeout(90)
BAD = "sku,name,price\nCAP-1,Cap,12.345\nCAP-2,,10\n"
GOOD = (
    "sku,name,option,value,price,stock\n"
    "CAP-1,Cap,Colour,Blue,12.50,4\n"
    "CAP-2,Cap,Colour,Red,12.50,2\n"
)


async def _catalog(base: str, token: str) -> list[dict[str, Any]]:
    async with (
        aiohttp.ClientSession() as http,
        http.get(
            f"{base}/api/v1/products?include_archived=1",
            headers={"Authorization": f"Bearer {token}"},
        ) as resp,
    ):
        return list((await resp.json())["products"])


async def test_import_edit_and_archive_from_the_page(
    settings_factory: SettingsFactory, browser: Browser
) -> None:
    """A bad CSV lists its problems by line and imports nothing; a good one is checked, then
    imported; the seller edits the price and stock, adds a variant and archives the product."""
    async with running_app(settings_factory()) as running:
        base = running.base_url
        issued = await running.app[keys.SERVICES].accounts.signup(
            "Cora", "cora@shop.test", "caps-and-hats", Role.SELLER
        )
        context = await login(browser, base, "cora@shop.test", "caps-and-hats")
        watched = await open_page(browser, f"{base}/dashboard/products", context=context)
        page = watched.page
        await page.wait_for_selector("body[data-ready='1']", state="attached")

        def csv_file(text: str) -> FilePayload:
            return FilePayload(name="caps.csv", mimeType="text/csv", buffer=text.encode())

        await page.set_input_files("#import-file", files=[csv_file(BAD)])
        await page.click("#import-form button[type=submit]")
        await page.wait_for_selector("#import-errors:not([hidden])")
        rows = await page.locator("#import-error-rows tr").all_text_contents()
        assert 2 == len(rows), rows  # line, column, problem
        assert rows[0].startswith("2price") and rows[1].startswith("3name"), rows
        assert await page.is_hidden("#import-run")
        assert [] == await _catalog(base, issued.token)

        await page.set_input_files("#import-file", files=[csv_file(GOOD)])
        await page.click("#import-form button[type=submit]")
        await page.wait_for_selector("#import-run:not([hidden])")
        assert "1 new product with 2 new variants" in (
            await page.text_content("#import-summary") or ""
        )
        await page.click("#import-run")
        row = page.locator("#product-rows tr", has_text="Cap")
        await row.wait_for()
        await watched.shot("catalog-imported")

        await row.locator("[data-action=edit]").click()
        for scheme in ("light", "dark"):  # the editor dialog, open, passes axe in both schemes
            await page.emulate_media(color_scheme=scheme)
            assert [] == await violations(page), scheme
        await page.fill("#p-price", "14,5")
        first = page.locator("#variant-rows tr").nth(0)
        await first.locator(".v-stock").fill("9")
        await page.click("#add-variant")
        third = page.locator("#variant-rows tr").nth(2)
        await third.locator(".v-label").fill("Green")
        await third.locator(".v-sku").fill("CAP-3")
        await third.locator(".v-stock").fill("1")
        await page.uncheck("#p-ships")
        await page.click("#editor-save")
        await page.wait_for_selector("#editor:not([open])", state="attached")
        cap = (await _catalog(base, issued.token))[0]
        assert (1450, False) == (cap["price"]["amount"], cap["requires_shipping"])
        assert [("Blue", 9), ("Red", 2), ("Green", 1)] == [
            (v["label"], v["stock"]) for v in cap["variants"]
        ]

        archive = page.locator("#product-rows tr", has_text="Cap").locator("[data-action=archive]")
        await archive.click()
        await archive.click()
        await page.locator("#product-rows tr", has_text="Cap").wait_for(state="detached")
        await page.check("#show-archived")
        await page.locator("#product-rows tr.archived", has_text="Cap").wait_for()
        assert (await _catalog(base, issued.token))[0]["archived"] is True
        assert [] == watched.page_errors
        await context.close()
