"""Operations: health per component, metrics, the demo, the pages and the real CLI process."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import aiohttp
import pytest

from livecommerce.logs import JsonFormatter, RedactingFilter
from tests.conftest import SettingsFactory
from tests.support.app import running_app
from tests.support.http import Api
from tests.support.servers import RedisServer, free_port


async def test_health_names_the_failing_component(
    settings_factory: SettingsFactory, redis_server: RedisServer, redis_url: str
) -> None:
    """/healthz is 200 with every component ok, and 503 naming redis once it is killed."""
    async with (
        running_app(settings_factory(redis={"url": redis_url})) as running,
        aiohttp.ClientSession() as session,
    ):
        api = Api(session, running.base_url)
        status, body = await api.call("GET", "/healthz")
        assert 200 == status
        assert {"store", "redis"} <= set(body["components"])
        assert {"ok"} == set(body["components"].values())
        redis_server.kill()
        try:
            status, body = await api.call("GET", "/healthz")
            assert 503 == status
            assert "redis" in body["failing"]
            assert "ok" == body["components"]["store"]
        finally:
            redis_server.start()
        status, body = await api.call("GET", "/metrics")
        assert 200 == status
        assert "livecommerce_up 1.0" in body
        assert (
            'livecommerce_http_requests_total{method="GET",route="/healthz",status="503"} 1.0'
            in body
        )


async def test_demo_seeds_a_live_show_listed_on_the_home_page(
    settings_factory: SettingsFactory,
) -> None:
    """With the demo on, demo.json holds working credentials and / lists the live demo show."""
    settings = settings_factory(demo={"enabled": True})
    async with running_app(settings) as running, aiohttp.ClientSession() as session:
        demo = json.loads((settings.server.data_dir / "demo.json").read_text())
        for field in (
            "base_url",
            "show_id",
            "stream_key",
            "seller_token",
            "host_token",
            "viewer_token",
        ):
            assert demo[field], field
        assert running.base_url == demo["base_url"]
        api = Api(session, running.base_url)
        status, show = await api.call("GET", f"/api/v1/shows/{demo['show_id']}")
        assert (200, "live") == (status, show["status"])
        _, host = await api.call("GET", "/api/v1/me", demo["host_token"])
        assert host["id"] in show["host_ids"]
        status, html = await api.call("GET", "/", headers={"Accept": "text/html"})
        assert 200 == status
        assert f"/shows/{demo['show_id']}" in html
        assert "Demo: spring drop" in html
    async with running_app(settings):  # a restart reuses the same demo
        again = json.loads((settings.server.data_dir / "demo.json").read_text())
        assert demo["show_id"] == again["show_id"]


async def test_page_login_uses_session_cookie_and_csrf(live_app: object, api: Api) -> None:
    """The sign-up form sets an HttpOnly session; a write without the CSRF token is refused."""
    async with api.session.get(api.base_url + "/login") as response:
        html = await response.text()
        assert "default-src 'self'" in response.headers["Content-Security-Policy"]
        assert "nosniff" == response.headers["X-Content-Type-Options"]
    token = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert token is not None
    form = {
        "csrf_token": token.group(1),
        "mode": "signup",
        "name": "Pat",
        "email": "pat@test.example",
        "password": "a-long-password",
        "next": "/\t/evil.example",  # what ?next=%2F%09%2Fevil.example puts in the form
    }
    async with api.session.post(
        api.base_url + "/login", data=form, allow_redirects=False
    ) as response:
        assert 303 == response.status
        assert "/" == response.headers["Location"]  # never //evil.example (open redirect)
        cookie = response.cookies["lc_session"]
        assert cookie["httponly"] and cookie["samesite"] == "Lax"
    async with api.session.get(api.base_url + "/api/v1/me") as response:
        assert (200, "Pat") == (response.status, (await response.json())["name"])
    bad = {**form, "csrf_token": "forged"}
    async with api.session.post(
        api.base_url + "/login", data=bad, allow_redirects=False
    ) as response:
        assert 403 == response.status
    async with api.session.post(api.base_url + "/logout", allow_redirects=False) as response:
        assert 403 == response.status  # the cookie alone is not enough for a write


def test_log_records_never_carry_secrets() -> None:
    """Tokens, passwords and stream keys in messages, args and extras are masked in the output."""
    record = logging.LogRecord(
        "t",
        logging.INFO,
        __file__,
        1,
        "login %s with %s",
        ("Bearer lct_abcdefghijklmnop", {"password": "hunter22", "ok": 1}),
        None,
    )
    record.stream_key = "sk_abcdefghijkl"
    record.note = "key sk_zzzzzzzzzzzz here"
    assert RedactingFilter().filter(record)
    line = JsonFormatter().format(record)
    for secret in ("lct_abcdefghijklmnop", "hunter22", "sk_abcdefghijkl", "sk_zzzzzzzzzzzz"):
        assert secret not in line


def _get(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 why: loopback URL built here
        return response.status, response.read().decode()


@pytest.mark.timeout(90)
def test_cli_serves_the_demo(tmp_path: Path) -> None:
    """`python -m livecommerce serve` (what `make run` runs) serves /healthz and the demo."""
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "livecommerce",
            "serve",
            "--port",
            str(port),
            "--data-dir",
            str(tmp_path / "data"),
            "--demo",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                assert 200 == _get(f"http://127.0.0.1:{port}/healthz")[0]
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        demo = json.loads((tmp_path / "data" / "demo.json").read_text())
        assert f"/shows/{demo['show_id']}" in _get(f"http://127.0.0.1:{port}/")[1]
    finally:
        proc.terminate()
        output = proc.communicate(timeout=30)[0].decode()
    assert 0 == proc.returncode, output
    assert demo["stream_key"] not in output
    assert demo["seller_token"] not in output


async def test_cli_migrate_and_create_admin(settings_factory: SettingsFactory) -> None:
    """`migrate` reports the schema version and `create-user` makes an admin who can log in."""
    settings = settings_factory()
    data_dir = str(settings.server.data_dir)
    migrated = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "livecommerce",
        "migrate",
        "--data-dir",
        data_dir,
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await asyncio.wait_for(migrated.communicate(), 60)
    assert 0 == migrated.returncode
    assert out.decode().startswith("schema at version")
    created = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "livecommerce",
        "create-user",
        "--name",
        "Root",
        "--email",
        "root@test.example",
        "--data-dir",
        data_dir,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await asyncio.wait_for(created.communicate(b"Tangerine-Orbit-8842\n"), 60)
    assert 0 == created.returncode
    assert out.decode().startswith("usr_")
    async with running_app(settings) as running, aiohttp.ClientSession() as session:
        api = Api(session, running.base_url)
        status, body = await api.call(
            "POST",
            "/api/v1/auth/login",
            json={"email": "root@test.example", "password": "Tangerine-Orbit-8842"},
        )
        assert (200, "admin") == (status, body["user"]["role"])


@pytest.mark.timeout(90)
def test_a_malformed_request_logs_one_line_not_a_traceback(tmp_path: Path) -> None:
    """Issue 12 finding 6: a URL over 8 KB logged a full traceback at ERROR. It is answered 400
    and logged as one INFO line that names the problem, not the client's bytes."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "livecommerce", "serve", "--port", str(port),
         "--data-dir", str(tmp_path / "data")],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                assert 200 == _get(f"http://127.0.0.1:{port}/healthz")[0]
                break
            except OSError:
                assert time.monotonic() < deadline
                time.sleep(0.1)
        with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
            conn.sendall(b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
            assert conn.recv(64).startswith(b"HTTP/1.0 400")
    finally:
        proc.terminate()
        output = proc.communicate(timeout=30)[0].decode()
    assert "Traceback" not in output
    assert "aaaaaaaaaa" not in output
    assert "refused a malformed HTTP request (LineTooLong)" in output
