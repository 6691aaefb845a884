"""HttpWebhookSender: the outbound HTTP client of outgoing webhooks (the one client besides the
Stripe adapter's), built so a seller's URL cannot make the server reach inside its network.

- Host names are resolved by `CheckedResolver`, which drops every address that is not public
  (`domain.webhooks.address_allowed`); aiohttp connects only to the addresses the resolver
  returns, so the address checked is the address connected to (no DNS rebinding between the
  check and the connect). There is no DNS cache: every attempt resolves and checks again.
- A literal IP in the URL never reaches a resolver (aiohttp connects to it directly), so it is
  checked here before the request.
- Redirects are not followed: a 3xx answer is a failed attempt (a redirect could point
  anywhere, and a receiver that moved should be updated by its seller).
- No proxy from the environment, a total timeout per attempt, and only the first
  `excerpt_bytes` of the answer are read and kept.

With `allow_private` (tests, closed networks) none of the address checks apply.
"""

from __future__ import annotations

import socket
import time

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver
from yarl import URL

from livecommerce.domain.webhooks import address_allowed, literal_address
from livecommerce.services.ports import SendResult

USER_AGENT = "LiveCommerce-Webhooks/1"


class RefusedAddress(OSError):
    """Every address of the target's host is private, loopback, link-local or reserved."""


class CheckedResolver(AbstractResolver):
    """The system resolver, keeping only public addresses."""

    def __init__(self) -> None:
        self._inner = DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        found = await self._inner.resolve(host, port, family)
        allowed = [r for r in found if address_allowed(r["host"])]
        if not allowed:
            raise RefusedAddress(f"{host} resolves only to addresses webhooks may not reach")
        return allowed

    async def close(self) -> None:
        await self._inner.close()


class HttpWebhookSender:
    def __init__(self, *, timeout_seconds: float, excerpt_bytes: int, allow_private: bool) -> None:
        self._allow_private = allow_private
        self._excerpt_bytes = excerpt_bytes
        connector = aiohttp.TCPConnector(
            resolver=None if allow_private else CheckedResolver(),
            use_dns_cache=False,
            limit=100,
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(total=timeout_seconds),
            trust_env=False,
            headers={"User-Agent": USER_AGENT},
        )

    async def close(self) -> None:
        await self._session.close()

    async def send(self, url: str, body: bytes, headers: dict[str, str]) -> SendResult:
        started = time.monotonic()

        def result(status: int | None, error: str | None, excerpt: str = "") -> SendResult:
            return SendResult(status, error, excerpt, round((time.monotonic() - started) * 1000))

        target = URL(url)
        literal = literal_address(target.host or "")
        if not self._allow_private and literal is not None and not address_allowed(literal):
            return result(None, "refused: a private, loopback or reserved address")
        try:
            async with self._session.post(
                target, data=body, headers=headers, allow_redirects=False
            ) as response:
                excerpt = await self._excerpt(response)
                if 300 <= response.status < 400:
                    return result(response.status, "redirects are not followed", excerpt)
                error = None if 200 <= response.status < 300 else f"answered {response.status}"
                return result(response.status, error, excerpt)
        except RefusedAddress:
            return result(None, "refused: the host resolves only to private or reserved addresses")
        except aiohttp.ClientConnectorError as exc:
            if isinstance(exc.os_error, RefusedAddress):
                return result(
                    None, "refused: the host resolves only to private or reserved addresses"
                )
            return result(None, "could not connect")
        except TimeoutError:
            return result(None, "timed out")
        except aiohttp.ClientError as exc:
            return result(None, f"failed: {type(exc).__name__}")

    async def _excerpt(self, response: aiohttp.ClientResponse) -> str:
        """The answer's first bytes (the rest is never read: a receiver cannot fill our log)."""
        got = b""
        while len(got) < self._excerpt_bytes:
            chunk = await response.content.read(self._excerpt_bytes - len(got))
            if not chunk:
                break
            got += chunk
        return got.decode("utf-8", "replace")
