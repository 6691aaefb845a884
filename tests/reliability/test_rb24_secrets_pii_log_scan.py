"""RB-24 `secrets_pii_log_scan`: nothing a buyer, seller or the payment provider trusts us with
reaches a log. The whole run is scanned at the end of every session (tests/support/logscan.py);
this module proves the scanner finds each kind of leak, drives the paths that carry secrets
with hostile input while logging at DEBUG, and checks no request schema takes a card number."""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest

from livecommerce import logs
from tests.conftest import SettingsFactory
from tests.support.app import running_app
from tests.support.http import Api
from tests.support.hub_clients import join_show, make_cast
from tests.support.logscan import findings, luhn_valid, scan_lines

CARD = "4242 4242 4242 4242"
FORGED = "fine\r\n2026-12-05 03:00:00,000 ERROR livecommerce.payments: refund of 9999 approved"


@pytest.mark.parametrize(
    ("leak", "kind"),
    [
        (f"text={CARD}", "card number"),
        ("pan 5555555555554444", "card number"),
        ("buyer ada@lovelace.example wrote", "email address"),
        ("call +44 20 7946 0958 please", "phone number"),
        ("key sk_test_4eC39HqLyjWDarjtT1zdp7dc", "provider secret"),
        ("whsec_abcdef123456 in config", "provider secret"),
        ("publishing with sk_Zx9q8Wv7Ut6Sr5Qp4On3", "stream key"),
        ("token lct_h7Gf6Ed5Cb4Aa3Zz2Yy1", "session token"),
        ('headers {"Authorization": "Bearer abc.def"}', "authorization header"),
        ("Cookie: lc_session=abc", "cookie header"),
    ],
)
def test_the_scanner_names_each_kind_of_leak(leak: str, kind: str) -> None:
    assert kind in findings(leak)


@pytest.mark.parametrize(
    "clean",
    [
        '{"ts": "2026-12-05T03:14:19.123Z", "level": "info", "msg": "order paid"}',
        "order 01JEXAMPLE7K3 of show 3f2c9a1b total 4200 EUR",
        "1234567890123456 is not a card (Luhn)",
        "paid at 1796440927509 (a millisecond timestamp that passes Luhn)",
        "GET /v1/payment_intents/pi_ad3827ead36643531860026e (an id whose digits pass Luhn)",
        "stream key [redacted] replaced, Bearer [redacted]",
        "listening on http://127.0.0.1:8080 (pid 41235)",
    ],
)
def test_the_scanner_passes_what_is_fine_to_log(clean: str) -> None:
    assert [] == findings(clean)


def test_luhn() -> None:
    assert luhn_valid("4242424242424242")
    assert not luhn_valid("4242424242424241")


def test_a_forged_line_and_an_unexpected_traceback_are_findings() -> None:
    lines = ['{"level": "info", "msg": "ok", "test": "t"}', "not json: a second line", ""]
    lines.append('{"level": "error", "msg": "boom", "exc": "Traceback...", "test": "t2"}')
    found = [(f.test, f.what) for f in scan_lines(lines, expected_tracebacks=set())]
    assert ("?", "a line that is not one whole record (CR/LF)") in found
    assert ("t2", "a traceback no test expected") in found
    assert [] == scan_lines(lines[-1:], expected_tracebacks={"t2"})


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_crlf_in_a_message_cannot_forge_a_line(fmt: str) -> None:
    out = io.StringIO()
    log = logging.getLogger("livecommerce.test_rb24")
    handler = logs.handler(fmt, out)
    log.addHandler(handler)
    try:
        log.warning("chat refused: %s", FORGED)
    finally:
        log.removeHandler(handler)
    written = out.getvalue()
    assert 1 == written.count("\n"), written  # the record's own line end only
    assert "\r" not in written


@pytest.fixture
def debug_log() -> Iterator[io.StringIO]:
    """Everything logged while the test runs, at DEBUG (stricter than production's INFO), as the
    production handler writes it."""
    out = io.StringIO()
    handler = logs.handler("json", out)
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    logs.quiet_libraries(logging.DEBUG)  # as `logs.configure` does for a DEBUG server
    try:
        yield out
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


async def test_hostile_input_on_the_secret_paths_leaves_no_secret_in_the_log(
    settings_factory: SettingsFactory, debug_log: io.StringIO
) -> None:
    settings = settings_factory(hub={"chat_rates": [{"limit": 1000, "per_seconds": 1}]})
    async with running_app(settings) as app, aiohttp.ClientSession() as http:
        api = Api(http, app.base_url)
        cast = await make_cast(app.app)
        seller = cast.seller.token
        secrets: list[str] = [cast.seller.token, cast.alice.token]

        # sign-up and login: the password and e-mail travel in the body
        status, body = await api.call(
            "POST", "/api/v1/auth/login", json={"email": "sam@example.test", "password": CARD}
        )
        assert status == 401, body
        # a show: its stream key, then WHIP with a wrong key and with the key and broken SDP
        status, show = await api.call("POST", "/api/v1/shows", seller, json={"title": "Leaks"})
        assert status == 201, show
        secrets.append(show["stream_key"])
        for key in ("sk_wrongwrongwrongwrong", show["stream_key"]):
            async with http.post(
                f"{app.base_url}/whip/{show['id']}",
                data=f"v=0\r\n{CARD}\r\n",
                headers={"Authorization": f"Bearer {key}", "Content-Type": "application/sdp"},
            ) as resp:
                assert resp.status in {400, 401}, await resp.text()
        # bearer tokens and cookies on routes that fail
        for path in ("/api/v1/nope", "/api/v1/orders/does-not-exist", "/dashboard/orders"):
            async with http.get(
                app.base_url + path,
                headers={"Authorization": f"Bearer {seller}", "Cookie": f"lc_session={seller}"},
            ) as resp:
                assert resp.status in {200, 302, 303, 401, 403, 404}, path
        # a shipping address with a phone number, and a chat line with a card and a forged line
        address: dict[str, Any] = {
            "name": "Ada Lovelace",
            "line1": "1 Analytical Row",
            "city": "London",
            "postal_code": "N1 9GU",
            "country": "GB",
            "phone": "+44 20 7946 0958",
        }
        status, saved = await api.call(
            "PUT", "/api/v1/me/shipping-address", cast.alice.token, json=address
        )
        assert status in {200, 422}, saved
        alice, _ = await join_show(app.base_url, cast.show_id, cast.alice.token)
        try:
            for text in (f"my card is {CARD}", FORGED, "x" * 5000, "mail me: ada@lovelace.example"):
                ack = await alice.call("chat.send", {"show_id": cast.show_id, "text": text})
                assert "ok" in ack
        finally:
            await alice.close()

    written = debug_log.getvalue()
    assert written, "the scenario logged nothing, so the scan would prove nothing"
    problems = scan_lines(written.splitlines(), expected_tracebacks=set())
    assert [] == [(p.what, p.line[:300]) for p in problems]
    leaked = [s for s in secrets if s in written]
    assert [] == leaked


PAN_LIKE = re.compile(r"(?i)card|\bpan\b|cvc|cvv|cc_?num|expir|exp_(month|year)|security_code")


async def test_no_request_schema_accepts_a_card_field(settings_factory: SettingsFactory) -> None:
    """PCI posture: card data only ever goes to the payment provider's own page or form."""
    async with (
        running_app(settings_factory()) as app,
        aiohttp.ClientSession() as http,
        http.get(app.base_url + "/api/v1/openapi.json") as resp,
    ):
        document = await resp.json()
    schemas = document["components"]["schemas"]
    names: set[str] = set()
    seen: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref not in seen:
                seen.add(ref)
                walk(schemas[ref.rsplit("/", 1)[-1]])
            names.update(node.get("properties", {}))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for path in document["paths"].values():
        for operation in path.values():
            walk(operation.get("requestBody", {}))
            names.update(parameter["name"] for parameter in operation.get("parameters", []))
    assert {"quantity", "idempotency_key"} <= names, "the walk missed the checkout body"
    # the one card field is the demo provider's, whose schema admits only Stripe's test cards;
    # `expirationTime` is a Web Push subscription's (PushSubscription.toJSON), not a card's
    assert ["card", "expirationTime"] == sorted(n for n in names if PAN_LIKE.search(n))
    card = schemas["DemoConfirmIn"]["properties"]["card"]["pattern"]
    assert re.fullmatch(card, "4242 4242 4242 4242")
    assert re.fullmatch(card, "4556 7375 8689 9855") is None  # a Luhn-valid real-looking PAN
    assert re.fullmatch(card, "4556737586899855") is None
