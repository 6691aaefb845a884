"""Payment provider webhooks: `POST /webhooks/stripe`.

The signature is verified on the raw body bytes (re-serialised JSON would not match), events
older than five minutes are refused, and a verified event only triggers a re-read of the
PaymentIntent — its body is never trusted for state. Unverifiable deliveries get 400 and change
nothing; handled and duplicate ones get 200 so Stripe stops retrying.
"""

from __future__ import annotations

from aiohttp import web

from livecommerce import keys
from livecommerce.routes.bodies import read_body

MAX_WEBHOOK_BYTES = 512 * 1024


async def stripe_webhook(request: web.Request) -> web.Response:
    body = await read_body(request, MAX_WEBHOOK_BYTES, "webhook body")
    payments = request.app[keys.SERVICES].payments
    await payments.receive_stripe_webhook(body, request.headers.get("Stripe-Signature"))
    return web.json_response({"received": True})


def setup(app: web.Application) -> None:
    app.router.add_post("/webhooks/stripe", stripe_webhook)
