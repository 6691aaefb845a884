"""An XSS corpus typed into chat, display names, questions and product names stays text."""

from __future__ import annotations

import aiohttp
from playwright.async_api import Browser, Page

from tests.e2e.conftest import Demo, Watched, login, open_page

CORPUS = [
    "<script>alert('chat')</script>",
    "<img src=x onerror=alert('img')>",
    "javascript:alert('url')",
    "<svg onload=alert('svg')><circle/></svg>",
    '<a href="javascript:alert(1)">click</a>',
    '"><iframe srcdoc="<script>alert(\'f\')</script>">',
    "<details open ontoggle=alert('d')>",
    "{{7*7}} ${alert('tpl')}",
]
NAME = "<img src=x onerror=alert('name')>"
MARKUP = "script, img:not(#offer-image), svg:not(.chart), iframe, details, a[href^='javascript']"


def real_errors(watched: Watched) -> list[str]:
    """Console errors except missing-resource noise (a CSP refusal would show up here)."""
    return [e for e in watched.console_errors if not e.startswith("Failed to load resource")]


async def no_markup(page: Page, selector: str) -> None:
    injected = await page.evaluate(
        "([root, sel]) => document.querySelector(root).querySelectorAll(sel).length",
        [selector, MARKUP],
    )
    assert 0 == injected, selector


async def test_xss_corpus_shows_as_text_and_runs_nothing(demo: Demo, browser: Browser) -> None:
    """Chat lines, a guest name, questions and product names from the corpus render as text."""
    # A product whose name is an attack, offered in the show (the studio lists it).
    async with aiohttp.ClientSession() as http:
        auth = {"Authorization": f"Bearer {demo.data['seller_token']}"}
        async with http.post(
            f"{demo.base_url}/api/v1/products",
            json={
                "name": "<svg onload=alert('product')>",
                "price": 1000,
                "variants": [{"label": "<b>XL</b>", "stock": 5}],
            },
            headers=auth,
        ) as resp:
            assert 201 == resp.status, await resp.text()
            product_id = (await resp.json())["id"]
        async with http.post(
            f"{demo.base_url}/api/v1/shows/{demo.show_id}/offers",
            json={"product_id": product_id, "kind": "fixed", "stock": 5},
            headers=auth,
        ) as resp:
            assert 201 == resp.status, await resp.text()

    guest = await open_page(browser, f"{demo.base_url}/shows/{demo.show_id}")
    page = guest.page
    await page.wait_for_selector("body[data-ready='1']", state="attached")
    await page.fill("#guest-name", NAME)
    await page.click("#guest-form button[type=submit]")
    await page.wait_for_selector("#chat-form:not([hidden])", timeout=10000)
    for payload in CORPUS:
        await page.wait_for_timeout(700)  # the chat allows 3 lines per 2 s per user
        await page.fill("#chat-input", payload)
        await page.press("#chat-input", "Enter")
        await page.locator("#chat-list li .text", has_text=payload).last.wait_for(timeout=10000)
    texts = await page.locator("#chat-list li .text").all_text_contents()
    assert all(p in texts for p in CORPUS)
    assert NAME in await page.locator("#chat-list li .who").all_text_contents()
    await no_markup(page, "#chat-list")

    await page.click("#tab-qa")
    for payload in CORPUS[:3]:
        await page.fill("#qa-input", payload)
        await page.press("#qa-input", "Enter")
        await page.locator("#qa-list li .text", has_text=payload).wait_for(timeout=10000)
    await no_markup(page, "#qa-list")
    await guest.shot("xss-viewer")

    seller = await login(browser, demo.base_url, demo.data["seller_email"], demo.data["password"])
    studio = await open_page(browser, f"{demo.base_url}/studio/{demo.show_id}", context=seller)
    await studio.page.locator("#offer-list li", has_text="<svg onload=").wait_for(timeout=10000)
    await studio.page.locator("#qa-list li", has_text=CORPUS[0]).wait_for(timeout=10000)
    await no_markup(studio.page, "#offer-list")
    console = await open_page(browser, f"{demo.base_url}/console/{demo.show_id}", context=seller)
    await console.page.locator("#chat-list li", has_text=CORPUS[1]).wait_for(timeout=10000)
    await no_markup(console.page, "#chat-list")
    dashboard = await open_page(browser, f"{demo.base_url}/dashboard", context=seller)
    await studio.shot("xss-studio")

    for watched in (guest, studio, console, dashboard):
        assert [] == watched.dialogs
        assert [] == watched.page_errors
        assert [] == real_errors(watched)
    await seller.close()
