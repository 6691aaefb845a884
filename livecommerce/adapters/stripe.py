"""StripePaymentGateway: PaymentIntents with automatic payment methods, via the official library.

The idempotency key for creating an order's PaymentIntent is derived from the order id, so any
number of retries or racing checkouts make one PaymentIntent. The browser confirms it with
Stripe.js (card data never reaches us); the server only ever *re-reads* the PaymentIntent to
decide what an order's payment is, never trusting an event body. Vendor errors are re-raised as
PaymentGatewayError without Stripe's text, keys or payloads.

A group buy's payment is created with `capture_method=manual`: confirmed, it waits in
`requires_capture` until captured at the group's final price (`amount_to_capture`, with an
idempotency key derived from the order, so a capture retried after a crash is the same capture)
or cancelled (the hold released).
"""

from __future__ import annotations

from typing import Any

import stripe
from stripe.params import EventListParams, PaymentIntentCreateParams

from livecommerce.domain.orders import Order, ProviderStatus
from livecommerce.errors import IdempotencyConflict, InvalidSignature, PaymentGatewayError
from livecommerce.services.ports import PaymentInfo, RefundResult

#: Pages of undelivered events one reconcile pass reads.
EVENT_PAGES = 10

_STATUS = {
    "succeeded": ProviderStatus.SUCCEEDED,
    "canceled": ProviderStatus.CANCELED,
    "requires_capture": ProviderStatus.AUTHORIZED,
}


class StripePaymentGateway:
    """The PaymentGateway port over Stripe (or the local Stripe-compatible test server)."""

    name = "stripe"

    def __init__(
        self,
        secret_key: str,
        *,
        publishable_key: str = "",
        webhook_secret: str = "",
        api_base: str = "",
        max_network_retries: int = 2,
    ) -> None:
        self._http = stripe.AIOHTTPClient()
        self._client = stripe.StripeClient(
            secret_key,
            base_addresses={"api": api_base} if api_base else None,
            http_client=self._http,
            max_network_retries=max_network_retries,
        )
        self._publishable_key = publishable_key
        self._webhook_secret = webhook_secret

    async def close(self) -> None:
        """Close the HTTP session (StripeClient has no close of its own)."""
        await self._http.close_async()  # type: ignore[no-untyped-call]

    @staticmethod
    def order_key(order: Order) -> str:
        """The PaymentIntent idempotency key for an order: stable across retries and nodes."""
        return f"lc-order-{order.id}"

    @staticmethod
    def capture_key(order: Order) -> str:
        """The capture's idempotency key: one capture per order, across retries and nodes."""
        return f"lc-capture-{order.id}"

    async def create_payment(self, order: Order, *, hold: bool = False) -> PaymentInfo:
        params: PaymentIntentCreateParams = {
            "amount": order.total.minor,
            "currency": order.total.currency.lower(),
            "automatic_payment_methods": {"enabled": True},
            "metadata": {
                "order_id": order.id,
                "show_id": order.show_id,
                "offer_id": order.offer_id,
            },
        }
        if hold:
            params["capture_method"] = "manual"
        try:
            pi = await self._client.v1.payment_intents.create_async(
                params, {"idempotency_key": self.order_key(order)}
            )
        except stripe.StripeError as exc:
            raise PaymentGatewayError("could not create the payment") from exc
        return self._info(pi)

    async def payment_info(self, order: Order) -> PaymentInfo:
        try:
            pi = await self._client.v1.payment_intents.retrieve_async(order.payment_ref)
        except stripe.StripeError as exc:
            raise PaymentGatewayError("could not read the payment") from exc
        return self._info(pi)

    def _info(self, pi: stripe.PaymentIntent) -> PaymentInfo:
        return PaymentInfo(
            provider=self.name,
            ref=pi.id,
            client={
                "provider": self.name,
                "client_secret": pi.client_secret,
                "publishable_key": self._publishable_key,
            },
        )

    async def payment_status(self, order: Order) -> ProviderStatus:
        try:
            pi = await self._client.v1.payment_intents.retrieve_async(order.payment_ref)
        except stripe.StripeError as exc:
            raise PaymentGatewayError("could not read the payment") from exc
        return _STATUS.get(pi.status, ProviderStatus.OPEN)

    async def cancel_payment(self, order: Order) -> ProviderStatus:
        if not order.payment_ref:
            return ProviderStatus.CANCELED
        try:
            pi = await self._client.v1.payment_intents.cancel_async(order.payment_ref)
        except stripe.InvalidRequestError:
            # already succeeded or cancelled: the PaymentIntent itself says which
            return await self.payment_status(order)
        except stripe.StripeError as exc:
            raise PaymentGatewayError("could not cancel the payment") from exc
        return _STATUS.get(pi.status, ProviderStatus.OPEN)

    async def capture_payment(self, order: Order, amount: int) -> ProviderStatus:
        try:
            pi = await self._client.v1.payment_intents.capture_async(
                order.payment_ref,
                {"amount_to_capture": amount},
                {"idempotency_key": self.capture_key(order)},
            )
        except (stripe.CardError, stripe.InvalidRequestError):
            # declined, or no longer capturable (captured before, released): it says which
            return await self.payment_status(order)
        except stripe.StripeError as exc:
            raise PaymentGatewayError("could not capture the payment") from exc
        return _STATUS.get(pi.status, ProviderStatus.OPEN)

    async def refund(self, order: Order, amount: int, idempotency_key: str) -> RefundResult:
        try:
            refund = await self._client.v1.refunds.create_async(
                {
                    "payment_intent": order.payment_ref,
                    "amount": amount,
                    "metadata": {"order_id": order.id},
                },
                {"idempotency_key": idempotency_key},
            )
        except stripe.IdempotencyError as exc:
            raise IdempotencyConflict(
                "this idempotency key was used for a different refund"
            ) from exc
        except stripe.StripeError as exc:
            raise PaymentGatewayError("the refund was refused by the payment provider") from exc
        return RefundResult(id=refund.id, amount=refund.amount)

    async def refunds(self, order: Order) -> list[RefundResult]:
        try:
            listing = await self._client.v1.refunds.list_async(
                {"payment_intent": order.payment_ref, "limit": 100}
            )
        except stripe.StripeError as exc:
            raise PaymentGatewayError("could not read the refunds") from exc
        return [
            RefundResult(id=r.id, amount=r.amount) for r in listing.data if r.status == "succeeded"
        ]

    async def undelivered_events(self, since_ms: int) -> list[dict[str, Any]]:
        """Stripe's `GET /v1/events?delivery_success=false` since `since_ms`, every page (at most
        `EVENT_PAGES` of 100, newest first: a backlog larger than that is Stripe's own retries'
        to deliver)."""
        params: EventListParams = {
            "delivery_success": False,
            "created": {"gte": since_ms // 1000},
            "limit": 100,
        }
        events: list[dict[str, Any]] = []
        try:
            for _ in range(EVENT_PAGES):
                page = await self._client.v1.events.list_async(params)
                events += [event.to_dict() for event in page.data]
                if not page.has_more or not page.data:
                    break
                params["starting_after"] = page.data[-1].id
        except stripe.StripeError as exc:
            raise PaymentGatewayError("could not list the payment events") from exc
        return events

    def verify_event(self, payload: bytes, signature: str | None) -> dict[str, Any]:
        """The event, if `payload` is byte-for-byte what Stripe signed within five minutes."""
        if not self._webhook_secret:
            raise InvalidSignature("webhooks are not configured")
        try:
            event = self._client.construct_event(payload, signature or "", self._webhook_secret)
        except (stripe.SignatureVerificationError, ValueError) as exc:
            raise InvalidSignature("bad webhook signature") from exc
        data: dict[str, Any] = event.to_dict()
        return data
