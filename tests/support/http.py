"""A small JSON client for tests: every call returns (status, parsed body)."""

from __future__ import annotations

from typing import Any

import aiohttp


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

    async def signup(self, name: str, role: str = "viewer") -> tuple[str, dict[str, Any]]:
        status, body = await self.call(
            "POST",
            "/api/v1/auth/signup",
            json={
                "name": name,
                "email": f"{name.lower()}@test.example",
                "password": "pass-" + name * 2,
                "role": role,
            },
        )
        assert status == 201, body
        return body["token"], body["user"]
