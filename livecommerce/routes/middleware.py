"""HTTP middleware: one JSON error shape for every failure, security headers on every response."""

from __future__ import annotations

import ipaddress
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from urllib.parse import urlsplit

from aiohttp import web
from aiohttp.typedefs import Middleware
from prometheus_client import CollectorRegistry, Counter, Histogram

from livecommerce import keys
from livecommerce.errors import LiveCommerceError, PermissionDenied

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_STATUS_CODES = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "unsupported_media",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid_input",
    429: "rate_limited",
}


def _json_error(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> web.Response:
    return web.json_response(
        {"error": {"code": code, "message": message}}, status=status, headers=headers
    )


def wants_html(request: web.Request) -> bool:
    """Pages get HTML error pages; everything else (API, media, webhooks) gets JSON."""
    return (
        request.method == "GET"
        and "text/html" in request.headers.get("Accept", "")
        and not (request.path.startswith(("/api/", "/whip/", "/whep/", "/hls/", "/webhooks/")))
    )


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except LiveCommerceError as exc:
        if exc.status >= 500:
            log.warning("request failed", extra={"path": request.path, "code": exc.code})
        elif isinstance(exc, PermissionDenied):
            # ASVS 16.3.2: refused access (wrong role, missing CSRF token) is a security event
            principal = request.get(keys.PRINCIPAL)
            log.warning(
                "authorization failure",
                extra={
                    "method": request.method,
                    "path": request.path,
                    "user_id": principal.user_id if principal else None,
                    "reason": exc.message,
                },
            )
        body = exc.to_wire()
        headers = (
            {"Retry-After": "1"}
            if exc.code in ("rate_limited", "request_in_progress", "store_unavailable")
            else None
        )
        return web.json_response(body, status=exc.status, headers=headers)
    except web.HTTPException as exc:
        if exc.status < 400 or wants_html(request):
            raise
        code = _STATUS_CODES.get(exc.status, "http_error")
        headers = {
            k: v for k, v in exc.headers.items() if k in ("Allow", "Retry-After", "Location")
        }
        return _json_error(exc.status, code, exc.reason, headers)
    except Exception:
        log.exception("unhandled error", extra={"path": request.path, "method": request.method})
        return _json_error(500, "internal_error", "internal server error")


#: No inline script or style anywhere. ``worker-src blob:`` is for hls.js, which starts its
#: transmuxing worker from a blob URL (without it every HLS play logs a CSP error and hls.js falls
#: back to the main thread); js.stripe.com for the buy sheet's Stripe Payment Element.
#: ``connect-src`` names the site's own WebSocket origin (``{ws}``) instead of ``ws: wss:``,
#: which allowed a page to open a socket to any host; ``'self'`` covers it in current browsers.
CSP = (
    "default-src 'self'; script-src 'self' https://js.stripe.com; worker-src 'self' blob:; "
    "style-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; "
    "connect-src 'self' {ws} https://api.stripe.com; frame-src https://js.stripe.com; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)


def content_security_policy(base_url: str) -> str:
    """The CSP of this site: its WebSocket origin is ``base_url``'s, as ws(s)://host[:port]."""
    parts = urlsplit(base_url)
    scheme = "wss" if parts.scheme == "https" else "ws"
    return CSP.format(ws=f"{scheme}://{parts.netloc}")


@web.middleware
async def security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    response = await handler(request)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
    if request.path.startswith("/api/"):
        # API answers are per caller (orders, /me, tokens): no shared cache may keep them
        response.headers.setdefault("Cache-Control", "no-store")
    server = request.app[keys.SETTINGS].server
    if server.hsts_seconds and (request.secure or server.public_url.startswith("https://")):
        response.headers.setdefault(
            "Strict-Transport-Security", f"max-age={server.hsts_seconds}; includeSubDomains"
        )
    if response.content_type == "text/html":
        response.headers.setdefault(
            "Content-Security-Policy", content_security_policy(request.app[keys.SETTINGS].base_url)
        )
        response.headers.setdefault("X-Frame-Options", "DENY")
    return response


def metrics_middleware(registry: CollectorRegistry) -> Middleware:
    """Count requests and time them per route template (not per URL, to bound label cardinality)."""
    requests = Counter(
        "livecommerce_http_requests",
        "HTTP requests by route template and status",
        ["method", "route", "status"],
        registry=registry,
    )
    latency = Histogram(
        "livecommerce_http_request_seconds",
        "HTTP handling time by route template",
        ["route"],
        registry=registry,
        buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
    )

    @web.middleware
    async def observe(request: web.Request, handler: Handler) -> web.StreamResponse:
        resource = request.match_info.route.resource
        route = resource.canonical if resource is not None else "unmatched"
        started = time.perf_counter()
        status = 500
        try:
            response = await handler(request)
            status = response.status
            return response
        except web.HTTPException as exc:
            status = exc.status
            raise
        finally:
            latency.labels(route).observe(time.perf_counter() - started)
            requests.labels(request.method, route, str(status)).inc()

    return observe


def client_address(trusted: Sequence[str]) -> Middleware:
    """The client's address behind trusted proxies: from one of them, the rightmost
    ``X-Forwarded-For`` hop that is not itself trusted (the hops left of it are the client's
    word, which anyone can forge). Everything after this middleware, the hub's handshake
    included, sees that address as ``request.remote``."""
    networks = [ipaddress.ip_network(entry, strict=False) for entry in trusted]

    def is_trusted(address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in networks)

    @web.middleware
    async def resolve(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not networks or not request.remote or not is_trusted(request.remote):
            return await handler(request)
        hops = [h.strip() for h in request.headers.get("X-Forwarded-For", "").split(",")]
        for hop in reversed(hops):
            if is_trusted(hop):
                continue
            try:
                ipaddress.ip_address(hop)
            except ValueError:
                break  # a malformed hop: keep the proxy's own address
            return await handler(request.clone(remote=hop))
        return await handler(request)

    return resolve
