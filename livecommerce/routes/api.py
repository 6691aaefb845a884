"""Declared JSON API routes: each declaration validates input, serialises output and documents
itself, so the OpenAPI document is built from the same models that guard the handlers.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from livecommerce import keys
from livecommerce.errors import InvalidInput
from livecommerce.routes.auth import require_principal
from livecommerce.routes.bodies import parse_json, read_body

Handler = Callable[..., Awaitable[Any]]
M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class ApiRoute:
    method: str
    path: str
    handler: Handler
    summary: str
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    status: int = 200
    #: Success answers other than ``status`` with the same body (an idempotent create answers
    #: 201 when it made something and 200 when it was there already).
    also: tuple[int, ...] = ()
    auth: bool = True
    tags: tuple[str, ...] = field(default_factory=tuple)


def validation_details(exc: ValidationError) -> list[dict[str, str]]:
    return [
        {"field": ".".join(str(p) for p in err["loc"]) or "body", "problem": err["msg"]}
        for err in exc.errors()
    ]


async def read_json(request: web.Request) -> Any:
    """The JSON body, with size and syntax problems turned into clear 4xx errors."""
    raw = await read_body(request, request.app[keys.SETTINGS].server.max_body_bytes)
    if not raw:
        return {}
    return parse_json(raw)


def parse_model(model: type[M], data: Any) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = validation_details(exc)[0]
        raise InvalidInput(
            f"{first['field']}: {first['problem']}", details=validation_details(exc)
        ) from exc


def respond(result: Any, status: int) -> web.StreamResponse:
    if isinstance(result, web.StreamResponse):
        return result
    if isinstance(result, BaseModel):
        payload: Any = result.model_dump(mode="json")
    else:
        payload = result
    return web.json_response(payload, status=status)


#: Every documented route of the app, in registration order (the OpenAPI document's source).
API_ROUTES = web.AppKey("api_routes", list[ApiRoute])


class ApiRoutes:
    """A route table for one module; ``register`` adds it to the app and to the API document."""

    def __init__(self, tag: str) -> None:
        self._tag = tag
        self.routes: list[ApiRoute] = []

    def _add(self, method: str, path: str, **options: Any) -> Callable[[Handler], Handler]:
        def decorate(handler: Handler) -> Handler:
            self.routes.append(
                ApiRoute(method=method, path=path, handler=handler, tags=(self._tag,), **options)
            )
            return handler

        return decorate

    def get(self, path: str, **options: Any) -> Callable[[Handler], Handler]:
        return self._add("GET", path, **options)

    def post(self, path: str, **options: Any) -> Callable[[Handler], Handler]:
        return self._add("POST", path, **options)

    def patch(self, path: str, **options: Any) -> Callable[[Handler], Handler]:
        return self._add("PATCH", path, **options)

    def put(self, path: str, **options: Any) -> Callable[[Handler], Handler]:
        return self._add("PUT", path, **options)

    def delete(self, path: str, **options: Any) -> Callable[[Handler], Handler]:
        return self._add("DELETE", path, **options)

    def register(self, app: web.Application) -> None:
        for route in self.routes:
            if route.method == "GET":  # and HEAD, as every GET resource must answer it
                app.router.add_get(route.path, _wrap(route))
            else:
                app.router.add_route(route.method, route.path, _wrap(route))
            app[API_ROUTES].append(route)


def _wrap(route: ApiRoute) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def handle(request: web.Request) -> web.StreamResponse:
        args: list[Any] = []
        if route.auth:
            await require_principal(request)  # 401 before any input is looked at
        if route.body is not None:
            args.append(parse_model(route.body, await read_json(request)))
        if route.query is not None:
            args.append(parse_model(route.query, dict(request.query)))
        return respond(await route.handler(request, *args), route.status)

    handle.__name__ = route.handler.__name__
    return handle
