"""The OpenAPI 3.1 document, generated from the declared API routes and their pydantic models,
with the links between operations (an id one answer returns is what the next call takes) that
stateful clients and the API fuzz (tests/reliability/test_rb23_api_fuzz.py) follow."""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ValidationError

from livecommerce import __version__
from livecommerce.routes.api import API_ROUTES, ApiRoute
from livecommerce.routes.products import PHOTO_FIELD
from livecommerce.services.catalog_admin import IMAGE_TYPES

_PARAM = re.compile(r"\{(\w+)(?::[^}]*)?\}")

ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
        }
    },
}

_PRODUCT = {"product_id": "$response.body#/id"}
_VARIANT = {"product_id": "$response.body#/id", "variant_id": "$response.body#/variants/0/id"}
_SHOW = {"show_id": "$response.body#/id"}
_SELLER_OF_SHOW = {"seller_id": "$response.body#/seller_id"}
_LISTED_SELLER = {"seller_id": "$response.body#/shows/0/seller_id"}
_OFFER = {"show_id": "$response.body#/show_id", "offer_id": "$response.body#/id"}
_ORDER = {"order_id": "$response.body#/id"}
_CHECKOUT_ORDER = {"order_id": "$response.body#/order/id"}
_LISTED_SHOW = {"show_id": "$response.body#/shows/0/id"}
_BUY_OFFER = {
    "show_id": "$response.body#/show_id",
    "requestBody": {
        "offer_id": "$response.body#/id",
        "variant_id": "$response.body#/variants/0/id",
    },
}
_BUY_LISTED_OFFER = {
    "show_id": "$request.path.show_id",
    "requestBody": {
        "offer_id": "$response.body#/offers/0/id",
        "variant_id": "$response.body#/offers/0/variants/0/id",
    },
}
_LISTED_ORDER = {"order_id": "$response.body#/orders/0/id"}
#: What a client does next with an order it was given.
_ORDER_OPS = (
    "get_order",
    "order_payment",
    "cancel_order",
    "refund_order",
    "fulfil_order",
    "confirm_demo",
)
_LISTED_OFFER = {"show_id": "$request.path.show_id", "offer_id": "$response.body#/offers/0/id"}
_REVIEW = {"review_id": "$response.body#/id"}
_APPEAL = {"show_id": "$response.body#/show_id", "appeal_id": "$response.body#/id"}

#: operationId → {operationId it leads to: link parameters (and requestBody fields)}.
LINKS: dict[str, dict[str, dict[str, Any]]] = {
    "create_product": {
        **dict.fromkeys(
            ("get_product", "update_product", "delete_product", "add_variant", "upload_photo"),
            _PRODUCT,
        ),
        "product_reviews": _PRODUCT,
        **dict.fromkeys(("adjust_stock", "list_movements", "update_variant"), _VARIANT),
    },
    "create_show": {
        **dict.fromkeys(
            (
                "get_show",
                "update_show",
                "end_show",
                "rotate_stream_key",
                "grant_host",
                "timeline",
                "list_offers",
                "create_offer",
                "audit_log",
                "reports",
                "held",
                "restrictions",
                "rsvp_show",
                "list_appeals",
                "share_show",
                "put_referral",
                "get_referrals",
            ),
            _SHOW,
        ),
        "get_seller": _SELLER_OF_SHOW,
    },
    "get_show": {
        **dict.fromkeys(("get_seller", "follow_seller"), _SELLER_OF_SHOW),
        "rsvp_show": _SHOW,
    },
    "follow_seller": {"get_seller": {"seller_id": "$request.path.seller_id"}},
    "create_webhook": {"list_webhook_deliveries": {"webhook_id": "$response.body#/id"}},
    "rsvp_show": {"get_show": {"show_id": "$request.path.show_id"}},
    "create_offer": {
        **dict.fromkeys(("start_offer", "pin_offer", "unpin_offer", "end_offer"), _OFFER),
        "checkout": _BUY_OFFER,
        "list_offers": {"show_id": "$response.body#/show_id"},
    },
    "start_offer": {
        "checkout": _BUY_OFFER,
        "end_offer": _OFFER,
    },
    "list_shows": {
        **dict.fromkeys(("get_show", "list_offers", "timeline", "rsvp_show"), _LISTED_SHOW),
        **dict.fromkeys(("get_seller", "follow_seller"), _LISTED_SELLER),
    },
    "list_offers": {
        **dict.fromkeys(("start_offer", "pin_offer", "unpin_offer", "end_offer"), _LISTED_OFFER),
        "checkout": _BUY_LISTED_OFFER,
    },
    "checkout": dict.fromkeys(
        _ORDER_OPS,
        _CHECKOUT_ORDER,
    ),
    "list_orders": dict.fromkeys(
        _ORDER_OPS,
        _LISTED_ORDER,
    ),
    "confirm_demo": dict.fromkeys(("get_order", "refund_order", "fulfil_order"), _ORDER),
    "create_giveaway": {
        "get_giveaway": {"giveaway_id": "$response.body#/id"},
        "draw_giveaway": {
            "show_id": "$response.body#/show_id",
            "giveaway_id": "$response.body#/id",
        },
    },
    "refund_order": {"get_order": _ORDER},
    "fulfil_order": {"get_order": _ORDER},
    "create_appeal": dict.fromkeys(("get_appeal", "decide_appeal"), _APPEAL),
    "create_review": dict.fromkeys(
        ("get_review", "reply_review", "report_review", "hide_review", "restore_review"), _REVIEW
    ),
}


_BINARY = {"type": "string", "format": "binary"}
_CSV = {"text/csv": {"schema": {"type": "string"}}}

#: Bodies that are not JSON (their handlers read them raw), by operationId.
RAW_BODIES: dict[str, dict[str, Any]] = {
    "import_products": {**_CSV, "text/plain": {"schema": {"type": "string"}}},
    "upload_photo": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": [PHOTO_FIELD],
                "properties": {PHOTO_FIELD: _BINARY},
            }
        }
    },
    "upload_image": {media: {"schema": _BINARY} for media in IMAGE_TYPES},
}

#: Answers that are not (only) a JSON model, by operationId.
RAW_RESPONSES: dict[str, dict[str, Any]] = {
    "export_products": _CSV,
    "export_orders": _CSV,
    "audit_log": {"application/json": {"schema": {"type": "object"}}, **_CSV},
}


def _empty_allowed(model: type[BaseModel]) -> bool:
    """An empty body is read as ``{}``, so a body is required only when ``{}`` is refused."""
    try:
        model.model_validate({})
    except ValidationError:
        return False
    return True


def _schema(model: type[BaseModel], components: dict[str, Any]) -> dict[str, Any]:
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    for name, definition in schema.pop("$defs", {}).items():
        components[name] = definition
    components[model.__name__] = schema
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _query_parameters(model: type[BaseModel]) -> list[dict[str, Any]]:
    """Query fields with their real types, bounds and enums (a query string cannot carry null,
    so an optional field is one that may be left out)."""
    properties = model.model_json_schema()["properties"]
    params = []
    for name, info in model.model_fields.items():
        schema = dict(properties[name])
        variants = [v for v in schema.pop("anyOf", []) if v.get("type") != "null"]
        if len(variants) == 1:
            schema.update(variants[0])
        schema.pop("default", None)
        schema.pop("title", None)
        params.append(
            {"name": name, "in": "query", "required": info.is_required(), "schema": schema}
        )
    return params


def _links(route: ApiRoute) -> dict[str, Any]:
    return {
        target: {"operationId": target, **params}
        for target, params in LINKS.get(route.handler.__name__, {}).items()
    }


def build_document(routes: list[ApiRoute]) -> dict[str, Any]:
    components: dict[str, Any] = {"Error": ERROR_SCHEMA}
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        path = _PARAM.sub(r"{\1}", route.path)
        success: dict[str, Any] = {"description": "success"}
        operation: dict[str, Any] = {
            "summary": route.summary,
            "operationId": route.handler.__name__,
            "tags": list(route.tags),
            "responses": {
                **{str(status): success for status in (route.status, *route.also)},
                "default": {
                    "description": "error",
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}
                    },
                },
            },
        }
        params = [
            {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
            for name in _PARAM.findall(route.path)
        ]
        if route.query is not None:
            params += _query_parameters(route.query)
        if params:
            operation["parameters"] = params
        name = route.handler.__name__
        if route.body is not None:
            operation["requestBody"] = {
                "required": not _empty_allowed(route.body),
                "content": {"application/json": {"schema": _schema(route.body, components)}},
            }
        elif name in RAW_BODIES:
            operation["requestBody"] = {"required": True, "content": RAW_BODIES[name]}
        if route.response is not None:
            success["content"] = {
                "application/json": {"schema": _schema(route.response, components)}
            }
        elif name in RAW_RESPONSES:
            success["content"] = RAW_RESPONSES[name]
        if links := _links(route):
            success["links"] = links
        if route.auth:
            operation["security"] = [{"bearer": []}]
        paths.setdefault(path, {})[route.method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {"title": "LiveCommerce API", "version": __version__},
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }


async def openapi_document(request: web.Request) -> web.Response:
    return web.json_response(build_document(request.app[API_ROUTES]))
