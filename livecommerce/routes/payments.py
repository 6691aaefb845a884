"""Demo payments: the confirm endpoint the buyer's page posts a Stripe test card number to.
Demo mode moves no money; 4242 4242 4242 4242 pays, 4000 0000 0000 0002 is declined."""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from livecommerce import keys
from livecommerce.routes.api import ApiRoutes
from livecommerce.routes.auth import require_principal
from livecommerce.wire import OrderOut

api = ApiRoutes("payments")


class DemoConfirmIn(BaseModel):
    """Only Stripe's published test numbers fit the schema, so no real card number is ever
    accepted, stored or logged, even by mistake (RB-24: no request schema takes a PAN)."""

    model_config = ConfigDict(extra="forbid")
    card: str = Field(pattern=r"^(4242 ?4242 ?4242 ?4242|4000 ?0000 ?0000 ?0002)$")


@api.post(
    "/api/v1/payments/demo/{order_id}/confirm",
    body=DemoConfirmIn,
    response=OrderOut,
    summary="Pay a demo order with a Stripe test card number (demo: no money moves)",
)
async def confirm_demo(request: web.Request, body: DemoConfirmIn) -> OrderOut:
    principal = await require_principal(request)
    services = request.app[keys.SERVICES]
    order = await services.payments.confirm_demo(
        principal, request.match_info["order_id"], body.card
    )
    return OrderOut.model_validate(await services.orders.view(order))
