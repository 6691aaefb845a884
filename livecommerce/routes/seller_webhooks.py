"""Outgoing webhooks over HTTP (sellers): register an endpoint for event types (the signing
secret is in the creation answer only), list and delete endpoints, read an endpoint's delivery
log and redeliver one. Incoming provider webhooks (Stripe's) are `routes/webhooks.py`."""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from livecommerce import keys
from livecommerce.domain.webhooks import EVENT_TYPES, URL_MAX
from livecommerce.routes.api import ApiRoutes
from livecommerce.routes.auth import require_principal
from livecommerce.services.ports import Delivery, Endpoint

api = ApiRoutes("webhooks")


class WebhookIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str = Field(
        min_length=1,
        max_length=URL_MAX,
        description="http(s); private, loopback, link-local and reserved addresses are refused "
        "here and again after every DNS resolution when sending",
    )
    events: list[str] = Field(
        min_length=1, max_length=len(EVENT_TYPES), description=f"of {', '.join(EVENT_TYPES)}"
    )


class WebhookOut(BaseModel):
    id: str
    url: str
    events: list[str]
    created_at: int = Field(description="epoch milliseconds")

    @classmethod
    def of(cls, endpoint: Endpoint) -> WebhookOut:
        return cls(
            id=endpoint.id,
            url=endpoint.url,
            events=list(endpoint.events),
            created_at=endpoint.created_ms,
        )


class WebhookCreated(WebhookOut):
    secret: str = Field(description="signs every delivery; shown in this answer only")


class WebhookList(BaseModel):
    webhooks: list[WebhookOut]


class WebhookDeleted(BaseModel):
    id: str
    deleted: bool


class AttemptOut(BaseModel):
    attempt: int
    at: int = Field(description="epoch milliseconds")
    status_code: int | None = Field(description="the receiver's answer; null: none")
    error: str | None
    duration_ms: int
    response_excerpt: str = Field(description="the answer's first bytes")


class DeliveryOut(BaseModel):
    id: str
    event_id: str
    type: str
    status: str = Field(description="pending, succeeded or failed")
    attempts: int
    next_attempt_at: int = Field(description="epoch milliseconds (pending)")
    give_up_at: int = Field(description="epoch milliseconds: retried until then")
    last_status: int | None
    last_error: str | None
    created_at: int
    log: list[AttemptOut]

    @classmethod
    def of(cls, d: Delivery) -> DeliveryOut:
        return cls(
            id=d.id,
            event_id=d.event_id,
            type=d.event_type,
            status=str(d.status),
            attempts=d.attempts,
            next_attempt_at=d.next_attempt_ms,
            give_up_at=d.give_up_ms,
            last_status=d.last_status,
            last_error=d.last_error,
            created_at=d.created_ms,
            log=[
                AttemptOut(
                    attempt=a.number,
                    at=a.at_ms,
                    status_code=a.status_code,
                    error=a.error,
                    duration_ms=a.duration_ms,
                    response_excerpt=a.response_excerpt,
                )
                for a in d.log
            ],
        )


class DeliveryList(BaseModel):
    deliveries: list[DeliveryOut]


class DeliveriesQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    limit: int = Field(50, ge=1, le=200)


@api.post(
    "/api/v1/webhooks",
    body=WebhookIn,
    response=WebhookCreated,
    status=201,
    summary="Register a webhook endpoint (sellers); the answer holds its secret, once",
)
async def create_webhook(request: web.Request, body: WebhookIn) -> WebhookCreated:
    principal = await require_principal(request)
    endpoint, secret = await request.app[keys.SERVICES].webhooks.create(
        principal, body.url, body.events
    )
    return WebhookCreated(**WebhookOut.of(endpoint).model_dump(), secret=secret)


@api.get("/api/v1/webhooks", response=WebhookList, summary="Your webhook endpoints (no secrets)")
async def list_webhooks(request: web.Request) -> WebhookList:
    principal = await require_principal(request)
    endpoints = await request.app[keys.SERVICES].webhooks.list(principal)
    return WebhookList(webhooks=[WebhookOut.of(e) for e in endpoints])


@api.delete(
    "/api/v1/webhooks/{webhook_id}",
    response=WebhookDeleted,
    summary="Delete a webhook endpoint: nothing more is sent to it",
)
async def delete_webhook(request: web.Request) -> WebhookDeleted:
    principal = await require_principal(request)
    webhook_id = request.match_info["webhook_id"]
    await request.app[keys.SERVICES].webhooks.delete(principal, webhook_id)
    return WebhookDeleted(id=webhook_id, deleted=True)


@api.get(
    "/api/v1/webhooks/{webhook_id}/deliveries",
    query=DeliveriesQuery,
    response=DeliveryList,
    summary="An endpoint's deliveries, newest first, each with every attempt",
)
async def list_webhook_deliveries(request: web.Request, query: DeliveriesQuery) -> DeliveryList:
    principal = await require_principal(request)
    deliveries = await request.app[keys.SERVICES].webhooks.deliveries(
        principal, request.match_info["webhook_id"], query.limit
    )
    return DeliveryList(deliveries=[DeliveryOut.of(d) for d in deliveries])


@api.post(
    "/api/v1/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver",
    response=DeliveryOut,
    status=202,
    summary="Send a delivery again now (same event id and body, a new retry window)",
)
async def redeliver_webhook(request: web.Request) -> DeliveryOut:
    principal = await require_principal(request)
    delivery = await request.app[keys.SERVICES].webhooks.redeliver(
        principal, request.match_info["webhook_id"], request.match_info["delivery_id"]
    )
    return DeliveryOut.of(delivery)
