"""RB-05 webhook_signature_and_replay: `POST /webhooks/stripe` takes only what Stripe signed,
byte for byte, within five minutes, under the `v1` scheme. Each forgery of a real
`payment_intent.succeeded` delivery is refused with 400 and leaves no trace (order, journal,
stock, the processed-events record); the genuine delivery then pays the order once, and
replaying it is a 2xx no-op. The route is not a cookie route: no CSRF token is needed, and a
session cookie with a CSRF token does not stand in for the signature."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
import stripe
from aiohttp import ClientSession

from livecommerce.domain.ledger import EntryKind
from livecommerce.domain.orders import OrderStatus
from tests.reliability.conftest import StripeShopSettings
from tests.support.fake_stripe import FakeStripe
from tests.support.shop import (
    WHSEC,
    ShopEnv,
    shop_env,
)

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


@pytest.fixture
async def env(stripe_shop_settings: StripeShopSettings) -> AsyncIterator[ShopEnv]:
    async with shop_env(stripe_shop_settings()) as running:
        yield running


def signed(payload: bytes, secret: str = WHSEC, timestamp: int | None = None) -> str:
    """A `Stripe-Signature` header made by the stripe library's own test signer."""
    header: str = stripe.WebhookSignature.generate_signature_header(
        payload.decode(), secret, timestamp
    )
    return header


async def test_forgeries_are_refused_without_side_effects_and_replay_is_a_no_op(
    fake: FakeStripe, env: ShopEnv
) -> None:
    """Missing header, wrong secret, one byte changed, re-serialised JSON, 301 s old, `v0` only,
    or a cookie and CSRF token instead of a signature: 400 `invalid_signature`, nothing moves;
    the genuine delivery pays the order; its replay is 2xx and changes nothing."""
    offer = await env.offer(stock=2)
    buyer = await env.buyer()
    order, pay = await env.shop.checkout.start(buyer, env.show_id, offer.id, None, 1, "rb05-key-01")
    fake.pay_out_of_band(pay.ref)  # paid at Stripe; our side only learns it from the webhook
    event = next(e for e in fake.events if e["type"] == "payment_intent.succeeded")
    body = json.dumps(event, indent=2).encode()
    now = int(time.time())
    one_byte = body.replace(b'"amount": 4900', b'"amount": 4901', 1)
    assert 1 == sum(a != b for a, b in zip(body, one_byte, strict=True))
    reserialised = json.dumps(json.loads(body)).encode()
    v0_mac = hmac.new(WHSEC.encode(), f"{now}.".encode() + body, hashlib.sha256).hexdigest()
    forgeries: dict[str, tuple[bytes, dict[str, str]]] = {
        "missing header": (body, {}),
        "wrong secret": (body, {"Stripe-Signature": signed(body, "whsec_attacker")}),
        "one byte changed": (one_byte, {"Stripe-Signature": signed(body)}),
        "re-serialised": (reserialised, {"Stripe-Signature": signed(body)}),
        "301 s old": (body, {"Stripe-Signature": signed(body, timestamp=now - 301)}),
        "v0 only": (body, {"Stripe-Signature": f"t={now},v0={v0_mac}"}),
        "cookie and CSRF token": (
            body,
            {"Cookie": "lc_session=abc", "X-CSRF-Token": "abc", "Origin": env.base_url},
        ),
    }

    async def state() -> tuple[Any, ...]:
        got = await env.adapters.orders.get_order(order.id)
        assert got is not None
        level = await env.cap(offer)
        return (
            got,
            await env.adapters.orders.journal(),
            (level.sold, level.reserved, level.available),
            await env.variant(),
            await env.adapters.orders.seen_event(event["id"]),
        )

    url = f"{env.base_url}/webhooks/stripe"
    before = await state()
    assert (OrderStatus.PENDING_PAYMENT, [], False) == (before[0].status, before[1], before[4])
    async with ClientSession() as http:

        async def post(payload: bytes, headers: dict[str, str]) -> tuple[int, Any]:
            headers = {"Content-Type": "application/json", **headers}
            async with http.post(url, data=payload, headers=headers) as resp:
                return resp.status, await resp.json()

        for name, (payload, headers) in forgeries.items():
            status, answer = await post(payload, headers)
            assert (400, "invalid_signature") == (status, answer["error"]["code"]), name
            assert before == await state(), name

        genuine = {"Stripe-Signature": signed(body)}
        assert (200, {"received": True}) == await post(body, genuine)
        after = await state()
        assert (OrderStatus.PAID, True) == (after[0].status, after[4])
        payments = [t for t in after[1] if t.kind is EntryKind.PAYMENT]
        assert [(order.id, 4900)] == [(t.order_id, t.amount) for t in payments]
        assert (1, 0, 1) == after[2]

        assert (200, {"received": True}) == await post(body, genuine)  # the same delivery again
        assert (200, {"received": True}) == await post(body, {"Stripe-Signature": signed(body)})
        assert after == await state()
