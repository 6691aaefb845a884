"""RB-11 chat_xss_corpus: an OWASP-style XSS corpus and Owncast-style sanitiser cases go into
chat lines (sent from the page and over the socket, shown live and from history), display
names, questions and product titles; the viewer, studio, console and dashboard pages render
in headless Chromium watching ``dialog`` events and CSP violations. Nothing executes, every
string is shown literally, no ``iframe``, remote ``img`` or ``javascript:`` URL appears, and
every page is served with a CSP carrying ``object-src 'none'``, ``base-uri 'none'`` and
``frame-ancestors``.

The pages never render markdown or HTML from users (``textContent`` only), so Owncast's
"sanitised markdown" cases must come out as the literal text typed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from playwright.async_api import Browser, BrowserContext, Page, Response

from tests.conftest import SettingsFactory
from tests.e2e.conftest import Demo, Watched, login, open_page, start_demo
from tests.support.http import Api
from tests.support.hub_clients import HubClient, join_show

pytestmark = pytest.mark.timeout(120)

#: OWASP XSS filter-evasion classics.
OWASP = [
    "<script>alert('chat')</script>",
    "<img src=x onerror=alert('img')>",
    "javascript:alert('url')",
    "<svg onload=alert('svg')><circle/></svg>",
    '<a href="javascript:alert(1)">click</a>',
    '"><iframe srcdoc="<script>alert(\'f\')</script>">',
    "<details open ontoggle=alert('d')>",
    "{{7*7}} ${alert('tpl')}",
    "<scr<script>ipt>alert('nest')</scr</script>ipt>",
    "<body onload=alert('body')>",
    "<input autofocus onfocus=alert('focus')>",
    "<video><source onerror=alert('video')></video>",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert('mxss')>",
    "<object data=javascript:alert('obj')></object>",
    "<embed src=javascript:alert('embed')>",
    "<base href=javascript:alert('base')//>",
    "<meta http-equiv=refresh content=0;url=javascript:alert('meta')>",
    "<form action=javascript:alert('form')><button>go</button></form>",
    "</textarea><script>alert('ta')</script>",
    "</title><script>alert('title')</script>",
    "'-alert('quote')-'",
    "&lt;script&gt;alert('entity')&lt;/script&gt;",
    "%3Cscript%3Ealert('pct')%3C/script%3E",
    '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">data</a>',
    "<style>@import 'https://evil.example/x.css';</style>",
    "<div style=\"background:url(javascript:alert('css'))\">",
]
#: Owncast's chat sanitiser cases, in spirit: markdown links and images, remote images, iframes
#: and scripts among ordinary formatting.
OWNCAST = [
    "## blah [test link](http://owncast.online) <script src=http://hackers.org/hack.js></script>",
    '<div><p>Test</p><img src="https://example.com/image.png"></div>',
    '<iframe src="https://www.youtube.com/embed/abc" allowfullscreen></iframe>',
    "[click me](javascript:alert('md'))",
    "![remote](http://example.com/remote.png)",
    '<img class="emoji" alt="dance" src="/img/emoji/dance.gif" onload=alert(\'emoji\')>',
    "**bold** _it_ `code` <b>bold</b> <p onclick=alert('p')>x</p>",
]
CORPUS = OWASP + OWNCAST
#: Display names: the page shows them next to every line and question.
NAMES = [
    "<img src=x onerror=alert('name')>",
    "<svg onload=alert('n2')>",
    "\"><script>alert('n3')</script>",
    "javascript:alert('n4')",
]
PRODUCTS = ["<svg onload=alert('product')>", "<img src=x onerror=alert('p2')>"]
ROOMY = {
    "chat_rates": [{"limit": 1000, "per_seconds": 1}],
    "question_rates": [{"limit": 1000, "per_seconds": 1}],
}
#: Elements the corpus would create if rendered as markup (the page's own are excluded).
MARKUP = (
    "script, img:not(#offer-image), svg:not(.chart), iframe,"
    " details:not(#offer-rating, #offer-questions), object, embed, math, video, style, base,"
    " meta, "
    "a[href^='javascript' i], a[href^='data:' i], [onerror], [onload], [onclick], [ontoggle]"
)
#: Records CSP violations in the page itself (Playwright has no event for them).
CSP_WATCH = """
window.__csp = [];
document.addEventListener('securitypolicyviolation', (e) =>
  window.__csp.push(`${e.violatedDirective} ${e.blockedURI}`));
"""
CSP_MUST = ("object-src 'none'", "base-uri 'none'", "frame-ancestors ")
#: Every HTML page of the site, as a path template.
PAGES = [
    "/",
    "/login",
    "/shows/{show}",
    "/studio/{show}",
    "/console/{show}",
    "/dashboard",
    "/dashboard/products",
    "/dashboard/orders",
    "/shows/shw_no_such_show",
]


@pytest.fixture
async def roomy_demo(settings_factory: SettingsFactory) -> AsyncIterator[Demo]:
    """The small demo with chat and question limits out of the way (the corpus is long)."""
    small = {"synthetic_width": 320, "synthetic_height": 176, "synthetic_fps": 10}
    async with start_demo(settings_factory, broadcast=small, hub=ROOMY) as running:
        yield running


def real_errors(watched: Watched) -> list[str]:
    """Console errors except missing-resource noise (a CSP refusal is counted separately)."""
    return [e for e in watched.console_errors if not e.startswith("Failed to load resource")]


async def no_markup(page: Page, selector: str) -> None:
    """No corpus element under ``selector``, and no element at all inside a user-text span."""
    injected = await page.evaluate(
        "([root, sel]) => [...document.querySelector(root).querySelectorAll(sel)]"
        ".concat([...document.querySelector(root).querySelectorAll('.text *, .who *')])"
        ".map((e) => e.outerHTML.slice(0, 80))",
        [selector, MARKUP],
    )
    assert [] == injected, selector


async def watched_context(browser: Browser, documents: list[Response]) -> BrowserContext:
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    await prepare(context, documents)
    return context


async def prepare(context: BrowserContext, documents: list[Response]) -> None:
    await context.add_init_script(CSP_WATCH)
    context.on(
        "response", lambda r: documents.append(r) if r.request.resource_type == "document" else None
    )


async def seed(demo: Demo, api: Api) -> list[HubClient]:
    """Products named after the corpus (one pinned), and lines and questions from guests whose
    names are attacks; returns the guests' sockets (still joined)."""
    auth = demo.data["seller_token"]
    offers = []
    for name in PRODUCTS:
        status, product = await api.call(
            "POST",
            "/api/v1/products",
            auth,
            json={"name": name, "price": 1000, "variants": [{"label": "<b>XL</b>", "stock": 5}]},
        )
        assert 201 == status, product
        status, offer = await api.call(
            "POST",
            f"/api/v1/shows/{demo.show_id}/offers",
            auth,
            json={"product_id": product["id"], "kind": "fixed", "cap": 5},
        )
        assert 201 == status, offer
        offers.append(offer)
    seller, _ = await join_show(demo.base_url, demo.show_id, auth)
    pinned = await seller.call("offer.pin", {"show_id": demo.show_id, "offer_id": offers[0]["id"]})
    assert pinned["ok"] is True, pinned
    guests = [seller]
    for i, name in enumerate(NAMES):
        status, issued = await api.call("POST", "/api/v1/auth/guest", json={"name": name})
        assert 201 == status, issued
        guest, _ = await join_show(demo.base_url, demo.show_id, issued["token"])
        guests.append(guest)
        for text in CORPUS[i :: len(NAMES)]:  # history: the page renders these on join
            ack = await guest.call("chat.send", {"show_id": demo.show_id, "text": text})
            assert ack["ok"] is True, (text, ack)
        ack = await guest.call("qa.ask", {"show_id": demo.show_id, "text": CORPUS[i]})
        assert ack["ok"] is True, ack
    return guests


async def test_xss_corpus_shows_as_text_and_runs_nothing(
    roomy_demo: Demo, browser: Browser
) -> None:
    """The corpus as chat (history and live), names, questions and product titles renders as
    the literal text on the viewer's page, the studio and the console: no dialog, no CSP
    violation, no injected element, and every document carries the CSP."""
    demo = roomy_demo
    documents: list[Response] = []
    async with aiohttp.ClientSession() as http:
        api = Api(http, demo.base_url)
        guests = await seed(demo, api)
        try:
            viewer_ctx = await watched_context(browser, documents)
            viewer = await open_page(
                browser, f"{demo.base_url}/shows/{demo.show_id}", context=viewer_ctx
            )
            page = viewer.page
            await page.wait_for_selector("body[data-ready='1']", state="attached")
            await page.fill("#guest-name", NAMES[0])
            await page.click("#guest-form button[type=submit]")
            await page.wait_for_selector("#chat-form:not([hidden])", timeout=10000)
            for payload in OWASP[:3] + OWNCAST[:2]:  # typed into the page's own form
                await page.fill("#chat-input", payload)
                await page.press("#chat-input", "Enter")
                await page.locator("#chat-list li .text", has_text=payload).last.wait_for()
            live = OWNCAST[2 : 2 + len(NAMES)]
            for guest, payload in zip(guests[1:], live, strict=True):  # arrive live
                ack = await guest.call("chat.send", {"show_id": demo.show_id, "text": payload})
                assert ack["ok"] is True, ack
            await page.wait_for_function(
                "(texts) => texts.every((t) => [...document.querySelectorAll('#chat-list .text')]"
                ".filter((e) => e.textContent === t).length >= 2)",
                arg=live,
            )

            texts = await page.locator("#chat-list li .text").all_text_contents()
            assert set(CORPUS) - set(texts) == set(), "lines not shown literally"
            assert set(NAMES) <= set(await page.locator("#chat-list li .who").all_text_contents())
            assert PRODUCTS[0] == await page.text_content("#offer-name")
            await no_markup(page, "#chat-list")
            await no_markup(page, "#offer")

            await page.click("#tab-qa")
            await page.locator("#qa-list li .text", has_text=CORPUS[len(NAMES) - 1]).wait_for()
            asked = await page.locator("#qa-list li .text").all_text_contents()
            assert set(CORPUS[: len(NAMES)]) == set(asked)
            await no_markup(page, "#qa-list")
            await viewer.shot("xss-viewer")
        finally:
            for guest in guests:
                await guest.close()

    seller_ctx = await login(
        browser, demo.base_url, demo.data["seller_email"], demo.data["password"]
    )
    await prepare(seller_ctx, documents)
    studio = await open_page(browser, f"{demo.base_url}/studio/{demo.show_id}", context=seller_ctx)
    for name in PRODUCTS:
        await studio.page.locator("#offer-list li", has_text=name).wait_for(timeout=10000)
    await studio.page.locator("#qa-list li", has_text=CORPUS[0]).wait_for(timeout=10000)
    await no_markup(studio.page, "#offer-list")
    await no_markup(studio.page, "#qa-list")
    console = await open_page(
        browser, f"{demo.base_url}/console/{demo.show_id}", context=seller_ctx
    )
    await console.page.locator("#chat-list li", has_text=CORPUS[1]).first.wait_for(timeout=10000)
    await no_markup(console.page, "#chat-list")
    dashboard = await open_page(browser, f"{demo.base_url}/dashboard", context=seller_ctx)
    await studio.shot("xss-studio")

    for watched in (viewer, studio, console, dashboard):
        assert [] == watched.dialogs
        assert [] == watched.page_errors
        assert [] == real_errors(watched)
        assert [] == await watched.page.evaluate("() => window.__csp")
        links = await watched.page.evaluate(
            "() => [...document.querySelectorAll('[href],[src]')]"
            ".map((e) => e.getAttribute('href') || e.getAttribute('src'))"
        )
        assert [] == [u for u in links if u.lower().startswith(("javascript:", "data:text"))]
        remote = await watched.page.evaluate(
            "() => [...document.querySelectorAll('img, iframe')].map((e) => e.src)"
            ".filter((s) => s && !s.startsWith(location.origin) && !s.startsWith('blob:'))"
        )
        assert [] == remote
    assert 4 <= len(documents)  # viewer, studio, console, dashboard
    for response in documents:
        csp = await response.header_value("content-security-policy") or ""
        assert all(d in csp for d in CSP_MUST), (response.url, csp)
    await viewer_ctx.close()
    await seller_ctx.close()


async def test_every_page_sends_the_csp(small_demo: Demo) -> None:
    """Every HTML page (signed in or not, and the error page) is served with a CSP that
    forbids plugins, ``<base>`` rewrites and framing."""
    seen: dict[str, Any] = {}
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        for path in PAGES:
            url = small_demo.base_url + path.format(show=small_demo.show_id)
            async with http.get(url, headers={"Accept": "text/html"}) as resp:
                seen[path] = (resp.content_type, resp.headers.get("Content-Security-Policy", ""))
    for path, (content_type, csp) in seen.items():
        assert "text/html" == content_type, path
        assert all(d in csp for d in CSP_MUST), (path, csp)
        assert "frame-ancestors 'none'" in csp, path
