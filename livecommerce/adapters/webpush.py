"""WebPushSender: Web Push (RFC 8030) with VAPID (RFC 8292) and aes128gcm payload encryption
(RFC 8291), through pywebpush's async path on one aiohttp session.

Push endpoints are URLs users hand in, so the session only ever connects to public addresses:
its resolver refuses a name that resolves to a private, loopback or link-local address (checked
after DNS, on every connection, redirects included), and IP-literal endpoints are checked here
before sending; loopback is allowed only with ``notify.allow_insecure_push_endpoints`` (tests).

The VAPID key pair is made once into ``<data_dir>/vapid_private_key.pem`` (mode 0600, created
exclusively so two processes starting at once cannot write different keys) and kept: browsers
bind their subscriptions to the public key, so a new key would orphan every subscription.
"""

from __future__ import annotations

import base64
import contextlib
import ipaddress
import json
import os
import socket
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

# why: py-vapid and pywebpush ship no type information (pyproject's overrides predate them)
from py_vapid import Vapid02  # type: ignore[import-untyped]
from pywebpush import WebPushException, webpush_async  # type: ignore[import-untyped]

from livecommerce.errors import AdapterError
from livecommerce.services.ports import PushSubscription

KEY_FILE = "vapid_private_key.pem"


def load_or_create_key(data_dir: Path) -> Path:
    """The key file, created with a fresh P-256 key on first start."""
    path = data_dir / KEY_FILE
    if path.exists():
        return path
    data_dir.mkdir(parents=True, exist_ok=True)
    pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    with contextlib.suppress(FileExistsError):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(pem)
    return path


def reachable(address: str, allow_loopback: bool) -> bool:
    """Whether the server may connect to this address: public ones (loopback when allowed)."""
    ip = ipaddress.ip_address(address)
    return ip.is_global or (allow_loopback and ip.is_loopback)


class PublicResolver(AbstractResolver):
    """DNS as usual, refusing names that lead inside (SSRF through a push endpoint)."""

    def __init__(self, allow_loopback: bool) -> None:
        self._inner = aiohttp.ThreadedResolver()
        self._allow_loopback = allow_loopback

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        found = await self._inner.resolve(host, port, family)
        if not all(reachable(item["host"], self._allow_loopback) for item in found):
            raise OSError("the push endpoint's name resolves to a non-public address")
        return found

    async def close(self) -> None:
        await self._inner.close()


class WebPushSender:
    def __init__(
        self,
        key_file: Path,
        subject: str,
        ttl_seconds: int,
        timeout: float,
        *,
        allow_loopback: bool = False,
    ) -> None:
        self._vapid = Vapid02.from_file(str(key_file))
        raw = self._vapid.public_key.public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        self._public = base64.urlsafe_b64encode(raw).decode().rstrip("=")
        self._subject = subject
        self._ttl = ttl_seconds
        self._timeout = timeout
        self._allow_loopback = allow_loopback
        self._session: aiohttp.ClientSession | None = None

    @property
    def public_key(self) -> str:
        return self._public

    async def send(self, sub: PushSubscription, data: dict[str, Any], topic: str) -> bool:
        host = urlsplit(sub.endpoint).hostname or ""
        with contextlib.suppress(ValueError):  # a name (checked by the resolver) is no literal
            if not reachable(host, self._allow_loopback):
                raise AdapterError("the push endpoint is not a public address")
        if self._session is None:
            connector = aiohttp.TCPConnector(resolver=PublicResolver(self._allow_loopback))
            self._session = aiohttp.ClientSession(connector=connector)
        info: dict[str, Any] = {
            "endpoint": sub.endpoint,
            "keys": {"p256dh": sub.p256dh, "auth": sub.auth},
        }
        try:
            await webpush_async(
                info,
                json.dumps(data, separators=(",", ":")),
                vapid_private_key=self._vapid,
                vapid_claims={"sub": self._subject},
                timeout=self._timeout,
                ttl=self._ttl,
                headers={"Topic": topic, "Urgency": "normal"},
                aiohttp_session=self._session,
            )
        except WebPushException as exc:
            status = getattr(exc.response, "status", None)
            if status in (404, 410):
                return False
            raise AdapterError(f"the push service answered {status}") from exc
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise AdapterError("the push service could not be reached") from exc
        return True

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
