"""The host console's lists: a timed-out viewer is listed with Lift, a banned one with Unban;
both buttons work and the audit log tells the story in words."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser

from tests.conftest import SettingsFactory
from tests.e2e.conftest import login, open_page
from tests.support.app import running_app
from tests.support.hub_clients import PASSWORD, join_show, make_cast

pytestmark = pytest.mark.timeout(90)


async def test_console_lifts_timeouts_and_unbans(
    settings_factory: SettingsFactory, browser: Browser
) -> None:
    """The host times Alice out and bans her from the console's chat, sees her in the lists by
    name, lifts the timeout and unbans her there; the audit log names both people."""
    async with running_app(settings_factory()) as running:
        cast = await make_cast(running.app)
        alice, _ = await join_show(running.base_url, cast.show_id, cast.alice.token)
        host_ctx = await login(browser, running.base_url, "hana@example.test", PASSWORD)
        console = await open_page(
            browser, f"{running.base_url}/console/{cast.show_id}", context=host_ctx
        )
        page = console.page
        await page.wait_for_selector("body[data-ready='1']", state="attached")
        await page.locator("#timeout-list li", has_text="Nobody is timed out.").wait_for()
        try:
            ack = await alice.call("chat.send", {"show_id": cast.show_id, "text": "buy my stuff"})
            line = page.locator(f"#msg-{ack['message']['id']}")
            await line.locator("[data-action=timeout]").click()
            timed = page.locator("#timeout-list li", has_text="Alice")
            await timed.wait_for(timeout=10000)
            assert "in " in (await timed.locator(".countdown").text_content() or "")
            await timed.locator("[data-action=lift]").click()
            await page.locator("#timeout-list li", has_text="Nobody is timed out.").wait_for()
            lifted = await alice.expect("mod.applied", lambda d: d["action"] == "lift")
            assert cast.alice.user_id == lifted["user_id"]

            ban = line.locator("[data-action=ban]")
            await ban.click()
            await ban.click()
            banned = page.locator("#banned-list li", has_text="Alice")
            await banned.wait_for(timeout=10000)
            await console.shot("console-restrictions", readme=True)
            unban = banned.locator("[data-action=unban]")
            await unban.click()
            await unban.click()
            await page.locator("#banned-list li", has_text="Nobody is banned.").wait_for()

            audit = page.locator("#audit-list")
            await audit.locator("li", has_text="Hana unbanned Alice").wait_for(timeout=10000)
            text = await audit.text_content() or ""
            for sentence in (
                "Hana timed out Alice for 5 minutes",
                "Hana lifted Alice’s timeout",
                "Hana banned Alice",
            ):
                assert sentence in text, text
            assert [] == console.page_errors
        finally:
            await alice.close()
            await host_ctx.close()
