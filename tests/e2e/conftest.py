"""Browser fixtures: the real app with the demo on, and Debian's chromium driven by Playwright.

Chromium is never downloaded: ``/usr/bin/chromium`` is launched with a fake camera and
microphone and loopback ICE allowed. Every page a test opens records console errors, page
errors and dialogs, so a test can prove that nothing executed that should not have.
Screenshots go to ``test-artifacts/e2e`` (git-ignored; ``LC_ARTIFACTS`` overrides it).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Dialog,
    Page,
    async_playwright,
)

from tests.conftest import SettingsFactory
from tests.support.app import RunningApp, running_app

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    "--allow-loopback-in-peer-connection",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # why: with mDNS host candidates ("<uuid>.local") the server would need multicast DNS,
    # which a loopback-only namespace does not have; plain 127.0.0.1 candidates connect.
    "--disable-features=WebRtcHideLocalIpsWithMdns",
    "--autoplay-policy=no-user-gesture-required",
]
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("LC_ARTIFACTS", ROOT / "test-artifacts" / "e2e"))
README_SHOTS = ROOT / "docs" / "screenshots"

pytestmark = pytest.mark.browser


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/e2e" in str(item.fspath):
            item.add_marker(pytest.mark.browser)


def _copy_for_readme(path: Path) -> None:
    README_SHOTS.mkdir(parents=True, exist_ok=True)
    shutil.copy(path, README_SHOTS / path.name)


@dataclass
class Watched:
    """A page plus what it said: console errors, uncaught errors and dialogs opened."""

    page: Page
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)

    async def shot(self, name: str, readme: bool = False) -> Path:
        """Screenshot into the artifacts dir (and a copy for the README when asked)."""
        path = ARTIFACTS / f"{name}.png"
        # Playwright creates the directory itself.
        await self.page.screenshot(path=str(path), full_page=True)
        if readme and os.environ.get("LC_README_SHOTS"):
            await asyncio.to_thread(_copy_for_readme, path)
        return path


@dataclass
class Demo:
    """The running demo app and the accounts and show it seeded (see ``demo.json``)."""

    app: RunningApp
    data: dict[str, Any]

    @property
    def base_url(self) -> str:
        return self.app.base_url

    @property
    def show_id(self) -> str:
        return str(self.data["show_id"])


@contextlib.asynccontextmanager
async def start_demo(settings_factory: SettingsFactory, **sections: Any) -> AsyncIterator[Demo]:
    """The real app on a free loopback port with the demo seeded (a live synthetic show)."""
    settings = settings_factory(demo={"enabled": True}, **sections)
    async with running_app(settings) as running:
        data = json.loads((settings.server.data_dir / "demo.json").read_text())
        yield Demo(app=running, data=data)


@pytest.fixture
async def demo(settings_factory: SettingsFactory) -> AsyncIterator[Demo]:
    """The demo app with default settings."""
    async with start_demo(settings_factory) as running:
        yield running


@pytest.fixture
async def small_demo(settings_factory: SettingsFactory) -> AsyncIterator[Demo]:
    """The demo app with a small, slow synthetic picture, for tests about pages rather than video:
    the encoder then leaves the two cores to the browser."""
    small = {"synthetic_width": 320, "synthetic_height": 176, "synthetic_fps": 10}
    async with start_demo(settings_factory, broadcast=small) as running:
        yield running


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    """Headless Debian chromium with a fake camera and microphone."""
    async with async_playwright() as pw:
        launched = await pw.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield launched
        finally:
            await launched.close()


async def open_page(
    browser: Browser, url: str, *, context: BrowserContext | None = None, mobile: bool = False
) -> Watched:
    """A new page (in a fresh context unless given) that records errors and dialogs."""
    if context is None:
        viewport = {"width": 390, "height": 844} if mobile else {"width": 1280, "height": 900}
        context = await browser.new_context(viewport=viewport)  # type: ignore[arg-type]
    page = await context.new_page()
    watched = Watched(page)

    def on_console(msg: ConsoleMessage) -> None:
        if msg.type == "error":
            watched.console_errors.append(msg.text)

    async def on_dialog(dialog: Dialog) -> None:
        watched.dialogs.append(f"{dialog.type}: {dialog.message}")
        await dialog.dismiss()

    page.on("console", on_console)
    page.on("pageerror", lambda exc: watched.page_errors.append(str(exc)))
    page.on("dialog", on_dialog)
    await page.goto(url)
    return watched


async def login(browser: Browser, base_url: str, email: str, password: str) -> BrowserContext:
    """A browser context signed in through the real login form (session cookie + CSRF)."""
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    await page.goto(f"{base_url}/login")
    form = page.locator("form:has(input[name=mode][value=login])")
    await form.locator("input[name=email]").fill(email)
    await form.locator("input[name=password]").fill(password)
    await form.locator("button[type=submit]").click()
    await page.wait_for_url(f"{base_url}/**")
    cookies = await context.cookies()
    assert any(c["name"] == "lc_session" for c in cookies), "login did not set a session"
    await page.close()
    return context
