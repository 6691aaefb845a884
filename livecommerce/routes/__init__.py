"""HTTP handlers: the JSON API (declared, validated, documented), pages, WHIP/WHEP signalling,
HLS and replay files, webhooks and operational endpoints. Handlers reach the application
through ``app[keys.SERVICES]`` only (media signalling also through the broadcast plane's keys).
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from livecommerce.routes import (
    accounts,
    auctions,
    audience,
    buyer_questions,
    coupons,
    giveaways,
    login,
    moderation,
    notifications,
    orders,
    pages,
    payments,
    products,
    referrals,
    reviews,
    seller_webhooks,
    shop,
    shows,
    system,
    webhooks,
)
from livecommerce.routes.api import API_ROUTES
from livecommerce.routes.media import add_media_routes
from livecommerce.routes.openapi import openapi_document

API_MODULES = (
    accounts,
    shows,
    products,
    shop,
    auctions,
    orders,
    payments,
    moderation,
    audience,
    reviews,
    buyer_questions,
    giveaways,
    coupons,
    referrals,
    seller_webhooks,
    notifications,
)


def setup_routes(app: web.Application, static_dir: Path) -> None:
    app[API_ROUTES] = []
    for module in API_MODULES:
        module.api.register(app)
    app.router.add_get("/api/v1/openapi.json", openapi_document)
    app.router.add_get("/healthz", system.healthz)
    app.router.add_get("/metrics", system.metrics)
    webhooks.setup(app)
    app.router.add_get("/uploads/products/{name}", shop.product_image)
    add_media_routes(app)
    app.router.add_routes(login.routes)
    app.router.add_routes(pages.routes)
    app.router.add_routes(notifications.routes)
    app.router.add_static("/static/", static_dir, name="static", append_version=True)
    favicon = static_dir / "icons" / "favicon.ico"

    async def root_favicon(request: web.Request) -> web.FileResponse:
        """Browsers and crawlers ask for /favicon.ico without reading the page's links."""
        return web.FileResponse(favicon, headers={"Cache-Control": "public, max-age=86400"})

    app.router.add_get("/favicon.ico", root_favicon)
    definitions = static_dir.parent.parent / "docs" / "METRICS.md"

    async def metrics_definitions(request: web.Request) -> web.FileResponse:
        """The published definitions the viewer figures link to (``definitions_url``)."""
        return web.FileResponse(
            definitions,
            headers={
                "Content-Type": "text/markdown; charset=utf-8",
                "Cache-Control": "public, max-age=3600",
            },
        )

    app.router.add_get(shows.METRICS_DEFINITIONS, metrics_definitions)
