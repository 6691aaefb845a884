"""The foundation's HTTP contract: accounts, roles, shows, products, errors and the API document."""

from __future__ import annotations

import io
import re

import pytest

from livecommerce import keys
from livecommerce.errors import Unauthenticated
from tests.support.app import RunningApp
from tests.support.http import PASSWORD, Api


async def test_unauthenticated_writes_get_401(api: Api) -> None:
    """Every write without a token is 401 before its body is even looked at."""
    for method, path in [
        ("POST", "/api/v1/shows"),
        ("POST", "/api/v1/products"),
        ("PATCH", "/api/v1/shows/x"),
        ("POST", "/api/v1/shows/x/stream-key"),
        ("POST", "/api/v1/shows/x/hosts"),
    ]:
        status, body = await api.call(method, path, json={"bogus": True})
        assert (401, "unauthenticated") == (status, body["error"]["code"]), (method, path)
    status, body = await api.call("POST", "/api/v1/shows", token="lct_nope", json={"title": "x"})
    assert (401, "unauthenticated") == (status, body["error"]["code"])


async def test_roles_are_enforced_server_side(api: Api) -> None:
    """A viewer cannot create shows, products or offers; a seller cannot touch another's show."""
    viewer, _ = await api.signup("Vera")
    seller, _ = await api.signup("Sol", role="seller")
    rival, _ = await api.signup("Rex", role="seller")
    status, body = await api.call("POST", "/api/v1/shows", viewer, {"title": "Mine"})
    assert (403, "forbidden") == (status, body["error"]["code"])
    status, body = await api.call("POST", "/api/v1/products", viewer, {"name": "x", "price": 100})
    assert (403, "forbidden") == (status, body["error"]["code"])

    status, show = await api.call("POST", "/api/v1/shows", seller, {"title": "Spring drop"})
    assert 201 == status
    assert show["stream_key"].startswith("sk_")
    for method, path, payload in [
        ("PATCH", f"/api/v1/shows/{show['id']}", {"title": "hijacked"}),
        ("POST", f"/api/v1/shows/{show['id']}/stream-key", None),
        ("POST", f"/api/v1/shows/{show['id']}/hosts", {"user_id": "usr_x"}),
    ]:
        status, body = await api.call(method, path, rival, payload)
        assert (403, "forbidden") == (status, body["error"]["code"]), path
    _, product = await api.call(
        "POST",
        "/api/v1/products",
        seller,
        {"name": "Mug", "price": 900, "variants": [{"label": "One", "stock": 5}]},
    )
    offer = {"product_id": product["id"], "kind": "fixed"}
    for who in (viewer, rival):
        status, body = await api.call("POST", f"/api/v1/shows/{show['id']}/offers", who, offer)
        assert (403, "forbidden") == (status, body["error"]["code"])
    status, _ = await api.call("POST", f"/api/v1/shows/{show['id']}/offers", seller, offer)
    assert 201 == status
    status, got = await api.call("GET", f"/api/v1/shows/{show['id']}")
    assert (200, "Spring drop", "scheduled") == (status, got["title"], got["status"])
    assert "stream_key" not in got


async def test_bad_signup_input_gets_422_with_code(api: Api) -> None:
    """Missing fields, bad e-mails, extra fields and bad JSON: 4xx with a code (short
    passwords: tests/integration/test_sessions.py)."""
    cases = [
        {"name": "a", "email": "a@b.example"},
        {"name": "a", "email": "nope", "password": "long-enough"},
        {"name": "a", "email": "a@b.example", "password": "long-enough", "role": "admin"},
        {"name": "a", "email": "a@b.example", "password": "long-enough", "extra": 1},
        {"name": "bad\u0007name", "email": "a@b.example", "password": "long-enough"},
        ["not", "an", "object"],
    ]
    for payload in cases:
        status, body = await api.call("POST", "/api/v1/auth/signup", json=payload)
        assert (422, "invalid_input") == (status, body["error"]["code"]), payload
    status, body = await api.call(
        "POST",
        "/api/v1/auth/signup",
        data=b"{not json",
        headers={"Content-Type": "application/json"},
    )
    assert (422, "invalid_input") == (status, body["error"]["code"])
    status, body = await api.call(
        "POST",
        "/api/v1/auth/signup",
        data=io.BytesIO(b"x" * (2 * 1024 * 1024)),
        headers={"Content-Type": "application/json"},
    )
    assert 413 == status


async def test_signup_login_guest_and_duplicate_email(api: Api) -> None:
    """Sign-up and login issue working tokens; a taken e-mail conflicts; guests can watch only."""
    token, user = await api.signup("Lena")
    status, me = await api.call("GET", "/api/v1/me", token)
    assert (200, user["id"], "viewer") == (status, me["id"], me["role"])
    status, body = await api.call(
        "POST",
        "/api/v1/auth/signup",
        json={"name": "Other", "email": "LENA@test.example", "password": "whatever-long"},
    )
    assert (409, "conflict") == (status, body["error"]["code"])
    status, body = await api.call(
        "POST",
        "/api/v1/auth/login",
        json={"email": "lena@test.example", "password": "wrong-password"},
    )
    assert (401, "unauthenticated") == (status, body["error"]["code"])
    status, body = await api.call(
        "POST",
        "/api/v1/auth/login",
        json={"email": "lena@test.example", "password": PASSWORD},
    )
    assert 200 == status
    for impostor in ("Admin", "Official ѕeller", "H0ST", "m o d e r a t o r"):
        status, refused = await api.call("POST", "/api/v1/auth/guest", json={"name": impostor})
        assert (422, "reserved_name") == (status, refused["error"]["code"]), impostor
    status, guest = await api.call("POST", "/api/v1/auth/guest", json={"name": "Gil"})
    assert (201, True) == (status, guest["user"]["is_guest"])
    status, body = await api.call("POST", "/api/v1/auth/logout", body["token"])
    assert 204 == status
    status, body = await api.call("GET", "/api/v1/me", token)
    assert 200 == status


async def test_stream_key_rotation_and_hosts(api: Api, live_app: RunningApp) -> None:
    """Rotating the key invalidates the old one at once; granting a host shows in the show."""
    seller, _ = await api.signup("Sia", role="seller")
    _, host = await api.signup("Hal")
    _, show = await api.call("POST", "/api/v1/shows", seller, {"title": "Keys"})
    service = live_app.app[keys.SERVICES].shows
    await service.verify_stream_key(show["id"], show["stream_key"])
    status, rotated = await api.call("POST", f"/api/v1/shows/{show['id']}/stream-key", seller)
    assert 200 == status
    assert rotated["whip_url"].endswith(f"/whip/{show['id']}")
    with pytest.raises(Unauthenticated):
        await service.verify_stream_key(show["id"], show["stream_key"])
    await service.verify_stream_key(show["id"], rotated["stream_key"])
    status, updated = await api.call(
        "POST", f"/api/v1/shows/{show['id']}/hosts", seller, {"user_id": host["id"]}
    )
    assert (200, [host["id"]]) == (status, updated["host_ids"])


async def test_products_and_listing(api: Api) -> None:
    """A seller's product with variants is listed with integer prices in minor units."""
    seller, me = await api.signup("Pia", role="seller")
    status, product = await api.call(
        "POST",
        "/api/v1/products",
        seller,
        {
            "name": "Mug",
            "price": 1800,
            "variants": [
                {"label": "Red", "stock": 3},
                {"label": "Blue", "stock": 2, "price": 2000},
            ],
        },
    )
    assert (201, {"amount": 1800, "currency": "USD"}) == (status, product["price"])
    assert [
        ("Red", 1800),
        ("Blue", 2000),
    ] == [(v["label"], v["price"]["amount"]) for v in product["variants"]]
    status, listed = await api.call("GET", f"/api/v1/products?seller_id={me['id']}")
    assert [product["id"]] == [p["id"] for p in listed["products"]]
    for bad in (
        {"name": "x", "price": 0},
        {"name": "x", "price": 10.5},
        {"name": "x", "price": -1},
        {"name": "x", "price": 100, "image_url": "javascript:alert(1)"},
    ):
        status, body = await api.call("POST", "/api/v1/products", seller, bad)
        assert (422, "invalid_input") == (status, body["error"]["code"]), bad


async def test_openapi_lists_every_api_route(api: Api, live_app: RunningApp) -> None:
    """Every /api/v1 route registered on the app appears in /api/v1/openapi.json."""
    status, doc = await api.call("GET", "/api/v1/openapi.json")
    assert (200, "3.1.0") == (status, doc["openapi"])
    registered = set()
    for route in live_app.app.router.routes():
        info = route.resource.get_info() if route.resource else {}
        path = info.get("path") or info.get("formatter") or ""
        if (
            path.startswith("/api/v1/")
            and path != "/api/v1/openapi.json"
            and route.method != "HEAD"
        ):
            registered.add((route.method.lower(), re.sub(r"\{(\w+)(:[^}]*)?\}", r"{\1}", path)))
    documented = {(m, p) for p, ops in doc["paths"].items() for m in ops}
    assert len(registered) >= 12
    assert set() == registered - documented


async def test_unknown_routes_and_methods_are_json_errors(api: Api) -> None:
    """404 and 405 under /api come back in the error envelope."""
    status, body = await api.call("GET", "/api/v1/nope")
    assert (404, "not_found") == (status, body["error"]["code"])
    status, body = await api.call("DELETE", "/api/v1/me")
    assert (405, "method_not_allowed") == (status, body["error"]["code"])
    status, body = await api.call("GET", "/api/v1/shows/shw_missing")
    assert (404, "not_found") == (status, body["error"]["code"])
