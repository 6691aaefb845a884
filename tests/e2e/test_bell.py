"""The notification bell in Chromium: a signed-in follower on the home page sees the unread
count rise and the go-live notification listed when the seller's show goes live, and opening
the bell marks it read."""

from __future__ import annotations

from playwright.async_api import Browser

from livecommerce import keys
from livecommerce.domain.access import Role
from livecommerce.domain.shows import ShowStatus
from livecommerce.services.accounts import principal_of
from tests.conftest import SettingsFactory
from tests.e2e.conftest import login, open_page
from tests.support.app import running_app

PASSWORD = "Tangerine-Orbit-8842"


async def test_bell_shows_the_go_live_notification(
    settings_factory: SettingsFactory, browser: Browser
) -> None:
    """Following a seller, the bell counts 1 unread once the show goes live (pushed over the
    hub, no reload), lists "Live now: …" linking to the show, and reads 0 after opening."""
    async with running_app(settings_factory(notify={"poll_seconds": 0.1})) as running:
        services = running.app[keys.SERVICES]
        seller = await services.accounts.create_user(
            "Bea Beads", "bea@example.test", PASSWORD, Role.SELLER
        )
        show, _ = await services.shows.create(principal_of(seller), "Bead night <live>")
        fan = await services.accounts.create_user("Fin", "fin@example.test", PASSWORD, Role.VIEWER)
        await services.follows.follow(principal_of(fan), seller.id)

        context = await login(browser, running.base_url, "fin@example.test", PASSWORD)
        page = await open_page(browser, running.base_url + "/", context=context)
        bell = page.page.locator("[data-bell-button]")
        await bell.wait_for()
        assert await page.page.locator("[data-bell-count]").is_hidden()
        # the page's own hub connection is up before the show goes live
        await page.page.wait_for_selector("[data-bell][data-live='1']", state="attached")
        await services.shows.move(show.id, ShowStatus.LIVE)
        await page.page.wait_for_selector("[data-bell-count]:not([hidden])", timeout=10_000)
        assert "1" == await page.page.text_content("[data-bell-count]")
        await bell.click()
        item = page.page.locator("[data-bell-list] li[data-notification] a")
        await item.first.wait_for()
        assert "Live now: Bead night <live>" in (await item.first.text_content() or "")
        assert f"/shows/{show.id}" == await item.first.get_attribute("href")
        await page.page.wait_for_selector("[data-bell-count][hidden]", state="attached")
        assert 0 == await services.notifications.unread(principal_of(fan))
        await page.shot("bell")
        assert ([], [], []) == (page.page_errors, page.console_errors, page.dialogs)
        await context.close()
