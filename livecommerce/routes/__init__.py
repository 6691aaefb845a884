"""HTTP handlers: the JSON API (declared, validated, documented), pages, operational endpoints."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from livecommerce.routes import accounts, pages, products, shows, system
from livecommerce.routes.openapi import openapi_document

API_MODULES = (accounts, shows, products)


def setup_routes(app: web.Application, static_dir: Path) -> None:
    for module in API_MODULES:
        module.api.register(app)
    app.router.add_get("/api/v1/openapi.json", openapi_document)
    app.router.add_get("/healthz", system.healthz)
    app.router.add_get("/metrics", system.metrics)
    pages.setup(app)
    app.router.add_static("/static/", static_dir, name="static", append_version=True)
