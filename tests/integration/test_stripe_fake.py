"""The real `stripe` library against tests/support/fake_stripe.py: the fake behaves like Stripe
for everything the money path relies on (so the adapter tests built on it mean something)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator

import pytest
import stripe
from aiohttp import web

from tests.support.fake_stripe import FakeStripe, decode_form, sign

SECRET = "whsec_test_secret"


@pytest.fixture
async def fake() -> AsyncIterator[FakeStripe]:
    async with FakeStripe(auto_deliver=False) as server:
        yield server


@pytest.fixture
async def client(fake: FakeStripe) -> AsyncIterator[stripe.StripeClient]:
    http = stripe.AIOHTTPClient()
    c = stripe.StripeClient(
        fake.api_key, base_addresses={"api": fake.url}, http_client=http, max_network_retries=0
    )
    yield c
    # StripeClient itself has no close_async in stripe 16; its HTTP client does.
    await http.close_async()  # type: ignore[no-untyped-call]


def test_decode_form_nesting() -> None:
    """Stripe's `a[b][0]=x` encoding decodes into nested dicts and lists."""
    assert decode_form("a[b][0]=x&a[b][1]=y&c=1") == {"a": {"b": ["x", "y"]}, "c": "1"}


async def test_payment_intent_pays_with_test_card(
    fake: FakeStripe, client: stripe.StripeClient
) -> None:
    """A PaymentIntent with automatic payment methods is created, retrieved and paid by 4242."""
    pi = await client.v1.payment_intents.create_async(
        {
            "amount": 1999,
            "currency": "eur",
            "automatic_payment_methods": {"enabled": True},
            "metadata": {"order_id": "ord_1"},
        },
        {"idempotency_key": "order-ord_1"},
    )
    assert "requires_payment_method" == pi.status
    assert pi.automatic_payment_methods is not None
    assert pi.automatic_payment_methods.enabled
    assert "ord_1" == pi.metadata["order_id"]
    assert pi.client_secret
    paid = await client.v1.payment_intents.confirm_async(pi.id, {"payment_method": "pm_card_visa"})
    assert "succeeded" == paid.status
    again = await client.v1.payment_intents.retrieve_async(pi.id)
    assert (again.amount_received, again.status) == (1999, "succeeded")
    assert [e["type"] for e in fake.events] == [
        "payment_intent.created",
        "charge.succeeded",
        "payment_intent.succeeded",
    ]


async def test_declined_card_raises_card_error(
    fake: FakeStripe, client: stripe.StripeClient
) -> None:
    """4000 0000 0000 0002 is declined with Stripe's card_error and the PI stays payable."""
    pi = await client.v1.payment_intents.create_async({"amount": 500, "currency": "usd"})
    with pytest.raises(stripe.CardError) as err:
        await client.v1.payment_intents.confirm_async(
            pi.id, {"payment_method": "pm_card_chargeDeclined"}
        )
    assert "card_declined" == err.value.code
    assert "requires_payment_method" == fake.payment_intents[pi.id]["status"]


async def test_idempotent_replay_and_conflict(
    fake: FakeStripe, client: stripe.StripeClient
) -> None:
    """Twenty parallel creates with one key make one PI; a new body is an idempotency error."""
    params: stripe.params.PaymentIntentCreateParams = {"amount": 700, "currency": "eur"}
    pis = await asyncio.gather(
        *[
            client.v1.payment_intents.create_async(params, {"idempotency_key": "k-1"})
            for _ in range(20)
        ]
    )
    assert 1 == len({p.id for p in pis})
    assert 1 == len(fake.payment_intents)
    with pytest.raises(stripe.IdempotencyError):
        await client.v1.payment_intents.create_async(
            {"amount": 701, "currency": "eur"}, {"idempotency_key": "k-1"}
        )


async def test_cancel_and_refunds(fake: FakeStripe, client: stripe.StripeClient) -> None:
    """Cancel refuses a succeeded PI; refunds may be partial, then full, never more."""
    pi = await client.v1.payment_intents.create_async({"amount": 1000, "currency": "eur"})
    fake.pay_out_of_band(pi.id)
    with pytest.raises(stripe.InvalidRequestError):
        await client.v1.payment_intents.cancel_async(pi.id)
    r1 = await client.v1.refunds.create_async({"payment_intent": pi.id, "amount": 300})
    assert (r1.amount, r1.status) == (300, "succeeded")
    r2 = await client.v1.refunds.create_async({"payment_intent": pi.id})
    assert 700 == r2.amount
    with pytest.raises(stripe.InvalidRequestError):
        await client.v1.refunds.create_async({"payment_intent": pi.id, "amount": 1})
    open_pi = await client.v1.payment_intents.create_async({"amount": 1000, "currency": "eur"})
    assert "canceled" == (await client.v1.payment_intents.cancel_async(open_pi.id)).status


async def test_webhook_signatures_verify_like_stripe(
    fake: FakeStripe, client: stripe.StripeClient
) -> None:
    """Deliveries verify with construct_event; stale, tampered and wrongly signed ones do not."""
    verdicts: list[str] = []

    async def receive(request: web.Request) -> web.Response:
        body = await request.read()
        try:
            event = client.construct_event(body, request.headers["Stripe-Signature"], SECRET)
        except stripe.SignatureVerificationError:
            verdicts.append("rejected")
            return web.Response(status=400)
        verdicts.append(event.type)
        return web.Response(status=200)

    app = web.Application()
    app.router.add_post("/hook", receive)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        fake.add_endpoint(f"http://127.0.0.1:{port}/hook", SECRET)
        await client.v1.payment_intents.create_async({"amount": 100, "currency": "eur"})
        event = fake.events[0]
        assert 200 == await fake.deliver(event)
        assert 400 == await fake.deliver(event, timestamp=int(time.time()) - 301)
        assert 400 == await fake.deliver(event, tamper=True)
        assert 400 == await fake.deliver(event, secret="whsec_other")
        assert verdicts == ["payment_intent.created", "rejected", "rejected", "rejected"]
    finally:
        await runner.cleanup()


def test_sign_matches_stripe_library() -> None:
    """Our signer produces the header the stripe library's own generator does."""
    payload = json.dumps({"id": "evt_1"})
    ts = 1_700_000_000
    header = sign(payload.encode(), SECRET, ts)
    expected = stripe.WebhookSignature._compute_signature(f"{ts}.{payload}", SECRET)
    assert f"t={ts},v1={expected}" == header
