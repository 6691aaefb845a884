"""Unit tests for outgoing-webhook rules: event types, target URLs and addresses (SSRF), the
retry schedule and the Stripe-style signature."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from livecommerce.domain.webhooks import (
    EVENT_TYPES,
    Target,
    address_allowed,
    backoff_ms,
    check_events,
    check_target,
    signature,
)
from livecommerce.errors import InvalidInput


def test_events_are_known_and_deduplicated() -> None:
    """Subscriptions are sorted, each type once; unknown or none is refused."""
    assert ("order.paid", "show.live") == check_events(["show.live", "order.paid", "show.live"])
    assert 7 == len(EVENT_TYPES)
    for bad in ([], ["order.created"]):
        with pytest.raises(InvalidInput):
            check_events(bad)


@pytest.mark.parametrize(
    ("address", "allowed"),
    [
        ("93.184.216.34", True),
        ("2606:2800:220:1:248:1893:25c8:1946", True),
        ("127.0.0.1", False),
        ("10.0.0.1", False),
        ("172.16.5.4", False),
        ("192.168.1.1", False),
        ("169.254.169.254", False),
        ("100.64.0.1", False),
        ("0.0.0.0", False),  # noqa: S104 why: an address the rule refuses, never bound
        ("224.0.0.1", False),
        ("240.0.0.1", False),
        ("::1", False),
        ("fe80::1%eth0", False),
        ("fc00::1", False),
        ("::ffff:127.0.0.1", False),
        ("ff02::1", False),
        ("not-an-address", False),
    ],
)
def test_only_public_addresses_are_targets(address: str, allowed: bool) -> None:
    """Private, loopback, link-local, shared, multicast, reserved and mapped ones are not."""
    assert allowed is address_allowed(address)


def _target(url: str, scheme: str, host: str, creds: bool = False) -> Target:
    return Target(url, scheme, host, None, creds)


def test_targets() -> None:
    """http(s) with a host and no credentials; literal private addresses unless allowed."""
    ok = _target("https://hooks.example/x", "https", "hooks.example")
    assert ok.url == check_target(ok, allow_private=False)
    loop = _target("http://127.0.0.1/x", "http", "127.0.0.1")
    assert loop.url == check_target(loop, allow_private=True)
    for bad in (
        loop,
        _target("http://[::1]/", "http", "::1"),
        _target("ftp://hooks.example/", "ftp", "hooks.example"),
        _target("https://u:p@hooks.example/", "https", "hooks.example", creds=True),
        _target("https:///x", "https", ""),
    ):
        with pytest.raises(InvalidInput):
            check_target(bad, allow_private=False)


def test_backoff_doubles_and_is_capped() -> None:
    """30 s, 60 s, 120 s … never more than the cap."""
    assert [30, 60, 120, 240] == [backoff_ms(n, 30, 10_000) for n in (1, 2, 3, 4)]
    assert 3600 == backoff_ms(200, 30, 3600)


def test_signature_is_hmac_sha256_over_timestamp_dot_body() -> None:
    """The header a receiver recomputes: t=<seconds>,v1=<hex HMAC-SHA256(secret, "t.body")>."""
    body = b'{"id":"evt_1"}'
    expected = hmac.new(b"s3cret", b"1700000000." + body, hashlib.sha256).hexdigest()
    assert f"t=1700000000,v1={expected}" == signature("s3cret", 1700000000, body)
