"""Operational endpoints: health with per-component status, Prometheus metrics, the API document."""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from livecommerce import keys

log = logging.getLogger(__name__)
HEALTH_TIMEOUT = 2.0


async def healthz(request: web.Request) -> web.Response:
    """200 when every component answers; 503 naming the ones that do not."""
    checks = request.app[keys.HEALTH_CHECKS]

    async def run(name: str) -> tuple[str, str]:
        try:
            await asyncio.wait_for(checks[name](), HEALTH_TIMEOUT)
        except Exception as exc:
            log.warning(
                "health check failed", extra={"component": name, "error": type(exc).__name__}
            )
            return name, "down"
        return name, "ok"

    results = dict(await asyncio.gather(*(run(name) for name in checks)))
    failing = sorted(name for name, state in results.items() if state != "ok")
    body: dict[str, object] = {"status": "ok" if not failing else "degraded", "components": results}
    if failing:
        body["failing"] = failing
    return web.json_response(
        body, status=503 if failing else 200, headers={"Cache-Control": "no-store"}
    )


async def metrics(request: web.Request) -> web.Response:
    payload = generate_latest(request.app[keys.REGISTRY])
    return web.Response(body=payload, headers={"Content-Type": CONTENT_TYPE_LATEST})
