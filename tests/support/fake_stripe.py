"""A Stripe-compatible HTTP server on 127.0.0.1 for tests and demos that must not leave the machine.

It speaks enough of Stripe's API for the money path, the way the real `stripe` library sends it
(form-encoded bodies with `a[b]=c` nesting, `Idempotency-Key`, `Stripe-Version`, bearer key):
PaymentIntents create / retrieve / confirm / capture / cancel (with `capture_method=manual` a
confirmed PaymentIntent waits in `requires_capture` for `POST /v1/payment_intents/{id}/capture`
with `amount_to_capture`, or a cancel that releases the hold; 4000 0000 0000 0341 /
`pm_card_chargeCustomerFail` authorises and is declined at capture), refunds, idempotent replay
(same key + same body replays the first response with `Idempotent-Replayed: true`; a different body
is Stripe's 400 `idempotency_error`; concurrent requests with one key wait for the first), Stripe's
test cards (4242 4242 4242 4242 / `pm_card_visa` pay; 4000 0000 0000 0002 /
`pm_card_chargeDeclined` are declined with a 402 `card_error`), and webhook events signed exactly
like Stripe (`Stripe-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "t.payload">`). Events are recorded
in `events`; they are delivered to registered endpoints automatically unless `auto_deliver` is off,
so tests can deliver them duplicated, shuffled, stale or tampered with `deliver()`. Each endpoint's
2xx is remembered, so `GET /v1/events?delivery_success=false` lists what was never delivered (the
reconcile's source). Checkout Sessions exist only as the events of a session wrapping one of our
PaymentIntents (`complete_session`, `expire_session`).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import ClientError, ClientSession, ClientTimeout, web

JSON = dict[str, Any]

PAYING_CARDS = {"4242424242424242", "pm_card_visa", "pm_card_mastercard"}
DECLINED_CARDS = {"4000000000000002", "pm_card_chargeDeclined", "pm_card_visa_chargeDeclined"}
#: Authorises (held payments) but is declined when charged: at capture, or at once.
CHARGE_FAILS_CARDS = {"4000000000000341", "pm_card_chargeCustomerFail"}


def decode_form(body: str) -> JSON:
    """Decode Stripe's form encoding (`a[b][0]=x`) into nested dicts; list indices become keys
    of a dict that is turned into a list when its keys are 0..n-1."""
    root: JSON = {}
    for key, value in parse_qsl(body, keep_blank_values=True):
        parts = [key.split("[", 1)[0]]
        if "[" in key:
            parts += [p.rstrip("]") for p in key.split("[", 1)[1].split("[")]
        node = root
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    result: JSON = _listify(root)
    return result


def _listify(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    fixed = {k: _listify(v) for k, v in node.items()}
    if (
        fixed
        and all(k.isdigit() for k in fixed)
        and sorted(map(int, fixed)) == list(range(len(fixed)))
    ):
        return [fixed[str(i)] for i in range(len(fixed))]
    return fixed


def sign(payload: bytes, secret: str, timestamp: int | None = None) -> str:
    """A `Stripe-Signature` header value for `payload`, computed exactly as Stripe does."""
    ts = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{ts}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={ts},v1={mac}"


class StripeError(Exception):
    """An error answered in Stripe's `{"error": {...}}` shape."""

    def __init__(self, status: int, type_: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.body: JSON = {"error": {"type": type_, "message": message, **extra}}


@dataclass
class _Idem:
    fingerprint: str
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    response: tuple[int, JSON] | None = None


@dataclass
class WebhookEndpoint:
    """Where and with which secret events are delivered."""

    url: str
    secret: str


class FakeStripe:
    """The server; `async with FakeStripe() as stripe_server:` gives `.url` and `.api_key`."""

    def __init__(self, api_key: str = "sk_test_fake", *, auto_deliver: bool = True) -> None:
        self.api_key = api_key
        self.auto_deliver = auto_deliver
        self.payment_intents: dict[str, JSON] = {}
        self.refunds: dict[str, JSON] = {}
        self.events: list[JSON] = []
        #: event id -> the endpoint URLs that answered it 2xx (`GET /v1/events?delivery_success=`)
        self.acked: dict[str, set[str]] = {}
        self.checkout_sessions: dict[str, JSON] = {}
        self.endpoints: list[WebhookEndpoint] = []
        self.requests: list[tuple[str, str, str | None]] = []  # (method, path, idempotency key)
        #: PaymentIntent id -> how many captures ran (an idempotent replay runs none)
        self.captures: dict[str, int] = {}
        self._idem: dict[str, _Idem] = {}
        self._runner: web.AppRunner | None = None
        self._session: ClientSession | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.url = ""

    # -- lifecycle -------------------------------------------------------------------------------
    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/v1/payment_intents", self._create_pi)
        app.router.add_get("/v1/payment_intents/{id}", self._get_pi)
        app.router.add_post("/v1/payment_intents/{id}", self._update_pi)
        app.router.add_post("/v1/payment_intents/{id}/confirm", self._confirm_pi)
        app.router.add_post("/v1/payment_intents/{id}/cancel", self._cancel_pi)
        app.router.add_post("/v1/payment_intents/{id}/capture", self._capture_pi)
        app.router.add_post("/v1/refunds", self._create_refund)
        app.router.add_get("/v1/refunds", self._list_refunds)
        app.router.add_get("/v1/refunds/{id}", self._get_refund)
        app.router.add_get("/v1/events", self._list_events)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        self.url = f"http://127.0.0.1:{port}"
        self._session = ClientSession(timeout=ClientTimeout(total=10))

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._session is not None:
            await self._session.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def __aenter__(self) -> FakeStripe:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def add_endpoint(self, url: str, secret: str) -> None:
        """Register a webhook endpoint (loopback only)."""
        if not url.startswith(("http://127.0.0.1", "http://localhost", "http://[::1]")):
            raise ValueError("the fake delivers to loopback only")
        self.endpoints.append(WebhookEndpoint(url, secret))

    # -- test helpers ----------------------------------------------------------------------------
    async def deliver(
        self,
        event: JSON,
        *,
        endpoint: WebhookEndpoint | None = None,
        timestamp: int | None = None,
        tamper: bool = False,
        secret: str | None = None,
    ) -> int:
        """Deliver one event now (optionally stale, tampered or signed with another secret);
        returns the HTTP status the endpoint answered."""
        target = endpoint or self.endpoints[0]
        payload = json.dumps(event, indent=2).encode()
        header = sign(payload, secret or target.secret, timestamp)
        if tamper:
            payload = payload.replace(b'"livemode": false', b'"livemode": true ')
        assert self._session is not None
        async with self._session.post(
            target.url,
            data=payload,
            headers={"Content-Type": "application/json; charset=utf-8", "Stripe-Signature": header},
        ) as resp:
            await resp.read()
            if resp.status < 300:
                self.acked.setdefault(event["id"], set()).add(target.url)
            return resp.status

    def forget_idempotency_keys(self) -> None:
        """What Stripe does to a key 24 hours after its first use: the same key then makes a
        new object."""
        self._idem.clear()

    def delivered(self, event: JSON) -> bool:
        """Whether every registered endpoint has answered this event 2xx (Stripe's
        `delivery_success`)."""
        return {e.url for e in self.endpoints} <= self.acked.get(event["id"], set())

    async def idle(self) -> None:
        """Wait until every automatic delivery (with its retries) has finished."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    def pay_out_of_band(self, pi_id: str, card: str = "4242424242424242") -> JSON:
        """Confirm a PaymentIntent as the browser (Stripe.js) would; returns the PI."""
        return self._confirm(self.payment_intents[pi_id], card)

    # -- HTTP plumbing ---------------------------------------------------------------------------
    async def _params(self, request: web.Request) -> JSON:
        auth = request.headers.get("Authorization", "")
        if auth != f"Bearer {self.api_key}":
            raise StripeError(401, "invalid_request_error", "Invalid API Key provided")
        if request.method == "GET":
            return decode_form(request.query_string)
        return decode_form(await request.text())

    async def _handle(
        self, request: web.Request, action: Any, *args: Any, idempotent: bool = True
    ) -> web.Response:
        key = request.headers.get("Idempotency-Key")
        self.requests.append((request.method, request.path, key))
        try:
            params = await self._params(request)
        except StripeError as err:
            return web.json_response(err.body, status=err.status)
        if not (idempotent and key and request.method == "POST"):
            status, body = self._run(action, params, *args)
            return web.json_response(body, status=status)
        fingerprint = hashlib.sha256(
            f"{request.path}|{json.dumps(params, sort_keys=True)}".encode()
        ).hexdigest()
        slot = self._idem.setdefault(key, _Idem(fingerprint))
        if slot.fingerprint != fingerprint:
            conflict = StripeError(
                400,
                "idempotency_error",
                "Keys for idempotent requests can only be used with the same parameters they "
                "were first used with.",
            )
            return web.json_response(conflict.body, status=conflict.status)
        async with slot.lock:
            if slot.response is not None:
                status, body = slot.response
                return web.json_response(
                    body, status=status, headers={"Idempotent-Replayed": "true"}
                )
            status, body = self._run(action, params, *args)
            if status < 500:
                slot.response = (status, body)
            return web.json_response(body, status=status, headers={"Idempotency-Key": key})

    @staticmethod
    def _run(action: Any, params: JSON, *args: Any) -> tuple[int, JSON]:
        try:
            return 200, action(params, *args)
        except StripeError as err:
            return err.status, err.body

    def _pi(self, pi_id: str) -> JSON:
        pi = self.payment_intents.get(pi_id)
        if pi is None:
            raise StripeError(
                404,
                "invalid_request_error",
                f"No such payment_intent: '{pi_id}'",
                code="resource_missing",
            )
        return pi

    # -- PaymentIntents --------------------------------------------------------------------------
    async def _create_pi(self, request: web.Request) -> web.Response:
        return await self._handle(request, self._do_create_pi)

    def _do_create_pi(self, params: JSON) -> JSON:
        try:
            amount = int(params["amount"])
            currency = str(params["currency"]).lower()
        except (KeyError, ValueError) as exc:
            raise StripeError(400, "invalid_request_error", f"Missing or bad: {exc}") from exc
        if amount < 1:
            raise StripeError(400, "invalid_request_error", "Amount must be at least 1")
        pi_id = "pi_" + secrets.token_hex(12)
        apm = params.get("automatic_payment_methods", {})
        pi: JSON = {
            "id": pi_id,
            "object": "payment_intent",
            "amount": amount,
            "amount_received": 0,
            "amount_refunded": 0,
            "currency": currency,
            "status": "requires_payment_method",
            "client_secret": f"{pi_id}_secret_{secrets.token_hex(12)}",
            "automatic_payment_methods": {
                "enabled": str(apm.get("enabled", "false")) == "true",
                "allow_redirects": apm.get("allow_redirects", "always"),
            },
            "capture_method": str(params.get("capture_method", "automatic")),
            "amount_capturable": 0,
            "confirmation_method": "automatic",
            "metadata": params.get("metadata", {}),
            "description": params.get("description"),
            "latest_charge": None,
            "last_payment_error": None,
            "payment_method": None,
            "created": int(time.time()),
            "livemode": False,
        }
        self.payment_intents[pi_id] = pi
        self._emit("payment_intent.created", pi)
        if str(params.get("confirm", "false")) == "true":
            return self._confirm(pi, str(params.get("payment_method", "")))
        return dict(pi)

    async def _get_pi(self, request: web.Request) -> web.Response:
        return await self._handle(
            request, lambda _p, pi_id: dict(self._pi(pi_id)), request.match_info["id"]
        )

    async def _update_pi(self, request: web.Request) -> web.Response:
        def update(params: JSON, pi_id: str) -> JSON:
            pi = self._pi(pi_id)
            pi["metadata"] = {**pi["metadata"], **params.get("metadata", {})}
            return dict(pi)

        return await self._handle(request, update, request.match_info["id"])

    async def _confirm_pi(self, request: web.Request) -> web.Response:
        def confirm(params: JSON, pi_id: str) -> JSON:
            card = str(params.get("payment_method", ""))
            data = params.get("payment_method_data", {})
            if isinstance(data, Mapping) and isinstance(data.get("card"), Mapping):
                card = str(data["card"].get("number", card))
            return self._confirm(self._pi(pi_id), card)

        return await self._handle(request, confirm, request.match_info["id"])

    def _confirm(self, pi: JSON, card: str) -> JSON:
        card = card.replace(" ", "")
        if pi["status"] not in ("requires_payment_method", "requires_confirmation"):
            raise StripeError(
                400,
                "invalid_request_error",
                f"This PaymentIntent's status is {pi['status']}",
                code="payment_intent_unexpected_state",
            )
        pi["payment_method"] = "pm_" + secrets.token_hex(8)
        if pi["capture_method"] == "manual" and card in PAYING_CARDS | CHARGE_FAILS_CARDS:
            pi["status"] = "requires_capture"
            pi["amount_capturable"] = pi["amount"]
            pi["charge_fails"] = card in CHARGE_FAILS_CARDS
            pi["latest_charge"] = "ch_" + secrets.token_hex(12)
            pi["last_payment_error"] = None
            self._emit("payment_intent.amount_capturable_updated", pi)
            return dict(pi)
        if card in CHARGE_FAILS_CARDS:
            card = "4000000000000002"
        if card in PAYING_CARDS:
            pi["status"] = "succeeded"
            pi["amount_received"] = pi["amount"]
            pi["latest_charge"] = "ch_" + secrets.token_hex(12)
            pi["last_payment_error"] = None
            self._emit("charge.succeeded", {"id": pi["latest_charge"], "payment_intent": pi["id"]})
            self._emit("payment_intent.succeeded", pi)
            return dict(pi)
        if card in DECLINED_CARDS:
            pi["status"] = "requires_payment_method"
            pi["last_payment_error"] = {
                "type": "card_error",
                "code": "card_declined",
                "decline_code": "generic_decline",
                "message": "Your card was declined.",
            }
            self._emit("payment_intent.payment_failed", pi)
            raise StripeError(
                402,
                "card_error",
                "Your card was declined.",
                code="card_declined",
                decline_code="generic_decline",
                payment_intent=dict(pi),
            )
        raise StripeError(
            400, "invalid_request_error", "No such PaymentMethod", code="resource_missing"
        )

    async def _cancel_pi(self, request: web.Request) -> web.Response:
        def cancel(_params: JSON, pi_id: str) -> JSON:
            pi = self._pi(pi_id)
            if pi["status"] in ("succeeded", "canceled"):
                raise StripeError(
                    400,
                    "invalid_request_error",
                    f"You cannot cancel this PaymentIntent because it has a status of "
                    f"{pi['status']}.",
                    code="payment_intent_unexpected_state",
                    payment_intent=dict(pi),
                )
            pi["status"] = "canceled"
            self._emit("payment_intent.canceled", pi)
            return dict(pi)

        return await self._handle(request, cancel, request.match_info["id"])

    async def _capture_pi(self, request: web.Request) -> web.Response:
        def capture(params: JSON, pi_id: str) -> JSON:
            pi = self._pi(pi_id)
            if pi["status"] != "requires_capture":
                raise StripeError(
                    400,
                    "invalid_request_error",
                    f"This PaymentIntent could not be captured because it has a status of "
                    f"{pi['status']}.",
                    code="payment_intent_unexpected_state",
                    payment_intent=dict(pi),
                )
            amount = int(str(params.get("amount_to_capture", pi["amount_capturable"])))
            if not 1 <= amount <= pi["amount_capturable"]:
                raise StripeError(
                    400,
                    "invalid_request_error",
                    "amount_to_capture must be at most the amount capturable",
                    code="amount_too_large",
                )
            self.captures[pi_id] = self.captures.get(pi_id, 0) + 1
            pi["amount_capturable"] = 0
            if pi.get("charge_fails"):
                pi["status"] = "canceled"
                pi["cancellation_reason"] = "failed_capture"
                self._emit("payment_intent.canceled", pi)
                raise StripeError(
                    402,
                    "card_error",
                    "Your card was declined.",
                    code="card_declined",
                    decline_code="generic_decline",
                    payment_intent=dict(pi),
                )
            pi["status"] = "succeeded"
            pi["amount_received"] = amount
            self._emit("charge.captured", {"id": pi["latest_charge"], "payment_intent": pi["id"]})
            self._emit("payment_intent.succeeded", pi)
            return dict(pi)

        return await self._handle(request, capture, request.match_info["id"])

    # -- Refunds ---------------------------------------------------------------------------------
    async def _create_refund(self, request: web.Request) -> web.Response:
        return await self._handle(request, self._do_refund)

    def _do_refund(self, params: JSON) -> JSON:
        pi = self._pi(str(params.get("payment_intent", "")))
        if pi["status"] != "succeeded":
            raise StripeError(400, "invalid_request_error", "This PaymentIntent has not been paid")
        left = pi["amount_received"] - pi["amount_refunded"]
        amount = int(params.get("amount", left))
        if amount < 1 or amount > left:
            raise StripeError(
                400,
                "invalid_request_error",
                f"Refund amount ({amount}) is greater than unrefunded amount ({left})",
                code="amount_too_large",
            )
        pi["amount_refunded"] += amount
        refund: JSON = {
            "id": "re_" + secrets.token_hex(12),
            "object": "refund",
            "amount": amount,
            "currency": pi["currency"],
            "payment_intent": pi["id"],
            "charge": pi["latest_charge"],
            "status": "succeeded",
            "metadata": params.get("metadata", {}),
            "created": int(time.time()),
        }
        self.refunds[refund["id"]] = refund
        self._emit("refund.created", refund)
        self._emit(
            "charge.refunded",
            {
                "id": pi["latest_charge"],
                "object": "charge",
                "payment_intent": pi["id"],
                "amount": pi["amount"],
                "amount_refunded": pi["amount_refunded"],
            },
        )
        return dict(refund)

    async def _list_refunds(self, request: web.Request) -> web.Response:
        def listing(params: JSON) -> JSON:
            pi_id = params.get("payment_intent")
            data = [r for r in self.refunds.values() if pi_id in (None, r["payment_intent"])]
            data.sort(key=lambda r: r["created"], reverse=True)
            limit = int(params.get("limit", 10))
            return {
                "object": "list",
                "url": "/v1/refunds",
                "has_more": len(data) > limit,
                "data": [dict(r) for r in data[:limit]],
            }

        return await self._handle(request, listing)

    def refund_out_of_band(self, pi_id: str, amount: int) -> JSON:
        """A refund made in Stripe's dashboard (not through our API)."""
        return self._do_refund({"payment_intent": pi_id, "amount": str(amount)})

    async def _get_refund(self, request: web.Request) -> web.Response:
        def get(_params: JSON, re_id: str) -> JSON:
            refund = self.refunds.get(re_id)
            if refund is None:
                raise StripeError(404, "invalid_request_error", f"No such refund: '{re_id}'")
            return dict(refund)

        return await self._handle(request, get, request.match_info["id"])

    # -- Checkout Sessions (events only: a session wraps one of our PaymentIntents) --------------
    def _checkout_session(self, pi: JSON) -> JSON:
        return self.checkout_sessions.setdefault(
            pi["id"],
            {
                "id": "cs_test_" + secrets.token_hex(12),
                "object": "checkout.session",
                "payment_intent": pi["id"],
                "amount_total": pi["amount"],
                "currency": pi["currency"],
                "status": "open",
                "payment_status": "unpaid",
                "metadata": pi["metadata"],
            },
        )

    def complete_session(self, pi_id: str, card: str = "4242424242424242") -> JSON:
        """The buyer pays on the hosted page: the PaymentIntent is confirmed with `card`, and a
        paid session emits `checkout.session.completed` after `payment_intent.succeeded`."""
        pi = self._confirm(self._pi(pi_id), card)
        session = self._checkout_session(pi)
        session.update(status="complete", payment_status="paid")
        self._emit("checkout.session.completed", session)
        return session

    def expire_session(self, pi_id: str) -> JSON:
        """The session runs out (or is expired by API): its open PaymentIntent is cancelled and
        `checkout.session.expired` is emitted; a complete session cannot expire (400, as Stripe)."""
        pi = self._pi(pi_id)
        session = self._checkout_session(pi)
        if session["status"] != "open" or pi["status"] == "succeeded":
            raise StripeError(400, "invalid_request_error", "Only open sessions can be expired")
        if pi["status"] != "canceled":
            pi["status"] = "canceled"
            self._emit("payment_intent.canceled", pi)
        session["status"] = "expired"
        self._emit("checkout.session.expired", session)
        return session

    # -- events ----------------------------------------------------------------------------------
    async def _list_events(self, request: web.Request) -> web.Response:
        def listing(params: JSON) -> JSON:
            data = list(reversed(self.events))  # newest first, as Stripe lists
            success = params.get("delivery_success")
            if success is not None:
                data = [e for e in data if self.delivered(e) == (success == "true")]
            created = params.get("created")
            if isinstance(created, Mapping) and "gte" in created:
                data = [e for e in data if e["created"] >= int(created["gte"])]
            after = params.get("starting_after")
            if after:
                ids = [e["id"] for e in data]
                data = data[ids.index(after) + 1 :] if after in ids else []
            limit = int(params.get("limit", 10))
            return {
                "object": "list",
                "url": "/v1/events",
                "has_more": len(data) > limit,
                "data": [json.loads(json.dumps(e)) for e in data[:limit]],
            }

        return await self._handle(request, listing)

    def _emit(self, type_: str, obj: JSON) -> None:
        event: JSON = {
            "id": "evt_" + secrets.token_hex(12),
            "object": "event",
            "api_version": "2024-06-20",
            "created": int(time.time()),
            "type": type_,
            "livemode": False,
            "pending_webhooks": len(self.endpoints),
            "request": {"id": "req_" + secrets.token_hex(8), "idempotency_key": None},
            "data": {"object": json.loads(json.dumps(obj))},
        }
        self.events.append(event)
        if self.auto_deliver:
            for endpoint in self.endpoints:
                task = asyncio.get_running_loop().create_task(self._deliver_soon(event, endpoint))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)

    async def _deliver_soon(self, event: JSON, endpoint: WebhookEndpoint) -> None:
        """Deliver like Stripe: after the API response, retrying a few times on failure."""
        await asyncio.sleep(0.01)
        for attempt in range(3):
            try:
                if await self.deliver(event, endpoint=endpoint) < 300:
                    return
            except (OSError, ClientError):
                pass  # the endpoint is down or died mid-request (RB-06 kills it): retry, as Stripe
            await asyncio.sleep(0.05 * (attempt + 1))
