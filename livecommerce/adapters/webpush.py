"""WebPushSender: Web Push (RFC 8030) with VAPID (RFC 8292) and aes128gcm payload encryption
(RFC 8291), through pywebpush's async path on one aiohttp session.

The VAPID key pair is made once into ``<data_dir>/vapid_private_key.pem`` (mode 0600, created
exclusively so two processes starting at once cannot write different keys) and kept: browsers
bind their subscriptions to the public key, so a new key would orphan every subscription.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
from pathlib import Path
from typing import Any

import aiohttp
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


class WebPushSender:
    def __init__(self, key_file: Path, subject: str, ttl_seconds: int, timeout: float) -> None:
        self._vapid = Vapid02.from_file(str(key_file))
        raw = self._vapid.public_key.public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        self._public = base64.urlsafe_b64encode(raw).decode().rstrip("=")
        self._subject = subject
        self._ttl = ttl_seconds
        self._timeout = timeout
        self._session: aiohttp.ClientSession | None = None

    @property
    def public_key(self) -> str:
        return self._public

    async def send(self, sub: PushSubscription, data: dict[str, Any], topic: str) -> bool:
        if self._session is None:
            self._session = aiohttp.ClientSession()
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
