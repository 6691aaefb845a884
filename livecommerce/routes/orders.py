"""Order API: a buyer's own orders, a seller's shop orders with filters (status, show, text
search over order id and buyer name or e-mail), refunds (optionally putting the units back into
stock), fulfilment with carrier and tracking number, and CSV export. Whose orders a caller sees
is decided in OrderService, not here."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from livecommerce import keys
from livecommerce.domain.orders import Order, OrderStatus
from livecommerce.domain.shipping import CARRIER_MAX, TRACKING_MAX
from livecommerce.routes.api import ApiRoutes
from livecommerce.routes.auth import require_principal
from livecommerce.services.ports import OrderFilter
from livecommerce.wire import OrderOut, to_ms

api = ApiRoutes("orders")

StatusName = Literal[
    "reserved",
    "pending_payment",
    "authorized",
    "paid",
    "fulfilled",
    "expired",
    "failed",
    "cancelled",
    "refunded",
    "partially_refunded",
    "void",
]


class OrderQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    scope: Literal["buyer", "seller"] = Field(
        "buyer", description="buyer: my purchases; seller: my shop's orders"
    )
    status: StatusName | None = None
    show_id: str | None = Field(None, max_length=100)
    offer_id: str | None = Field(None, max_length=100)
    since: datetime | None = None
    until: datetime | None = None
    q: str | None = Field(
        None,
        min_length=1,
        max_length=100,
        description="text in the order id or the buyer's name or e-mail (case-insensitive)",
    )
    limit: int = Field(100, ge=1, le=1000)

    def to_filter(self) -> OrderFilter:
        return OrderFilter(
            show_id=self.show_id,
            offer_id=self.offer_id,
            statuses=(OrderStatus(self.status),) if self.status else (),
            since_ms=to_ms(self.since),
            until_ms=to_ms(self.until),
            q=(self.q or "").strip() or None,
            limit=self.limit,
        )


class OrderList(BaseModel):
    orders: list[OrderOut]


class RefundIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    amount: int | None = Field(
        None, ge=1, description="minor units; empty = all that is left", strict=True
    )
    restock: bool = Field(False, description="put the order's units back into the variant's stock")
    idempotency_key: str | None = Field(None, min_length=8, max_length=100)


class FulfilIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    carrier: str | None = Field(None, max_length=CARRIER_MAX, description="who carries it")
    tracking_number: str | None = Field(
        None, max_length=TRACKING_MAX, description="the carrier's tracking number"
    )


class OrderPaymentOut(BaseModel):
    order: OrderOut
    payment: dict[str, Any] = Field(
        description="what checkout answers: demo `{provider, confirm_url}`, Stripe "
        "`{provider, client_secret, publishable_key, ...}`"
    )


async def _out(request: web.Request, order: Order) -> OrderOut:
    return OrderOut.model_validate(await request.app[keys.SERVICES].orders.view(order))


@api.get(
    "/api/v1/orders/export.csv",
    query=OrderQuery,
    summary="The seller's orders as CSV (amounts in minor units)",
)
async def export_orders(request: web.Request, query: OrderQuery) -> web.Response:
    principal = await require_principal(request)
    body = await request.app[keys.SERVICES].orders.export_csv(principal, query.to_filter())
    return web.Response(
        text=body,
        content_type="text/csv",
        headers={"Content-Disposition": 'attachment; filename="orders.csv"'},
    )


@api.get(
    "/api/v1/orders",
    query=OrderQuery,
    response=OrderList,
    summary="Orders: your purchases (scope=buyer) or your shop's (scope=seller), filtered",
)
async def list_orders(request: web.Request, query: OrderQuery) -> OrderList:
    principal = await require_principal(request)
    services = request.app[keys.SERVICES]
    orders = await services.orders.list_orders(principal, scope=query.scope, flt=query.to_filter())
    views = await services.orders.views(orders)
    return OrderList(orders=[OrderOut.model_validate(v) for v in views])


@api.get("/api/v1/orders/{order_id}", response=OrderOut, summary="One order (buyer or seller)")
async def get_order(request: web.Request) -> OrderOut:
    principal = await require_principal(request)
    order = await request.app[keys.SERVICES].orders.get(principal, request.match_info["order_id"])
    return await _out(request, order)


@api.get(
    "/api/v1/orders/{order_id}/payment",
    response=OrderPaymentOut,
    summary="The payment of your order awaiting it (an auction's win): what checkout answers",
)
async def order_payment(request: web.Request) -> OrderPaymentOut:
    principal = await require_principal(request)
    services = request.app[keys.SERVICES]
    order, payment = await services.checkout.payment_of(principal, request.match_info["order_id"])
    return OrderPaymentOut(order=await _out(request, order), payment=payment.client)


@api.post(
    "/api/v1/orders/{order_id}/refund",
    body=RefundIn,
    response=OrderOut,
    summary="Refund all or part of a paid order (its seller); restock puts its units back",
)
async def refund_order(request: web.Request, body: RefundIn) -> OrderOut:
    principal = await require_principal(request)
    order = await request.app[keys.SERVICES].payments.refund(
        principal,
        request.match_info["order_id"],
        body.amount,
        body.idempotency_key,
        restock=body.restock,
    )
    return await _out(request, order)


@api.post(
    "/api/v1/orders/{order_id}/fulfil",
    body=FulfilIn,
    response=OrderOut,
    summary="Mark a paid order as handed over (its seller), with carrier and tracking number",
)
async def fulfil_order(request: web.Request, body: FulfilIn) -> OrderOut:
    principal = await require_principal(request)
    order = await request.app[keys.SERVICES].orders.fulfil(
        principal,
        request.match_info["order_id"],
        carrier=body.carrier,
        tracking_number=body.tracking_number,
    )
    return await _out(request, order)


@api.post(
    "/api/v1/orders/{order_id}/cancel",
    response=OrderOut,
    summary="Cancel an unpaid order (buyer or seller); its stock goes back at once",
)
async def cancel_order(request: web.Request) -> OrderOut:
    principal = await require_principal(request)
    order = await request.app[keys.SERVICES].payments.cancel(
        principal, request.match_info["order_id"]
    )
    return await _out(request, order)
