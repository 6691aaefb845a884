"""A seller's storefront in Chromium: signed out, Follow leads to the login and back; signed in,
Follow and Remind me toggle through the REST API (cookie session + CSRF) and the counts follow."""

from __future__ import annotations

from playwright.async_api import Browser

from livecommerce import keys
from livecommerce.domain.access import Role
from livecommerce.services.accounts import principal_of
from tests.conftest import SettingsFactory
from tests.e2e.conftest import login, open_page
from tests.support.app import running_app

PASSWORD = "Tangerine-Orbit-8842"


async def test_follow_and_remind_me_on_the_storefront(
    settings_factory: SettingsFactory, browser: Browser
) -> None:
    """Follow (1 follower), Remind me on the upcoming show (1 going), both kept after a reload;
    the signed-out Follow is a link to the login that returns to the storefront."""
    async with running_app(settings_factory()) as running:
        services = running.app[keys.SERVICES]
        seller = await services.accounts.create_user(
            "Nia Knits", "nia@example.test", PASSWORD, Role.SELLER
        )
        starts = running.app[keys.CLOCK].now_ms() + 86_400_000
        show, _ = await services.shows.create(principal_of(seller), "Winter wool", "", starts)
        await services.accounts.create_user("Vic", "vic@example.test", PASSWORD, Role.VIEWER)
        url = f"{running.base_url}/s/nia_knits"

        anonymous = await open_page(browser, url)
        await anonymous.page.click("#follow")
        await anonymous.page.wait_for_url("**/login?next=%2Fs%2Fnia_knits")
        await anonymous.page.context.close()

        context = await login(browser, running.base_url, "vic@example.test", PASSWORD)
        page = await open_page(browser, url, context=context)
        await page.page.wait_for_selector("body[data-ready='1']", state="attached")
        await page.page.click("#follow")
        await page.page.wait_for_selector("#follow[aria-pressed='true']")
        assert ("Following", "1") == (
            await page.page.text_content("#follow"),
            await page.page.text_content("#followers"),
        )
        remind = f"button[data-rsvp='{show.id}']"
        await page.page.click(remind)
        await page.page.wait_for_selector(f"{remind}[aria-pressed='true']")
        assert "1" == await page.page.text_content(f"[data-rsvps-of='{show.id}']")

        await page.page.reload()
        await page.page.wait_for_selector("#follow[aria-pressed='true']")
        assert "Reminder set" == await page.page.text_content(remind)
        await page.shot("storefront", readme=True)
        viewer = await services.accounts.check_credentials("vic@example.test", PASSWORD)
        assert await services.follows.is_following(viewer.id, seller.id)
        assert 1 == await services.rsvps.count(show.id)
        assert ([], [], []) == (page.page_errors, page.console_errors, page.dialogs)
        await context.close()
