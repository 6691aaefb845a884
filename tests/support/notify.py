"""Receivers for notification tests, on loopback: a real SMTP server (aiosmtpd) that keeps what
arrives, and a Web Push endpoint (aiohttp) that does what a browser's push service and the
browser do together: check the VAPID JWT's ES256 signature against the server's public key and
its claims, then decrypt the aes128gcm payload with the subscription's private key."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import email
import email.policy
import json
import logging
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

import http_ece  # type: ignore[import-untyped]  # why: http-ece ships no type information
from aiohttp import web
from aiosmtpd.controller import Controller
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from tests.support.servers import free_port


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class _Keep:
    def __init__(self, inbox: list[EmailMessage]) -> None:
        self.inbox = inbox

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.inbox.append(message)
        return "250 OK"


@dataclass
class SmtpSink:
    url: str
    inbox: list[EmailMessage]

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.inbox if address in str(m["To"])]


@contextlib.contextmanager
def smtp_sink() -> Iterator[SmtpSink]:
    """A real SMTP server on a free loopback port for the duration."""
    inbox: list[EmailMessage] = []
    port = free_port()
    # aiosmtpd logs every recipient address at INFO: the test's receiver, not the server, and
    # the RB-24 log scan rightly refuses addresses in logs
    chatty = logging.getLogger("mail.log")
    level = chatty.level
    chatty.setLevel(logging.WARNING)
    controller = Controller(_Keep(inbox), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield SmtpSink(f"smtp://127.0.0.1:{port}", inbox)
    finally:
        controller.stop()
        chatty.setLevel(level)


@dataclass
class Browser:
    """One browser's push subscription: its key pair and auth secret, as pushManager makes."""

    name: str
    key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    auth: bytes = field(default_factory=lambda: os.urandom(16))

    def subscription(self, base: str) -> dict[str, Any]:
        point = self.key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return {
            "endpoint": f"{base}/push/{self.name}",
            "keys": {"p256dh": b64url(point), "auth": b64url(self.auth)},
        }


@dataclass
class PushSink:
    base: str
    browsers: dict[str, Browser]
    #: Set by the test once known: the server's VAPID public key (base64url).
    vapid_key: str = ""
    #: (browser name, decrypted JSON payload, headers) per accepted push.
    received: list[tuple[str, dict[str, Any], dict[str, str]]] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)

    def of(self, name: str) -> list[dict[str, Any]]:
        return [payload for who, payload, _ in self.received if who == name]


def _verify_vapid(header: str, expected_key: str, audience: str) -> None:
    scheme, _, params = header.partition(" ")
    assert "vapid" == scheme, header
    fields = dict(part.strip().split("=", 1) for part in params.split(","))
    assert expected_key == fields["k"], "signed with another key than the server publishes"
    signing_input, _, signature = fields["t"].rpartition(".")
    head, claims = (json.loads(unb64url(p)) for p in signing_input.split("."))
    assert {"typ": "JWT", "alg": "ES256"} == head
    raw = unb64url(signature)
    der = encode_dss_signature(int.from_bytes(raw[:32]), int.from_bytes(raw[32:]))
    public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64url(fields["k"]))
    public.verify(der, signing_input.encode(), ec.ECDSA(hashes.SHA256()))
    assert audience == claims["aud"]
    assert claims["exp"] > time.time()
    assert str(claims["sub"]).startswith(("mailto:", "https:"))


@contextlib.asynccontextmanager
async def push_sink(*names: str) -> AsyncIterator[PushSink]:
    """A push endpoint per browser name at ``http://127.0.0.1:{port}/push/{name}``."""
    port = free_port()
    sink = PushSink(f"http://127.0.0.1:{port}", {name: Browser(name) for name in names})

    async def accept(request: web.Request) -> web.Response:
        name = request.match_info["name"]
        browser = sink.browsers.get(name)
        if browser is None:
            return web.Response(status=410)
        try:
            _verify_vapid(request.headers.get("Authorization", ""), sink.vapid_key, sink.base)
        except (AssertionError, InvalidSignature, KeyError, ValueError) as exc:
            sink.refused.append(f"{name}: {exc!r}")
            return web.Response(status=401)
        assert "aes128gcm" == request.headers["Content-Encoding"]
        plain = http_ece.decrypt(
            await request.read(),
            private_key=browser.key,
            auth_secret=browser.auth,
            version="aes128gcm",
        )
        sink.received.append((name, json.loads(plain), dict(request.headers)))
        return web.Response(status=201)

    app = web.Application()
    app.router.add_post("/push/{name}", accept)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    try:
        yield sink
    finally:
        await runner.cleanup()


async def until(check: Callable[[], Awaitable[bool]], within: float = 20.0) -> None:
    """Wait for background work (the worker) with a generous deadline, never a bare sleep."""
    deadline = time.monotonic() + within
    while not await check():
        if time.monotonic() > deadline:
            raise TimeoutError("the condition did not hold in time")
        await asyncio.sleep(0.05)
