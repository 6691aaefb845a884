"""Outgoing webhooks: which events a seller may subscribe to, which target addresses are
refused (SSRF), the retry schedule, and the signature, all pure.

A delivery is the JSON ``{id, type, created, data}`` signed like Stripe's:
``LiveCommerce-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>``; the
receiver recomputes it over the raw body and refuses old timestamps. A failed attempt is retried
after `backoff_ms` (doubling from the base, capped) until `give_up_ms` after the event, then the
delivery is `failed` for good (a redeliver starts it again).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from livecommerce.domain.orders import Order
from livecommerce.errors import InvalidInput

#: Every event type a seller can subscribe to.
EVENT_TYPES = (
    "show.live",
    "show.ended",
    "order.paid",
    "order.refunded",
    "order.fulfilled",
    "auction.closed",
    "giveaway.drawn",
)
SIGNATURE_HEADER = "LiveCommerce-Signature"
URL_MAX = 2000


class DeliveryStatus(StrEnum):
    PENDING = "pending"  # waiting for its next attempt (or being attempted under a lease)
    SUCCEEDED = "succeeded"  # the receiver answered 2xx
    FAILED = "failed"  # every attempt in the retry window failed (redeliver starts it again)


@dataclass(frozen=True, slots=True)
class WebhookEvent:
    """One thing that happened to a seller's shop, as it is sent (`data` is JSON-ready).
    `key` makes enqueueing it idempotent: the same key is one event, whoever enqueues it."""

    id: str
    seller_id: str
    type: str
    created_ms: int
    data: dict[str, Any]
    key: str
    #: Until when its deliveries are retried (created + the configured window).
    give_up_ms: int


def check_events(events: Iterable[str]) -> tuple[str, ...]:
    """A subscription's event types: known ones, at least one, each once."""
    chosen = tuple(sorted(set(events)))
    unknown = [e for e in chosen if e not in EVENT_TYPES]
    if unknown or not chosen:
        raise InvalidInput(f"events: choose from {', '.join(EVENT_TYPES)}")
    return chosen


def address_allowed(address: str) -> bool:
    """Whether a target address is on the public internet: no private, loopback, link-local,
    multicast, reserved or unspecified address (IPv4-mapped IPv6 judged as its IPv4)."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def literal_address(host: str) -> str | None:
    """The host as an IP address when it is one (``[::1]`` or ``127.0.0.1``), else None."""
    try:
        return str(ipaddress.ip_address(host.strip("[]")))
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class Target:
    """A webhook URL as the service parsed it (the domain does no URL parsing: no urllib)."""

    url: str
    scheme: str
    host: str
    port: int | None
    has_credentials: bool


def check_target(target: Target, *, allow_private: bool) -> str:
    """A webhook target: http(s), a host, no credentials, and (unless private targets are
    allowed) not a literal private or reserved address. Host names are checked again after
    every DNS resolution, at send time."""
    if len(target.url) > URL_MAX:
        raise InvalidInput(f"url: at most {URL_MAX} characters")
    if target.scheme not in ("http", "https") or not target.host:
        raise InvalidInput("url: an http or https URL with a host")
    if target.has_credentials:
        raise InvalidInput("url: no user name or password in the URL")
    if target.port == 0:
        raise InvalidInput("url: not a usable port")
    literal = literal_address(target.host)
    if not allow_private and literal is not None and not address_allowed(literal):
        raise InvalidInput("url: a private, loopback or reserved address is not allowed")
    return target.url


def backoff_ms(attempts: int, base_ms: int, max_ms: int) -> int:
    """The wait after the `attempts`-th failed attempt: base, twice that, four times … capped."""
    doublings: int = min(max(attempts - 1, 0), 30)
    return min(max_ms, base_ms * (1 << doublings))


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The ``LiveCommerce-Signature`` header value for `body` sent at `timestamp` (seconds)."""
    signed = f"{timestamp}.".encode() + body
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def _money(minor: int, currency: str) -> dict[str, Any]:
    return {"amount": minor, "currency": currency}


def order_data(order: Order) -> dict[str, Any]:
    """An order as webhooks carry it: the fields of ``GET /api/v1/orders/{id}`` that are the
    order's own (the buyer by id; the address it ships to, which fulfilment needs)."""
    currency = order.total.currency
    return {
        "id": order.id,
        "status": str(order.status),
        "show_id": order.show_id,
        "offer_id": order.offer_id,
        "product_id": order.product_id,
        "variant_id": order.variant_id,
        "quantity": order.quantity,
        "buyer": order.buyer_id,
        "unit_price": _money(order.unit_price.minor, currency),
        "total": _money(order.total.minor, currency),
        "discount": _money(order.discount_minor, currency),
        "coupon_code": order.coupon_code,
        "refunded": _money(order.refunded_minor, currency),
        "created_at": order.created_at_ms,
        "shipping_address": (
            order.shipping_address.to_wire() if order.shipping_address is not None else None
        ),
        "fulfilment": order.fulfilment.to_wire() if order.fulfilment is not None else None,
    }
