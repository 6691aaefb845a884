"""Payment provider webhooks: `POST /webhooks/stripe`.

The signature is verified on the raw body bytes (re-serialised JSON would not match), events
older than five minutes are refused, and a verified event only triggers a re-read of the
PaymentIntent — its body is never trusted for state. Unverifiable deliveries get 400 and change
nothing; handled and duplicate ones get 200 so Stripe stops retrying.
"""

from __future__ import annotations

from aiohttp import web

from livecommerce import keys
from livecommerce.errors import InvalidSignature, NotFound, PayloadTooLarge
from livecommerce.services.ports import SignedWebhooks

MAX_WEBHOOK_BYTES = 512 * 1024


async def stripe_webhook(request: web.Request) -> web.Response:
    shop = request.app[keys.SERVICES]
    gateway = shop.payments.gateway("stripe")
    if not isinstance(gateway, SignedWebhooks):
        raise NotFound("stripe is not enabled")
    body = await request.content.read(MAX_WEBHOOK_BYTES + 1)
    if len(body) > MAX_WEBHOOK_BYTES:
        raise PayloadTooLarge("webhook body too large")
    try:
        event = gateway.verify_event(body, request.headers.get("Stripe-Signature"))
    except InvalidSignature:
        shop.shop_events.metrics.webhook("invalid")
        raise
    await shop.payments.handle_stripe_event(event)
    return web.json_response({"received": True})


def setup(app: web.Application) -> None:
    app.router.add_post("/webhooks/stripe", stripe_webhook)
