"""RB-22 csrf_cors_ssrf_guards: cookie-authenticated writes from another site (no CSRF token,
a foreign Origin) change nothing; no route family reflects an arbitrary Origin in
``Access-Control-Allow-Origin`` (Owncast CVE-2024-29026); the server fetches no URL a user
gives it, so loopback, metadata and rebinding targets are unreachable through it (API7).

What exists to guard: checkout and price changes are HTTP (cookie or bearer); bans are
Socket.IO events only, whose handshake refuses other origins; the only URL a user supplies is
a product's ``image_url``, which must be a path on this site and is never fetched by the
server, and a seller's webhook URL, which the webhook sender checks at creation and after every
DNS resolution; the outbound HTTP clients are the Stripe adapter (the operator's address), the
webhook sender, Web Push's sender and the edge's WHEP client, which reaches only the addresses
other nodes record for themselves.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

import livecommerce
from livecommerce import keys
from livecommerce.domain.shows import ShowStatus
from tests.conftest import SettingsFactory
from tests.support.app import RunningApp, running_app
from tests.support.http import Api
from tests.support.hub_clients import Cast, make_cast, refused

pytestmark = pytest.mark.timeout(60)
EVIL = "https://evil.example"


@dataclass
class Shop:
    running: RunningApp
    cast: Cast
    product: dict[str, Any]
    offer: dict[str, Any]


@pytest.fixture
async def shop(settings_factory: SettingsFactory) -> AsyncIterator[Shop]:
    """A live show with a started offer of the seller's product."""
    async with running_app(settings_factory()) as running:
        cast = await make_cast(running.app)
        await running.app[keys.SERVICES].shows.move(cast.show_id, ShowStatus.LIVE)
        async with aiohttp.ClientSession() as http:
            api = Api(http, running.base_url)
            product, offer = await api.prepare_offer(
                cast.seller.token,
                cast.show_id,
                {
                    "name": "Mug",
                    "price": 1800,
                    "requires_shipping": False,
                    "variants": [{"label": "Blue", "stock": 5}],
                },
                kind="fixed",
                cap=5,
            )
            status, offer = await api.call(
                "POST",
                f"/api/v1/shows/{cast.show_id}/offers/{offer['id']}/start",
                cast.seller.token,
                json={},
            )
            assert 200 == status, offer
        yield Shop(running, cast, product, offer)


async def page_session(shop: Shop, user_id: str) -> tuple[str, str]:
    """A page session cookie for the user and the CSRF token its pages carry."""
    accounts = shop.running.app[keys.SERVICES].accounts
    user = await accounts.get_user(user_id)
    assert user is not None
    session = await accounts.start_session(user)
    async with (
        aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as http,
        http.get(
            shop.running.base_url + "/", headers={"Cookie": f"{keys.SESSION_COOKIE}={session}"}
        ) as resp,
    ):
        found = re.search(r'data-csrf="([0-9a-f]{64})"', await resp.text())
    assert found, "the page carries no CSRF token"
    return session, found.group(1)


async def test_cross_site_writes_change_nothing(shop: Shop) -> None:
    """With a valid session cookie but no CSRF token (what a form or fetch from another site
    sends), checkout, a price change and the create-show form are refused with 403 and change
    nothing; the same requests with the page's token go through, so the token is what
    decides. A ban cannot be sent cross-site at all: the socket handshake is refused."""
    cast, base = shop.cast, shop.running.base_url
    buyer_session, buyer_token = await page_session(shop, cast.alice.user_id)
    seller_session, seller_token = await page_session(shop, cast.seller.user_id)
    checkout = f"/api/v1/shows/{cast.show_id}/checkout"
    price = f"/api/v1/products/{shop.product['id']}"

    def body(key: str) -> dict[str, Any]:
        return {"offer_id": shop.offer["id"], "quantity": 1, "idempotency_key": key}

    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as http:
        api = Api(http, base)

        def as_page(session: str, token: str | None = None) -> dict[str, str]:
            headers = {"Cookie": f"{keys.SESSION_COOKIE}={session}"}
            return headers | ({"X-CSRF-Token": token} if token else {"Origin": EVIL})

        forged = [
            ("POST", checkout, body("cross-site-1"), as_page(buyer_session)),
            ("PATCH", price, {"price": 1}, as_page(seller_session)),
            ("POST", checkout, body("cross-site-2"), as_page(buyer_session, "0" * 64)),
        ]
        for method, path, payload, headers in forged:
            status, answer = await api.call(method, path, json=payload, headers=headers)
            assert (403, "forbidden") == (status, answer["error"]["code"]), (path, answer)
        async with http.post(
            base + "/dashboard/shows",
            data={"title": "Forged show"},
            headers={"Cookie": f"{keys.SESSION_COOKIE}={seller_session}", "Origin": EVIL},
            allow_redirects=False,
        ) as resp:
            assert 403 == resp.status
        status, orders = await api.call("GET", "/api/v1/orders", cast.alice.token)
        assert (200, []) == (status, orders["orders"])
        assert 1800 == (await api.call("GET", price))[1]["price"]["amount"]
        status, shows = await api.call("GET", "/api/v1/shows", cast.seller.token)
        assert "Forged show" not in [s["title"] for s in shows["shows"]]

        status, order = await api.call(
            "POST", checkout, json=body("same-site-1"), headers=as_page(buyer_session, buyer_token)
        )
        assert 201 == status, order
        status, product = await api.call(
            "PATCH", price, json={"price": 1700}, headers=as_page(seller_session, seller_token)
        )
        assert (200, 1700) == (status, product["price"]["amount"]), product

    reason = await refused(
        base, headers={"Cookie": f"{keys.SESSION_COOKIE}={seller_session}", "Origin": EVIL}
    )
    assert isinstance(reason, str)


async def test_no_route_reflects_a_foreign_origin(shop: Shop) -> None:
    """Every route of the app, preflighted and fetched with a foreign, a ``null`` and a
    lookalike Origin: ``Access-Control-Allow-Origin`` is absent or ``*`` (WHIP/WHEP, bearer
    only), never the caller's origin, and never paired with credentials."""
    running, cast = shop.running, shop.cast
    values = {"show_id": cast.show_id, "product_id": shop.product["id"]}
    paths = set()
    for resource in running.app.router.resources():
        canonical = resource.canonical
        if "{" not in canonical and not canonical.endswith("/"):
            canonical += "/x" if resource.get_info().get("directory") else ""
        paths.add(re.sub(r"\{(\w+)(:[^}]*)?\}", lambda m: values.get(m.group(1), "x"), canonical))
    assert {"/whip/" + cast.show_id, "/whep/" + cast.show_id, "/socket.io/"} <= paths
    probes = 0
    allowed: dict[str, str] = {}
    async with aiohttp.ClientSession() as http:
        for path in sorted(paths):
            for origin in (EVIL, "null", running.base_url + ".evil.example"):
                preflight = {
                    "Origin": origin,
                    "Access-Control-Request-Method": "POST",
                    "Access-Control-Request-Headers": "content-type, x-csrf-token",
                }
                for method, headers in (("OPTIONS", preflight), ("GET", {"Origin": origin})):
                    async with http.request(
                        method, running.base_url + path, headers=headers, allow_redirects=False
                    ) as resp:
                        probes += 1
                        acao = resp.headers.get("Access-Control-Allow-Origin")
                        assert acao in (None, "*"), (method, path, origin, acao)
                        if acao:
                            credentials = resp.headers.get("Access-Control-Allow-Credentials")
                            assert "true" != credentials, (method, path)
                            allowed[path] = acao
    assert probes >= 6 * 20
    assert {"*"} == set(allowed.values())
    assert all(p.startswith(("/whip/", "/whep/")) for p in allowed), allowed


async def test_user_urls_are_same_site_and_never_fetched(shop: Shop) -> None:
    """A product's image_url pointing at loopback, the metadata address, IPv6 loopback, a
    rebinding host or another site is refused; a same-site path (even a redirect endpoint's)
    is stored but the server opens no connection for it; no server module but the Stripe
    adapter, the (address-checking) webhook sender, the Web Push sender and the edge's
    node-to-node client hold an outbound HTTP client."""
    cast = shop.cast
    connections = 0

    async def count(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        writer.close()

    trap = await asyncio.start_server(count, "127.0.0.1", 0)
    port = trap.sockets[0].getsockname()[1]
    try:
        async with aiohttp.ClientSession() as http:
            api = Api(http, shop.running.base_url)
            for url in (
                f"http://127.0.0.1:{port}/x.png",
                "http://169.254.169.254/latest/meta-data/",
                f"http://[::1]:{port}/x.png",
                f"http://127.0.0.1.nip.io:{port}/x.png",
                f"//127.0.0.1:{port}/x.png",
                "/\\evil.example/x.png",
                "file:///etc/passwd",
                "gopher://127.0.0.1:6379/_INFO",
            ):
                status, answer = await api.call(
                    "POST",
                    "/api/v1/products",
                    cast.seller.token,
                    json={"name": "Trap", "price": 100, "image_url": url},
                )
                assert (422, "invalid_input") == (status, answer["error"]["code"]), url
            status, product = await api.call(
                "POST",
                "/api/v1/products",
                cast.seller.token,
                json={
                    "name": "Local",
                    "price": 100,
                    "image_url": f"/login?next=http://127.0.0.1:{port}/x.png",
                },
            )
            assert 201 == status, product
            await asyncio.sleep(0.3)
        assert 0 == connections
    finally:
        trap.close()
        await trap.wait_closed()
    package = Path(livecommerce.__file__).parent
    clients = re.compile(r"ClientSession|urlopen|AIOHTTPClient|HTTPClient|import (httpx|requests)")
    holders = {
        str(path.relative_to(package))
        for path in package.rglob("*.py")
        if clients.search(path.read_text(encoding="utf-8"))
    }
    # the server's outbound clients are Stripe's (an address the operator configures), the
    # webhook sender's (sellers' URLs: every address it connects to is checked after DNS
    # resolution, redirects are not followed; tests/integration/test_seller_webhooks.py),
    # Web Push's (adapters/webpush.py: only push subscriptions' endpoints, https to a public
    # address, or loopback http when notify.allow_insecure_push_endpoints is set for tests)
    # and the edge's WHEP client towards the other nodes (addresses from the origin records
    # nodes write about themselves, never from a request); cli.py's `verify-bids URL` is a
    # tool the operator runs on a URL they type
    assert {
        "adapters/stripe.py",
        "adapters/webhooks.py",
        "adapters/webpush.py",
        "broadcast/edge.py",
        "cli.py",
    } == holders
