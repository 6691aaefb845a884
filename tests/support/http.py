"""A small JSON client for tests: every call returns (status, parsed body); and the login page's
form, posted the way a browser does."""

from __future__ import annotations

import re
from typing import Any

import aiohttp

#: The password ``Api.signup`` gives every account: it passes the password rule for any test
#: name (no test name is part of it). Log in with it.
PASSWORD = "Tangerine-Orbit-8842"


class Api:
    def __init__(self, session: aiohttp.ClientSession, base_url: str) -> None:
        self.session = session
        self.base_url = base_url

    async def call(
        self, method: str, path: str, token: str | None = None, json: Any = None, **kwargs: Any
    ) -> tuple[int, Any]:
        headers = dict(kwargs.pop("headers", {}))
        if token:
            headers["Authorization"] = f"Bearer {token}"
        async with self.session.request(
            method, self.base_url + path, json=json, headers=headers, **kwargs
        ) as response:
            if response.content_type == "application/json":
                return response.status, await response.json()
            return response.status, await response.text()

    async def prepare_offer(
        self, token: str, show_id: str, product: dict[str, Any], **offer: Any
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """A new product of the seller's and a draft offer of it in the show, made over the API
        as the studio makes them: (product, offer). ``offer`` is the offer body but its
        ``product_id``."""
        status, made = await self.call("POST", "/api/v1/products", token, json=product)
        assert 201 == status, made
        status, prepared = await self.call(
            "POST",
            f"/api/v1/shows/{show_id}/offers",
            token,
            json={"product_id": made["id"], **offer},
        )
        assert 201 == status, prepared
        return made, prepared

    async def signup(self, name: str, role: str = "viewer") -> tuple[str, dict[str, Any]]:
        status, body = await self.call(
            "POST",
            "/api/v1/auth/signup",
            json={
                "name": name,
                "email": f"{name.lower()}@test.example",
                "password": PASSWORD,
                "role": role,
            },
        )
        assert status == 201, body
        return body["token"], body["user"]


async def submit_login_form(
    http: aiohttp.ClientSession, base: str, **fields: str
) -> tuple[int, str]:
    """Open /login (for its pre-session cookie and CSRF token) and post its form with ``fields``
    (``mode=signup`` for the sign-up form); (status, page) without following the redirect.
    The session needs a cookie jar that keeps cookies from IP hosts (``unsafe=True``)."""
    async with http.get(base + "/login") as resp:
        html = await resp.text()
    token = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert token is not None
    data = {"csrf_token": token.group(1), **fields}
    async with http.post(base + "/login", data=data, allow_redirects=False) as resp:
        return resp.status, await resp.text()
