"""What the API fuzz (RB-23, tests/reliability/test_rb23_api_fuzz.py) found, minimised: each test
is one finding, named after what it proves now."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp import ClientSession

from tests.support.shop import ShopEnv

_DISPOSITION = b"Content-Disposition: form-data; name="
_PART_END = b"\r\n\r\n{}\r\n--xx--\r\n"


async def _seller(env: ShopEnv) -> dict[str, str]:
    return {"Authorization": f"Bearer {await env.token(env.seller_user)}"}


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("multipart/form-data", b""),
        ("multipart/form-data; boundary=xx", b"garbage"),
        ("multipart/form-data; boundary=xx", b"--xx\r\nNone--xx--\r\n"),
        ("multipart/form-data; boundary=xx", b"--xx\r\n" + _DISPOSITION + b'"a;;b"' + _PART_END),
        (
            "multipart/form-data; boundary=xx",
            b"--xx\r\n" + _DISPOSITION + b'"_charset_"\r\n\r\n' + b"x" * 40 + b"\r\n--xx--\r\n",
        ),
    ],
    ids=[
        "no-boundary",
        "no-start-boundary",
        "broken-part-headers",
        "malformed-content-disposition",
        "overlong-charset-part",
    ],
)
async def test_malformed_multipart_photo_is_a_422_not_a_500(
    env: ShopEnv, http: ClientSession, content_type: str, body: bytes
) -> None:
    """A photo upload whose multipart body cannot be parsed is refused as invalid input."""
    headers = {**await _seller(env), "Content-Type": content_type}
    url = f"{env.base_url}/api/v1/products/{env.product.id}/images"
    async with http.post(url, data=body, headers=headers) as resp:
        answer = await resp.json()
    assert (422, "invalid_input") == (resp.status, answer["error"]["code"]), answer


@pytest.mark.parametrize("moment", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"])
async def test_time_outside_years_1_to_9999_utc_is_refused_and_poisons_nothing(
    env: ShopEnv, http: ClientSession, moment: str
) -> None:
    """A valid datetime whose UTC instant is in year 0 or 10000 is a 422 (it was stored, and
    every read of the show failed with a 500 afterwards); the shows list still reads."""
    seller = await _seller(env)
    body = {"title": "Dawn of time", "scheduled_at": moment}
    async with http.post(f"{env.base_url}/api/v1/shows", json=body, headers=seller) as resp:
        answer = await resp.json()
    assert (422, "invalid_input") == (resp.status, answer["error"]["code"]), answer
    orders = f"{env.base_url}/api/v1/orders"
    async with http.get(orders, params={"since": moment}, headers=seller) as resp:
        assert 422 == resp.status
    async with http.get(f"{env.base_url}/api/v1/shows") as resp:
        titles = [s["title"] for s in (await resp.json())["shows"]]
    assert "Dawn of time" not in titles


async def test_every_api_get_answers_head(env: ShopEnv, http: ClientSession) -> None:
    """HEAD on an API resource answers like its GET, without a body (it was a 405)."""
    for path in ("/api/v1/shows", f"/api/v1/products/{env.product.id}", "/api/v1/countries"):
        async with http.head(f"{env.base_url}{path}") as resp:
            assert (200, b"") == (resp.status, await resp.read()), path


async def test_openapi_document_tells_what_the_server_accepts(
    env: ShopEnv, http: ClientSession
) -> None:
    """Query parameters carry their real types and bounds (all were strings, so the fuzzer's
    ``include_archived=`` was "valid" and refused); a body the server reads as ``{}`` when empty
    is optional; the checkout's idempotency key and the shipping address state what the service
    and the domain take; raw
    bodies (CSV, photos) and CSV answers are declared; creations link onwards."""
    async with http.get(f"{env.base_url}/api/v1/openapi.json") as resp:
        document: dict[str, Any] = await resp.json()
    paths = document["paths"]
    key = document["components"]["schemas"]["CheckoutIn"]["properties"]["idempotency_key"]
    assert "^[A-Za-z0-9._:\\-]{8,100}$" == key["pattern"]  # the service refused "0000 0000"
    address = document["components"]["schemas"]["ShippingAddressIn"]["properties"]
    assert (16, 2, True) == (
        address["postal_code"]["maxLength"],
        address["country"]["maxLength"],
        "DE" in address["country"]["enum"],
    )  # the domain's limits; the document said 1000 characters of anything
    products = {p["name"]: p["schema"] for p in paths["/api/v1/products"]["get"]["parameters"]}
    assert {"type": "boolean"} == {"type": products["include_archived"]["type"]}
    orders = {p["name"]: p["schema"] for p in paths["/api/v1/orders"]["get"]["parameters"]}
    assert ("integer", 1, 1000) == (
        orders["limit"]["type"],
        orders["limit"]["minimum"],
        orders["limit"]["maximum"],
    )
    assert ["buyer", "seller"] == orders["scope"]["enum"]
    assert False is paths["/api/v1/products/{product_id}"]["patch"]["requestBody"]["required"]
    assert True is paths["/api/v1/shows"]["post"]["requestBody"]["required"]
    import_body = paths["/api/v1/products/import"]["post"]["requestBody"]["content"]
    assert "text/csv" in import_body
    photo = paths["/api/v1/products/{product_id}/images"]["post"]["requestBody"]["content"]
    assert ["image"] == photo["multipart/form-data"]["schema"]["required"]
    export = paths["/api/v1/orders/export.csv"]["get"]["responses"]["200"]["content"]
    assert ["text/csv"] == list(export)
    links = paths["/api/v1/shows"]["post"]["responses"]["201"]["links"]
    assert {"operationId": "create_offer", "show_id": "$response.body#/id"} == links["create_offer"]
